"""Structured logs: one key=value line per event, with the request or job id; secrets never logged.

Every record passes two filters on the way out (installed by `setup_logging`):
- `_ContextFilter` stamps `rid`: the running RQ job's id inside a job, else the web request's id;
- `MaskingFilter` masks what must never reach a log file, whoever logged it (our code, RQ,
  urllib3, gunicorn): mobile numbers (138****5678), 统一社会信用代码 and other 18-character
  codes such as 身份证号 (as `bot.uscc.mask_uscc`), secrets in query strings and key=value pairs
  (access_token=***, secret=***, key=***), and bare 43-character keys (an EncodingAESKey or a
  corpsecret). It masks the rendered message, the traceback and the stack, not just `msg`:
  a secret usually arrives as an argument or inside an exception's text.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys

from rq.job import get_current_job

from bot.uscc import CHARSET, mask_uscc

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# 11-digit mainland mobiles, with an optional +86/86 prefix, not inside a longer run of digits.
_MOBILE = re.compile(r"(?<!\d)((?:\+?86[- ]?)?1[3-9]\d)\d{4}(\d{4})(?!\d)")
# 18 characters of the USCC alphabet, case-insensitive (people type lower case), standing alone.
# Catches 身份证号 too (digits and X): masking one more kind of identifier is the safe mistake.
_USCC_CHARS = CHARSET + CHARSET.lower()
_USCC = re.compile(rf"(?<![0-9A-Za-z])[{_USCC_CHARS}]{{18}}(?![0-9A-Za-z])")
# Secrets named in query strings, JSON or key=value text: the name stays, the value goes.
_SECRET_NAMES = r"access_token|corpsecret|secret|aes_?key|encoding_?aes_?key|key|token|response_code|password"  # noqa: S105
_NAMED_SECRET = re.compile(
    rf"""(?i)(\b(?:{_SECRET_NAMES})\b["']?\s*[=:]\s*["']?)[^&\s'",}}]+""",
)
# A bare EncodingAESKey (43 base64 characters without padding) or a corpsecret of the same shape:
# mixed case and digits, so our own lower-case job ids and keys of that length are left alone.
_KEY_CHAR = r"[A-Za-z0-9_\-]"
_BARE_KEY = re.compile(
    rf"(?<!{_KEY_CHAR})(?={_KEY_CHAR}{{0,42}}[A-Z])(?={_KEY_CHAR}{{0,42}}[a-z])(?={_KEY_CHAR}{{0,42}}\d)"
    rf"{_KEY_CHAR}{{43}}(?!{_KEY_CHAR})"
)


def mask(text: str) -> str:
    """`text` with secrets, mobile numbers and USCC-shaped codes masked (for logs)."""
    text = _NAMED_SECRET.sub(r"\1***", text)
    text = _BARE_KEY.sub("***", text)
    text = _MOBILE.sub(r"\1****\2", text)
    return _USCC.sub(lambda m: mask_uscc(m.group(0)), text)


class MaskingFilter(logging.Filter):
    """Renders each record once, masked: message and arguments, traceback and stack."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask in place; never drops a record."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: logging reports it; still mask
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        job = get_current_job()  # set by RQ only while a job's function runs (in this process)
        record.request_id = job.id if job is not None else request_id.get()
        return True


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once per process; mask every handler already set up (gunicorn's)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(
        logging.Formatter(
            "ts=%(asctime)s level=%(levelname)s logger=%(name)s rid=%(request_id)s msg=%(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for each in [handler, *_named_handlers()]:
        if not any(isinstance(f, MaskingFilter) for f in each.filters):
            each.addFilter(MaskingFilter())


def _named_handlers() -> list[logging.Handler]:
    """Handlers that libraries attached to their own loggers (gunicorn's error and access logs)."""
    loggers = [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    return [h for lg in loggers for h in lg.handlers]

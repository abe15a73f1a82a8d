"""Logs as an operator reads them: one line per event with its request or job id, nothing secret in it."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.logs import mask, setup_logging
from bot.models import InboundMessage
from bot.routing import Router
from bot.runtime import Runtime
from bot.uscc import make_uscc
from handlers import ALL_ROUTERS
from jobs import runtime as job_runtime
from tests.conftest import run_jobs, serve

MOBILE = "13812345678"
USCC = make_uscc("91371526MA37GY375")
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # Tencent's sample EncodingAESKey

crash_router = Router("crash-test")


@crash_router.command("出错", public=True)
def crash(ctx, args):
    """A handler with a bug that puts what the person typed into its exception (it happens)."""
    raise RuntimeError(f"cannot read {args!r}")


@crash_router.command("慢出错", public=True, slow=True)
def slow_crash(ctx, args):
    """The same bug in a slow handler: it fails inside an RQ job."""
    raise RuntimeError(f"cannot read {args!r}")


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Standard error, for the process's real logging (the test calls setup_logging); restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield capsys
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def web(runtime: Runtime) -> Iterator[str]:
    """The real app over HTTP with the crashing test commands mounted."""
    rt = Runtime.build(
        runtime.settings, clock=runtime.clock, connection=runtime.redis, engine=runtime.engine,
        routers=[*ALL_ROUTERS, crash_router],
    )  # fmt: skip
    job_runtime.install(rt)
    yield from serve(rt)


def test_a_callback_and_its_job_log_masked_lines_with_their_ids(logged, platform, runtime, session_factory):
    setup_logging("DEBUG")  # as `ztc web` and `ztc worker` do, on the standard error pytest captures now
    platform.send_text("zhang_wei", f"出错 电话{MOBILE} 信用代码{USCC}")
    platform.send_text("zhang_wei", f"慢出错 电话{MOBILE} 信用代码{USCC}")
    run_jobs(runtime)  # the slow one fails in its job; both apologies go out through the outbox
    out = logged.readouterr().err
    with session_factory() as s:
        _, slow = s.scalars(select(InboundMessage.id).order_by(InboundMessage.id)).all()

    assert MOBILE not in out and USCC not in out
    assert out.count("138****5678") >= 2 and out.count(f"{USCC[:4]}************{USCC[-2:]}") >= 2
    web_line, job_line = [
        line for line in out.splitlines() if line.startswith("ts=") and "handler failed" in line
    ]
    assert re.search(r" rid=[0-9a-f]{12} ", web_line), web_line  # the web request's id
    assert f" rid=inbound-{slow} " in job_line, job_line  # the RQ job's id, not rid=-
    assert re.search(r"rid=outbox-\d+-new .*POST /cgi-bin/message/send\?access_token=\*\*\* ", out)
    assert not re.search(r"access_token=(?!\*\*\*)", out)


def test_libraries_own_handlers_are_masked_too(logged):
    """gunicorn sets up its error and access logs before our code runs; setup_logging masks them."""
    stream = io.StringIO()
    access = logging.getLogger("gunicorn.access.test")
    access.addHandler(logging.StreamHandler(stream))
    access.propagate = False
    try:
        setup_logging("INFO")  # as each gunicorn worker calls it, after gunicorn's own setup
        access.info('"POST /wecom/callback?key=%s HTTP/1.1" 200 from %s', "abc123", MOBILE)
    finally:
        access.handlers.clear()
    assert (
        stream.getvalue()
        == f'"POST /wecom/callback?key=*** HTTP/1.1" 200 from {MOBILE[:3]}****{MOBILE[-4:]}\n'
    )


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (f"手机{MOBILE}，", "手机138****5678，"),
        (f"+86{MOBILE}", "+86138****5678"),
        (f"绑定 {USCC} 周敏", f"绑定 {USCC[:4]}************{USCC[-2:]} 周敏"),
        (f"uscc={USCC.lower()}.", f"uscc={USCC[:4].lower()}************{USCC[-2:].lower()}."),
        ("身份证 110101199003074518", "身份证 1101************18"),
        ("gettoken?corpid=ww1&corpsecret=Abc-123_x&x=1", "gettoken?corpid=ww1&corpsecret=***&x=1"),
        ("send?access_token=AbC.123&debug=1", "send?access_token=***&debug=1"),
        ("webhook/send?key=693a91f6-7xxx", "webhook/send?key=***"),
        ('{"secret": "s3cr3t", "token": "t0k"}', '{"secret": "***", "token": "***"}'),
        (f"EncodingAESKey {AES_KEY} loaded", "EncodingAESKey *** loaded"),
    ],
)
def test_secrets_mobiles_and_codes_are_masked(raw: str, masked: str) -> None:
    assert mask(raw) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "order S2611-0001 picked up at 1732412345678",  # order numbers and millisecond timestamps
        "job digest-weekly-2026-11-16-leader-123456789 done",  # our own long job ids
        "token_key=ztc:wecom:token dedup_key=wecom:msg:12345678901234",
        "outbox 12 deferred 5s: rate limit: waiting for a send slot",
    ],
)
def test_ordinary_log_text_is_left_alone(kept: str) -> None:
    assert mask(kept) == kept

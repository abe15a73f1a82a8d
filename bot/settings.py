"""Settings read once from the environment into one frozen object.

Every name here is listed in README.md and deploy/.env.example. Parsing is strict: a bad
value stops the process at start-up with the variable's name, not later in a request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REAL_WECOM_API = "https://qyapi.weixin.qq.com/cgi-bin/"

# Placeholders used only by the embedded demo and tests; production must set real ones.
DEMO_CORP_ID = "ww0000000000demo0"
DEMO_TOKEN = "ztcDemoToken"  # noqa: S105 - public placeholder
DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 chars, as WeCom issues them
DEMO_SECRET = "demo-secret"  # noqa: S105 - a public placeholder for the local stand-in


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """All configuration of one process."""

    database_url: str
    redis_url: str | None  # None: start or reuse the embedded Redis-compatible server
    wecom_corp_id: str
    wecom_agent_id: int
    wecom_secret: str
    wecom_token: str
    wecom_aes_key: str
    wecom_api_base: str
    tz: str = "Asia/Shanghai"
    var_dir: Path = field(default_factory=lambda: Path("var"))
    max_body_bytes: int = 64 * 1024
    log_level: str = "INFO"
    conversation_ttl_seconds: int = 900
    per_member_per_minute: int = 30
    queue_prefix: str = "ztc"
    # 诉求 work orders (handlers/complaints/rules.py reads these)
    order_clock: str = "natural"  # natural hours, or "working" (China's working days, 调休 included)
    order_warn_hours: float = 2.0  # 催办 this long before each 24 h deadline
    order_head_after_hours: float = 2.0  # past a deadline: the department head is told
    order_leader_after_hours: float = 4.0  # past a deadline: the overseeing county leader is told
    order_rate_remind_hours: float = 24.0  # after 办结, the enterprise is reminded to sign off
    order_auto_close_hours: float = 72.0  # after 办结, an unrated order is closed (自动销号)
    order_categories: tuple[str, ...] = ()  # empty: the default list of DOMAIN.md §1

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def with_(self, **changes: object) -> Settings:
        """A copy with some values changed (tests, the demo)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment (a `.env` file is read by the CLI first)."""
        env = os.environ if env is None else env
        var_dir = Path(env.get("ZTC_VAR_DIR", "var"))
        settings = cls(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'ztc.sqlite3'}",
            redis_url=env.get("REDIS_URL") or None,
            wecom_corp_id=env.get("WECOM_CORP_ID", DEMO_CORP_ID),
            wecom_agent_id=_int(env, "WECOM_AGENT_ID", 1000002),
            wecom_secret=env.get("WECOM_SECRET", DEMO_SECRET),
            wecom_token=env.get("WECOM_TOKEN", DEMO_TOKEN),
            wecom_aes_key=env.get("WECOM_AES_KEY", DEMO_AES_KEY),
            wecom_api_base=_api_base(env.get("WECOM_API_BASE", REAL_WECOM_API)),
            tz=env.get("TZ") or "Asia/Shanghai",
            var_dir=var_dir,
            max_body_bytes=_int(env, "ZTC_MAX_BODY_BYTES", 64 * 1024),
            log_level=env.get("ZTC_LOG_LEVEL", "INFO").upper(),
            per_member_per_minute=_int(env, "ZTC_PER_MEMBER_PER_MINUTE", 30),
            queue_prefix=env.get("ZTC_QUEUE_PREFIX", "ztc"),
            order_clock=env.get("ZTC_ORDER_CLOCK", "natural").strip().lower(),
            order_warn_hours=_hours(env, "ZTC_ORDER_WARN_HOURS", 2.0),
            order_head_after_hours=_hours(env, "ZTC_ORDER_HEAD_AFTER_HOURS", 2.0),
            order_leader_after_hours=_hours(env, "ZTC_ORDER_LEADER_AFTER_HOURS", 4.0),
            order_rate_remind_hours=_hours(env, "ZTC_ORDER_RATE_REMIND_HOURS", 24.0),
            order_auto_close_hours=_hours(env, "ZTC_ORDER_AUTO_CLOSE_HOURS", 72.0),
            order_categories=_words(env.get("ZTC_ORDER_CATEGORIES", "")),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Fail fast on values that would only break later."""
        if len(self.wecom_aes_key) != 43:
            raise SettingsError("WECOM_AES_KEY must be the 43-character EncodingAESKey")
        if not self.wecom_token:
            raise SettingsError("WECOM_TOKEN must not be empty")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(f"TZ={self.tz!r} is not a known time zone") from exc
        if self.max_body_bytes < 1024:
            raise SettingsError("ZTC_MAX_BODY_BYTES must be at least 1024")
        if not 1 <= self.per_member_per_minute <= 30:
            raise SettingsError("ZTC_PER_MEMBER_PER_MINUTE must be between 1 and 30 (WeCom drops the excess)")
        self._validate_orders()

    def _validate_orders(self) -> None:
        if self.order_clock not in ("natural", "working"):
            raise SettingsError(f"ZTC_ORDER_CLOCK={self.order_clock!r} must be natural or working")
        if self.order_warn_hours >= 24:
            raise SettingsError("ZTC_ORDER_WARN_HOURS must be less than the 24-hour deadline")
        if self.order_leader_after_hours < self.order_head_after_hours:
            raise SettingsError("ZTC_ORDER_LEADER_AFTER_HOURS must not be before ZTC_ORDER_HEAD_AFTER_HOURS")
        if self.order_auto_close_hours <= self.order_rate_remind_hours:
            raise SettingsError("ZTC_ORDER_AUTO_CLOSE_HOURS must be after ZTC_ORDER_RATE_REMIND_HOURS")
        too_long = [c for c in self.order_categories if len(c) > 16]
        if too_long:
            raise SettingsError(f"ZTC_ORDER_CATEGORIES: {too_long[0]!r} is longer than 16 characters")


def require_real_secrets(settings: Settings) -> None:
    """The serving roles refuse the public demo secrets unless WeCom is the local stand-in."""
    secrets = {settings.wecom_token, settings.wecom_aes_key, settings.wecom_secret}
    if settings.wecom_api_base == REAL_WECOM_API and secrets & {DEMO_TOKEN, DEMO_AES_KEY, DEMO_SECRET}:
        # The demo values are public: with them anyone could forge callbacks as any user.
        raise SettingsError("set WECOM_TOKEN, WECOM_AES_KEY and WECOM_SECRET to the app's own values")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not an integer") from exc


def _hours(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a number of hours") from exc
    if not 0 <= value <= 24 * 30:
        raise SettingsError(f"{name}={raw!r} must be between 0 and 720 hours")
    return value


def _words(raw: str) -> tuple[str, ...]:
    """「审批,用地、融资」 → ("审批", "用地", "融资"): commas (either width) or 、 separate."""
    return tuple(w.strip() for w in re.split(r"[,，、]", raw) if w.strip())


def _api_base(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"WECOM_API_BASE={url!r} must be an http(s) URL")
    return url if url.endswith("/") else url + "/"

"""Settings read once from the environment into one frozen object.

Every name here is listed in README.md and deploy/.env.example. Parsing is strict: a bad
value stops the process at start-up with the variable's name, not later in a request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REAL_WECOM_API = "https://qyapi.weixin.qq.com/cgi-bin/"
REAL_WECHAT_API = "https://api.weixin.qq.com/cgi-bin/"

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
    # 智能机器人 (AI bot) callback in API mode; both empty: no AI bot, /wecom/aibot answers 404.
    aibot_token: str = DEMO_TOKEN
    aibot_aes_key: str = DEMO_AES_KEY
    aibot_name: str = "政企直通车"  # the AI bot's name as officials @ it in groups (what prompts say)
    # 公众号 (WeChat official account) for enterprises not in WeCom; no AppID: /wechat/callback answers 404.
    wechat_app_id: str = ""
    wechat_secret: str = ""
    wechat_token: str = ""
    wechat_aes_key: str = ""  # empty: plain mode only (encrypted callbacks are refused)
    wechat_template_id: str = ""  # 模板消息 for users silent > 48 h; empty: such sends fail, named
    wechat_api_base: str = REAL_WECHAT_API
    tz: str = "Asia/Shanghai"
    var_dir: Path = field(default_factory=lambda: Path("var"))
    max_body_bytes: int = 64 * 1024
    log_level: str = "INFO"
    conversation_ttl_seconds: int = 900
    per_member_per_minute: int = 30
    queue_prefix: str = "ztc"
    chart_font: str | None = None  # a CJK .ttf/.otf/.ttc for digest charts; None: the first one installed
    # 诉求 work orders (handlers/complaints/rules.py reads these)
    order_clock: str = "natural"  # natural hours, or "working" (China's working days, 调休 included)
    order_warn_hours: float = 2.0  # 催办 this long before each 24 h deadline
    order_head_after_hours: float = 2.0  # past a deadline: the department head is told
    order_leader_after_hours: float = 4.0  # past a deadline: the overseeing county leader is told
    order_rate_remind_hours: float = 24.0  # after 办结, the enterprise is reminded to sign off
    order_auto_close_hours: float = 72.0  # after 办结, an unrated order is closed (自动销号)
    order_categories: tuple[str, ...] = ()  # empty: the default list of DOMAIN.md §1
    # 重点项目 (handlers/projects/rules.py reads these)
    project_prompt_day: int = 4  # weekday of the weekly 绿白黄红 prompt, Monday = 0 (default Friday)
    project_prompt_time: time = time(9, 10)  # local time of the prompt (and of the late reminder)
    project_remind_time: time = time(15, 0)  # the same day: non-responders are reminded
    project_deadline_time: time = time(18, 0)  # the same day: the week's reports are due
    project_yellow_points: float = 10.0  # 序时进度: this many points behind plan is 黄
    project_red_points: float = 30.0  # … and this many is 红
    project_stall_weeks: int = 3  # weeks in a row without investment or progress: 红 (停滞)
    project_supervise_weeks: int = 2  # weeks in a row 黄/红 or unreported: a 督办卡 is drafted
    project_monthly_due_day: int = 20  # 月汇报 are due by this day of the month
    project_monthly_remind_days: tuple[int, ...] = (15, 19)  # days of the month reminders go out
    # Leaders' digests (handlers/digests/)
    digest_daily_time: time = time(8, 30)  # working days: the 日报 of the days since the last one
    digest_weekly_day: int = 0  # weekday of the 周报 (Monday; the next working day on a holiday)
    digest_weekly_time: time = time(8, 30)
    digest_county_leaders: tuple[str, ...] = ()  # userids whose digest covers the whole county
    digest_group_webhook: str | None = None  # the leaders' group 群机器人 key (the county digest)
    # H5 pages (bot/h5/): signed, expiring, person-bound links sent in chat
    public_url: str = "http://127.0.0.1:8400"  # how phones reach this web process (links in chat)
    web_secret: str = ""  # signs the links and forms; empty: derived from WECOM_SECRET and WECOM_AES_KEY
    web_link_hours: float = 24.0  # a link (and its form) works this long
    web_photo_bytes: int = 5 * 1024 * 1024  # one uploaded photo at most

    @property
    def web_signing_key(self) -> str:
        """The key of the H5 links: ZTC_WEB_SECRET, else one derived from the app's own secrets."""
        if self.web_secret:
            return self.web_secret
        # Derived, not reused: a leaked link key must not be the WeCom secret itself.
        material = f"ztc-h5-links\0{self.wecom_secret}\0{self.wecom_aes_key}".encode()
        return hashlib.sha256(material).hexdigest()

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
            aibot_token=env.get("AIBOT_TOKEN", DEMO_TOKEN).strip(),
            aibot_aes_key=env.get("AIBOT_AES_KEY", DEMO_AES_KEY).strip(),
            aibot_name=env.get("ZTC_AIBOT_NAME", "").strip().removeprefix("@").strip() or "政企直通车",
            wechat_app_id=env.get("WECHAT_APP_ID", "").strip(),
            wechat_secret=env.get("WECHAT_SECRET", "").strip(),
            wechat_token=env.get("WECHAT_TOKEN", "").strip(),
            wechat_aes_key=env.get("WECHAT_AES_KEY", "").strip(),
            wechat_template_id=env.get("WECHAT_TEMPLATE_ID", "").strip(),
            wechat_api_base=_api_base(env.get("WECHAT_API_BASE", REAL_WECHAT_API), "WECHAT_API_BASE"),
            tz=env.get("TZ") or "Asia/Shanghai",
            var_dir=var_dir,
            max_body_bytes=_int(env, "ZTC_MAX_BODY_BYTES", 64 * 1024),
            log_level=env.get("ZTC_LOG_LEVEL", "INFO").upper(),
            per_member_per_minute=_int(env, "ZTC_PER_MEMBER_PER_MINUTE", 30),
            queue_prefix=env.get("ZTC_QUEUE_PREFIX", "ztc"),
            chart_font=env.get("ZTC_CHART_FONT", "").strip() or None,
            order_clock=env.get("ZTC_ORDER_CLOCK", "natural").strip().lower(),
            order_warn_hours=_hours(env, "ZTC_ORDER_WARN_HOURS", 2.0),
            order_head_after_hours=_hours(env, "ZTC_ORDER_HEAD_AFTER_HOURS", 2.0),
            order_leader_after_hours=_hours(env, "ZTC_ORDER_LEADER_AFTER_HOURS", 4.0),
            order_rate_remind_hours=_hours(env, "ZTC_ORDER_RATE_REMIND_HOURS", 24.0),
            order_auto_close_hours=_hours(env, "ZTC_ORDER_AUTO_CLOSE_HOURS", 72.0),
            order_categories=_words(env.get("ZTC_ORDER_CATEGORIES", "")),
            project_prompt_day=_weekday(env, "ZTC_PROJECT_PROMPT_DAY", 4),
            project_prompt_time=_clock_time(env, "ZTC_PROJECT_PROMPT_TIME", time(9, 10)),
            project_remind_time=_clock_time(env, "ZTC_PROJECT_REMIND_TIME", time(15, 0)),
            project_deadline_time=_clock_time(env, "ZTC_PROJECT_DEADLINE_TIME", time(18, 0)),
            project_yellow_points=_float(env, "ZTC_PROJECT_YELLOW_POINTS", 10.0),
            project_red_points=_float(env, "ZTC_PROJECT_RED_POINTS", 30.0),
            project_stall_weeks=_int(env, "ZTC_PROJECT_STALL_WEEKS", 3),
            project_supervise_weeks=_int(env, "ZTC_PROJECT_SUPERVISE_WEEKS", 2),
            project_monthly_due_day=_int(env, "ZTC_PROJECT_MONTHLY_DUE_DAY", 20),
            project_monthly_remind_days=_days(env, "ZTC_PROJECT_MONTHLY_REMIND_DAYS", (15, 19)),
            digest_daily_time=_clock_time(env, "ZTC_DIGEST_DAILY_TIME", time(8, 30)),
            digest_weekly_day=_weekday(env, "ZTC_DIGEST_WEEKLY_DAY", 0),
            digest_weekly_time=_clock_time(env, "ZTC_DIGEST_WEEKLY_TIME", time(8, 30)),
            digest_county_leaders=_words(env.get("ZTC_DIGEST_COUNTY_LEADERS", "")),
            digest_group_webhook=env.get("ZTC_DIGEST_GROUP_WEBHOOK") or None,
            public_url=_public_url(env.get("ZTC_PUBLIC_URL", "http://127.0.0.1:8400")),
            web_secret=env.get("ZTC_WEB_SECRET", "").strip(),
            web_link_hours=_hours(env, "ZTC_WEB_LINK_HOURS", 24.0),
            web_photo_bytes=_int(env, "ZTC_WEB_PHOTO_BYTES", 5 * 1024 * 1024),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Fail fast on values that would only break later."""
        if len(self.wecom_aes_key) != 43:
            raise SettingsError("WECOM_AES_KEY must be the 43-character EncodingAESKey")
        if not self.wecom_token:
            raise SettingsError("WECOM_TOKEN must not be empty")
        self._validate_aibot()
        self._validate_wechat()
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(f"TZ={self.tz!r} is not a known time zone") from exc
        if self.max_body_bytes < 1024:
            raise SettingsError("ZTC_MAX_BODY_BYTES must be at least 1024")
        if not 1 <= self.per_member_per_minute <= 30:
            raise SettingsError("ZTC_PER_MEMBER_PER_MINUTE must be between 1 and 30 (WeCom drops the excess)")
        self._validate_orders()
        self._validate_projects()
        self._validate_web()
        self._validate_chart_font()

    @property
    def aibot_enabled(self) -> bool:
        """Whether this county has an AI bot (AIBOT_TOKEN and AIBOT_AES_KEY set)."""
        return bool(self.aibot_token)

    def _validate_aibot(self) -> None:
        """Both AI-bot values set (with a 43-character key), or both empty (no AI bot)."""
        if bool(self.aibot_token) != bool(self.aibot_aes_key):
            raise SettingsError("set both AIBOT_TOKEN and AIBOT_AES_KEY, or leave both empty (no AI bot)")
        if self.aibot_aes_key and not _is_aes_key(self.aibot_aes_key):
            raise SettingsError("AIBOT_AES_KEY must be the AI bot's 43-character EncodingAESKey")

    @property
    def wechat_enabled(self) -> bool:
        """Whether a 公众号 is configured (WECHAT_APP_ID and WECHAT_TOKEN set)."""
        return bool(self.wechat_app_id)

    def _validate_wechat(self) -> None:
        """With an AppID: a token, and a key (if any) of 43 characters; without: nothing else set."""
        if not self.wechat_app_id:
            if self.wechat_token or self.wechat_aes_key:
                raise SettingsError("WECHAT_TOKEN / WECHAT_AES_KEY are set but WECHAT_APP_ID is not")
            return
        if not self.wechat_token:
            raise SettingsError("WECHAT_TOKEN must be set with WECHAT_APP_ID (the 公众号's 服务器配置 Token)")
        if self.wechat_aes_key and not _is_aes_key(self.wechat_aes_key):
            raise SettingsError("WECHAT_AES_KEY must be the 公众号's 43-character EncodingAESKey")

    def _validate_chart_font(self) -> None:
        """A configured chart font must be a font file that exists (else charts would silently vanish)."""
        if self.chart_font is None:
            return
        if Path(self.chart_font).suffix.lower() not in (".ttf", ".otf", ".ttc"):
            raise SettingsError(f"ZTC_CHART_FONT={self.chart_font!r} must be a .ttf, .otf or .ttc file")
        if not Path(self.chart_font).is_file():
            raise SettingsError(f"ZTC_CHART_FONT={self.chart_font!r} does not exist")

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

    def _validate_web(self) -> None:
        if self.web_secret and len(self.web_secret) < 16:
            raise SettingsError("ZTC_WEB_SECRET must be at least 16 characters (or unset: derived)")
        if not self.web_link_hours > 0:
            raise SettingsError("ZTC_WEB_LINK_HOURS must be above 0")
        if not 10 * 1024 <= self.web_photo_bytes <= 20 * 1024 * 1024:
            raise SettingsError("ZTC_WEB_PHOTO_BYTES must be between 10240 and 20971520 (20 MB)")

    def _validate_projects(self) -> None:
        if not self.project_prompt_time < self.project_remind_time < self.project_deadline_time:
            raise SettingsError(
                "ZTC_PROJECT_PROMPT_TIME, ZTC_PROJECT_REMIND_TIME and ZTC_PROJECT_DEADLINE_TIME "
                "must be in this order within one day"
            )
        if not 0 < self.project_yellow_points < self.project_red_points <= 100:
            raise SettingsError(
                "ZTC_PROJECT_YELLOW_POINTS must be above 0, below ZTC_PROJECT_RED_POINTS ≤ 100"
            )
        if not 1 <= self.project_stall_weeks <= 52:
            raise SettingsError("ZTC_PROJECT_STALL_WEEKS must be between 1 and 52")
        if not 1 <= self.project_supervise_weeks <= 52:
            raise SettingsError("ZTC_PROJECT_SUPERVISE_WEEKS must be between 1 and 52")
        if not 1 <= self.project_monthly_due_day <= 28:
            raise SettingsError("ZTC_PROJECT_MONTHLY_DUE_DAY must be between 1 and 28 (every month has it)")
        late = [d for d in self.project_monthly_remind_days if d > self.project_monthly_due_day]
        if late:
            raise SettingsError(
                f"ZTC_PROJECT_MONTHLY_REMIND_DAYS: day {late[0]} is after ZTC_PROJECT_MONTHLY_DUE_DAY"
            )


def require_real_secrets(settings: Settings) -> None:
    """The serving roles refuse the public demo secrets unless WeCom is the local stand-in."""
    if settings.wecom_api_base != REAL_WECOM_API:
        return
    demo = {DEMO_TOKEN, DEMO_AES_KEY, DEMO_SECRET}
    # The demo values are public: with them anyone could forge callbacks as any user.
    if {settings.wecom_token, settings.wecom_aes_key, settings.wecom_secret} & demo:
        raise SettingsError("set WECOM_TOKEN, WECOM_AES_KEY and WECOM_SECRET to the app's own values")
    if {settings.aibot_token, settings.aibot_aes_key} & demo:
        raise SettingsError(
            "set AIBOT_TOKEN and AIBOT_AES_KEY to the AI bot's own values "
            "(or both empty when the county has no AI bot)"
        )


def _is_aes_key(key: str) -> bool:
    """43 base64 characters that decode to the 32-byte AES key (checked here, not at the first callback)."""
    try:
        return len(key) == 43 and len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


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


WEEKDAY_WORDS = (
    ("mon", "monday", "周一", "星期一", "1"),
    ("tue", "tuesday", "周二", "星期二", "2"),
    ("wed", "wednesday", "周三", "星期三", "3"),
    ("thu", "thursday", "周四", "星期四", "4"),
    ("fri", "friday", "周五", "星期五", "5"),
    ("sat", "saturday", "周六", "星期六", "6"),
    ("sun", "sunday", "周日", "星期日", "周天", "7"),
)


def _weekday(env: Mapping[str, str], name: str, default: int) -> int:
    """「fri」「Friday」「周五」「5」 → 4 (Monday = 0)."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    for index, words in enumerate(WEEKDAY_WORDS):
        if raw in words:
            return index
    raise SettingsError(f"{name}={raw!r} is not a day of the week (mon … sun, 周一 … 周日, 1 … 7)")


def _clock_time(env: Mapping[str, str], name: str, default: time) -> time:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    match = re.fullmatch(r"(\d{1,2})[:：](\d{2})", raw)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise SettingsError(f"{name}={raw!r} is not a time of day like 09:10")
    return time(int(match[1]), int(match[2]))


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a number") from exc


def _days(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        days = tuple(sorted({int(w) for w in _words(raw)}))
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} must be days of the month separated by commas") from exc
    if any(not 1 <= d <= 28 for d in days):
        raise SettingsError(f"{name}={raw!r}: each day must be between 1 and 28")
    return days


def _words(raw: str) -> tuple[str, ...]:
    """「审批,用地、融资」 → ("审批", "用地", "融资"): commas (either width) or 、 separate."""
    return tuple(w.strip() for w in re.split(r"[,，、]", raw) if w.strip())


def _api_base(url: str, name: str = "WECOM_API_BASE") -> str:
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"{name}={url!r} must be an http(s) URL")
    return url if url.endswith("/") else url + "/"


def _public_url(url: str) -> str:
    """The base of the H5 links (ZTC_PUBLIC_URL), without a trailing slash."""
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"ZTC_PUBLIC_URL={url!r} must be an http(s) URL")
    return url.rstrip("/")

"""Signed, expiring, person-bound links to the H5 pages (bot/h5/), and the signed tokens of their forms.

A link carries who it is for, what it is for and (for a sign-off) which order, signed with
itsdangerous under the key of Settings.web_signing_key and timed by the runtime's clock, so tests
pin it with a FixedClock. A link proves only that we issued it to that person for that purpose:
the page still checks that the person is active and may do it now (bot/h5/access.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from bot.clock import Clock
from bot.settings import Settings

LINK_SALT = "ztc.h5.link"
FORM_SALT = "ztc.h5.form"


class Purpose(StrEnum):
    """What a link opens; each purpose is one page."""

    FILE = "file"  # 提交诉求 (with photos)
    SIGNOFF = "signoff"  # 评价 (签单) one resolved order
    POLICIES = "policies"  # the full 明白卡, read-only
    PROFILE = "profile"  # 企业信息: see and correct the enterprise profile


PATHS = {
    Purpose.FILE: "/h5/file",
    Purpose.SIGNOFF: "/h5/signoff",
    Purpose.POLICIES: "/h5/policies",
    Purpose.PROFILE: "/h5/profile",
}


class LinkRefused(Exception):
    """A link or form that must not be honoured; `message` is shown to the person, `status` answered."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


EXPIRED = "链接已过期，请回到企业微信重新获取（发送「诉求」「政策」「企业信息」或「诉求 单号」）。"
FORGED = "链接无效（可能复制不完整或被改动），请回到企业微信重新获取。"
WRONG_PAGE = "这个链接不能打开此页面，请回到企业微信重新获取。"


@dataclass(frozen=True)
class Link:
    """What a verified link says: for whom, for what, which order (sign-off only)."""

    person_id: int
    purpose: Purpose
    order: str | None = None


def _serializer(secret: str, salt: str, clock: Clock) -> URLSafeTimedSerializer:
    """itsdangerous' serializer, timed by `clock` instead of time.time() (tests pin the clock)."""

    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    return URLSafeTimedSerializer(secret, salt=salt, signer=ClockedSigner)


class WebLinks:
    """Issues and reads the links (and form tokens) of one process."""

    def __init__(self, secret: str, clock: Clock, max_age: timedelta, base_url: str) -> None:
        self.max_age = max_age
        self.base_url = base_url.rstrip("/")
        self._links = _serializer(secret, LINK_SALT, clock)
        self._forms = _serializer(secret, FORM_SALT, clock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> WebLinks:
        """Links keyed and timed as configured (ZTC_WEB_SECRET, ZTC_WEB_LINK_HOURS, ZTC_PUBLIC_URL)."""
        age = timedelta(hours=settings.web_link_hours)
        return cls(settings.web_signing_key, clock, age, settings.public_url)

    def token(self, person_id: int, purpose: Purpose, order: str | None = None) -> str:
        """A signed token for one person and purpose (and order)."""
        data: dict[str, Any] = {"p": person_id, "u": purpose.value}
        if order is not None:
            data["o"] = order
        return self._links.dumps(data)

    def url(self, person_id: int, purpose: Purpose, order: str | None = None) -> str:
        """The full address to send in chat."""
        query = urlencode({"t": self.token(person_id, purpose, order)})
        return f"{self.base_url}{PATHS[purpose]}?{query}"

    def read(self, token: str, purpose: Purpose) -> Link:
        """The link a token carries, if it is ours, unexpired and for this page; else LinkRefused."""
        data = _load(self._links, token, self.max_age)
        link = _link_of(data)
        if link.purpose is not purpose:
            raise LinkRefused(WRONG_PAGE, 403)
        return link

    def form_token(self, link: Link, nonce: str, browser: str) -> str:
        """The signed token a form carries: its link, a one-time nonce and the browser's cookie value."""
        data = {"p": link.person_id, "u": link.purpose.value, "o": link.order, "n": nonce, "b": browser}
        return self._forms.dumps(data)

    def read_form(self, token: str, link: Link) -> FormToken:
        """The nonce and browser of a form token signed for this very link; else LinkRefused."""
        data = _load(self._forms, token, self.max_age)
        if not (isinstance(data, dict) and isinstance(data.get("n"), str) and isinstance(data.get("b"), str)):
            raise LinkRefused(FORGED, 403)
        if (data.get("p"), data.get("u"), data.get("o")) != (link.person_id, link.purpose.value, link.order):
            raise LinkRefused("表单与链接不符，请重新打开链接填写。", 403)
        return FormToken(data["n"], data["b"])


@dataclass(frozen=True)
class FormToken:
    """A verified form token: the form's one-time nonce and the CSRF cookie value it was issued with."""

    nonce: str
    browser: str


def _load(serializer: URLSafeTimedSerializer, token: str, max_age: timedelta) -> Any:
    if not token or len(token) > 1000:
        raise LinkRefused(FORGED, 403)
    try:
        return serializer.loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired as exc:
        raise LinkRefused(EXPIRED, 410) from exc
    except BadSignature as exc:
        raise LinkRefused(FORGED, 403) from exc


def _link_of(data: Any) -> Link:
    """A Link from a verified payload (ours, so well-formed; checked anyway)."""
    if not isinstance(data, dict) or not isinstance(data.get("p"), int):
        raise LinkRefused(FORGED, 403)
    try:
        purpose = Purpose(str(data.get("u")))
    except ValueError as exc:
        raise LinkRefused(FORGED, 403) from exc
    order = data.get("o")
    return Link(data["p"], purpose, order if isinstance(order, str) else None)


def link_url(
    services: dict[str, Any], clock: Clock, person_id: int, purpose: Purpose, order: str | None = None
) -> str:
    """A link for a chat reply: keyed and timed by the runtime's settings and clock (ctx.services)."""
    settings = services["settings"]
    assert isinstance(settings, Settings)
    return WebLinks.from_settings(settings, clock).url(person_id, purpose, order)

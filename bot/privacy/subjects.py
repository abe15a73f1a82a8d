"""Whose data: finding the person a request names, and the pseudonym an erased person is known by."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import NotAllowed, NotFound
from bot.models import Person, Role

PSEUDONYM_PREFIX = "erased-"


def erased_name(person_id: int) -> str:
    """The name an erased person is shown by (the register still says 「who」 did each step)."""
    return f"已注销用户#{person_id}"


def pseudonym(userid: str, person_id: int, key: bytes) -> str:
    """`erased-<keyed hash of the userid>-<id>`: unique, and without the key the userid cannot be had back.

    A keyed hash (not a plain one), because WeCom userids are guessable (pinyin names): with a
    plain hash anyone could confirm one. With the key we can still tell that a userid given to
    `ztc person erase` again was erased already, so a second erase is a no-op, not "unknown".
    The id keeps the value unique when the same userid comes back as a new person and is erased too.
    """
    return f"{_hashed(userid, key)}-{person_id}"


def _hashed(userid: str, key: bytes) -> str:
    digest = hmac.new(key, userid.encode("utf-8"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:16]


def find_subject(session: Session, userid: str, key: bytes) -> Person:
    """The person a request names: by WeCom userid, by its pseudonym once erased, or by the pseudonym."""
    userid = userid.strip()
    person = session.scalar(select(Person).where(Person.wecom_userid == userid))
    if person is not None:
        return person
    # Erased: the newest row whose pseudonym was made from this userid (a returning person is a new row).
    prefix = _hashed(userid, key) + "-"
    query = select(Person).where(Person.wecom_userid.startswith(prefix, autoescape=True))
    person = session.scalar(query.order_by(Person.id.desc()).limit(1))
    if person is None:
        raise NotFound(f"没有账号为「{userid}」的人员（也不是已注销的账号）。请核对 WeCom 账号。")
    return person


def find_admin(session: Session, userid: str) -> Person:
    """The active admin who asks for an export or erasure (recorded in the audit trail)."""
    person = session.scalar(select(Person).where(Person.wecom_userid == userid.strip()))
    if person is None or not person.active or person.role_enum is not Role.ADMIN:
        raise NotAllowed(f"「{userid}」不是在用的管理员账号：个人信息的导出和抹除须由管理员办理（--by）。")
    return person

"""Builders for tests: people and enterprises, inbound messages, a chat through the intake."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.intake import Intake
from bot.messages import Channel, Inbound, Kind
from bot.models import Department, Enterprise, Person, Role
from bot.replies import Reply, Text
from bot.runtime import Runtime
from bot.uscc import make_uscc

_seq = itertools.count(1)


def department(session: Session, name: str = "县工信局", code: str | None = None, **kw: Any) -> Department:
    """A department, saved."""
    from tests.conftest import T0

    dept = Department(code=code or f"D{next(_seq)}", name=name, created_at=T0, **kw)
    session.add(dept)
    session.flush()
    return dept


def person(session: Session, userid: str, role: Role, name: str | None = None, **kw: Any) -> Person:
    """A person, saved."""
    from tests.conftest import T0

    p = Person(wecom_userid=userid, name=name or userid, role=role.value, created_at=T0, **kw)
    session.add(p)
    session.flush()
    return p


def enterprise(
    session: Session, name: str, contact: Department | None = None, body: str | None = None
) -> Enterprise:
    """An enterprise with a valid 统一社会信用代码, saved."""
    from tests.conftest import T0

    code = make_uscc(body or f"91371526MA{next(_seq):07d}")
    e = Enterprise(uscc=code, name=name, contact_department=contact, created_at=T0)
    session.add(e)
    session.flush()
    return e


@dataclass
class Chat:
    """Talks to the bot through the intake (the router layer), as the webhook would."""

    rt: Runtime

    def say(self, user: str, text: str) -> list[Reply]:
        """A person types a text; the passive replies."""
        n = next(_seq)
        inbound = Inbound(
            Channel.WECOM_APP,
            Kind.TEXT,
            user,
            f"wecom:msg:t{n}",
            self.rt.clock.now(),
            text=text,
            msg_id=f"t{n}",
        )
        return Intake(self.rt).receive(inbound).replies

    def text(self, user: str, text: str) -> str:
        """The single passive text answer to a typed text."""
        replies = self.say(user, text)
        assert len(replies) == 1 and isinstance(replies[0], Text), replies
        return replies[0].content

    def image(self, user: str, media_id: str) -> list[Reply]:
        """A person sends a photo."""
        n = next(_seq)
        inbound = Inbound(
            Channel.WECOM_APP, Kind.IMAGE, user, f"wecom:msg:i{n}", self.rt.clock.now(),
            msg_id=f"i{n}", media_id=media_id, pic_url=f"https://example.invalid/{media_id}.jpg",
        )  # fmt: skip
        return Intake(self.rt).receive(inbound).replies

    def click(self, user: str, key: str, *, response_code: str = "rc-1", task_id: str = "t") -> list[Reply]:
        """A person clicks a card button."""
        n = next(_seq)
        inbound = Inbound(
            Channel.WECOM_APP, Kind.CARD_CLICK, user, f"wecom:evt:{user}:{n}:{key}", self.rt.clock.now(),
            event="template_card_event", event_key=key, task_id=task_id, response_code=response_code,
        )  # fmt: skip
        return Intake(self.rt).receive(inbound).replies


def pushed_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The text of each text message the stand-in delivered."""
    return [m["body"]["text"]["content"] for m in messages if m["msgtype"] == "text"]


def pushed_cards(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The template cards the stand-in delivered (with their response codes)."""
    return [m for m in messages if m["msgtype"] == "template_card"]


def project(
    session: Session,
    code: str,
    name: str,
    department: Department,
    *,
    leads: tuple[Person, ...] = (),
    members: tuple[Person, ...] = (),
    leader: Person | None = None,
    annual_plan_wan: int = 0,
    plan_year: int = 2026,
    stage: str = "building",
) -> Any:
    """A key project with its task force (leads answer the weekly prompt), saved."""
    from handlers.projects.models import Project, ProjectMember
    from tests.conftest import T0

    row = Project(
        code=code, name=name, department=department, leader=leader, stage=stage, plan_year=plan_year,
        annual_plan_yuan=annual_plan_wan * 10_000, total_investment_yuan=annual_plan_wan * 30_000,
        created_at=T0,
    )  # fmt: skip
    row.members = [ProjectMember(person=p, is_lead=True) for p in leads]
    row.members += [ProjectMember(person=p, is_lead=False) for p in members]
    session.add(row)
    session.flush()
    return row


def contact(session: Session, userid: str, name: str, firm: Enterprise) -> Person:
    """An enterprise contact whose binding to `firm` is confirmed, saved."""
    from bot.models import BindingStatus, EnterpriseMember
    from tests.conftest import T0

    p = person(session, userid, Role.ENTERPRISE, name)
    confirmed = BindingStatus.CONFIRMED.value
    session.add(EnterpriseMember(person=p, enterprise=firm, status=confirmed, requested_at=T0))
    session.flush()
    return p

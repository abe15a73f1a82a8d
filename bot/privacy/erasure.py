"""`ztc person erase`: pseudonymise one person without breaking the register.

What goes: his name, WeCom userid, mobile and title (the `people` row keeps its id, so every
foreign key stays valid, and becomes 「已注销用户#<id>」 with the userid `erased-<keyed hash>-<id>`);
the texts, photos and links of the messages he sent and of those sent to him (the rows stay, so
the outbox and inbound log still count and dedupe); messages still waiting to go to him
(cancelled: marked failed, never sent); his pending binding requests (withdrawn); his userid
wherever the audit trail or a group notice named it; his conversation and send-rate keys in Redis.

What stays: the register — 诉求 he filed (content included: a request to the government is part
of its record), the events he wrote, inspections, reports, 督办卡, profile values. They now point
to the pseudonymised person, so every figure computed from them is unchanged.

Idempotent: a second erasure finds nothing left and changes nothing (no audit row either). The
erasure itself is audited (who, when, channel cli, how many rows) without any of the erased data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import audit
from bot.errors import Conflict
from bot.models import (
    AuditEvent,
    BindingStatus,
    InboundMessage,
    InboundStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
)
from bot.privacy import holdings
from bot.privacy.subjects import erased_name, pseudonym
from bot.replies import Text, reply_to_dict

ERASED = "（已按个人信息保护要求抹除）"
CANCELLED = "cancelled: the recipient's personal data was erased (ztc person erase)"
PERSONAL_KEYS = ("wecom_userid", "name", "mobile", "title")  # as the people import audits them
# What an inbound record keeps: enough to count and dedupe it, nothing the person typed or sent.
KEPT_INBOUND = ("channel", "kind", "created_at", "msg_id", "msg_type", "event", "event_key", "task_id",
                "card_type", "selected", "agent_id", "chat_id", "chat_type")  # fmt: skip


@dataclass
class Erasure:
    """What an erasure changed (counts only: this is what the audit row keeps)."""

    person_id: int
    already_erased: bool
    inbound: int = 0
    outbox: int = 0
    cancelled: int = 0
    mentions: int = 0
    audit: int = 0
    bindings_withdrawn: int = 0

    @property
    def changed(self) -> bool:
        """Whether anything was left to erase."""
        counts = (self.inbound, self.outbox, self.mentions, self.audit, self.bindings_withdrawn)
        return not self.already_erased or any(counts)

    def counts(self) -> dict[str, int]:
        """The numbers, for the audit row."""
        return {k: v for k, v in asdict(self).items() if type(v) is int and k != "person_id"}

    def summary(self) -> str:
        """One line for the operator."""
        if not self.changed:
            return f"人员#{self.person_id} 已注销，没有需要再抹除的信息。"
        return (
            f"已注销人员#{self.person_id}（显示为「{erased_name(self.person_id)}」）：抹除发来的消息{self.inbound}条、"
            f"发给本人的消息{self.outbox}条（其中{self.cancelled}条未发送，已取消），群消息中的提及{self.mentions}条，"
            f"操作记录{self.audit}条，撤回绑定申请{self.bindings_withdrawn}个。诉求、检查、项目等登记内容保留。"
        )


def erase_person(
    session: Session, person: Person, *, by: Person, key: bytes, now: datetime, userid: str | None = None
) -> Erasure:
    """Pseudonymise the person and scrub his messages; `userid` (the one asked for) sweeps leftovers."""
    if person.erased:  # a second run: only what may have come in since under the real userid
        alias, swept = person.wecom_userid, userid
    else:
        _refuse_last_admin(session, person)
        alias, swept = pseudonym(person.wecom_userid, person.id, key), person.wecom_userid
    erasure = Erasure(person.id, already_erased=person.erased)
    if swept and swept != alias:
        _scrub(session, erasure, swept, alias)
    erasure.audit += _scrub_person_audit(session, person)
    erasure.bindings_withdrawn = _withdraw_bindings(person, by, now)
    if not person.erased:
        _pseudonymise(person, alias)
    if erasure.changed:
        audit.record(
            session, at=now, actor=by, channel="cli", action="person.erase",
            entity="person", entity_id=person.id, data=erasure.counts(),
        )  # fmt: skip
    session.flush()
    return erasure


def forget_in_redis(connection: redis.Redis, prefix: str, userid: str) -> int:
    """Delete the person's conversation and rate-limit keys; how many existed."""
    return int(connection.delete(*holdings.redis_keys(prefix, userid)))


def _refuse_last_admin(session: Session, person: Person) -> None:
    """A county without an active admin could not bind, import or erase any more: never erase the last."""
    if person.role_enum is not Role.ADMIN or not person.active:
        return
    others = select(func.count(Person.id)).where(
        Person.role == Role.ADMIN.value, Person.active.is_(True), Person.id != person.id
    )
    if not session.scalar(others):
        raise Conflict(f"「{person.name}」是最后一位在用的管理员，不能注销：请先导入另一位管理员。")


def _pseudonymise(person: Person, alias: str) -> None:
    person.name = erased_name(person.id)
    person.wecom_userid = alias
    person.mobile = None
    person.title = None
    person.is_head = False  # an erased person heads nothing (and is no longer active)
    person.active = False
    person.erased = True


def _scrub(session: Session, erasure: Erasure, userid: str, alias: str) -> None:
    """Scrub every platform row that holds the userid: the inbound log, the outbox, the audit trail."""
    for row in holdings.inbound_from(session, userid):
        _scrub_inbound(row, userid, alias)
        erasure.inbound += 1
    for out in holdings.outbox_to(session, userid):
        erasure.cancelled += _scrub_outbound(out, userid, alias)
        erasure.outbox += 1
    for out in holdings.outbox_mentioning(session, userid):
        out.payload = holdings.replace_userid(out.payload, userid, alias)
        erasure.mentions += 1
    acted = select(AuditEvent).where(AuditEvent.actor_userid == userid)
    touched = {row.id: row for row in [*session.scalars(acted), *holdings.audit_mentioning(session, userid)]}
    for event in touched.values():
        event.actor_userid = alias if event.actor_userid == userid else event.actor_userid
        event.data = holdings.replace_userid(event.data, userid, alias)
    erasure.audit += len(touched)


def _scrub_inbound(row: InboundMessage, userid: str, alias: str) -> None:
    """Keep the row (counted, deduplicated) without what the person typed or sent."""
    payload: dict[str, Any] = {k: row.payload[k] for k in KEPT_INBOUND if k in row.payload}
    parts = (alias if part == userid else part for part in row.dedup_key.split(":"))
    row.dedup_key = ":".join(parts)[:255]
    row.payload = {**payload, "user_id": alias, "dedup_key": row.dedup_key, "text": ERASED}
    row.user_id = alias
    row.reply = None
    row.error = None
    if row.status == InboundStatus.RECEIVED.value:  # not handled yet: it never will be
        row.status, row.error = (
            InboundStatus.FAILED.value,
            "not handled: the sender's personal data was erased",
        )


def _scrub_outbound(row: OutboxMessage, userid: str, alias: str) -> int:
    """Keep the row without its content; 1 if it was still to be sent (now cancelled, never sent)."""
    renamed = {userid: alias, f"response_url:{userid}": f"response_url:{alias}"}
    row.recipient = renamed.get(row.recipient, row.recipient)  # a group's answer stays named by the group
    row.payload = reply_to_dict(Text(ERASED))
    row.invalid_users = alias if row.invalid_users else None
    unsent = row.status in (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
    if unsent:
        row.status, row.last_error, row.lease_until = OutboxStatus.FAILED.value, CANCELLED, None
    return int(unsent)


def _scrub_person_audit(session: Session, person: Person) -> int:
    """The audit rows about the person (his import, his changes) without his name, userid, mobile, title."""
    query = select(AuditEvent).where(AuditEvent.entity == "person", AuditEvent.entity_id == str(person.id))
    changed = 0
    for event in session.scalars(query):
        data = {
            k: holdings.map_strings(v, lambda _: ERASED) if k in PERSONAL_KEYS else v
            for k, v in event.data.items()
        }
        if data != event.data:
            event.data, changed = data, changed + 1
    return changed


def _withdraw_bindings(person: Person, by: Person, now: datetime) -> int:
    """Pending binding requests are withdrawn: nobody should bind an erased person by a stale card."""
    pending = [m for m in person.memberships if m.status == BindingStatus.PENDING.value]
    for member in pending:
        member.status, member.decided_at, member.decided_by_id = BindingStatus.REJECTED.value, now, by.id
    return len(pending)

"""`ztc person export`: everything the system holds about one person, as one JSON document."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import AuditEvent, EnterpriseMember, InboundMessage, OutboxMessage, Oversight, Person, Role
from bot.privacy import holdings
from bot.privacy.rendering import when

DIGEST_KEY = "digest:"  # jobs/digests.py keys a leader's scheduled digest digest:<kind>:<start>:<id>
# (table, column) of the platform's columns holding a person's id; bot/privacy/features.py has the features'.
PERSON_COLUMNS = frozenset(
    {
        ("audit_events", "actor_id"),
        ("enterprise_members", "person_id"),
        ("enterprise_members", "decided_by_id"),
        ("oversight", "leader_id"),
    }
)
BINDING_STATES = {"pending": "待确认", "confirmed": "已确认", "rejected": "已拒绝"}


def export_person(session: Session, person: Person, *, conversation: Any, now: datetime) -> dict[str, Any]:
    """The person's data under Chinese headings: his row, bindings, messages, audit trail, features."""
    from bot.privacy.features import feature_sections  # the features' tables: see that module

    userid = person.wecom_userid
    received = holdings.outbox_to(session, userid)
    return {
        "导出时间": when(now),
        "说明": _NOTE,
        "个人信息": _person(person),
        "企业绑定": [_membership(m) for m in person.memberships],
        "本人审批的企业绑定": _decided_bindings(session, person),
        "分管部门": _overseen(session, person),
        "发来的消息": [_inbound(row) for row in holdings.inbound_from(session, userid)],
        "收到的消息": [_outbound(row) for row in received if not row.idempotency_key.startswith(DIGEST_KEY)],
        "领导简报（推送给本人）": [
            _outbound(row) for row in received if row.idempotency_key.startswith(DIGEST_KEY)
        ],
        "群消息中提到本人": [_outbound(row) for row in holdings.outbox_mentioning(session, userid)],
        "会话状态": conversation,
        "操作记录": [_audit(row, person) for row in holdings.audit_about(session, person)],
        **feature_sections(session, person),
    }


def to_json(document: dict[str, Any]) -> str:
    """UTF-8 JSON a person can read: Chinese as is, indented."""
    return json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n"


_NOTE = (
    "本文件列出政企直通车保存的与您有关的全部个人信息。时间为北京时间。"
    "诉求、检查、项目等办理记录属于政务登记簿，注销后内容保留、经办人以化名显示。"
)


def _person(person: Person) -> dict[str, Any]:
    return {
        "编号": person.id,
        "企业微信账号": person.wecom_userid,
        "姓名": person.name,
        "角色": Role(person.role).label,
        "部门": person.department.name if person.department else None,
        "职务": person.title,
        "部门负责人": person.is_head,
        "手机": person.mobile,
        "在用": person.active,
        "已注销": person.erased,
        "登记时间": when(person.created_at),
    }


def _membership(member: EnterpriseMember) -> dict[str, Any]:
    return {
        "企业": member.enterprise.name,
        "统一社会信用代码": member.enterprise.uscc,
        "状态": BINDING_STATES.get(member.status, member.status),
        "申请时间": when(member.requested_at),
        "确认时间": when(member.decided_at),
    }


def _decided_bindings(session: Session, person: Person) -> list[dict[str, Any]]:
    """Bindings the person (an official or admin) decided: which contact, of which enterprise."""
    query = select(EnterpriseMember).where(EnterpriseMember.decided_by_id == person.id)
    rows = session.scalars(query.order_by(EnterpriseMember.id))
    return [{**_membership(m), "联系人编号": m.person_id} for m in rows]


def _overseen(session: Session, person: Person) -> list[str]:
    rows = session.scalars(select(Oversight).where(Oversight.leader_id == person.id).order_by(Oversight.id))
    return [row.department.name for row in rows]


def _inbound(row: InboundMessage) -> dict[str, Any]:
    payload = {k: v for k, v in row.payload.items() if k != "response_url"}  # a credential, and expired
    return {
        "时间": when(row.received_at),
        "渠道": row.channel,
        "类型": row.kind,
        "文字": payload.get("text") or None,
        "处理状态": row.status,
        "当即答复": row.reply,
        "原始记录": payload,
    }


def _outbound(row: OutboxMessage) -> dict[str, Any]:
    payload = {k: v for k, v in row.payload.items() if k != "response_url"}
    return {
        "时间": when(row.created_at),
        "状态": row.status,
        "发送时间": when(row.sent_at),
        "内容": payload,
    }


def _audit(row: AuditEvent, person: Person) -> dict[str, Any]:
    return {
        "时间": when(row.at),
        "渠道": row.channel,
        "操作": row.action,
        "对象": f"{row.entity} {row.entity_id or ''}".strip(),
        "本人身份": "操作人"
        if person.id == row.actor_id or person.wecom_userid == row.actor_userid
        else "被操作对象",
        "内容": row.data,
    }

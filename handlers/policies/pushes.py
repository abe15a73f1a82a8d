"""免申即享: push a policy to every enterprise that qualifies, once per policy version; track 兑现.

A push row is unique per (policy version, enterprise), so a job that is retried, or a re-match
after a profile change, never pushes the same version twice. The row keeps the inputs the match
used (the audit), and follows the benefit from 已推送 to 企业确认 to 已兑现.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.audit import record
from bot.clock import as_utc, local
from bot.directory import contacts_of, officials_of, people_with_role
from bot.errors import Conflict, Invalid, NotAllowed, NotFound
from bot.models import BindingStatus, EnterpriseMember, Person, Role
from bot.replies import Button, TemplateCard, Text
from handlers.policies.conditions import evaluate
from handlers.policies.matching import Result, match_many, policies_in_force, rules_of
from handlers.policies.models import Policy, PolicyMode, PolicyPush, PushStatus
from handlers.policies.profile import plain, profiles_of


@dataclass(frozen=True)
class Message:
    """One message to one person, once per key."""

    person: Person
    reply: Text | TemplateCard
    key: str


def automatic_in_force(session: Session, now: datetime) -> list[Policy]:
    """The current 免申即享 policies valid today and not past their deadline."""
    today = local(as_utc(now)).date()
    return [
        p
        for p in policies_in_force(session, today)
        if p.mode == PolicyMode.AUTOMATIC.value and (p.deadline is None or p.deadline >= today)
    ]


def push_policies(
    session: Session, policies: Iterable[Policy], now: datetime, enterprise_ids: Iterable[int] | None = None
) -> list[Message]:
    """Push each policy to the enterprises (all, or those named) newly qualifying; the messages to send.

    Only enterprises with a contact to tell are pushed (a binding confirmed later re-matches it);
    an enterprise that already took up this policy (an earlier version) is not pushed again.
    """
    policies = [p for p in policies if p.mode == PolicyMode.AUTOMATIC.value]
    if not policies:
        return []
    profiles = profiles_of(session, now, enterprise_ids)
    values: dict[Hashable, dict[str, Any]] = {eid: plain(facts) for eid, facts in profiles.items()}
    day = local(as_utc(now)).date()
    rules = {p.id: rules_of(p) for p in policies}
    found = match_many(values, list(rules.values()), day)
    qualified = {eid for p in policies for eid in found[p.id].qualified}
    contacts = contacts_by_enterprise(session, qualified)
    pushed, taken = _pushed_pairs(session, policies)
    messages: list[Message] = []
    for policy in policies:
        for enterprise_id in found[policy.id].qualified:
            assert isinstance(enterprise_id, int)
            if (policy.id, enterprise_id) in pushed or (policy.code, enterprise_id) in taken:
                continue
            if not contacts.get(enterprise_id):
                continue  # nobody to tell yet: pushed when a contact's binding is confirmed
            facts = profiles[enterprise_id]
            result = Result(policy, evaluate(rules[policy.id].conditions, plain(facts), day), facts)
            push = _new_push(session, result, enterprise_id, now)
            if push is not None:
                messages.extend(
                    Message(c, push_card(push, c, result), f"policy-push:{push.id}:{c.id}")
                    for c in contacts[enterprise_id]
                )
    return messages


def contacts_by_enterprise(session: Session, enterprise_ids: Iterable[Hashable]) -> dict[int, list[Person]]:
    """The active confirmed contacts of these enterprises, in one query."""
    ids = [i for i in enterprise_ids if isinstance(i, int)]
    if not ids:
        return {}
    query = (
        select(EnterpriseMember.enterprise_id, Person)
        .join(Person, EnterpriseMember.person_id == Person.id)
        .where(
            EnterpriseMember.enterprise_id.in_(ids),
            EnterpriseMember.status == BindingStatus.CONFIRMED.value,
            Person.active.is_(True),
        )
        .order_by(Person.id)
    )
    found: dict[int, list[Person]] = {}
    for enterprise_id, person in session.execute(query):
        found.setdefault(enterprise_id, []).append(person)
    return found


def _pushed_pairs(
    session: Session, policies: list[Policy]
) -> tuple[set[tuple[int, int]], set[tuple[str, int]]]:
    """(policy id, enterprise) already pushed; (policy code, enterprise) already confirmed or delivered."""
    codes = {p.code for p in policies}
    query = (
        select(PolicyPush.policy_id, PolicyPush.enterprise_id, PolicyPush.status, Policy.code)
        .join(Policy, PolicyPush.policy_id == Policy.id)
        .where(Policy.code.in_(codes))
    )
    pushed, taken = set(), set()
    done = (PushStatus.CONFIRMED.value, PushStatus.DELIVERED.value)
    for policy_id, enterprise_id, status, code in session.execute(query):
        pushed.add((policy_id, enterprise_id))
        if status in done:
            taken.add((code, enterprise_id))
    return pushed, taken


def _new_push(session: Session, result: Result, enterprise_id: int, now: datetime) -> PolicyPush | None:
    """The push row with the inputs the match read; None if a concurrent job wrote it a moment ago."""
    policy = result.policy
    push = PolicyPush(
        policy_id=policy.id, enterprise_id=enterprise_id, status=PushStatus.PUSHED.value,
        inputs=result.inputs(), pushed_at=now,
    )  # fmt: skip
    try:
        with session.begin_nested():  # the unique key says whether another job got there first
            session.add(push)
    except IntegrityError:
        return None
    data = {"policy": policy.code, "version": policy.version, "enterprise_id": enterprise_id}
    record(
        session, at=now, actor=None, channel="job", action="policy.push", entity="policy_push",
        entity_id=push.id, data=data,
    )  # fmt: skip
    return push


def push_card(push: PolicyPush, contact: Person, result: Result) -> TemplateCard:
    """The enterprise's 免申即享 card: what it gets, for which enterprise, what a person still checks."""
    policy = push.policy
    amount = f"{policy.amount_wan:g}万元" if policy.amount_wan else "按政策核定"
    manual = result.assessment.manual
    checks = (("待人工核实", f"{len(manual)}项（如{manual[0].condition.requirement}）"),) if manual else ()
    return TemplateCard(
        card_type="button_interaction",
        task_id=f"policy-push-{push.id}-{contact.id}",
        title="免申即享：您企业初步符合条件" if manual else "免申即享：您企业符合条件",
        desc=f"{policy.title}（{policy.doc_number}）",
        quote=policy.benefit,
        fields=(
            ("企业", push.enterprise.name),
            ("金额", amount),
            ("办理", policy.how_to[:40]),
            *checks,
            ("咨询", policy.contact[:40]),
            ("推送编号", f"P{push.id}"),
        ),
        buttons=(
            Button("确认享受", f"policy:push:ok:{push.id}", style=1),
            Button("不需要", f"policy:push:no:{push.id}", style=2),
        ),
        replace_text="已回复",
    )


def answer_push(
    session: Session, person: Person, push_id: int, accept: bool, now: datetime
) -> tuple[PolicyPush, list[Message]]:
    """The enterprise confirms (or declines) a push, once; its 包联部门 is asked to deliver (兑现)."""
    push = _push(session, push_id)
    if person not in contacts_of(session, push.enterprise_id):
        raise NotAllowed("只有该企业的联系人可以回复这条政策推送。")
    if push.status != PushStatus.PUSHED.value:
        raise Conflict(f"推送 P{push.id} 已处理，无需重复操作。")
    if not push.policy.current:
        raise Conflict(f"「{push.policy.title}」已更新，请以最新推送为准（P{push.id} 已失效）。")
    push.status = (PushStatus.CONFIRMED if accept else PushStatus.DECLINED).value
    push.confirmed_at = now
    record(session, at=now, actor=person, channel="wecom", action=f"policy.push.{push.status}",
           entity="policy_push", entity_id=push.id, data={})  # fmt: skip
    if not accept:
        return push, []
    return push, _ask_to_deliver(session, push)


def _ask_to_deliver(session: Session, push: PolicyPush) -> list[Message]:
    enterprise = push.enterprise
    check_first = "兑现前请先核实需人工核实的条件；" if _has_manual(push) else ""
    text = Text(
        f"【免申即享待兑现】{enterprise.name}已确认享受「{push.policy.title}」（推送编号 P{push.id}）。"
        f"{check_first}兑现后请发送「兑现 P{push.id}」登记。"
    )
    department = enterprise.contact_department_id
    # Without a 包联部门 the admins see to it: a confirmed benefit must reach someone who acts.
    people = officials_of(session, department) if department else people_with_role(session, Role.ADMIN)
    return [Message(p, text, f"policy-push:{push.id}:deliver:{p.id}") for p in people]


def _has_manual(push: PolicyPush) -> bool:
    return any("manual" in condition for condition in push.policy.conditions)


def deliver(
    session: Session, person: Person, push_id: int, now: datetime
) -> tuple[PolicyPush, list[Message]]:
    """兑现: the 包联部门 (or a leader/admin) records the benefit as delivered; the enterprise is told."""
    push = _push(session, push_id)
    allowed = person.role_enum in (Role.LEADER, Role.ADMIN) or (
        person.role_enum is Role.OFFICIAL
        and person.department_id is not None
        and person.department_id == push.enterprise.contact_department_id
    )
    if not allowed:
        raise NotAllowed("只有企业的包联部门干部或县领导可以登记兑现。")
    if push.status != PushStatus.CONFIRMED.value:
        raise Conflict(f"推送 P{push.id} 当前状态不能登记兑现（须企业先确认享受）。")
    push.status, push.delivered_at, push.delivered_by_id = PushStatus.DELIVERED.value, now, person.id
    record(session, at=now, actor=person, channel="wecom", action="policy.push.delivered",
           entity="policy_push", entity_id=push.id, data={})  # fmt: skip
    text = Text(f"「{push.policy.title}」已兑现（推送编号 P{push.id}）。感谢您对惠企政策落实工作的支持！")
    return push, [
        Message(c, text, f"policy-push:{push.id}:delivered:{c.id}")
        for c in contacts_of(session, push.enterprise_id)
    ]


def _push(session: Session, push_id: int) -> PolicyPush:
    push = session.get(PolicyPush, push_id)
    if push is None:
        raise NotFound(f"没有编号为 P{push_id} 的政策推送。")
    return push


def parse_push_id(text: str) -> int:
    """「P12」 or 「12」 → 12."""
    raw = text.strip().upper().removeprefix("P")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise Invalid(f"「{text.strip() or '（空）'}」不是推送编号，编号形如 P12。")
    return int(raw)

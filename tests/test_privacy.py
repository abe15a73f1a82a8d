"""`ztc person export|erase`: one person's data handed out, then pseudonymised; the register stays whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import ForeignKey, func, select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.db import Base
from bot.importing import import_file
from bot.models import (
    AuditEvent,
    BindingStatus,
    EnterpriseMember,
    InboundMessage,
    OutboxMessage,
    Person,
    Role,
)
from bot.outbox import OutboxWriter
from bot.privacy.export import PERSON_COLUMNS as PLATFORM_COLUMNS
from bot.privacy.features import PERSON_COLUMNS as FEATURE_COLUMNS
from bot.ratelimit import SendLimiter
from bot.replies import GroupText
from bot.routing import WHO_ARE_YOU
from bot.runtime import Runtime
from handlers.complaints.figures import department_figures
from handlers.complaints.models import WorkOrder
from handlers.digests.figures import compute, county_scope
from handlers.digests.model import Period, PeriodKind
from handlers.projects.rules import rules_from
from tests import builders
from tests.builders import Chat
from tests.conftest import T0, run_jobs

MOBILE = "13812345678"
TYPED = f"我的电话是{MOBILE}，有事请打给我"  # an unknown command: kept only in the inbound log


@dataclass
class Story:
    """张伟 filed, rated and chatted; an order of his waits for his sign-off; a message to him is queued."""

    person_id: int
    signed: str  # the order he filed and rated 满意
    waiting: str  # the order resolved, its sign-off card to him not sent yet


def _cli(rt: Runtime, *args: str, input: str | None = None) -> Result:
    env = {
        "DATABASE_URL": rt.settings.database_url,
        "REDIS_URL": rt.settings.redis_url or "",
        "ZTC_VAR_DIR": str(rt.settings.var_dir),
        "WECOM_API_BASE": rt.settings.wecom_api_base,
    }
    return CliRunner().invoke(main, ["person", *args], env=env, input=input)


def _number(replies: list[Any]) -> str:
    return str(replies[0].content).split("单号 ")[1].split("。")[0]


@pytest.fixture
def story(runtime: Runtime, session: Session, standin: Any) -> Iterator[Story]:
    """The county, and what 张伟 did in it through the chat (nothing sent yet: no job has run)."""
    gxj = builders.department(session, "县工信局", "GXJ")
    builders.person(session, "gxj_zhou", Role.OFFICIAL, "周海涛", department=gxj, is_head=True)
    builders.person(session, "admin_sun", Role.ADMIN, "孙丽")
    builders.person(session, "fgj_chen", Role.OFFICIAL, "陈国强", department=gxj)
    firm = builders.enterprise(session, "示范县鑫源食品有限公司", gxj)
    boss = builders.contact(session, "zhang_wei", "张伟", firm)
    boss.mobile, boss.title = MOBILE, "总经理"
    other = builders.enterprise(session, "示范县宏达机械有限公司", gxj)
    session.add(EnterpriseMember(person=boss, enterprise=other, requested_at=T0))  # pending
    session.commit()
    chat = Chat(runtime)
    signed = _number(chat.say("zhang_wei", "诉求 用地 厂房扩建用地手续三个月未批"))
    for line in (f"接单 {signed}", f"办结 {signed} 已协调自然资源局加快办理"):
        chat.say("gxj_zhou", line)
    chat.say("zhang_wei", f"评价 {signed} 满意 办得很快")
    waiting = _number(chat.say("zhang_wei", "诉求 水电气 用电增容申请迟迟未批"))
    chat.say("gxj_zhou", f"接单 {waiting}")
    chat.say("gxj_zhou", f"办结 {waiting} 已联系供电公司")  # 张伟's sign-off card: queued, unsent
    chat.say("zhang_wei", TYPED)
    chat.say("zhang_wei", "诉求")  # the guided filing: a conversation in Redis
    SendLimiter(runtime.redis, runtime.settings.queue_prefix).wait_seconds("zhang_wei", 1)
    yield Story(boss.id, signed, waiting)


def _export(rt: Runtime, tmp_path: Path, userid: str = "zhang_wei") -> dict[str, Any]:
    path = tmp_path / f"{userid}.json"
    result = _cli(rt, "export", userid, str(path), "--by", "admin_sun")
    assert result.exit_code == 0, result.output
    return json.loads(path.read_text(encoding="utf-8"))


def _figures(session: Session, rt: Runtime) -> tuple[Any, ...]:
    """The register's figures: each department's five rates, and the county's weekly digest."""
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    departments = department_figures(session, start, end)
    rates = [(f.department, f.response_rate, f.solve_rate, f.satisfaction_rate) for f in departments]
    week = Period(PeriodKind.WEEK, date(2026, 11, 23), date(2026, 11, 30))
    digest = compute(
        session, county_scope(), week, now=T0 + timedelta(hours=2), rules=rules_from(rt.settings)
    )
    return rates, digest.orders


def test_export_holds_everything_about_the_person(runtime, story, tmp_path):
    data = _export(runtime, tmp_path)
    me = data["个人信息"]
    assert (me["姓名"], me["企业微信账号"], me["手机"], me["职务"]) == ("张伟", "zhang_wei", MOBILE, "总经理")
    assert [b["状态"] for b in data["企业绑定"]] == ["已确认", "待确认"]
    assert TYPED in [m["文字"] for m in data["发来的消息"]]
    assert [o["单号"] for o in data["诉求工单（本人提交）"]] == [story.signed, story.waiting]
    assert data["诉求工单（本人提交）"][0]["内容"] == "厂房扩建用地手续三个月未批"
    rated = [e for e in data["诉求办理记录（本人操作）"] if e["操作"] == "评价"]
    assert rated and rated[0]["内容"]["comment"] == "办得很快"
    assert any(story.waiting in json.dumps(m["内容"], ensure_ascii=False) for m in data["收到的消息"])
    assert data["会话状态"] is not None  # the guided filing he is in
    assert data["导出时间"].endswith("+08:00")
    official = _export(runtime, tmp_path, "gxj_zhou")  # an official: the steps he took on the orders
    assert [e["操作"] for e in official["诉求办理记录（本人操作）"]] == ["接单", "办结", "接单", "办结"]
    assert official["诉求工单（本人提交）"] == [] and official["个人信息"]["部门"] == "县工信局"


def test_export_is_audited_and_refuses_strangers(runtime, story, session, tmp_path):
    _export(runtime, tmp_path)
    exports = session.scalars(select(AuditEvent).where(AuditEvent.action == "person.export")).all()
    assert [(e.actor_userid, e.channel, e.entity_id) for e in exports] == [
        ("admin_sun", "cli", str(story.person_id))
    ]
    unknown = _cli(runtime, "export", "nobody", "--by", "admin_sun")
    assert unknown.exit_code == 1 and "没有账号为「nobody」的人员" in unknown.output
    not_admin = _cli(runtime, "export", "zhang_wei", "--by", "gxj_zhou")
    assert not_admin.exit_code == 1 and "不是在用的管理员" in not_admin.output


def test_erase_pseudonymises_and_keeps_the_register(runtime, story, session, standin, tmp_path):
    before = _figures(session, runtime)
    result = _cli(runtime, "erase", "zhang_wei", "--by", "admin_sun", "--yes")
    assert result.exit_code == 0, result.output
    assert "已注销人员" in result.output and "未发送，已取消" in result.output

    session.expire_all()
    person = session.get(Person, story.person_id)  # the same row: every foreign key still points at it
    assert person is not None and person.erased and not person.active
    assert person.name == f"已注销用户#{story.person_id}" and person.mobile is None and person.title is None
    assert person.wecom_userid.startswith("erased-") and "zhang_wei" not in person.wecom_userid
    orders = session.scalars(select(WorkOrder).order_by(WorkOrder.id)).all()
    assert [(o.number, o.filed_by_id, o.description) for o in orders] == [
        (story.signed, story.person_id, "厂房扩建用地手续三个月未批"),
        (story.waiting, story.person_id, "用电增容申请迟迟未批"),
    ]  # the register's content stays; its author is the pseudonym
    assert _figures(session, runtime) == before

    exported = json.dumps(_export(runtime, tmp_path), ensure_ascii=False)  # found by his old userid
    for gone in ("张伟", "zhang_wei", MOBILE, "138****5678", "总经理", "我的电话"):
        assert gone not in exported, gone
    assert f"已注销用户#{story.person_id}" in exported and "厂房扩建用地手续三个月未批" in exported

    assert runtime.redis.keys("*zhang_wei*") == []  # his conversation and send-rate windows


def test_a_pending_message_to_the_erased_person_is_never_sent(runtime, story, session, standin):
    waiting = select(OutboxMessage).where(
        OutboxMessage.recipient == "zhang_wei", OutboxMessage.status == "pending"
    )
    assert any(
        story.waiting in json.dumps(row.payload) for row in session.scalars(waiting)
    )  # his sign-off card
    assert _cli(runtime, "erase", "zhang_wei", "--by", "admin_sun", "--yes").exit_code == 0
    run_jobs(runtime)
    assert standin.messages("zhang_wei") == []
    assert [m for m in standin.messages() if m["body"].get("touser", "").startswith("erased-")] == []
    assert standin.messages("gxj_zhou")  # everyone else's messages still go out
    cancelled = session.scalars(
        select(OutboxMessage).where(OutboxMessage.last_error.like("cancelled:%"))
    ).all()
    assert cancelled and {row.status for row in cancelled} == {"failed"}


def test_the_erased_person_is_a_stranger_to_the_bot(runtime, story, session):
    assert _cli(runtime, "erase", "zhang_wei", "--by", "admin_sun", "--yes").exit_code == 0
    assert Chat(runtime).text("zhang_wei", "我是谁").endswith(WHO_ARE_YOU)  # 张伟 is no longer known
    session.expire_all()
    withdrawn = session.scalars(select(EnterpriseMember).where(EnterpriseMember.person_id == story.person_id))
    assert BindingStatus.PENDING.value not in {m.status for m in withdrawn}


def test_a_second_erase_is_a_no_op(runtime, story, session):
    assert _cli(runtime, "erase", "zhang_wei", "--by", "admin_sun", "--yes").exit_code == 0
    session.expire_all()
    stored = _snapshot(session)
    again = _cli(runtime, "erase", "zhang_wei", "--by", "admin_sun", "--yes")
    assert again.exit_code == 0 and "没有需要再抹除的信息" in again.output
    session.expire_all()
    assert _snapshot(session) == stored
    [erased] = session.scalars(select(AuditEvent).where(AuditEvent.action == "person.erase")).all()
    assert (erased.actor_userid, erased.channel, erased.entity_id) == (
        "admin_sun",
        "cli",
        str(story.person_id),
    )
    assert "zhang_wei" not in json.dumps(erased.data) and erased.data["inbound"] > 0  # counts, no data


def _snapshot(session: Session) -> list[Any]:
    rows: list[Any] = []
    for model in (Person, InboundMessage, OutboxMessage, AuditEvent, EnterpriseMember, WorkOrder):
        for row in session.scalars(select(model).order_by(model.id)):
            rows.append({c.key: getattr(row, c.key) for c in model.__table__.columns})
    return rows


def test_unknown_users_non_admins_and_the_last_admin_are_refused(runtime, story, session):
    unknown = _cli(runtime, "erase", "nobody", "--by", "admin_sun", "--yes")
    assert unknown.exit_code == 1 and "没有账号为「nobody」的人员" in unknown.output
    by_official = _cli(runtime, "erase", "zhang_wei", "--by", "gxj_zhou", "--yes")
    assert by_official.exit_code == 1 and "不是在用的管理员" in by_official.output
    last_admin = _cli(runtime, "erase", "admin_sun", "--by", "admin_sun", "--yes")
    assert last_admin.exit_code == 1 and "最后一位在用的管理员" in last_admin.output
    declined = _cli(runtime, "erase", "zhang_wei", "--by", "admin_sun", input="n\n")
    assert declined.exit_code == 1 and "不可恢复" in declined.output
    session.expire_all()
    assert not session.scalars(select(Person).where(Person.erased.is_(True))).all()
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "person.erase")) == 0


def test_a_group_notice_keeps_the_mention_but_not_the_userid(runtime, story, session):
    writer = OutboxWriter(session, runtime.clock)
    notice = GroupText("key-1", "<@zhang_wei><@gxj_zhou> 请报送本周进展", mentioned=("zhang_wei", "gxj_zhou"))
    writer.add("group", notice, key="notice-1")
    session.commit()
    assert _cli(runtime, "erase", "zhang_wei", "--by", "admin_sun", "--yes").exit_code == 0
    session.expire_all()
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == "notice-1")).one()
    alias = session.get(Person, story.person_id).wecom_userid
    assert row.payload["content"] == f"<@{alias}><@gxj_zhou> 请报送本周进展"
    assert row.payload["mentioned"] == [alias, "gxj_zhou"]


def test_a_reimport_makes_a_new_person_and_never_restores_the_erased_one(runtime, story, session, tmp_path):
    assert _cli(runtime, "erase", "zhang_wei", "--by", "admin_sun", "--yes").exit_code == 0
    session.expire_all()
    path = tmp_path / "people.csv"
    path.write_text("账号,姓名,角色,手机\nzhang_wei,张伟,企业,13812345678\n", encoding="utf-8")
    import_file(session, "people", path, clock=runtime.clock)
    session.commit()
    people = session.scalars(select(Person).where(Person.name.in_(["张伟", f"已注销用户#{story.person_id}"])))
    returned, erased = sorted(people, key=lambda p: p.erased)
    assert (returned.wecom_userid, returned.erased) == ("zhang_wei", False) and returned.id != story.person_id
    assert erased.id == story.person_id and erased.mobile is None  # the old row, and its orders, stay erased
    assert {o.filed_by_id for o in session.scalars(select(WorkOrder))} == {story.person_id}


def test_every_column_that_holds_a_person_is_exported():
    """A new table pointing at people must be added to the export (and considered by the erasure)."""
    pointing = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        for key in column.foreign_keys
        if isinstance(key, ForeignKey) and key.column.table.name == "people"
    }
    assert pointing == PLATFORM_COLUMNS | FEATURE_COLUMNS

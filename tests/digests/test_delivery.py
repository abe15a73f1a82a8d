"""Digests pushed on schedule and asked for in chat: the right scope, the right people, each once."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from bot.clock import LOCAL_ZONE
from bot.models import OutboxMessage, Oversight, Role
from handlers.complaints import service as orders
from handlers.digests import charts
from handlers.projects.models import SupervisionCard
from jobs import digests as digest_jobs
from tests import builders
from tests.builders import Chat
from tests.conftest import T0, run_jobs


def at(clock, moment: str) -> None:
    clock.set(datetime.fromisoformat(moment).replace(tzinfo=LOCAL_ZONE))


@pytest.fixture
def county(session_factory):
    """Two departments, an order in each, a project; 李县长 oversees 工信局, 王县长 sees the county."""
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        swj = builders.department(s, "县商务局", "SWJ")
        builders.person(s, "gxj_wu", Role.OFFICIAL, "吴晓燕", department=gxj)
        builders.person(s, "swj_zheng", Role.OFFICIAL, "郑立新", department=swj)
        li = builders.person(s, "leader_li", Role.LEADER, "李县长")
        builders.person(s, "leader_wang", Role.LEADER, "王县长")
        s.add(Oversight(leader_id=li.id, department_id=gxj.id))
        ours = builders.enterprise(s, "示范县鑫源电子有限公司", gxj)
        theirs = builders.enterprise(s, "示范县宏达商贸有限公司", swj)
        for userid, name, firm in (("zhang_wei", "张伟", ours), ("li_na", "李娜", theirs)):
            who = builders.contact(s, userid, name, firm)
            orders.file_order(s, who, f"{firm.name}门前道路破损", "其他", "普通", T0)
        builders.project(s, "XM001", "城南产业园标准厂房", gxj, leader=li, annual_plan_wan=8000)
        s.commit()


@pytest.fixture
def settings_with_digests(runtime):
    """The county-wide leaders and the leaders' group, as a county would configure them."""
    runtime.settings = runtime.settings.with_(
        digest_county_leaders=("leader_wang",), digest_group_webhook="leaders-robot"
    )
    runtime.services["settings"] = runtime.settings
    return runtime


def sent(session_factory) -> list[OutboxMessage]:
    with session_factory() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_the_daily_digest_goes_to_each_leader_for_his_scope_once(
    settings_with_digests, standin, county, clock, session_factory
):
    at(clock, "2026-11-25 08:25")
    assert digest_jobs.sweep() == 0
    at(clock, "2026-11-25 08:30")
    assert digest_jobs.sweep() == 3  # two leaders and the leaders' group
    rows = sent(session_factory)
    first = {m.recipient: m.payload["content"] for m in rows if m.payload["type"] == "Markdown"}
    assert first["leader_li"].startswith("**【日报】李县长分管 · 11月24日**")
    assert first["leader_wang"].startswith("**【日报】全县 · 11月24日**")
    assert "**诉求** 新增1 · 在办1" in first["leader_li"] and "**诉求** 新增2 · 在办2" in first["leader_wang"]
    [group] = [m for m in rows if m.recipient == "group:leaders-robot" and m.payload["type"] == "GroupText"]
    assert group.payload["content"].startswith("**【日报】全县")
    images = [m for m in rows if m.payload["type"] in ("Image", "GroupImage")]
    assert len(images) == (3 if charts.chart_available() else 0)
    at(clock, "2026-11-25 08:35")
    assert digest_jobs.sweep() == 0 and len(sent(session_factory)) == len(rows)  # once per period
    run_jobs(settings_with_digests)
    assert {m.status for m in sent(session_factory)} == {"sent"}


def test_the_late_order_of_the_day_is_the_first_thing_a_leader_reads_with_a_button(
    settings_with_digests, standin, county, clock, session_factory
):
    at(clock, "2026-11-26 08:30")  # both orders passed their 24-hour pickup deadline yesterday
    digest_jobs.sweep()
    rows = [m for m in sent(session_factory) if m.recipient == "leader_li"]
    text = rows[0].payload["content"]
    assert "需要您处理（1项）" in text and "1. 超时诉求 S2611-0001（县工信局" in text
    [card] = [m.payload for m in rows if m.payload["type"] == "TemplateCard"]
    assert card["buttons"][0]["text"] == "督办 S2611-0001"
    assert card["buttons"][0]["key"].startswith("order:urge:S2611-0001:")


def test_asked_in_chat_an_official_gets_his_departments_view_and_an_enterprise_nothing(
    settings_with_digests, standin, county, clock, session_factory
):
    chat = Chat(settings_with_digests)
    at(clock, "2026-11-25 10:00")
    assert "正在处理" in chat.text("gxj_wu", "日报")
    run_jobs(settings_with_digests)
    [digest] = [
        m for m in sent(session_factory) if m.recipient == "gxj_wu" and m.payload["type"] == "Markdown"
    ]
    assert digest.payload["content"].startswith("**【日报】县工信局 · 11月24日**")
    refused = chat.text("zhang_wei", "日报")
    assert "仅限干部、县领导、管理员使用" in refused, refused
    ranking = chat.say("leader_wang", "排名 本月")
    run_jobs(settings_with_digests)
    assert ranking and [
        m for m in sent(session_factory) if "诉求办理排名 · 全县 · 2026年11月" in str(m.payload)
    ]
    assert "不是排名的期间" in _worker_answer(chat, settings_with_digests, session_factory, "排名 明年")


def _worker_answer(chat, runtime, session_factory, text: str) -> str:
    """The answer a slow command's worker sends."""
    before = len(sent(session_factory))
    chat.say("leader_wang", text)
    run_jobs(runtime)
    return " ".join(str(m.payload.get("content", "")) for m in sent(session_factory)[before:])


def test_the_digest_cards_instruct_button_issues_a_card_to_the_projects_department(
    settings_with_digests, standin, county, clock, session_factory
):
    chat = Chat(settings_with_digests)
    asked = chat.click("leader_li", "digest:instruct:XM001")
    assert "对 XM001 城南产业园标准厂房 作出批示，交县工信局办理" in asked[0].content
    done = chat.text("leader_li", "协调解决用地指标 12月5日")
    assert "已交办" in done and "12月5日" in done
    with session_factory() as s:
        card = s.scalars(select(SupervisionCard)).one()
        assert (card.kind, card.project.code, card.department.code) == ("instruct", "XM001", "GXJ")


def _ask(runtime, user: str, text: str, msg_id: str) -> None:
    """A person types `text` in the app with a msg id as WeCom really sends them (base64: / + =)."""
    from bot.intake import Intake
    from bot.messages import Channel, Inbound, Kind

    inbound = Inbound(
        Channel.WECOM_APP, Kind.TEXT, user, f"wecom:msg:{msg_id}", runtime.clock.now(),
        text=text, msg_id=msg_id,
    )  # fmt: skip
    Intake(runtime).receive(inbound)
    run_jobs(runtime)


def test_a_digest_asked_with_a_real_wecom_msg_id_sends_its_card(
    settings_with_digests, standin, county, clock, session_factory
):
    from bot.wecom.outbound import TASK_ID_RE

    at(clock, "2026-11-26 10:00")  # both orders are late: the digest has a risk card
    _ask(settings_with_digests, "leader_li", "日报", "CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw==")
    _ask(settings_with_digests, "leader_li", "周报 本周", "CAIQg/PKxgYY2sC9tpuAgAMg9/zKbw==")
    rows = [m for m in sent(session_factory) if m.recipient == "leader_li"]
    cards = [m.payload for m in rows if m.payload["type"] == "TemplateCard"]
    assert len(cards) == 2 and all(TASK_ID_RE.match(c["task_id"]) for c in cards)
    assert cards[0]["task_id"] != cards[1]["task_id"]  # unique per app
    assert {m.status for m in rows} == {"sent"}


def test_an_official_asking_gets_no_buttons_he_may_not_press(
    settings_with_digests, standin, county, clock, session_factory
):
    at(clock, "2026-11-26 10:00")  # 工信局's order is late: a leader would get 督办 on it
    _ask(settings_with_digests, "gxj_wu", "日报", "CAIQg/official+1==")
    mine = [m.payload for m in sent(session_factory) if m.recipient == "gxj_wu"]
    assert "1. 超时诉求 S2611-0001" in mine[0]["content"]
    keys = [b["key"] for m in mine if m["type"] == "TemplateCard" for b in m["buttons"]]
    assert all(k.startswith("digest:project:") for k in keys), keys  # 督办 would refuse him


def test_the_digest_cards_view_button_shows_any_project_of_the_persons_digest(
    settings_with_digests, standin, county, clock, session_factory
):
    chat = Chat(settings_with_digests)
    detail = "XM001 城南产业园标准厂房【"
    assert detail in chat.click("leader_wang", "digest:project:XM001")[0].content  # county-wide leader
    assert detail in chat.click("gxj_wu", "digest:project:XM001")[0].content  # not the head, his department
    assert detail in chat.click("leader_li", "digest:project:XM001")[0].content
    refused = chat.click("swj_zheng", "digest:project:XM001")[0].content  # another department's
    assert "不在您负责或包抓的范围内" in refused, refused


def test_the_ranking_gives_equal_scores_the_same_place(
    settings_with_digests, standin, county, clock, session_factory
):
    chat = Chat(settings_with_digests)
    at(clock, "2026-11-26 10:00")
    chat.say("leader_wang", "排名 本月")
    run_jobs(settings_with_digests)
    [answer] = [m.payload["content"] for m in sent(session_factory) if "诉求办理排名" in str(m.payload)]
    # neither department has picked its order up in time: both score 0%, so they share the first place
    assert "\n1. 县商务局" in answer and "\n1. 县工信局" in answer, answer

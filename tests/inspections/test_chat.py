"""报备检查 through the router: the answer at once, approval, 综合查一次, reminders, the enterprise's side."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from handlers.complaints.models import WorkOrder
from handlers.inspections.models import Inspection
from handlers.inspections.reminders import reminders_for
from jobs import inspections as inspection_jobs
from tests.builders import Chat, pushed_cards, pushed_texts
from tests.conftest import T0, run_jobs
from tests.inspections.conftest import FIRM


@pytest.fixture
def chat(runtime, standin, county) -> Chat:
    return Chat(runtime)


def register(chat: Chat, user: str, line: str) -> str:
    """An official registers an inspection; the bot's answer."""
    return chat.text(user, f"报备检查 {line}")


def card(standin: Any, user: str, title: str) -> dict[str, Any]:
    """The latest card with this title that `user` received."""
    cards = [c for c in pushed_cards(standin.messages(user)) if title in str(c["body"])]
    assert cards, f"{user} got no card titled {title}"
    return cards[-1]


def first_key(card_message: dict[str, Any]) -> str:
    return card_message["body"]["template_card"]["button_list"][0]["key"]


def test_an_allowed_inspection_is_approved_by_the_head_and_the_enterprise_is_told(
    chat, runtime, standin, county
):
    answer = register(chat, "scjg_wang", f"{county['uscc']} 11月26日 市场监管 食品安全抽检")
    assert "J2611-0001" in answer and "✅ 允许检查" in answer and "已提交部门负责人审批" in answer
    run_jobs(runtime)
    approval = card(standin, "scjg_li", "涉企检查报备待审批")
    assert "食品安全抽检" in str(approval["body"]) and "2026-11-26" in str(approval["body"])
    assert pushed_texts(standin.messages("zhang_wei")) == []  # not before the approval
    replies = chat.click("scjg_li", first_key(approval), response_code=approval["response_code"])
    assert "已批准检查 J2611-0001" in replies[0].content
    run_jobs(runtime)
    told = pushed_texts(standin.messages("zhang_wei"))
    assert len(told) == 1 and "县市场监管局将于 2026-11-26" in told[0] and "J2611-0001" in told[0]
    assert any("已批准" in t for t in pushed_texts(standin.messages("scjg_wang")))
    assert "已处理" in chat.text("scjg_li", "批准检查 J2611-0001")  # once only
    assert pushed_texts(standin.messages("leader_zhao")) == []  # nothing to report on an ordinary visit


def test_a_quiet_day_blocks_with_the_rule_and_the_next_allowed_day_and_the_leader_hears(
    chat, runtime, standin, session_factory
):
    answer = register(chat, "scjg_wang", "鑫源食品 2026-12-03 市场监管 日常检查")
    assert "⛔ 不允许检查" in answer and "每月1日至20日" in answer and "最近可检查日：2026-12-21" in answer
    run_jobs(runtime)
    assert pushed_cards(standin.messages("scjg_li")) == []  # nothing to approve
    (report,) = pushed_texts(standin.messages("leader_zhao"))
    assert "被拦截" in report and "县市场监管局" in report
    with session_factory() as s:
        assert s.scalar(select(Inspection.status)) == "blocked"  # the attempt is on record


def test_an_exempt_category_is_allowed_on_a_quiet_day_and_reported(chat, runtime, standin):
    answer = register(chat, "yjj_sun", "鑫源食品 12月3日 安全生产 锅炉安全隐患复查")
    assert "⚠️ 豁免检查" in answer
    run_jobs(runtime)
    assert any("豁免检查" in t for t in pushed_texts(standin.messages("leader_zhao")))
    assert card(standin, "yjj_zhao", "涉企检查报备待审批")


def test_two_departments_within_the_window_are_offered_one_joint_visit(
    chat, runtime, standin, session_factory
):
    register(chat, "scjg_wang", "鑫源食品 11月26日 市场监管 食品安全抽检")
    register(chat, "yjj_sun", "鑫源食品 11月27日 消防 消防设施检查")
    run_jobs(runtime)
    offer = card(standin, "yjj_sun", "综合查一次")
    assert "县市场监管局 11-26" in str(offer["body"]) and "县应急管理局 11-27" in str(offer["body"])
    assert card(standin, "scjg_wang", "综合查一次")
    replies = chat.click("yjj_sun", first_key(offer), response_code=offer["response_code"])
    assert "已同意联合检查" in replies[0].content and "2026-11-26" in replies[0].content
    run_jobs(runtime)
    assert any("同意联合检查" in t for t in pushed_texts(standin.messages("scjg_wang")))
    with session_factory() as s:
        days = {i.department.code: i.planned_on for i in s.scalars(select(Inspection))}
        keys = {i.joint_key for i in s.scalars(select(Inspection))}
    assert days == {"SCJGJ": date(2026, 11, 26), "YJJ": date(2026, 11, 26)} and len(keys) == 1


@pytest.mark.parametrize(
    "user, line, expected",
    [
        ("gxj_wu", "鑫源食品 11月26日 市场监管 抽检", "只有执法部门的干部可以报备"),
        ("zhang_wei", "鑫源食品 11月26日 市场监管 抽检", "仅限干部"),
        ("scjg_wang", "鑫源食品 11月20日 市场监管 抽检", "不能早于今天"),
        ("scjg_wang", "鑫源食品 某天 市场监管 抽检", "某天"),
        ("scjg_wang", "鑫源食品 11月26日 环保 抽检", "不是检查类别"),
        ("scjg_wang", "宏达机械 11月26日 市场监管 抽检", "没有找到企业"),
        ("scjg_wang", "鑫源食品 11月26日 市场监管", "请写明检查事由"),
        ("scjg_wang", "鑫源食品", "用法"),
        ("scjg_wang", "91371526MA3C8X2Y4K 11月26日 市场监管 抽检", "校验位"),
    ],
)
def test_bad_registrations_are_answered_and_nothing_is_stored(chat, session_factory, user, line, expected):
    assert expected in chat.text(user, f"报备检查 {line}")
    with session_factory() as s:
        assert s.scalar(select(Inspection.id)) is None


def test_an_ambiguous_enterprise_is_asked_back(chat):
    ask = register(chat, "scjg_wang", "鑫源 11月26日 市场监管 抽检")
    assert "对应多家企业" in ask and f"1. {FIRM}" in ask
    assert "J2611-0001" in chat.text("scjg_wang", "1")


def test_the_enterprise_rates_a_visit_after_it_and_reports_a_bad_one(chat, runtime, standin, session_factory):
    register(chat, "scjg_li", "鑫源食品 11月26日 市场监管 抽检")  # the head: approved at once
    assert "检查后才能评价" in chat.text("zhang_wei", "评价检查 J2611-0001 满意")
    runtime.clock.advance(days=3)
    assert "评价已记录" in chat.text("zhang_wei", "评价检查 J2611-0001 基本满意")
    assert "已评价过" in chat.text("zhang_wei", "评价检查 J2611-0001 满意")
    report = chat.say("zhang_wei", "举报检查 11月27日有人自称环保局来厂检查，未出示任何手续")
    assert "已转县委督查室办理" in report[0].content
    run_jobs(runtime)
    assert card(standin, "dcs_he", "新诉求待接单")
    with session_factory() as s:
        order = s.scalar(select(WorkOrder))
        assert order.holding_department.code == "DCS" and order.category == "执法检查"


def test_the_day_before_a_quiet_period_every_enforcement_official_is_reminded(
    runtime, standin, county, session_factory, clock: FixedClock
):
    chat = Chat(runtime)
    register(chat, "yjj_zhao", "鑫源食品 12月1日 安全生产 复查")  # approved at once (the head)
    with session_factory() as s:
        assert reminders_for(s, date(2026, 11, 28)) == []  # a Saturday: nothing
        friday = [r.key for r in reminders_for(s, date(2026, 11, 27))]
        assert not any(k.startswith("quiet:") for k in friday)  # Sat–Mon are not quiet
    clock.set(T0.replace(day=30, hour=8))  # Monday 16:00 Beijing
    assert inspection_jobs.remind() == 5  # four enforcement officials + the inspection's registrant
    assert inspection_jobs.remind() == 5  # a rerun finds the same …
    run_jobs(runtime)
    for user in ("scjg_li", "scjg_wang", "yjj_sun"):
        (text,) = pushed_texts(standin.messages(user))  # … but each is sent once
        assert "12月01日起进入企业宁静日" in text
    assert sorted(t[:6] for t in pushed_texts(standin.messages("yjj_zhao"))) == [
        "【企业宁静日",
        "【检查提醒】",
    ]
    assert pushed_texts(standin.messages("gxj_wu")) == []  # not an enforcement department


def test_quiet_days_are_explained_to_anyone(chat):
    answer = chat.text("zhang_wei", "宁静日")
    assert "今天（2026-11-24）不是企业宁静日" in answer and "安全生产" in answer


def test_a_result_links_items_of_the_lenient_list(chat, session_factory):
    from handlers.inspections.models import LenientItem

    with session_factory() as s:
        s.add(
            LenientItem(
                code="SCJG-003",
                field="市场监管",
                violation="未按规定公示营业执照",
                basis="…",
                conditions="首次",
                created_at=T0,
            )
        )
        s.commit()
    register(chat, "scjg_li", "鑫源食品 11月26日 市场监管 抽检")  # the head: approved at once
    assert "包容免罚清单中没有编号" in chat.text("scjg_li", "检查结果 J2611-0001 已整改 免罚 SCJG-999")
    answer = chat.text("scjg_wang", "检查结果 J2611-0001 营业执照未公示，已当场整改 免罚 scjg-003")
    assert "适用免罚清单：SCJG-003" in answer
    with session_factory() as s:
        done = s.scalar(select(Inspection))
        assert (done.status, done.lenient_codes) == ("done", ["SCJG-003"])
    assert "不能登记结果" in chat.text("scjg_wang", "检查结果 J2611-0001 再登记一次")
    assert "只有该部门干部" in chat.text("yjj_sun", "检查结果 J2611-0001 不是我们的")


# --- Review fixes: 综合查一次 from today on, on the day offered, re-decided by that day's rules -----


def quiet_versions(session_factory) -> tuple[int, int]:
    """From 11-26 a version making 11-26 quiet; from 11-27 one without it. Their ids."""
    from handlers.inspections.rules import load_policy

    common = {
        "month_days": "1-20",
        "enforcement_departments": ["SCJGJ", "YJJ"],
        "supervising_department": "DCS",
    }
    with session_factory() as s:
        first = load_policy(
            s, {**common, "effective_from": date(2026, 11, 26), "ranges": ["2026-11-26"]},
            source="a.yaml", now=T0, actor=None,
        )  # fmt: skip
        second = load_policy(
            s, {**common, "effective_from": date(2026, 11, 27)}, source="b.yaml", now=T0, actor=None
        )
        s.commit()
        return first.id, second.id


def planned(session_factory, number: str) -> Inspection:
    with session_factory() as s:
        inspection = s.scalars(select(Inspection).where(Inspection.number == number)).one()
        s.expunge(inspection)
        return inspection


def test_a_past_visit_with_no_result_draws_no_new_registration_into_a_joint_visit(
    chat, runtime, standin, session_factory
):
    register(chat, "scjg_li", "鑫源食品 11月26日 市场监管 抽检")  # the head: approved at once
    runtime.clock.advance(days=4)  # 11-28: the visit's day has passed, no result recorded
    answer = register(chat, "yjj_sun", "鑫源食品 11月30日 消防 消防设施检查")
    assert "J2611-0002" in answer and "允许检查" in answer
    run_jobs(runtime)
    for user in ("scjg_li", "yjj_sun"):
        assert not [c for c in pushed_cards(standin.messages(user)) if "综合查一次" in str(c["body"])]
    assert planned(session_factory, "J2611-0002").joint_key is None
    assert planned(session_factory, "J2611-0002").planned_on == date(2026, 11, 30)


def test_the_card_carries_its_day_and_a_changed_group_refuses_it_the_command_takes_the_new_day(
    chat, runtime, standin, session_factory
):
    register(chat, "scjg_wang", "鑫源食品 11月27日 市场监管 食品安全抽检")
    register(chat, "yjj_sun", "鑫源食品 11月28日 消防 消防设施检查")
    run_jobs(runtime)
    offer = card(standin, "yjj_sun", "综合查一次")
    assert first_key(offer) == "insp:join:J2611-0002:20261127"
    register(chat, "scjg_wang", "鑫源食品 11月25日 市场监管 复查")  # joins the group, earlier
    stale = chat.click("yjj_sun", first_key(offer), response_code=offer["response_code"])
    assert "联合检查安排已有变化：目前最早的检查日是 2026-11-25，不是 2026-11-27" in stale[0].content
    assert planned(session_factory, "J2611-0002").planned_on == date(2026, 11, 28)  # not moved
    answer = chat.text("yjj_sun", "合并检查 J2611-0002")  # typed: the group's earliest day now
    assert "已同意联合检查" in answer and "2026-11-25" in answer
    assert planned(session_factory, "J2611-0002").planned_on == date(2026, 11, 25)


def test_a_join_never_moves_a_visit_into_the_past(chat, runtime, standin, session_factory):
    register(chat, "scjg_wang", "鑫源食品 11月26日 市场监管 食品安全抽检")
    register(chat, "yjj_sun", "鑫源食品 11月27日 消防 消防设施检查")
    run_jobs(runtime)
    offer = card(standin, "yjj_sun", "综合查一次")
    runtime.clock.advance(days=3)  # 11-27: the offered 11-26 has passed
    late = chat.click("yjj_sun", first_key(offer), response_code=offer["response_code"])
    assert "联合检查日 2026-11-26 已过" in late[0].content
    assert "没有可以一起联合检查的其他部门检查" in chat.text("yjj_sun", "合并检查 J2611-0002")
    assert planned(session_factory, "J2611-0002").planned_on == date(2026, 11, 27)


def test_a_join_to_a_day_quiet_under_that_days_rules_becomes_an_exemption_reported_to_the_leaders(
    chat, runtime, standin, session_factory
):
    quiet_on_26, _ = quiet_versions(session_factory)
    assert "豁免检查" in register(chat, "yjj_sun", "鑫源食品 11月26日 安全生产 锅炉复查")
    assert "✅ 允许检查" in register(chat, "scjg_li", "鑫源食品 11月27日 生态环境 排污检查")  # approved
    run_jobs(runtime)
    reports_before = len(pushed_texts(standin.messages("leader_zhao")))
    offer = card(standin, "scjg_li", "综合查一次")
    assert first_key(offer) == "insp:join:J2611-0002:20261126"
    replies = chat.click("scjg_li", first_key(offer), response_code=offer["response_code"])
    assert "已同意联合检查" in replies[0].content and "豁免检查" in replies[0].content
    moved = planned(session_factory, "J2611-0002")
    assert (moved.planned_on, moved.outcome, moved.policy_id, moved.next_allowed_on, moved.status) == (
        date(2026, 11, 26), "exempt", quiet_on_26, None, "approved",
    )  # fmt: skip
    assert "2026-11-26为企业宁静日" in moved.rule_text
    run_jobs(runtime)
    reports = pushed_texts(standin.messages("leader_zhao"))[reports_before:]
    assert len(reports) == 1 and "豁免检查" in reports[0] and "J2611-0002" in reports[0]
    assert any("改为 2026-11-26" in t for t in pushed_texts(standin.messages("zhang_wei")))


def test_a_join_to_a_day_that_blocks_the_visit_is_refused(chat, runtime, standin, session_factory):
    quiet_versions(session_factory)
    register(chat, "yjj_sun", "鑫源食品 11月26日 安全生产 锅炉复查")
    register(chat, "scjg_wang", "鑫源食品 11月27日 市场监管 食品安全抽检")
    run_jobs(runtime)
    offer = card(standin, "scjg_wang", "综合查一次")
    refused = chat.click("scjg_wang", first_key(offer), response_code=offer["response_code"])
    assert "联合检查日 2026-11-26 不允许本次检查" in refused[0].content
    assert "仍按原计划于 2026-11-27 进行" in refused[0].content
    kept = planned(session_factory, "J2611-0002")
    assert (kept.planned_on, kept.outcome) == (date(2026, 11, 27), "allowed")


# --- Review fixes: 举报检查 without text, numbers taken at once, approvers, 免罚 in a result --------


def test_a_report_without_text_is_refused_and_files_nothing(chat, session_factory):
    for line in ("举报检查", "举报检查   "):
        assert "请写明被举报检查的时间、部门和情况" in chat.text("zhang_wei", line)
    with session_factory() as s:
        assert s.scalar(select(WorkOrder.id)) is None


def test_a_number_taken_in_the_same_instant_moves_on_to_the_next(chat, monkeypatch, session_factory):
    from bot import numbering

    register(chat, "scjg_wang", "鑫源食品 11月26日 市场监管 食品安全抽检")
    real, stale = numbering.next_number, ["J2611-0001"]  # what a registration racing the first one read
    monkeypatch.setattr(numbering, "next_number", lambda *a: stale.pop() if stale else real(*a))
    answer = register(chat, "yjj_sun", "鑫源食品 11月27日 消防 消防设施检查")
    assert "J2611-0002" in answer and "允许检查" in answer
    with session_factory() as s:
        assert sorted(s.scalars(select(Inspection.number))) == ["J2611-0001", "J2611-0002"]


def test_the_inspections_department_approves_though_the_registrant_moved(chat, session_factory):
    from bot.models import Department, Person

    register(chat, "scjg_wang", "鑫源食品 11月26日 市场监管 食品安全抽检")
    with session_factory() as s:
        moved = s.scalars(select(Person).where(Person.wecom_userid == "scjg_wang")).one()
        moved.department = s.scalars(select(Department).where(Department.code == "YJJ")).one()
        s.commit()
    assert "须由县市场监管局负责人审批" in chat.text("yjj_zhao", "批准检查 J2611-0001")
    assert "已批准检查 J2611-0001" in chat.text("scjg_li", "批准检查 J2611-0001")


@pytest.mark.parametrize(
    "text, result, codes",
    [
        ("符合免罚条件，已责令改正", "符合免罚条件，已责令改正", []),
        ("已整改 免罚 SCJG-003", "已整改", ["SCJG-003"]),
        (
            "已当场整改，免罚：scjg-003、SCJG-7，ＳＣＪＧ－０１０",
            "已当场整改",
            ["scjg-003", "SCJG-7", "ＳＣＪＧ－０１０"],
        ),
        ("依法免罚 SCJG-003", "依法免罚", ["SCJG-003"]),
        ("免罚条件不符，依法处罚 2 千元", "免罚条件不符，依法处罚 2 千元", []),
        ("未发现问题", "未发现问题", []),
    ],
)
def test_only_a_trailing_lenient_clause_names_codes(text, result, codes):
    from handlers.inspections.chat import split_lenient

    assert split_lenient(text) == (result, codes)


def test_a_result_mentioning_leniency_is_recorded_whole(chat, session_factory):
    register(chat, "scjg_li", "鑫源食品 11月26日 市场监管 抽检")  # the head: approved at once
    answer = chat.text("scjg_wang", "检查结果 J2611-0001 符合免罚条件，已责令改正")
    assert answer == "已登记检查 J2611-0001 的结果。"
    done = planned(session_factory, "J2611-0001")
    assert (done.result, done.lenient_codes, done.status) == ("符合免罚条件,已责令改正", [], "done")  # NFKC


def test_the_card_offers_the_earliest_day_of_the_whole_group_it_joins(
    chat, runtime, standin, session_factory
):
    register(chat, "scjg_wang", "鑫源食品 11月25日 市场监管 食品安全抽检")
    register(chat, "yjj_sun", "鑫源食品 11月30日 消防 消防设施检查")  # joins 11-25's group
    register(chat, "scjg_wang", "鑫源食品 12月6日 安全生产 复查")  # within 11-30's window, not 11-25's
    run_jobs(runtime)
    offer = card(standin, "scjg_wang", "综合查一次")
    assert first_key(offer) == "insp:join:J2611-0003:20261125"
    assert "县市场监管局 11-25" in str(offer["body"])
    replies = chat.click("scjg_wang", first_key(offer), response_code=offer["response_code"])
    assert "已同意联合检查" in replies[0].content
    assert planned(session_factory, "J2611-0003").planned_on == date(2026, 11, 25)

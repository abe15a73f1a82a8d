"""督办卡 and 批示卡: drafting from the weekly colours, 签发 → 反馈 → 销号 (and 退回) by buttons and by
commands, stale buttons and wrong people, 交办, the 督办 list, and the daily reminders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import FixedClock
from bot.errors import Invalid
from bot.models import AuditEvent, Department, OutboxMessage, Oversight, Person, Role
from bot.runtime import Runtime
from handlers import ALL_ROUTERS
from handlers.projects.models import (
    CardKind,
    CardStatus,
    Colour,
    Project,
    ProjectMember,
    Stage,
    SupervisionCard,
    WeeklyReport,
)
from handlers.projects.registry import project_leaders, visible_projects
from handlers.projects.rules import ProjectRules
from handlers.projects.supervision import parse_deadline
from handlers.projects.supervision_chat import router
from handlers.projects.supervision_drafting import draft_for_week
from handlers.projects.supervision_lists import due_reminders
from jobs import runtime as job_runtime
from jobs import supervision as supervision_jobs
from tests import builders
from tests.builders import Chat, pushed_cards, pushed_texts
from tests.conftest import T0, run_jobs

RULES = ProjectRules()  # supervise_weeks = 2
W1, W2, W3, W4 = date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)  # Mondays
CREATED = datetime(2026, 10, 8, 1, 0, tzinfo=UTC)  # the projects were registered well before W1


# ---- the county ---------------------------------------------------------------------------


@pytest.fixture
def runtime(settings, engine, redis_conn, clock, session_factory) -> Iterator[Runtime]:
    """The test runtime with the supervision router mounted (until the app mounts it itself)."""
    routers = ALL_ROUTERS if router in ALL_ROUTERS else [*ALL_ROUTERS, router]
    rt = Runtime.build(settings, clock=clock, connection=redis_conn, engine=engine, routers=routers)
    job_runtime.install(rt)
    yield rt
    job_runtime.install(None)


@pytest.fixture
def county(session_factory) -> None:
    """Two projects (one with a leader and a 责任人, one with neither), departments with and without heads."""
    with session_factory() as s:
        fgj = builders.department(s, "县发改局", "FGJ")
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.department(s, "县统计局", "TJJ")  # nobody in it
        swj = builders.department(s, "县商务局", "SWJ")  # officials, no head
        li = builders.person(s, "leader_li", Role.LEADER, "李县长")
        wang = builders.person(s, "leader_wang", Role.LEADER, "王书记")
        builders.person(s, "admin", Role.ADMIN, "孙管理")
        builders.person(s, "fgj_chen", Role.OFFICIAL, "陈局长", department=fgj, is_head=True)
        liu = builders.person(s, "fgj_liu", Role.OFFICIAL, "刘科员", department=fgj)
        builders.person(s, "gxj_zhou", Role.OFFICIAL, "周局长", department=gxj, is_head=True)
        builders.person(s, "swj_a", Role.OFFICIAL, "商务甲", department=swj)
        builders.person(s, "swj_b", Role.OFFICIAL, "商务乙", department=swj)
        builders.person(s, "zhang_wei", Role.ENTERPRISE, "张伟")
        s.add(Oversight(leader=wang, department=gxj))
        logistics = _project(s, "XM001", "城东物流园", fgj, leader=li)
        logistics.members.append(ProjectMember(person=liu, is_lead=True))
        _project(s, "XM002", "智能装备产业园", gxj)
        s.commit()


def _project(s: Session, code: str, name: str, department: Any, **kw: Any) -> Project:
    """A project registered at CREATED."""
    project = Project(code=code, name=name, department=department, plan_year=2026, created_at=CREATED, **kw)
    s.add(project)
    s.flush()
    return project


def report(s: Session, code: str, week: date, colour: Colour, problems: str = "") -> None:
    """A current weekly report of a project."""
    project = s.scalar(select(Project).where(Project.code == code))
    s.add(
        WeeklyReport(
            project=project,
            week=week,
            colour=colour.value,
            problems=problems,
            channel="wecom",
            reported_at=T0,
        )
    )
    s.commit()


def cards(s: Session) -> list[SupervisionCard]:
    """Every card, by number."""
    return list(s.scalars(select(SupervisionCard).order_by(SupervisionCard.number)))


def only_logistics_lagging(s: Session) -> None:
    """XM001 黄 two weeks running; XM002 on plan."""
    report(s, "XM001", W1, Colour.YELLOW)
    report(s, "XM001", W2, Colour.YELLOW, "征地拆迁未完成")
    report(s, "XM002", W1, Colour.WHITE)
    report(s, "XM002", W2, Colour.GREEN)


# ---- drafting -----------------------------------------------------------------------------


def test_two_yellow_weeks_draft_a_card_for_the_leader_and_the_lead_once(county, session):
    only_logistics_lagging(session)
    (card,) = draft_for_week(session, W2, RULES, T0)
    session.commit()
    assert (card.number, card.kind_enum, card.status_enum) == (
        "D2611-0001",
        CardKind.SUPERVISE,
        CardStatus.DRAFT,
    )
    assert "XM001 城东物流园 连续2周进展滞后" in card.problem
    assert "11月9日当周 黄（滞后），11月16日当周 黄（滞后）" in card.problem
    assert "最近报送的问题：征地拆迁未完成" in card.problem
    assert (card.leader.wecom_userid, card.assignee.wecom_userid, card.department.code) == (
        "leader_li",
        "fgj_liu",
        "FGJ",
    )
    assert card.due_on == date(2026, 12, 1)  # 5 working days after Tuesday 24 November
    assert card.action == "请于12月1日前说明滞后原因、提出整改措施并反馈。"
    assert draft_for_week(session, W2, RULES, T0) == []  # a rerun drafts nothing
    report(session, "XM001", W3, Colour.RED)
    assert draft_for_week(session, W3, RULES, T0) == []  # the same streak goes on: the draft stands
    assert len(cards(session)) == 1
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.entity == "supervision_card")) == (
        "supervision.draft"
    )


def test_two_unreported_weeks_draft_cards_to_the_head_and_the_overseeing_leader(county, session):
    drafted = draft_for_week(session, W2, RULES, T0)
    session.commit()
    assert [c.project.code for c in drafted] == ["XM001", "XM002"]
    equipment = drafted[1]
    assert equipment.problem == "项目 XM002 智能装备产业园 连续2周未报送进展（11月9日当周、11月16日当周）。"
    assert equipment.action.startswith("请于12月1日前补报项目进展")
    assert (equipment.assignee.wecom_userid, equipment.leader.wecom_userid) == ("gxj_zhou", "leader_wang")


def test_a_mix_of_red_and_unreported_weeks_is_named_week_by_week(county, session):
    report(session, "XM001", W1, Colour.RED, "资金未到位")
    (card, _) = draft_for_week(session, W2, RULES, T0)
    assert "连续2周进展滞后或未报送：11月9日当周 红（停滞），11月16日当周 未报送。" in card.problem
    assert "资金未到位" in card.problem


def test_one_lagging_week_or_a_new_project_is_not_enough(county, session):
    report(session, "XM001", W1, Colour.GREEN)
    report(session, "XM001", W2, Colour.RED)
    session.scalar(select(Project).where(Project.code == "XM002")).created_at = datetime(
        2026, 11, 17, 2, 0, tzinfo=UTC
    )  # registered during W2: W1 is not its week
    session.commit()
    assert draft_for_week(session, W2, RULES, T0) == []


def test_a_replaced_report_does_not_count_only_the_current_one(county, session):
    report(session, "XM001", W1, Colour.YELLOW)
    old = session.scalar(select(WeeklyReport))
    old.replaced_at = T0  # corrected later the same week …
    report(session, "XM001", W1, Colour.WHITE)  # … to 白
    report(session, "XM001", W2, Colour.YELLOW)
    assert [c.project.code for c in draft_for_week(session, W2, RULES, T0)] == ["XM002"]


def test_after_a_card_a_new_streak_must_start_after_its_weeks(county, session):
    only_logistics_lagging(session)
    (card,) = draft_for_week(session, W2, RULES, T0)
    card.status = CardStatus.DISMISSED.value  # 不签发
    session.commit()
    report(session, "XM001", W3, Colour.YELLOW)
    report(session, "XM002", W3, Colour.WHITE)
    assert draft_for_week(session, W3, RULES, T0) == []  # W2–W3 overlaps the dismissed streak
    report(session, "XM001", W4, Colour.YELLOW)
    report(session, "XM002", W4, Colour.WHITE)
    (again,) = draft_for_week(session, W4, RULES, T0)
    assert again.trigger == "streak:2026-11-30" and again.number == "D2611-0002"


# ---- the flow through the chat ------------------------------------------------------------


@pytest.fixture
def chat(runtime, standin, county) -> Chat:
    """A chat with the supervision router mounted."""
    return Chat(runtime)


def card_for(standin: Any, user: str, title: str) -> dict[str, Any]:
    """The latest card with this title that `user` received."""
    found = [c for c in pushed_cards(standin.messages(user)) if title in str(c["body"])]
    assert found, f"{user} got no card titled {title}"
    return found[-1]


def key(card: dict[str, Any], index: int = 0) -> str:
    """The key of a card's button."""
    return card["body"]["template_card"]["button_list"][index]["key"]


def press(chat: Chat, user: str, card: dict[str, Any], index: int = 0) -> str:
    """Click a button; the passive answer."""
    (answer,) = chat.click(user, key(card, index), response_code=card["response_code"])
    return answer.content


def drafted(runtime: Runtime, session_factory: Any) -> None:
    """XM001 lagging two weeks; the weekly job drafts its card and the leader gets it."""
    with session_factory() as s:
        only_logistics_lagging(s)
    assert supervision_jobs.draft(W2.isoformat()) == 1
    assert supervision_jobs.draft(W2.isoformat()) == 0
    run_jobs(runtime)


def status(session_factory: Any, number: str = "D2611-0001") -> tuple[str, int]:
    """A card's status and version."""
    with session_factory() as s:
        card = s.scalar(select(SupervisionCard).where(SupervisionCard.number == number))
        return card.status, card.version


def test_issue_answer_and_clear_by_buttons(chat, runtime, standin, session_factory):
    drafted(runtime, session_factory)
    issue = card_for(standin, "leader_li", "督办卡待签发")
    assert "城东物流园" in str(issue["body"]) and key(issue) == "sv:issue:D2611-0001:1"
    assert "已签发督办卡 D2611-0001，已通知县发改局 刘科员，办理期限12月1日" in press(
        chat, "leader_li", issue
    )
    run_jobs(runtime)
    (told,) = pushed_texts(standin.messages("fgj_liu"))
    assert "李县长签发督办卡 D2611-0001" in told and "12月1日" in told and "反馈 D2611-0001" in told
    assert "已反馈督办卡 D2611-0001，等待李县长销号" in chat.text(
        "fgj_liu", "反馈 D2611-0001 征地已完成，下周进场"
    )
    run_jobs(runtime)
    answered = card_for(standin, "leader_li", "已反馈，待销号")
    assert "征地已完成" in str(answered["body"])
    assert "督办卡 D2611-0001 已销号" in press(chat, "leader_li", answered)
    run_jobs(runtime)
    assert "已销号" in pushed_texts(standin.messages("fgj_liu"))[-1]
    labels = [u["body"]["button"]["replace_name"] for u in standin.updates()]
    assert labels == ["已签发", "已销号"]
    with session_factory() as s:
        card = s.scalar(select(SupervisionCard))
        assert (
            card.status_enum is CardStatus.CLEARED and card.issued_at and card.answered_at and card.cleared_at
        )
        assert card.answered_by.wecom_userid == "fgj_liu"
        audit = s.execute(
            select(AuditEvent.action, AuditEvent.channel).where(AuditEvent.entity == "supervision_card")
            .order_by(AuditEvent.id)
        ).all()  # fmt: skip
    assert [tuple(a) for a in audit] == [
        ("supervision.draft", "job"),
        ("supervision.issue", "wecom"),
        ("supervision.answer", "wecom"),
        ("supervision.clear", "wecom"),
    ]


def test_issue_answer_send_back_and_clear_by_commands(chat, runtime, standin, session_factory):
    drafted(runtime, session_factory)
    assert "已签发督办卡 D2611-0001" in chat.text("leader_li", "签发 d2611-1")
    assert "已反馈" in chat.text("fgj_liu", "反馈 D2611-0001 已约谈施工方")
    assert "已退回督办卡 D2611-0001" in chat.text(
        "leader_li", "退回督办 D2611-0001 整改措施不具体，请细化到周"
    )
    assert status(session_factory)[0] == "issued"
    run_jobs(runtime)
    returned = pushed_texts(standin.messages("fgj_liu"))[-1]
    assert "被县领导退回" in returned and "整改措施不具体" in returned
    # A colleague of the responsible department may answer for the 责任人 …
    assert "已反馈" in chat.text("fgj_chen", "反馈 D2611-0001 每周进度已排定")
    assert "已销号" in chat.text("leader_li", "销号 D2611-0001 同意")
    run_jobs(runtime)
    # … and both hear of the 销号.
    assert all("已销号" in pushed_texts(standin.messages(u))[-1] for u in ("fgj_liu", "fgj_chen"))
    with session_factory() as s:
        card = s.scalar(select(SupervisionCard))
        assert (card.status, card.answer, card.note) == ("cleared", "每周进度已排定", "同意")


def test_send_back_by_button_asks_for_the_opinion(chat, runtime, standin, session_factory):
    drafted(runtime, session_factory)
    chat.text("leader_li", "签发 D2611-0001")
    chat.text("fgj_liu", "反馈 D2611-0001 已协调")
    run_jobs(runtime)
    answered = card_for(standin, "leader_li", "已反馈，待销号")
    assert "请回复退回 D2611-0001 的意见" in press(chat, "leader_li", answered, 1)
    assert status(session_factory)[0] == "answered"  # nothing yet
    assert "已退回督办卡 D2611-0001" in chat.text("leader_li", "协调结果不明确")
    run_jobs(runtime)
    assert [u["body"]["button"]["replace_name"] for u in standin.updates()] == ["已退回"]
    assert "协调结果不明确" in pushed_texts(standin.messages("fgj_liu"))[-1]


def test_a_stale_button_answers_that_the_card_has_changed(chat, runtime, standin, session_factory):
    drafted(runtime, session_factory)
    issue = card_for(standin, "leader_li", "督办卡待签发")
    chat.text("leader_li", "签发 D2611-0001")
    before = status(session_factory)
    assert "这张卡片已过期：督办卡 D2611-0001 已有变化" in press(chat, "leader_li", issue, 1)  # 不签发
    assert status(session_factory) == before
    run_jobs(runtime)
    assert [u["body"]["button"]["replace_name"] for u in standin.updates()] == ["已处理"]


def test_a_draft_issued_days_later_still_gives_five_working_days(chat, session_factory, clock: FixedClock):
    with session_factory() as s:
        only_logistics_lagging(s)
    supervision_jobs.draft(W2.isoformat())  # Tuesday 24 November: due 1 December
    clock.set(datetime(2026, 11, 27, 1, 30, tzinfo=UTC))  # issued on Friday
    assert "办理期限12月4日" in chat.text("leader_li", "签发 D2611-0001")
    with session_factory() as s:
        card = s.scalar(select(SupervisionCard))
        assert card.due_on == date(2026, 12, 4) and card.action.startswith("请于12月4日前")


def test_dismissing_a_draft_with_a_reason(chat, session_factory):
    with session_factory() as s:
        only_logistics_lagging(s)
    supervision_jobs.draft(W2.isoformat())
    assert "督办卡 D2611-0001 未签发" in chat.text("leader_li", "不签发 D2611-0001 已专题调度")
    with session_factory() as s:
        card = s.scalar(select(SupervisionCard))
        assert (card.status, card.note) == ("dismissed", "已专题调度")
    assert "当前状态为「未签发」，不能签发" in chat.text("leader_li", "签发 D2611-0001")


@pytest.mark.parametrize(
    ("user", "line", "expected"),
    [
        ("leader_wang", "签发 D2611-0001", "督办卡 D2611-0001 由县领导李县长签发，您不能签发"),
        ("fgj_liu", "签发 D2611-0001", "仅限县领导、管理员"),
        ("leader_li", "签发 D2611-0099", "没有找到编号为 D2611-0099 的督办卡"),
        ("leader_li", "签发 X12", "「X12」不是督办卡编号"),
        ("leader_li", "签发", "请写明督办卡编号"),
        ("fgj_liu", "反馈 D2611-0001 已办", "当前状态为「待签发」，不能反馈"),
        ("gxj_zhou", "反馈 D2611-0001 已办", "督办卡 D2611-0001 交由县发改局（刘科员）办理，您不能反馈"),
        ("leader_li", "销号 D2611-0001", "当前状态为「待签发」，不能销号"),
        ("zhang_wei", "督办", "仅限干部、县领导、管理员"),
        ("fgj_liu", "督办 D2611-0001", "督办卡 D2611-0001 尚未签发"),
        ("gxj_zhou", "交办 县发改局 事项 12月5日", "仅限县领导"),
    ],
)
def test_wrong_people_and_wrong_states_are_refused_by_name(chat, session_factory, user, line, expected):
    with session_factory() as s:
        only_logistics_lagging(s)
    supervision_jobs.draft(W2.isoformat())
    assert expected in chat.text(user, line)
    assert status(session_factory) == ("draft", 1)


def test_answering_twice_and_clearing_before_an_answer_are_refused(chat, session_factory):
    with session_factory() as s:
        only_logistics_lagging(s)
    supervision_jobs.draft(W2.isoformat())
    chat.text("admin", "签发 D2611-0001")  # an admin may issue a leader's card
    assert "尚未反馈，不能销号" in chat.text("leader_li", "销号 D2611-0001")
    assert "请写明办理情况" in chat.text("fgj_liu", "反馈 D2611-0001")
    chat.text("fgj_liu", "反馈 D2611-0001 已办")
    assert "已反馈，正等待县领导销号" in chat.text("fgj_liu", "反馈 D2611-0001 再补充")
    assert "请写明退回意见" in chat.text("leader_li", "退回督办 D2611-0001")


# ---- 交办 ----------------------------------------------------------------------------------


def test_instructing_a_department_goes_to_its_head_issued_at_once(chat, runtime, standin, session_factory):
    answer = chat.text("leader_wang", "交办 县工信局 协调解决智能装备产业园用电问题 12月5日前")
    assert answer == "已交办批示卡 D2611-0001给县工信局（周局长），办理期限12月5日。"
    run_jobs(runtime)
    (told,) = pushed_texts(standin.messages("gxj_zhou"))
    assert "王书记交办批示卡 D2611-0001" in told and "用电问题" in told and "反馈 D2611-0001" in told
    with session_factory() as s:
        card = s.scalar(select(SupervisionCard))
        assert (card.kind, card.status, card.project_id, card.due_on) == (
            "instruct",
            "issued",
            None,
            date(2026, 12, 5),
        )
    assert "已反馈" in chat.text("gxj_zhou", "反馈 D2611-0001 已与供电公司对接")
    assert "已销号" in chat.text("leader_wang", "销号 D2611-0001")


def test_instructing_a_person_a_project_or_a_department_without_a_head(
    chat, runtime, standin, session_factory
):
    assert "给县发改局（刘科员），办理期限12月3日" in chat.text(
        "leader_li", "交办 刘科员 调研用地情况 2026-12-03"
    )
    assert "给县工信局（周局长），办理期限11月29日" in chat.text(
        "leader_li", "交办 GXJ XM002 加快设备进场 5天"
    )
    assert "给县商务局，办理期限11月27日" in chat.text("leader_li", "交办 商务局 梳理外贸企业诉求 3个工作日")
    run_jobs(runtime)
    assert all(pushed_texts(standin.messages(u)) for u in ("swj_a", "swj_b"))  # no head: all its officials
    assert "已反馈" in chat.text("swj_b", "反馈 D2611-0003 已梳理12家")
    with session_factory() as s:
        person_card, project_card, office_card = cards(s)
        assert (person_card.assignee.wecom_userid, person_card.department.code) == ("fgj_liu", "FGJ")
        assert project_card.project.code == "XM002"
        assert (office_card.assignee, office_card.answered_by.wecom_userid) == (None, "swj_b")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("交办 县不存在局 研究 12月5日", "没有找到部门「县不存在局」"),
        ("交办 张伟 研究 12月5日", "「张伟」是企业，批示卡只能交办给部门或干部"),
        ("交办 县统计局 研究 12月5日", "县统计局还没有登记干部"),
        ("交办 县工信局 研究 某天", "没有看懂期限「某天」"),
        ("交办 县工信局 研究 11月20日", "期限不能早于今天"),
        ("交办 县工信局 研究 999天", "期限（2029-08-19）太远了，最多一年（最晚2027-11-25）"),
        ("交办 县工信局 12月5日", "用法：交办 <部门或人> <事项> <期限>"),
        ("交办", "用法"),
    ],
)
def test_bad_instructions_are_answered_and_nothing_is_stored(chat, session_factory, line, expected):
    assert expected in chat.text("leader_wang", line)
    with session_factory() as s:
        assert s.scalar(select(func.count(SupervisionCard.id))) == 0


def test_deadlines_read_like_the_other_features():
    assert parse_deadline("12月5日", T0) == date(2026, 12, 5)
    assert parse_deadline("2026-12-05之前", T0) == date(2026, 12, 5)
    assert parse_deadline("明天", T0) == date(2026, 11, 25)
    assert parse_deadline("5天", T0) == date(2026, 11, 29)
    assert parse_deadline("3个工作日", T0) == date(2026, 11, 27)
    with pytest.raises(Invalid, match="没有看懂期限"):
        parse_deadline("尽快", T0)


# ---- the list -------------------------------------------------------------------------------


def test_the_list_puts_drafts_first_then_overdue_and_shows_each_its_own(
    chat, runtime, session_factory, clock: FixedClock
):
    with session_factory() as s:
        only_logistics_lagging(s)
    supervision_jobs.draft(W2.isoformat())  # D2611-0001, a draft of 李县长's
    chat.text("leader_li", "交办 县工信局 对接供电公司 明天")  # D2611-0002, due 25 November
    chat.text("leader_li", "交办 县工信局 复核用地指标 12月10日")  # D2611-0003
    clock.set(datetime(2026, 11, 27, 1, 30, tzinfo=UTC))  # Friday: 0002 is two days late
    listing = chat.text("leader_li", "督办")
    assert listing.index("【待签发】") < listing.index("【已逾期】") < listing.index("【办理中】")
    assert "D2611-0002 批示卡 对接供电公司 · 期限11月25日（已逾期2天） ⚠️" in listing
    assert "D2611-0001 督办卡 XM001 城东物流园" in listing
    mine = chat.text("gxj_zhou", "我的督办")
    assert "D2611-0002" in mine and "D2611-0003" in mine and "D2611-0001" not in mine
    assert "D2611-0001" in chat.text("admin", "督办卡")
    assert chat.text("fgj_liu", "督办") == "目前没有需要您处理的督办卡或批示卡。"
    assert "王书记" not in chat.text("leader_wang", "督办")  # his own list is empty
    detail = chat.text("gxj_zhou", "督办 D2611-0002")
    assert "批示卡 D2611-0002【办理中】" in detail and "已逾期2天" in detail


# ---- reminders --------------------------------------------------------------------------------


def reminders(session_factory: Any, day: date) -> list[tuple[str, str]]:
    """(kind, userid) of the reminders due on `day`."""
    with session_factory() as s:
        return [(r.kind, r.person.wecom_userid) for r in due_reminders(s, day)]


def test_reminders_for_cards_due_by_the_next_working_day_and_overdue_ones(
    chat, runtime, standin, session_factory, clock: FixedClock
):
    chat.text("leader_li", "交办 县工信局 对接供电公司 明天")  # due Wednesday 25 November
    chat.text("leader_li", "交办 刘科员 调研 11月30日")  # due Monday 30 November
    assert reminders(session_factory, date(2026, 11, 24)) == [("due", "gxj_zhou")]
    assert reminders(session_factory, date(2026, 11, 25)) == []  # due today: still in time
    assert reminders(session_factory, date(2026, 11, 26)) == [
        ("overdue", "gxj_zhou"),
        ("overdue-leader", "leader_li"),
    ]
    friday = reminders(session_factory, date(2026, 11, 27))  # covers the weekend and Monday
    assert ("due", "fgj_liu") in friday
    assert reminders(session_factory, date(2026, 11, 28)) == []  # Saturday
    assert reminders(session_factory, date(2026, 10, 1)) == []  # 国庆
    chat.text("fgj_liu", "反馈 D2611-0002 已调研")
    assert ("due", "fgj_liu") not in reminders(session_factory, date(2026, 11, 27))  # answered: no reminder


def test_the_reminder_job_tells_the_assignee_daily_and_the_leader_once(
    chat, runtime, standin, session_factory, clock: FixedClock
):
    chat.text("leader_li", "交办 县工信局 对接供电公司 明天")
    clock.set(datetime(2026, 11, 26, 1, 0, tzinfo=UTC))  # Thursday 09:00
    assert supervision_jobs.remind() == 2
    assert supervision_jobs.remind() == 2  # rerun: the same keys, nothing new
    clock.set(datetime(2026, 11, 27, 1, 0, tzinfo=UTC))
    supervision_jobs.remind()
    run_jobs(runtime)
    late = pushed_texts(standin.messages("gxj_zhou"))
    assert len([t for t in late if "督办逾期" in t]) == 2 and "已超过办理期限（11月25日）2天" in late[-1]
    (leader,) = pushed_texts(standin.messages("leader_li"))
    assert "您签发的批示卡 D2611-0001" in leader and "县工信局 周局长尚未反馈" in leader
    with session_factory() as s:
        assert (
            s.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.recipient == "leader_li")) == 1
        )


# ---- finished projects; leaders standing in for a project without one -----------------------


def by_code(s: Session, code: str) -> Project:
    return s.scalar(select(Project).where(Project.code == code))


def by_userid(s: Session, userid: str) -> Person:
    return s.scalar(select(Person).where(Person.wecom_userid == userid))


@pytest.mark.parametrize("stage", [Stage.COMPLETED, Stage.OPERATING])
def test_a_finished_project_gets_no_card_for_the_weeks_it_no_longer_reports(county, session, stage):
    by_code(session, "XM002").stage = stage.value  # 竣工/投产: no weekly prompt any more …
    session.commit()
    assert [c.project.code for c in draft_for_week(session, W2, RULES, T0)] == ["XM001"]  # … nor a card


def test_a_leader_sees_the_projects_whose_alerts_he_gets(county, session):
    tjj = session.scalar(select(Department).where(Department.code == "TJJ"))
    gxj = session.scalar(select(Department).where(Department.code == "GXJ"))
    gone = builders.person(session, "leader_zhao", Role.LEADER, "赵县长", active=False)
    session.add(Oversight(leader=gone, department=tjj))  # 统计局's overseer left: nobody oversees it
    _project(session, "XM003", "统计大数据中心", tjj)  # … so every leader stands in for it
    _project(session, "XM004", "工业互联网平台", gxj, leader=gone)  # its leader left: 王书记 (分管工信局)
    session.commit()
    li, wang = by_userid(session, "leader_li"), by_userid(session, "leader_wang")
    assert [p.code for p in visible_projects(session, li)] == ["XM001", "XM003"]
    assert [p.code for p in visible_projects(session, wang)] == ["XM002", "XM003", "XM004"]
    for leader in (li, wang):
        mine = visible_projects(session, leader)
        for project in session.scalars(select(Project)):
            assert (leader in project_leaders(session, project)) == (project in mine), project.code


def test_the_overseeing_leader_may_look_at_a_project_without_a_leader(chat):
    assert chat.text("leader_wang", "项目 XM002").startswith("XM002 智能装备产业园")
    assert "不在您负责或包抓的范围内" in chat.text("leader_li", "项目 XM002")  # 工信局 is 王书记's


def test_a_draft_with_no_single_leader_standing_in_goes_to_the_admins(
    chat, runtime, standin, session_factory
):
    with session_factory() as s:
        tjj = s.scalar(select(Department).where(Department.code == "TJJ"))
        _project(s, "XM003", "统计大数据中心", tjj)  # nobody oversees 统计局: both leaders stand in
        s.commit()
    assert supervision_jobs.draft(W2.isoformat()) == 3  # nothing reported: every project
    run_jobs(runtime)
    with session_factory() as s:
        leaders = {c.project.code: c.leader.wecom_userid if c.leader else None for c in cards(s)}
        number = next(c.number for c in cards(s) if c.project.code == "XM003")
    assert leaders == {"XM001": "leader_li", "XM002": "leader_wang", "XM003": None}
    (issue,) = pushed_cards(standin.messages("admin"))  # not the lowest-numbered leader's to decide
    assert "XM003" in str(issue["body"])
    assert not any("XM003" in str(c["body"]) for u in ("leader_li", "leader_wang")
                   for c in pushed_cards(standin.messages(u)))  # fmt: skip
    assert f"已签发督办卡 {number}" in chat.text("admin", f"签发 {number}")

"""A digest's figures against numbers worked out by hand for a small county over two weeks.

The digest is week 48 (Mon 23 – Sun 29 November 2026, local); week 47 is the one before. Every row
is made through the services on explicit moments (`at`), then the digest is computed on Monday
30 November 09:00, and again after more events in December: it must not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy.orm import Session

from bot.clock import LOCAL_ZONE, as_utc
from bot.models import Department, DepartmentKind, Enterprise, Oversight, Person, Role
from handlers.complaints import closing
from handlers.complaints import service as orders
from handlers.complaints.figures import Rate
from handlers.digests.figures import compute, county_scope, leader_scope, trend
from handlers.digests.figures_projects import closed_week
from handlers.digests.model import (
    InspectionLine,
    PolicyFigures,
    ProjectFigures,
    ProjectLine,
    Scope,
    TrendPoint,
    daily_period,
    week_period,
)
from handlers.inspections import service as inspections
from handlers.policies import pushes
from handlers.policies.catalog import publish
from handlers.policies.catalog_reading import read_catalog
from handlers.policies.models import PolicyPush
from handlers.policies.profile import set_value
from handlers.projects import supervision, supervision_drafting
from handlers.projects.models import Colour, Project
from handlers.projects.reports import WeeklyEntry, record_weekly
from handlers.projects.rules import ProjectRules
from tests import builders
from tests.policies.samples import HIGH_TECH

RULES = ProjectRules()
WEEK = week_period(date(2026, 11, 23))  # 第48周
WAN = 10_000


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A local (Beijing) moment of 2026, as aware UTC."""
    return as_utc(datetime(2026, month, day, hour, minute, tzinfo=LOCAL_ZONE))


MONDAY_MORNING = at(30, 9)  # after the week: the digest is computed
LATER = at(3, 9, month=12)  # after the December events: computed again


@dataclass
class County:
    """The cast: 李县长 oversees 工信局 and 市场监管局, 王书记 自然资源局."""

    gxj: Department  # 包联 of 鑫源 (orders, projects)
    zrzyj: Department  # 包联 of 宏达 and 恒通 (orders, projects, inspections)
    scjg: Department  # inspections
    gxj_wu: Person
    zrzyj_ma: Person
    scjg_wang: Person
    li: Person  # 李县长
    wang: Person  # 王书记
    boss: Person  # 鑫源's contact
    liu: Person  # 宏达's contact
    zhao: Person  # 恒通's contact
    xinyuan: Enterprise
    hongda: Enterprise
    hengtong: Enterprise


@pytest.fixture
def county(session: Session) -> County:
    """Three departments, two leaders, three enterprises with their contacts."""
    s = session
    gxj = builders.department(s, "县工信局", "GXJ")
    zrzyj = builders.department(s, "县自然资源局", "ZRZYJ", kind=DepartmentKind.FUNCTIONAL.value)
    scjg = builders.department(s, "县市场监管局", "SCJGJ", kind=DepartmentKind.FUNCTIONAL.value)
    li = builders.person(s, "leader_li", Role.LEADER, "李县长")
    wang = builders.person(s, "leader_wang", Role.LEADER, "王书记")
    s.add_all([Oversight(leader=li, department=gxj), Oversight(leader=li, department=scjg)])
    s.add(Oversight(leader=wang, department=zrzyj))
    builders.person(s, "scjg_li", Role.OFFICIAL, "李局长", department=scjg, is_head=True)
    xinyuan = builders.enterprise(s, "示范县鑫源食品有限公司", gxj)
    hongda = builders.enterprise(s, "示范县宏达机械有限公司", zrzyj)
    hengtong = builders.enterprise(s, "示范县恒通建材有限公司", zrzyj)
    return County(
        gxj=gxj,
        zrzyj=zrzyj,
        scjg=scjg,
        gxj_wu=builders.person(s, "gxj_wu", Role.OFFICIAL, "吴晓燕", department=gxj),
        zrzyj_ma=builders.person(s, "zrzyj_ma", Role.OFFICIAL, "马建国", department=zrzyj),
        scjg_wang=builders.person(s, "scjg_wang", Role.OFFICIAL, "王科员", department=scjg),
        li=li,
        wang=wang,
        boss=builders.contact(s, "zhang_wei", "张伟", xinyuan),
        liu=builders.contact(s, "liu_qiang", "刘强", hongda),
        zhao=builders.contact(s, "zhao_lei", "赵磊", hengtong),
        xinyuan=xinyuan,
        hongda=hongda,
        hengtong=hengtong,
    )


# ---------------------------------------------------------------- the two weeks


@dataclass
class Made:
    """What the weeks made, for the assertions: order numbers and versions, rows' texts."""

    orders: dict[str, str]
    versions: dict[str, int]
    rule_texts: dict[str, str]
    inspections: dict[str, str]
    cards: dict[str, str]
    projects: dict[str, Project]


def file(s: Session, who: Person, text: str, when: datetime) -> str:
    """An order filed (and dispatched to the enterprise's 包联部门); its number."""
    return orders.file_order(s, who, text, "其他", "普通", when).order.number


def make_orders(s: Session, c: County) -> tuple[dict[str, str], dict[str, int]]:
    """Week 47: P1, P2. Week 48: A–E. Deadlines are 24 natural hours."""
    n: dict[str, str] = {}
    n["P1"] = file(s, c.boss, "P1 厂区道路破损", at(17, 10))  # 工信局: all in time, 满意
    orders.pick_up(s, c.gxj_wu, n["P1"], at(17, 12))
    closing.resolve(s, c.gxj_wu, n["P1"], "已修复", at(17, 20))
    closing.rate(s, c.boss, n["P1"], "满意", at(18, 9))
    n["P2"] = file(s, c.liu, "P2 用地手续", at(18, 10))  # 自然资源局: picked up late, never solved
    p2 = orders.pick_up(s, c.zrzyj_ma, n["P2"], at(20, 10)).order  # solve due 21日10:00
    n["A"] = file(s, c.boss, "A 路灯损坏", at(23, 9))  # 工信局: all in time, 满意
    orders.pick_up(s, c.gxj_wu, n["A"], at(23, 10))
    closing.resolve(s, c.gxj_wu, n["A"], "已修复", at(23, 15))
    closing.rate(s, c.boss, n["A"], "满意", at(23, 16))
    n["B"] = file(s, c.boss, "B 电力增容", at(24, 9))  # 工信局: picked up late, solve due 26日12:00
    b = orders.pick_up(s, c.gxj_wu, n["B"], at(25, 12)).order
    n["D"] = file(s, c.liu, "D 排水不畅", at(24, 10))  # 自然资源局: in time, 不满意 → 返工, not picked up
    orders.pick_up(s, c.zrzyj_ma, n["D"], at(24, 11))
    closing.resolve(s, c.zrzyj_ma, n["D"], "已疏通", at(24, 12))
    d = closing.rate(s, c.liu, n["D"], "不满意", at(24, 13)).order  # pickup due again 25日13:00
    n["E"] = file(s, c.boss, "E 扩建用地", at(26, 9))  # 工信局 转办 自然资源局: solved in time, not yet rated
    orders.transfer(s, c.gxj_wu, n["E"], c.zrzyj, "用地归口", at(26, 10))
    orders.pick_up(s, c.zrzyj_ma, n["E"], at(26, 11))
    closing.resolve(s, c.zrzyj_ma, n["E"], "已协调", at(26, 18))
    n["C"] = file(s, c.boss, "C 招工难", at(29, 20))  # 工信局: pickup due 30日20:00, after the week
    return n, {"P2": p2.version, "B": b.version, "D": d.version}


def make_inspections(s: Session, c: County) -> tuple[dict[str, str], dict[str, str]]:
    """I0 in week 47; I1–I4 in week 48 (the default rules: the 1st–20th are quiet days)."""

    def register(
        official: Person, firm: Enterprise, day: date, category: str, when: datetime
    ) -> tuple[str, str]:
        found = inspections.register(s, official, firm, day, category, "例行检查", when).inspection
        return found.number, found.rule_text

    made = {
        "I0": register(
            c.scjg_wang, c.xinyuan, date(2026, 11, 19), "市场监管", at(18, 10)
        ),  # blocked, week 47
        "I1": register(c.scjg_wang, c.xinyuan, date(2026, 11, 26), "市场监管", at(24, 10)),  # allowed
        "I2": register(c.scjg_wang, c.xinyuan, date(2026, 12, 1), "市场监管", at(24, 11)),  # blocked
        "I3": register(c.zrzyj_ma, c.hongda, date(2026, 12, 2), "安全生产", at(25, 10)),  # exempt
        "I4": register(c.zrzyj_ma, c.xinyuan, date(2026, 11, 27), "其他", at(26, 10)),  # joins I1
    }
    return {k: v[0] for k, v in made.items()}, {k: v[1] for k, v in made.items()}


def make_pushes(s: Session, c: County) -> None:
    """A 免申即享 policy pushed to all three on 24日: 鑫源 confirms, gets it; 宏达 declines; 恒通 confirms."""
    profile = {"certifications": "高新技术企业", "industry": "C3911", "revenue_wan": "2500万"}
    for firm in (c.xinyuan, c.hongda, c.hengtong):
        for attribute, raw in profile.items():
            set_value(s, firm, attribute, raw, source="import", by=None, now=at(20, 9))
    publish(s, read_catalog(HIGH_TECH), now=at(20, 9), actor=None, source="test.yaml")
    pushes.push_policies(s, pushes.automatic_in_force(s, at(24, 10)), at(24, 10))
    pushes.answer_push(s, c.boss, push_of(s, c.xinyuan), True, at(25, 9))
    pushes.deliver(s, c.gxj_wu, push_of(s, c.xinyuan), at(27, 10))
    pushes.answer_push(s, c.liu, push_of(s, c.hongda), False, at(26, 9))
    pushes.answer_push(s, c.zhao, push_of(s, c.hengtong), True, at(28, 9))


def push_of(s: Session, firm: Enterprise) -> int:
    """The id of the push to `firm`."""
    return s.query(PolicyPush).filter_by(enterprise_id=firm.id).one().id


def make_projects(s: Session, c: County) -> dict[str, Project]:
    """Five projects, registered on 1 November; XM005 is finished (no weekly report due)."""
    made = {
        "XM001": builders.project(s, "XM001", "城南标准厂房", c.gxj, leads=(c.gxj_wu,), leader=c.li),
        "XM002": builders.project(
            s, "XM002", "智能仓储物流园", c.gxj, leads=(c.gxj_wu,), annual_plan_wan=1000
        ),
        "XM003": builders.project(s, "XM003", "矿山生态修复", c.zrzyj, leads=(c.zrzyj_ma,), leader=c.wang),
        "XM004": builders.project(s, "XM004", "产业园道路", c.zrzyj, leads=(c.zrzyj_ma,), leader=c.li),
        "XM005": builders.project(s, "XM005", "老厂区改造", c.gxj, leads=(c.gxj_wu,), stage="completed"),
    }
    for project in made.values():
        project.created_at = at(1, 9)
    s.flush()
    return made


def report(
    s: Session,
    project: Project,
    colour: Colour,
    wan: int,
    when: datetime,
    problems: str = "",
    week: date | None = None,
) -> None:
    """A weekly report typed by the project's 责任人 at `when` (for `week`, else the one it is for)."""
    entry = WeeklyEntry(colour, wan * WAN, f"{project.code} {when:%m%d}", problems)
    record_weekly(s, project, project.leads[0], entry, now=when, rules=RULES, channel="wecom", week=week)


def make_reports_and_cards(s: Session, c: County, p: dict[str, Project]) -> dict[str, str]:
    """Reports for the weeks of 9 and 16 November (typed on the Fridays), then 督办卡 and a 批示卡."""
    report(s, p["XM001"], Colour.YELLOW, 0, at(13, 10), "拆迁未完成")
    report(s, p["XM002"], Colour.WHITE, 50, at(13, 10))
    report(s, p["XM003"], Colour.YELLOW, 0, at(13, 10), "林地审批慢")
    report(s, p["XM004"], Colour.WHITE, 0, at(13, 10))
    report(s, p["XM005"], Colour.GREEN, 10, at(13, 10))  # finished: not counted
    report(s, p["XM001"], Colour.YELLOW, 0, at(20, 9), "用地手续未办结")  # replaced two hours later
    report(s, p["XM001"], Colour.RED, 0, at(20, 11), "用地手续未办结")
    report(s, p["XM002"], Colour.WHITE, 100, at(20, 10))  # 150万 of 1000万 by 20日 (序时88.8%): 测算红
    report(s, p["XM003"], Colour.YELLOW, 0, at(20, 10), "林地审批慢")
    report(s, p["XM005"], Colour.GREEN, 10, at(20, 10))
    report(s, p["XM004"], Colour.GREEN, 0, at(27, 10))  # for the week of 23日 (due 27日18:00): the only one
    # XM001 (黄, 红) and XM003 (黄, 黄) lag two weeks running: drafted when the week of 16日 closes.
    drafted = supervision_drafting.draft_for_week(s, date(2026, 11, 16), RULES, at(23, 18, 5))
    cards = {card.project.code: card.number for card in drafted if card.project}
    supervision.issue(s, c.li, cards["XM001"], at(24, 10))  # due 12月1日
    supervision.answer(s, c.gxj_wu, cards["XM001"], "已召开协调会", at(27, 10))
    target = supervision.Target(c.gxj, c.gxj_wu)
    cards["批示"] = supervision.instruct(
        s, c.li, target, "牵头研究园区用地问题", date(2026, 11, 26), at(24, 11)
    ).number
    return cards


@pytest.fixture
def made(session: Session, county: County) -> Made:
    """Both weeks, committed."""
    numbers, versions = make_orders(session, county)
    inspection_numbers, rule_texts = make_inspections(session, county)
    make_pushes(session, county)
    projects = make_projects(session, county)
    cards = make_reports_and_cards(session, county, projects)
    session.commit()
    return Made(numbers, versions, rule_texts, inspection_numbers, cards, projects)


def december(s: Session, c: County, m: Made) -> None:
    """Events after the week: orders move on, cards are cleared and issued, a push delivered, more reports."""
    orders.pick_up(s, c.zrzyj_ma, m.orders["D"], at(1, 9, month=12))
    closing.resolve(s, c.zrzyj_ma, m.orders["P2"], "已办结", at(1, 9, month=12))
    closing.resolve(s, c.gxj_wu, m.orders["B"], "已办结", at(1, 10, month=12))
    closing.rate(s, c.boss, m.orders["E"], "满意", at(1, 10, month=12))
    orders.pick_up(s, c.gxj_wu, m.orders["C"], at(1, 11, month=12))
    file(s, c.boss, "F 十二月的新诉求", at(1, 12, month=12))
    supervision.clear(s, c.li, m.cards["XM001"], "", at(1, 9, month=12))
    supervision.answer(s, c.gxj_wu, m.cards["批示"], "已研究", at(1, 10, month=12))
    supervision.issue(s, c.wang, m.cards["XM003"], at(1, 11, month=12))
    pushes.deliver(s, c.zrzyj_ma, push_of(s, c.hengtong), at(1, 10, month=12))
    inspections.register(
        s, c.scjg_wang, c.xinyuan, date(2026, 12, 24), "市场监管", "复查", at(1, 10, month=12)
    )
    # After the week's cutoff (30日00:00) but before its escalation (30日18:00): a 补报 for the week of
    # 23日, and a correction replacing XM004's 绿. Neither was in force at the cutoff.
    report(s, m.projects["XM001"], Colour.RED, 0, at(30, 10))
    report(s, m.projects["XM004"], Colour.YELLOW, 0, at(30, 11), "材料未到", week=date(2026, 11, 23))
    s.commit()


# ---------------------------------------------------------------- the county's digest


def test_orders_of_the_county(session, county, made):
    c, n = county, made.orders
    orders_ = compute(session, county_scope(), WEEK, now=MONDAY_MORNING, rules=RULES).orders
    # New (派单 in week 48): A, B, C, E to 工信局, D to 自然资源局 = 5.
    # Open at 30日00:00: P2 (办理中, 自然资源局), B (办理中, 工信局), C (待接单, 工信局),
    # D (返工, 待接单, 自然资源局);
    # A is closed, E resolved (awaiting 签单), P1 closed.
    # Late then: P2 (solve due 21日10:00), D (pickup due after 返工 25日13:00), B (solve due 26日12:00);
    # C's pickup is due 30日20:00.
    assert (orders_.new, orders_.open, orders_.late) == (5, 4, 3)
    assert orders_.late_orders == [
        (n["P2"], "示范县宏达机械有限公司", "县自然资源局", made.versions["P2"], at(21, 10)),
        (n["D"], "示范县宏达机械有限公司", "县自然资源局", made.versions["D"], at(25, 13)),
        (n["B"], "示范县鑫源食品有限公司", "县工信局", made.versions["B"], at(26, 12)),
    ]
    # Replayed versions: P2 and B 1 + 接单 = 2; D 1 + 接单 + 办结 + 返工 (the 不满意 shares its bump) = 4.
    assert [v for *_, v, _ in orders_.late_orders] == [2, 4, 2]
    # 工信局: arrivals A, B, C, E → answered in time A (接单), E (转办); B late; C still running: 响应 2/3.
    #   pickups A (solved in time), B (not solved by its deadline): 解决 1/2. ratings A 满意: 1/1.
    #   退回 0 of 4 arrivals; 返工 0 of 1 办结. Score (2/3 + 1/2 + 1) / 3 = 13/18.
    # 自然资源局: arrivals D (派单, in time), D (返工, missed), E (转办, in time): 响应 2/3.
    #   pickups D, E both solved in time: 2/2. ratings D 不满意: 0/1. 退回 0/3; 返工 1 of 2 办结.
    #   Score (2/3 + 1 + 0) / 3 = 5/9: ranked second.
    gxj, zrzyj = orders_.departments
    assert (gxj.name, gxj.new, gxj.open, gxj.late, gxj.oldest) == ("县工信局", 4, 2, 1, n["B"])
    assert gxj.oldest_since == at(24, 9)
    assert gxj.rates == rates((2, 3), (1, 2), (1, 1), (0, 4), (0, 1))
    assert gxj.score == pytest.approx(13 / 18)
    assert (zrzyj.name, zrzyj.new, zrzyj.open, zrzyj.late, zrzyj.oldest) == ("县自然资源局", 1, 2, 2, n["P2"])
    assert zrzyj.oldest_since == at(18, 10)
    assert zrzyj.rates == rates((2, 3), (2, 2), (0, 1), (0, 3), (1, 2))
    assert zrzyj.score == pytest.approx(5 / 9)
    assert (gxj.department_id, zrzyj.department_id) == (c.gxj.id, c.zrzyj.id)
    # The county: the parts summed. Week 47: 工信局 P1 all in time (1/1 1/1 1/1 0/1 0/1); 自然资源局
    # P2 picked up late and not solved by 21日 (0/1 0/1 0/0 0/1 0/0).
    assert orders_.rates == rates((4, 6), (3, 4), (1, 2), (0, 7), (1, 3))
    assert orders_.rates_before == rates((1, 2), (1, 2), (1, 1), (0, 2), (0, 1))


def rates(*parts: tuple[int, int]) -> dict[str, Rate]:
    """响应率, 解决率, 满意率, 退回率, 返工率 from (numerator, denominator) pairs."""
    names = ("响应率", "解决率", "满意率", "退回率", "返工率")
    return {name: Rate(*part) for name, part in zip(names, parts, strict=True)}


def test_projects_of_the_county(session, county, made):
    projects = compute(session, county_scope(), WEEK, now=MONDAY_MORNING, rules=RULES).projects
    # The cutoff is 30日00:00: the week of 23日 was due 27日18:00, so Monday's 周报 (and 日报) show
    # it — not the week before, as when waiting for its escalation (30日18:00).
    assert closed_week(at(30, 0), RULES).week == date(2026, 11, 23)
    assert closed_week(at(27, 17, 59), RULES).week == date(2026, 11, 16)
    assert closed_week(at(27, 18), RULES).week == date(2026, 11, 23)
    assert projects.week_label == "第48周（11月23日—11月29日）"
    # Week of 23日: only XM004 reported (绿); XM001–XM003 未报. Week of 16日: as below.
    assert projects.colours == {"绿": 1, "白": 0, "黄": 0, "红": 0, "未报": 3}
    assert projects.colours_before == {"绿": 0, "白": 1, "黄": 1, "红": 1, "未报": 1}
    assert (projects.red, projects.yellow, projects.disagreements) == ([], [], [])
    assert [line.code for line in projects.unreported] == ["XM001", "XM002", "XM003"]
    _cards_on_the_26th(projects, made)


def test_projects_of_a_day_before_the_weeks_deadline(session, county, made):
    # The 日报 of Thursday 26日 (cutoff 27日00:00): the week of 23日 is not due yet, so 16日's is shown.
    thursday = daily_period(date(2026, 11, 27))
    p = compute(session, county_scope(), thursday, now=at(27, 9), rules=RULES).projects
    assert p.week_label == "第47周（11月16日—11月22日）"
    # Week of 16日: XM001 红 (its 黄 replaced), XM002 白, XM003 黄, XM004 未报; XM005 is finished.
    assert p.colours == {"绿": 0, "白": 1, "黄": 1, "红": 1, "未报": 1}
    # Week of 9日: XM001 黄, XM002 白, XM003 黄, XM004 白.
    assert p.colours_before == {"绿": 0, "白": 2, "黄": 2, "红": 0, "未报": 0}
    assert p.red == [ProjectLine("XM001", "城南标准厂房", "县工信局", "用地手续未办结")]
    assert p.yellow == [ProjectLine("XM003", "矿山生态修复", "县自然资源局", "林地审批慢")]
    assert p.unreported == [ProjectLine("XM004", "产业园道路", "县自然资源局")]
    assert p.disagreements == [ProjectLine("XM002", "智能仓储物流园", "县工信局", "报白，测算红")]
    _cards_on_the_26th(p, made)


def _cards_on_the_26th(projects: ProjectFigures, made: Made) -> None:
    """Cards at 27日 or 30日 00:00: XM001's 督办卡 issued (answered on 27日 10:00: open either way), the
    批示卡 issued and due 26日 (open, overdue), XM003's 督办卡 still a draft."""
    assert projects.cards_open == 2
    cards = made.cards
    assert projects.cards_overdue == [
        ProjectLine("", "牵头研究园区用地问题", "县工信局", f"{cards['批示']}，期限11月26日")
    ]
    assert projects.cards_draft == [ProjectLine("XM003", "矿山生态修复", "县自然资源局", cards["XM003"])]


def test_a_weeks_reports_are_those_in_force_at_the_cutoff(session, county, made):
    first = compute(session, county_scope(), WEEK, now=MONDAY_MORNING, rules=RULES).projects
    december(session, county, made)  # a 补报 (XM001 红) and a correction (XM004 绿 → 黄) on 30日
    again = compute(session, county_scope(), WEEK, now=LATER, rules=RULES).projects
    assert again.colours == first.colours == {"绿": 1, "白": 0, "黄": 0, "红": 0, "未报": 3}
    assert (again.red, again.yellow) == ([], [])
    # The week after (cutoff 3 December 09:00) shows 23日's week as it stood then: XM001 红, XM004 黄.
    after = compute(session, county_scope(), week_period(date(2026, 11, 30)), now=LATER, rules=RULES)
    assert after.projects.week_label == "第48周（11月23日—11月29日）"
    assert after.projects.colours == {"绿": 0, "白": 0, "黄": 1, "红": 1, "未报": 2}


def test_inspections_and_pushes_of_the_county(session, county, made):
    digest = compute(session, county_scope(), WEEK, now=MONDAY_MORNING, rules=RULES)
    i, texts = made.inspections, made.rule_texts
    # Registered in week 48: I1–I4 (I0 was in week 47). I2 is for a quiet day; I3 an exempt category;
    # I4 (自然资源局) plans 鑫源 within 7 days of I1 (市场监管局): both are one joint visit.
    assert digest.inspections.registered == 4
    assert digest.inspections.blocked == [
        InspectionLine(i["I2"], "示范县鑫源食品有限公司", "县市场监管局", texts["I2"])
    ]
    assert "宁静日" in texts["I2"]
    exempt = InspectionLine(i["I3"], "示范县宏达机械有限公司", "县自然资源局", f"安全生产：{texts['I3']}")
    assert digest.inspections.exempted == [exempt]
    assert digest.inspections.joint == 2
    # Pushed 3 (24日); confirmed 鑫源 and 恒通 (宏达 declined); delivered 鑫源 (恒通's comes in December).
    assert digest.policies == PolicyFigures(pushed=3, confirmed=2, delivered=1)


def test_recomputed_later_the_digest_is_the_same(session, county, made):
    first = compute(session, county_scope(), WEEK, now=MONDAY_MORNING, rules=RULES)
    leaders = leader_scope(session, county.li)
    first_li = compute(session, leaders, WEEK, now=MONDAY_MORNING, rules=RULES)
    december(session, county, made)
    assert compute(session, county_scope(), WEEK, now=LATER, rules=RULES) == first
    assert compute(session, leaders, WEEK, now=LATER, rules=RULES) == first_li
    # …while the week after does see December: F is new, E closed, the 恒通 push delivered.
    after = compute(session, county_scope(), week_period(date(2026, 11, 30)), now=LATER, rules=RULES)
    assert after.orders.new == 1 and after.policies.delivered == 1


def test_the_trend_ends_with_the_period(session, county, made):
    points = trend(session, county_scope(), WEEK, n=3)
    # Week 46 has no orders; week 47 and 48 as above.
    assert points == [
        TrendPoint("第46周（11月9日—11月15日）", None, None, None),
        TrendPoint("第47周（11月16日—11月22日）", 1 / 2, 1 / 2, 1.0),
        TrendPoint("第48周（11月23日—11月29日）", 4 / 6, 3 / 4, 1 / 2),
    ]


# ---------------------------------------------------------------- a leader's digest


def test_a_leaders_scope_is_his_departments_and_projects(session, county, made):
    c, p = county, made.projects
    scope = leader_scope(session, c.li)
    # His departments; his projects: XM001 and XM004 (包抓), XM002 and XM005 (工信局's, no 包抓 leader).
    expected = {p[code].id for code in ("XM001", "XM002", "XM004", "XM005")}
    assert scope == Scope("李县长分管", frozenset({c.gxj.id, c.scjg.id}), frozenset(expected))


def test_a_leader_without_oversight_gets_his_projects_or_the_county_so_labelled(session, county, made):
    p = made.projects
    zhao = builders.person(session, "leader_zhao", Role.LEADER, "赵县长")
    assert leader_scope(session, zhao) == Scope("全县（未设分管）")  # neither 分管 nor 包抓
    assert leader_scope(session, zhao).county
    p["XM003"].leader = zhao  # he 包抓s XM003 (王书记's until now), and oversees no department
    session.flush()
    scope = leader_scope(session, zhao)
    assert scope == Scope("赵县长包抓项目", frozenset(), frozenset({p["XM003"].id}))
    digest = compute(session, scope, WEEK, now=MONDAY_MORNING, rules=RULES)
    # Just the project and its card: no department's orders, inspections or pushes.
    assert (digest.orders.new, digest.orders.open, digest.orders.departments) == (0, 0, [])
    assert (digest.inspections.registered, digest.policies) == (0, PolicyFigures(0, 0, 0))
    assert digest.projects.colours == {"绿": 0, "白": 0, "黄": 0, "红": 0, "未报": 1}
    assert digest.projects.colours_before == {"绿": 0, "白": 0, "黄": 1, "红": 0, "未报": 0}
    assert [line.code for line in digest.projects.cards_draft] == ["XM003"]


def test_a_leaders_digest_leaves_other_departments_out(session, county, made):
    n, cards = made.orders, made.cards
    digest = compute(session, leader_scope(session, county.li), WEEK, now=MONDAY_MORNING, rules=RULES)
    # Orders: 工信局 only — new A, B, C, E; open B, C; late B.
    o = digest.orders
    assert (o.new, o.open, o.late) == (4, 2, 1)
    assert [d.name for d in o.departments] == ["县工信局"]
    assert o.rates == rates((2, 3), (1, 2), (1, 1), (0, 4), (0, 1))
    assert o.rates_before == rates((1, 1), (1, 1), (1, 1), (0, 1), (0, 1))
    assert [line[0] for line in o.late_orders] == [n["B"]]
    # Projects, the week of 23日: XM001 and XM002 未报, XM004 绿 (XM003 is 王书记's);
    # the week before XM001 红, XM002 白, XM004 未报.
    pr = digest.projects
    assert pr.colours == {"绿": 1, "白": 0, "黄": 0, "红": 0, "未报": 2}
    assert pr.colours_before == {"绿": 0, "白": 1, "黄": 0, "红": 1, "未报": 1}
    assert [line.code for line in pr.red + pr.yellow + pr.unreported] == ["XM001", "XM002"]
    # Cards: XM001's and the 批示卡 to 工信局; XM003's draft is not his.
    assert (pr.cards_open, [line.note.split("，")[0] for line in pr.cards_overdue], pr.cards_draft) == (
        2,
        [cards["批示"]],
        [],
    )
    # Inspections of 市场监管局 (I1, I2); pushes to 鑫源 (包联 工信局).
    ins = digest.inspections
    assert (ins.registered, [line.number for line in ins.blocked], ins.exempted, ins.joint) == (
        2,
        [made.inspections["I2"]],
        [],
        1,
    )
    assert digest.policies == PolicyFigures(pushed=1, confirmed=1, delivered=1)


# ---------------------------------------------------------------- 退回 orders


def test_a_returned_order_awaits_coordination_not_the_department_that_returned_it(session, county, made):
    c = county
    number = file(session, c.boss, "G 不属于工信局的事项", at(27, 9))  # 工信局's; pickup due 28日9:00
    orders.send_back(session, c.gxj_wu, number, "非本部门职责", "", at(27, 10))
    session.commit()
    o = compute(session, county_scope(), WEEK, now=MONDAY_MORNING, rules=RULES).orders
    # At 30日00:00 G is 已退回 and past its pickup deadline: 待协调 (超时未协调), not 工信局's open or late.
    assert (o.open, o.late, o.returned, o.returned_late) == (4, 3, 1, 1)
    assert number not in [line[0] for line in o.late_orders]
    gxj = next(d for d in o.departments if d.name == "县工信局")
    assert (gxj.new, gxj.open, gxj.late, gxj.oldest) == (5, 2, 1, made.orders["B"])  # G was dispatched to it
    # It counts in the scope of the leader of the department that returned it, not in another's.
    li = compute(session, leader_scope(session, c.li), WEEK, now=MONDAY_MORNING, rules=RULES).orders
    wang = compute(session, leader_scope(session, c.wang), WEEK, now=MONDAY_MORNING, rules=RULES).orders
    assert (li.open, li.late, li.returned) == (2, 1, 1) and wang.returned == 0

"""A digest as a leader reads it: risks first, figures with their change, one card of taps; when it goes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.clock import LOCAL_ZONE
from bot.models import Role
from bot.replies import GroupImage, GroupText, Image, Markdown, TemplateCard
from bot.settings import Settings
from bot.wecom.outbound import APP_MARKDOWN_BYTES, GROUP_MARKDOWN_BYTES
from handlers.complaints.figures import Rate
from handlers.digests.composing import (
    CUT_NOTICE,
    app_messages,
    group_messages,
    markdown_messages,
    places,
    risk_card,
)
from handlers.digests.model import (
    RATE_NAMES,
    DepartmentOrders,
    Digest,
    InspectionFigures,
    InspectionLine,
    OrderFigures,
    PolicyFigures,
    ProjectFigures,
    ProjectLine,
    Scope,
    day_period,
    week_period,
)
from handlers.digests.timing import daily_period, due_periods

SINCE = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def rates(*pairs: tuple[int, int]) -> dict[str, Rate]:
    return {name: Rate(*pair) for name, pair in zip(RATE_NAMES, pairs, strict=True)}


def department(name: str, score: float | None, late: int = 0) -> DepartmentOrders:
    oldest = "S2611-0009" if late else None
    return DepartmentOrders(1, name, new=3, open=2, late=late, oldest=oldest, oldest_since=None,
                            rates=rates((1, 2), (1, 2), (1, 1), (0, 3), (0, 1)), score=score)  # fmt: skip


def digest(**changes) -> Digest:
    orders = OrderFigures(
        new=12, open=7, late=2,
        departments=[department("县工信局", 0.95), department("县商务局", 0.80),
                     department("县自然资源局", 0.40, late=2)],
        rates=rates((17, 20), (9, 10), (8, 10), (1, 20), (1, 10)),
        rates_before=rates((16, 20), (9, 10), (9, 10), (1, 20), (0, 10)),
        late_orders=[("S2611-0007", "示范县鑫源食品有限公司", "县自然资源局", 3, SINCE)],
    )  # fmt: skip
    projects = ProjectFigures(
        week_label="第47周（11月16日—11月22日）",
        colours={"绿": 2, "白": 5, "黄": 2, "红": 1, "未报": 1},
        colours_before={"绿": 2, "白": 6, "黄": 1, "红": 1, "未报": 1},
        red=[ProjectLine("XM001", "城南产业园标准厂房", "县发改局", "用地手续未办结")],
        yellow=[ProjectLine("XM002", "高铁站前广场", "县住建局", "缺工人")],
        unreported=[ProjectLine("XM003", "县商贸物流中心", "县商务局")],
        disagreements=[ProjectLine("XM004", "污水处理厂", "县住建局", "报白，测算红")],
        cards_open=3,
        cards_overdue=[ProjectLine("XM001", "城南产业园标准厂房", "县发改局", "D2611-0002 期限11月20日")],
        cards_draft=[],
    )  # fmt: skip
    inspections = InspectionFigures(
        registered=6,
        blocked=[InspectionLine("J2611-0004", "示范县宏达机械有限公司", "县市场监管局", "企业宁静日")],
        exempted=[InspectionLine("J2611-0005", "示范县化工有限公司", "县应急管理局", "安全生产：豁免类别")],
        joint=1,
    )
    values = dict(period=day_period(date(2026, 11, 23)), scope=Scope("全县"), orders=orders,
                  projects=projects, inspections=inspections,
                  policies=PolicyFigures(pushed=40, confirmed=12, delivered=5))  # fmt: skip
    return Digest(**(values | changes))


def digest_markdown(d: Digest) -> str:
    """The digest as one app message (it must fit one)."""
    [text] = markdown_messages(d, APP_MARKDOWN_BYTES)
    return text


def test_what_needs_the_leader_comes_first_then_the_figures_with_their_change():
    text = digest_markdown(digest())
    assert text.startswith("**【日报】全县 · 11月23日**")
    # two late orders (one listed), a red project, an overdue card, a disagreement, a blocked inspection
    risks_at, orders_at = text.index("需要您处理（6项）"), text.index("**诉求** 新增12 · 在办7 · 超时2")
    assert risks_at < orders_at
    assert "1. 超时诉求 S2611-0007（县自然资源局，2026-11-22 09:00起）" in text
    assert "超时：县自然资源局2件（最久 S2611-0009）" in text
    assert "2. 红色项目 XM001 城南产业园标准厂房（县发改局）用地手续未办结" in text
    assert (
        "督办卡逾期 D2611-0002 期限11月20日" in text and "颜色不一致 XM004 污水处理厂：报白，测算红" in text
    )
    assert '响应率 85.0%（17/20） <font color="info">↑</font> 上期 80.0%' in text  # better: green
    assert '满意率 80.0%（8/10） <font color="warning">↓</font> 上期 90.0%' in text  # worse: orange
    assert '返工率 10.0%（1/10） <font color="warning">↑</font> 上期 0.0%' in text  # up is worse here
    assert "红榜：县工信局95%\n黑榜：县自然资源局40%" in text  # three departments: one each
    assert "绿2(持平) 白5(-1) 黄2(+1) 红1(持平) 未报1(持平)" in text
    assert "**入企检查** 报备6 · 拦截1 · 豁免1 · 联合1" in text
    assert "**免申即享** 推送40 · 确认12 · 兑现5" in text


def test_a_quiet_period_says_so_and_has_no_card():
    none = rates((0, 0), (0, 0), (0, 0), (0, 0), (0, 0))
    quiet = digest(
        orders=OrderFigures(0, 0, 0, [], none, none, []),
        projects=ProjectFigures("第47周", {}, {}, [], [], [], [], 0, [], []),
        inspections=InspectionFigures(0, [], [], 0),
    )
    text = digest_markdown(quiet)
    assert "需要您处理：暂无" in text and "响应率 —（0/0）" in text
    assert risk_card(quiet, "t") is None


def test_a_long_digest_is_cut_at_a_line_within_wecoms_limit():
    many = [ProjectLine(f"XM{n:03d}", "很长的项目名称" * 6, "县发改局", "问题说明" * 20) for n in range(80)]
    base = digest()
    long = digest(projects=base.projects.__class__(**{**base.projects.__dict__, "red": many}))
    texts = [r.content for r in app_messages(long, None, "t") if isinstance(r, Markdown)]
    assert all(len(text.encode()) <= APP_MARKDOWN_BYTES for text in texts)
    assert "……等" in texts[0]  # lists are cut with a count, not silently


def _long_digest() -> Digest:
    """A county with much to report: long names, many late departments, projects in every list."""
    base = digest()
    departments = [department(f"县{'很长的部门名称' * 3}{n}", 0.9 - n / 100, late=3) for n in range(20)]
    lines = [
        ProjectLine(f"XM{n:03d}", f"{'城南产业园标准厂房' * 3}{n}", "县发改局", "用地" * 30) for n in range(9)
    ]
    orders = base.orders.__class__(**{**base.orders.__dict__, "departments": departments})
    projects = base.projects.__class__(
        **{
            **base.projects.__dict__,
            "red": lines,
            "yellow": lines,
            "unreported": lines,
            "disagreements": lines,
        }
    )
    return digest(orders=orders, projects=projects)


def test_an_app_digest_too_long_for_one_message_goes_in_two_each_within_2048_bytes():
    long = _long_digest()
    [whole] = markdown_messages(long, 100_000)
    assert len(whole.encode()) > APP_MARKDOWN_BYTES
    texts = [r.content for r in app_messages(long, None, "t") if isinstance(r, Markdown)]
    assert len(texts) == 2 and all(len(t.encode()) <= APP_MARKDOWN_BYTES for t in texts)
    first, second = texts
    assert first.startswith("**【日报】全县 · 11月23日（1/2）**") and "需要您处理" in first
    assert second.startswith("**【日报】全县 · 11月23日（2/2）**")
    assert "**诉求**" in first and "**重点项目**" not in first
    for section in ("**重点项目**", "**入企检查**", "**免申即享**"):
        assert section in second
    lines = set(whole.split("\n"))
    for text in texts:  # cut between lines, never inside one (nor inside a <font> tag), and saying so
        kept = text.split("\n")[1:]
        assert set(kept) <= lines | {CUT_NOTICE}, set(kept) - lines
        assert text.count("<font") == text.count("</font>")
        assert CUT_NOTICE not in text or text.endswith("\n" + CUT_NOTICE)
    assert CUT_NOTICE in first  # the 20 late departments' rates and boards did not all fit


def test_the_group_digest_fits_the_robots_4096_bytes_a_message():
    group = [r for r in group_messages(_long_digest(), "leaders-robot", None) if isinstance(r, GroupText)]
    assert group and all(len(r.content.encode()) <= GROUP_MARKDOWN_BYTES for r in group)
    assert all(r.content.count("<font") == r.content.count("</font>") for r in group)
    assert "**免申即享**" in group[-1].content


def test_the_risk_count_counts_every_late_order_not_only_those_listed():
    base = digest()
    listed = [(f"S2611-{n:04d}", "示范县鑫源食品有限公司", "县自然资源局", 1, SINCE) for n in range(10)]
    orders = base.orders.__class__(**{**base.orders.__dict__, "late": 14, "late_orders": listed})
    text = digest_markdown(digest(orders=orders))
    assert "需要您处理（18项）" in text  # 14 late orders, a red project, a card, a colour, an inspection
    assert "……等18项" in text


def _board(scores: list[float]) -> str:
    names = "甲乙丙丁戊己庚辛"
    departments = [department(f"县{names[n]}局", score) for n, score in enumerate(scores)]
    base = digest()
    orders = base.orders.__class__(**{**base.orders.__dict__, "departments": departments})
    text = digest_markdown(digest(orders=orders))
    return text[text.index("红榜") : text.index("\n\n**重点项目**")]


def test_equal_scores_share_a_place_and_never_put_a_top_department_on_the_black_list():
    board = _board([1.0, 1.0, 1.0, 1.0, 0.98])
    assert board == "红榜：县甲局100%、县乙局100%、县丙局100% 等4个\n黑榜：县戊局98%"
    assert _board([0.9, 0.9, 0.9, 0.9]) == "红榜：县甲局90%、县乙局90%、县丙局90% 等4个"  # no 黑榜
    assert (
        _board([1.0, 0.9, 0.8, 0.8, 0.7, 0.6])
        == "红榜：县甲局100%、县乙局90%、县丙局80% 等4个\n黑榜：县己局60%、县戊局70%"  # 丁 ties with 丙
    )
    assert places([1.0, 1.0, 0.9, None, None]) == [1, 1, 3, 4, 4]
    assert places([(0.5 + 1 + 0.6) / 3, (1 + 0.5 + 0.6) / 3]) == [1, 1]  # float noise is no difference


def test_the_card_offers_one_tap_per_pressing_risk():
    card = risk_card(digest(), "digest-day-2026-11-23-7")
    assert isinstance(card, TemplateCard) and card.title == "需要您处理"
    assert [(b.text, b.key) for b in card.buttons] == [
        ("督办 S2611-0007", "order:urge:S2611-0007:3"),
        ("批示 XM001", "digest:instruct:XM001"),
        ("查看 XM002", "digest:project:XM002"),
        ("查看 XM003", "digest:project:XM003"),
    ]
    assert risk_card(digest(), "t", role=Role.LEADER) == card.__class__(**{**card.__dict__, "task_id": "t"})


@pytest.mark.parametrize("role", [Role.OFFICIAL, Role.ADMIN])
def test_who_is_not_a_leader_gets_only_the_buttons_he_may_press(role):
    card = risk_card(digest(), "t", role=role)  # 督办 and 批示 would refuse him
    assert card is not None and [(b.text, b.key) for b in card.buttons] == [
        ("查看 XM001", "digest:project:XM001"),
        ("查看 XM002", "digest:project:XM002"),
        ("查看 XM003", "digest:project:XM003"),
    ]
    [sent] = [r for r in app_messages(digest(), None, "t", role=role) if isinstance(r, TemplateCard)]
    assert sent.buttons == card.buttons


def test_app_and_group_messages_carry_the_chart_when_there_is_one():
    sent = app_messages(digest(), "/tmp/chart.png", "t1")
    assert [type(r) for r in sent] == [Markdown, Image, TemplateCard]
    assert [type(r) for r in app_messages(digest(), None, "t1")] == [Markdown, TemplateCard]
    group = group_messages(digest(), "leaders-robot", "/tmp/chart.png")
    assert isinstance(group[0], GroupText) and group[0].markdown and isinstance(group[1], GroupImage)


@pytest.mark.parametrize(
    ("moment", "labels"),
    [("2026-11-24 08:29", []),
     ("2026-11-24 08:30", ["11月23日"]),
     ("2026-11-30 08:30", ["11月27日—11月29日", "第48周（11月23日—11月29日）"]),  # Monday: Fri–Sun, last week
     ("2026-11-28 08:30", []),  # Saturday
     ("2026-10-08 09:00", ["9月30日—10月7日", "第40周（9月28日—10月4日）"]),  # 国庆 over
     ("2026-11-24 11:31", [])],  # past the window
)  # fmt: skip
def test_digests_go_out_on_working_days_at_their_time(moment, labels):
    now = datetime.fromisoformat(moment).replace(tzinfo=LOCAL_ZONE)
    assert [p.label for p in due_periods(now, Settings.from_env({}))] == labels


def test_a_daily_digest_covers_the_days_since_the_last_working_day():
    assert daily_period(date(2026, 11, 30)).label == "11月27日—11月29日"
    assert week_period(date(2026, 11, 25)).previous().label == "第47周（11月16日—11月22日）"


def test_orders_sent_back_are_shown_waiting_for_the_coordinators():
    base = digest()
    orders = base.orders.__class__(**{**base.orders.__dict__, "returned": 3, "returned_late": 1})
    text = "\n".join(
        m.content for m in app_messages(digest(orders=orders), None, "t") if isinstance(m, Markdown)
    )
    assert "待协调（退回）3件，其中超时未协调1件" in text

"""Registers for a period: each XLSX read back, `ztc export …`, and 导出 in chat (officials: their own)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.errors import Invalid
from bot.models import Department
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.complaints import closing
from handlers.complaints import service as orders
from handlers.digests.export_chat import parse_period, parse_request, relative_span
from handlers.digests.export_chat import router as exports_router
from handlers.digests.exports import Span, span_between, span_of
from handlers.digests.exports_inspections import write_inspections
from handlers.digests.exports_orders import write_orders
from handlers.digests.exports_projects import write_projects
from handlers.inspections import service as inspections
from handlers.inspections.models import LenientItem
from handlers.projects import supervision, supervision_drafting
from handlers.projects.models import Colour, Project, WeeklyReport
from handlers.projects.reports import WeeklyEntry, record_weekly
from handlers.projects.rules import ProjectRules
from handlers.projects.supervision import Target
from jobs import runtime as job_runtime
from tests import builders
from tests.authz import FIRM, build_county, firm, person
from tests.builders import Chat
from tests.conftest import T0, run_jobs

TODAY = date(2026, 11, 24)  # T0's day in Beijing (a Tuesday)
NOVEMBER = Span(date(2026, 11, 1), date(2026, 11, 30))
NOW = T0 + timedelta(days=3, hours=1)  # 2026-11-27 10:30 Beijing
OCTOBER_T = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)


def local_naive(at: datetime) -> datetime:
    """An instant as the naive Beijing time an Excel cell holds."""
    return (at + timedelta(hours=8)).replace(tzinfo=None)


def _orders(session: Session) -> dict[str, str]:
    """A: closed on time; B: picked up late, 延期; C: October; D: 转办 from 市场监管局 to 应急管理局."""
    own, other, head = person(session, "zhang_wei"), person(session, "li_na"), person(session, "scjg_li")
    fgj, leader = person(session, "fgj_zheng"), person(session, "leader_wang")
    a = orders.file_order(session, own, "厂区门前道路破损，货车进出困难", "其他", "普通", T0).order.number
    orders.pick_up(session, head, a, T0 + timedelta(hours=1))
    closing.resolve(session, head, a, "已协调城管修复", T0 + timedelta(hours=2))
    closing.rate(session, own, a, "满意", T0 + timedelta(hours=3))
    b = orders.file_order(session, other, "用电增容申请迟迟未批", "水电气", "紧急", T0 - timedelta(days=3))
    orders.pick_up(session, fgj, b.order.number, T0)
    closing.request_extension(session, fgj, b.order.number, T0 + timedelta(days=3), "等待省电力公司批复", T0)
    closing.decide_extension(session, leader, b.order.number, True, T0 + timedelta(hours=2))
    c = orders.file_order(session, own, "十月份的融资对接需求", "融资", "普通", OCTOBER_T).order.number
    d = orders.file_order(session, own, "锅炉压力容器年检咨询", "其他", "普通", T0 + timedelta(minutes=10))
    yjj = session.scalars(select(Department).where(Department.code == "YJJ")).one()
    orders.transfer(session, head, d.order.number, yjj, "属应急管理职责", T0 + timedelta(minutes=20))
    return {"A": a, "B": b.order.number, "C": c, "D": d.order.number}


def _projects(session: Session) -> dict[str, str]:
    """XM001 (市场监管局): yellow twice → a 督办卡 cleared; a report replaced; XM002 (发改局): a 批示卡."""
    xm1 = session.scalars(select(Project).where(Project.code == "XM001")).one()
    lead, leader = person(session, "scjg_wang"), person(session, "leader_wang")
    xm1.annual_plan_yuan = 100_000_000  # so the numbers give a colour (测算颜色)
    for week, colour in (
        (date(2026, 11, 9), "yellow"),
        (date(2026, 11, 16), "yellow"),
        (date(2026, 10, 26), "white"),
    ):
        report = WeeklyReport(project=xm1, week=week, colour=colour, invested_yuan=1_000_000, progress="停工")
        session.add(report)
        report.reporter, report.channel, report.reported_at = lead, "wecom", T0
    # The week of 30 November has its Thursday in December: not November's.
    session.add(WeeklyReport(project=xm1, week=date(2026, 11, 30), colour="green", progress="下周",
                             channel="wecom", reported_at=T0))  # fmt: skip
    session.flush()
    [card] = supervision_drafting.draft_for_week(session, date(2026, 11, 16), ProjectRules(), T0)
    supervision.issue(session, leader, card.number, T0)
    supervision.answer(session, lead, card.number, "已复工", T0 + timedelta(days=1))
    supervision.clear(session, leader, card.number, "", T0 + timedelta(days=2))
    rules, first = ProjectRules(), WeeklyEntry(Colour.WHITE, 9_000_000, "打桩")
    record_weekly(session, xm1, lead, first, now=T0, rules=rules, channel="wecom")
    entry = WeeklyEntry(Colour.RED, 12_345_000, "主体停工", "用地手续未办结", "请县自然资源局协调")
    recorded = record_weekly(
        session, xm1, lead, entry, now=T0 + timedelta(hours=1), rules=rules, channel="wecom"
    )
    fgj_dept = session.scalars(select(Department).where(Department.code == "FGJ")).one()
    fgj = person(session, "fgj_zheng")
    builders.project(session, "XM002", "园区道路工程", fgj_dept, leads=(fgj,), leader=leader)
    instruct = supervision.instruct(
        session, leader, Target(fgj_dept, fgj), "牵头研究园区用地问题", date(2026, 12, 4), T0
    )
    return {"card": card.number, "instruct": instruct.number, "week": str(recorded.report.week)}


def objective_label(session: Session) -> str:
    """The colour the numbers gave XM001's report in force for the week of 23 November."""
    query = select(WeeklyReport).where(
        WeeklyReport.week == date(2026, 11, 23), WeeklyReport.replaced_at.is_(None)
    )
    objective = session.scalars(query).one().objective_enum
    assert objective is not None
    return objective.label


def _inspections(session: Session) -> dict[str, str]:
    """I1 allowed, done, rated; I2 exempt (quiet day, 安全生产), joint with I1; I3 blocked; I0 October."""
    session.add(LenientItem(code="SCJG-001", field="市场监管", violation="未按规定公示", basis="《条例》",
                            conditions="首次", created_at=T0))  # fmt: skip
    enterprise = firm(session)
    head, clerk, yjj = person(session, "scjg_li"), person(session, "scjg_wang"), person(session, "yjj_sun")
    i0 = inspections.register(
        session, head, enterprise, date(2026, 10, 25), "市场监管", "十月抽检", OCTOBER_T
    )
    i1 = inspections.register(session, head, enterprise, date(2026, 11, 26), "市场监管", "食品安全抽检", T0)
    i2 = inspections.register(session, yjj, enterprise, date(2026, 12, 3), "安全生产", "锅炉隐患复查", T0)
    i3 = inspections.register(session, clerk, enterprise, date(2026, 12, 3), "市场监管", "日常检查", T0)
    number = i1.inspection.number
    inspections.record_result(session, head, number, "未发现问题", ["SCJG-001"], T0 + timedelta(days=2))
    inspections.rate_visit(session, person(session, "zhang_wei"), number, "满意", "很规范", NOW)
    return {
        "I0": i0.inspection.number,
        "I1": number,
        "I2": i2.inspection.number,
        "I3": i3.inspection.number,
    }


@pytest.fixture
def county(session: Session) -> tuple[Session, dict[str, str]]:
    """The authorization county, with orders, project reports and cards, and inspections; committed."""
    build_county(session)
    made = {**_orders(session), **_projects(session), **_inspections(session)}
    session.commit()
    return session, made


def rows(path: Path, sheet: str) -> list[dict[str, Any]]:
    """A sheet's rows as dicts by header."""
    header, *data = openpyxl.load_workbook(path)[sheet].iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in data]


def by_first(path: Path, sheet: str) -> dict[Any, dict[str, Any]]:
    """A sheet's rows by their first column."""
    return {next(iter(r.values())): r for r in rows(path, sheet)}


# --- the period -------------------------------------------------------------------------------


def test_period_words_and_dates() -> None:
    spans = {w: relative_span(w, TODAY) for w in ("本月", "上月", "本周", "上周", "本季", "今年")}
    assert spans == {
        "本月": Span(date(2026, 11, 1), TODAY),
        "上月": Span(date(2026, 10, 1), date(2026, 10, 31)),
        "本周": Span(date(2026, 11, 23), TODAY),
        "上周": Span(date(2026, 11, 16), date(2026, 11, 22)),
        "本季": Span(date(2026, 10, 1), TODAY),
        "今年": Span(date(2026, 1, 1), TODAY),
    }
    assert parse_period([], TODAY) == spans["本月"]
    assert parse_request("诉求 2026-11-01 2026-11-30", TODAY) == ("orders", NOVEMBER)
    assert parse_request("项目 2026-11-01至2026-11-30", TODAY) == ("projects", NOVEMBER)
    assert parse_request("检查 ２０２６年１１月２４日", TODAY) == ("inspections", Span(TODAY, TODAY))
    assert parse_request("检查 本季度", TODAY)[1] == spans["本季"]
    assert NOVEMBER.label == "2026年11月1日至11月30日"
    assert Span(date(2025, 12, 1), date(2026, 1, 31)).label == "2025年12月1日至2026年1月31日"
    assert Span(TODAY, TODAY).label == "2026年11月24日"


def test_unknown_words_a_reversed_or_too_long_period_are_refused_by_name() -> None:
    with pytest.raises(Invalid, match=r"「合同」不是可导出的内容.*「台账」"):
        parse_request("合同 本月", TODAY)
    with pytest.raises(Invalid, match="没有看懂期间「下下月、全部」"):
        parse_request("诉求 下下月 全部", TODAY)
    with pytest.raises(Invalid, match="期间只能写一个词或一对起止日期"):
        parse_request("诉求 本月 上月", TODAY)
    with pytest.raises(Invalid, match="请写明导出什么"):
        parse_request("", TODAY)
    with pytest.raises(Invalid, match="「2026-13-01」不是日期"):
        span_of("2026-13-01", None, TODAY)
    with pytest.raises(Invalid, match="开始日期2026-12-01晚于结束日期2026-11-01"):
        span_between(date(2026, 12, 1), date(2026, 11, 1))
    with pytest.raises(Invalid, match="期间共367天，一次最多导出366天"):
        span_between(date(2025, 11, 23), TODAY)
    assert span_between(date(2024, 1, 1), date(2024, 12, 31)).days == 366  # a leap year is allowed
    assert span_of(None, None, TODAY) == Span(date(2026, 11, 1), TODAY)
    assert span_of(None, "2026-10-31", TODAY) == Span(date(2026, 10, 1), date(2026, 10, 31))


# --- the writers ------------------------------------------------------------------------------


def test_orders_filed_in_the_period_with_every_event(county, tmp_path: Path) -> None:
    session, made = county
    path = tmp_path / "orders.xlsx"
    exported = write_orders(session, path, NOVEMBER, now=NOW)
    assert exported.text() == (
        "2026年11月1日至11月30日 诉求工单：共3件（已销号1件、超时2件、延期1件），办理记录13条。"
    )
    table = by_first(path, "诉求工单")
    assert list(table) == [made["B"], made["A"], made["D"]]  # by 提交时间; C was filed in October
    a, b, d = table[made["A"]], table[made["B"]], table[made["D"]]
    assert (a["企业"], a["统一社会信用代码"], a["类别"], a["紧急程度"]) == (
        FIRM,
        firm(session).uscc,
        "其他",
        "普通",
    )
    assert (a["承办部门"], a["状态"], a["结果"], a["评价"], a["返工次数"]) == (
        "县市场监管局", "已销号", "已协调城管修复", "满意", 0,
    )  # fmt: skip
    assert a["提交时间"] == local_naive(T0) and a["接单时间"] == local_naive(T0 + timedelta(hours=1))
    assert a["办结时限"] == local_naive(T0 + timedelta(hours=25)) and (a["是否超时"], a["是否延期"]) == (
        "否",
        "否",
    )
    assert (b["状态"], b["紧急程度"], b["是否超时"], b["是否延期"]) == (
        "办理中",
        "紧急",
        "是",
        "是，至2026-11-27 09:30",
    )
    assert (d["承办部门"], d["状态"], d["是否超时"]) == ("县应急管理局", "待接单", "是")  # unanswered by NOW


def test_the_event_sheet_says_who_did_what(county, tmp_path: Path) -> None:
    session, made = county
    path = tmp_path / "orders.xlsx"
    write_orders(session, path, NOVEMBER, now=NOW)
    events = [r for r in rows(path, "办理记录") if r["单号"] == made["D"]]
    assert [(e["动作"], e["部门"], e["操作人"], e["说明"]) for e in events] == [
        ("提交诉求", "县市场监管局", "张伟", None),
        ("派单", "县市场监管局", "系统", None),
        ("转办", "县应急管理局", "李局长", "转至县应急管理局；属应急管理职责"),
    ]
    assert events[2]["时间"] == local_naive(T0 + timedelta(minutes=20))
    rated = [r for r in rows(path, "办理记录") if r["单号"] == made["A"]][-1]
    assert (rated["动作"], rated["说明"]) == ("评价", "满意")
    book = openpyxl.load_workbook(path)
    sheet = book["诉求工单"]
    assert sheet.freeze_panes == "B2" and sheet.cell(row=1, column=1).font.bold
    assert sheet.cell(row=2, column=9).number_format == "yyyy-mm-dd hh:mm"
    assert sheet.column_dimensions["F"].width == 40


def test_october_holds_only_october(county, tmp_path: Path) -> None:
    session, made = county
    exported = write_orders(
        session, tmp_path / "o.xlsx", Span(date(2026, 10, 1), date(2026, 10, 31)), now=NOW
    )
    assert list(by_first(tmp_path / "o.xlsx", "诉求工单")) == [made["C"]] and exported.rows == 1


def test_projects_reports_in_force_of_the_periods_weeks_and_cards(county, tmp_path: Path) -> None:
    session, made = county
    path = tmp_path / "projects.xlsx"
    exported = write_projects(session, path, NOVEMBER, now=NOW)
    reports = rows(path, "重点项目周报")
    assert [(r["编号"], r["周次"], r["颜色"]) for r in reports] == [
        ("XM001", "2026年第46周（11.9-11.15）", "黄"),
        ("XM001", "2026年第47周（11.16-11.22）", "黄"),
        ("XM001", "2026年第48周（11.23-11.29）", "红"),  # the replaced 白 is history
    ]  # the week of 26 Oct belongs to October, that of 30 Nov to December (their Thursdays)
    assert made["week"] == "2026-11-23"
    red = reports[-1]
    assert (red["名称"], red["责任单位"], red["包抓县领导"], red["本期完成投资(万元)"]) == (
        "城南产业园标准厂房", "县市场监管局", "王县长", 1234.5,
    )  # fmt: skip
    assert (red["形象进度"], red["存在问题"], red["需协调"], red["报送人"]) == (
        "主体停工", "用地手续未办结", "请县自然资源局协调", "王科员",
    )  # fmt: skip
    assert red["测算颜色"] == objective_label(session) and red["报送时间"] == local_naive(
        T0 + timedelta(hours=1)
    )
    cards = by_first(path, "督办卡批示卡")
    assert list(cards) == [made["card"], made["instruct"]]
    card, instruct = cards[made["card"]], cards[made["instruct"]]
    assert (card["类型"], card["项目"], card["状态"], card["反馈"]) == (
        "督办卡",
        "XM001 城南产业园标准厂房",
        "已销号",
        "已复工",
    )
    assert card["签发时间"] == local_naive(T0) and card["销号时间"] == local_naive(T0 + timedelta(days=2))
    assert (instruct["类型"], instruct["责任人"], instruct["期限"], instruct["状态"]) == (
        "批示卡", "县发改局 郑立新", datetime(2026, 12, 4), "办理中",
    )  # fmt: skip
    assert exported.summary == "周报3份（1个项目；绿0 白0 黄2 红1），督办卡/批示卡2张。"
    sheet = openpyxl.load_workbook(path)["重点项目周报"]
    assert str(sheet.cell(row=4, column=6).fill.fgColor.rgb).endswith("FFC7CE")  # 红 in red


def test_inspections_registered_in_the_period(county, tmp_path: Path) -> None:
    session, made = county
    path = tmp_path / "inspections.xlsx"
    exported = write_inspections(session, path, NOVEMBER, now=NOW)
    table = by_first(path, "涉企检查")
    assert list(table) == [made["I1"], made["I2"], made["I3"]]  # I0 was registered in October
    i1, i2, i3 = table[made["I1"]], table[made["I2"]], table[made["I3"]]
    assert (i1["企业"], i1["部门"], i1["报备人"], i1["检查日期"], i1["类别"], i1["事由"]) == (
        FIRM, "县市场监管局", "李局长", datetime(2026, 11, 26), "市场监管", "食品安全抽检",
    )  # fmt: skip
    assert (i1["判定"], i1["依据"], i1["状态"], i1["审批人"]) == ("允许", "非宁静日", "已检查", "李局长")
    assert (i1["结果"], i1["免罚条目"], i1["企业评价"]) == ("未发现问题", "SCJG-001", "满意：很规范")
    assert i1["联合检查"] == f"与{made['I2']}（县应急管理局）综合查一次"
    assert (i2["判定"], i2["状态"], i2["审批人"]) == ("豁免", "待审批", None)
    assert "豁免已记录" in i2["依据"] and i2["联合检查"] == f"与{made['I1']}（县市场监管局）综合查一次"
    assert (i3["判定"], i3["状态"]) == ("不允许", "被拦截")
    assert exported.summary == "共3次（允许1次、豁免1次、不允许1次），综合查一次2次。"


def test_an_official_sees_only_his_departments_rows(county, tmp_path: Path) -> None:
    session, made = county
    scjg = session.scalars(select(Department).where(Department.code == "SCJGJ")).one()
    yjj = session.scalars(select(Department).where(Department.code == "YJJ")).one()
    write_orders(session, tmp_path / "s.xlsx", NOVEMBER, now=NOW, department=scjg)
    assert list(by_first(tmp_path / "s.xlsx", "诉求工单")) == [made["A"], made["D"]]  # D passed through it
    write_orders(session, tmp_path / "y.xlsx", NOVEMBER, now=NOW, department=yjj)
    assert list(by_first(tmp_path / "y.xlsx", "诉求工单")) == [made["D"]]
    write_inspections(session, tmp_path / "i.xlsx", NOVEMBER, now=NOW, department=yjj)
    assert list(by_first(tmp_path / "i.xlsx", "涉企检查")) == [made["I2"]]
    fgj = session.scalars(select(Department).where(Department.code == "FGJ")).one()
    exported = write_projects(session, tmp_path / "p.xlsx", NOVEMBER, now=NOW, department=fgj)
    assert rows(tmp_path / "p.xlsx", "重点项目周报") == [] and exported.rows == 1  # XM002 has not reported
    assert list(by_first(tmp_path / "p.xlsx", "督办卡批示卡")) == [made["instruct"]]


# --- the command ------------------------------------------------------------------------------


def _cli(settings: Settings, tmp_path: Path, *args: str) -> Any:
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "ZTC_VAR_DIR": str(tmp_path),
    }
    return CliRunner().invoke(main, ["export", *args], env=env)


def test_ztc_export_each_register(county, settings: Settings, tmp_path: Path) -> None:
    _, made = county
    period = ("--from", "2026-11-01", "--to", "2026-11-30")
    for kind, title, sheet in (
        ("orders", "诉求工单", "诉求工单"),
        ("projects", "重点项目周报", "重点项目周报"),
        ("inspections", "涉企检查", "涉企检查"),
    ):
        out = tmp_path / f"{kind}.xlsx"
        result = _cli(settings, tmp_path, kind, *period, str(out))
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"已导出{title}：{out}\n2026年11月1日至11月30日 {title}：")
        assert sheet in openpyxl.load_workbook(out).sheetnames
    assert made["A"] in by_first(tmp_path / "orders.xlsx", "诉求工单")
    result = _cli(
        settings, tmp_path, "orders", str(tmp_path / "default.xlsx")
    )  # this month so far, real clock
    assert result.exit_code == 0 and "诉求工单：共" in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--from", "2026-11-31"), "「2026-11-31」不是日期"),
        (("--from", "2026-12-01", "--to", "2026-11-01"), "开始日期2026-12-01晚于结束日期2026-11-01"),
        (("--from", "2025-01-01", "--to", "2026-11-30"), "一次最多导出366天"),
    ],
)
def test_ztc_export_refuses_a_bad_period(county, settings: Settings, tmp_path: Path, args, says) -> None:
    out = tmp_path / "x.xlsx"
    result = _cli(settings, tmp_path, "inspections", *args, str(out))
    assert result.exit_code == 1 and says in result.stderr and not out.exists()


def test_ztc_export_refuses_an_unwritable_path(county, settings: Settings, tmp_path: Path) -> None:
    result = _cli(settings, tmp_path, "orders", str(tmp_path / "no" / "such.xlsx"))
    assert result.exit_code == 1 and "无法写入" in result.stderr


# --- chat -------------------------------------------------------------------------------------


@pytest.fixture
def exports_runtime(settings, engine, redis_conn, clock, session_factory, standin) -> Iterator[Runtime]:
    """A runtime mounting the 导出 router, installed for jobs."""
    rt = Runtime.build(settings, clock=clock, connection=redis_conn, engine=engine, routers=[exports_router])
    job_runtime.install(rt)
    yield rt
    job_runtime.install(None)


def pushed(standin, user: str) -> list[str]:
    """What the user was sent: texts by content, files as "<file>"."""
    return [
        m["body"]["text"]["content"] if m["msgtype"] == "text" else "<file>" for m in standin.messages(user)
    ]


def exports(rt: Runtime) -> list[Path]:
    """The files written under var/exports."""
    folder = rt.settings.var_dir / "exports"
    return sorted(folder.glob("*.xlsx")) if folder.exists() else []


def test_a_leader_gets_the_counts_and_the_file(county, exports_runtime: Runtime, standin) -> None:
    _, made = county
    assert Chat(exports_runtime).text("leader_wang", "导出 诉求") == "收到，正在处理，请稍候…"
    run_jobs(exports_runtime)
    text, file = standin.messages("leader_wang")
    assert text["body"]["text"]["content"].startswith("2026年11月1日至11月24日 诉求工单：共3件")
    media = standin.state.media[file["body"]["file"]["media_id"]]
    assert media["filename"].startswith("诉求工单20261101-20261124-20261124-")
    (export,) = exports(exports_runtime)
    assert media["length"] == export.stat().st_size
    assert set(by_first(export, "诉求工单")) == {made["A"], made["B"], made["D"]}


def test_an_official_exports_his_department_only(county, exports_runtime: Runtime, standin) -> None:
    _, made = county
    Chat(exports_runtime).say("yjj_sun", "导出检查 本月")
    run_jobs(exports_runtime)
    text, _ = pushed(standin, "yjj_sun")
    assert text.startswith("【县应急管理局】2026年11月1日至11月24日 涉企检查：共1次")
    (export,) = exports(exports_runtime)
    assert list(by_first(export, "涉企检查")) == [made["I2"]]


def test_refusals_and_an_empty_period(county, exports_runtime: Runtime, standin) -> None:
    chat = Chat(exports_runtime)
    assert chat.text("zhang_wei", "导出 诉求").startswith("抱歉，此操作仅限干部、县领导、管理员使用")
    for line in ("导出 合同", "导出 诉求 下下月", "导出 检查 上周"):
        chat.say("admin_sun", line)
    run_jobs(exports_runtime)
    assert pushed(standin, "admin_sun") == [
        "「合同」不是可导出的内容，请写诉求、项目或检查。用法：导出 <诉求|项目|检查> [期间]；"
        "重点项目台账请发送「台账」。",
        "没有看懂期间「下下月」。期间可写：本月（默认）、上月、本周、上周、本季、今年，"
        "或起止日期如「2026-11-01 2026-11-30」。",
        "2026年11月16日至11月22日没有检查报备，无文件可导出。",
    ]
    assert exports(exports_runtime) == []


def test_events_are_read_in_batches_of_order_ids(county, tmp_path: Path, monkeypatch) -> None:
    """A year of orders must not exceed PostgreSQL's 65,535 bound parameters in one IN list."""
    import handlers.digests.exports_orders as exports_orders

    session, _ = county
    whole = write_orders(session, tmp_path / "whole.xlsx", NOVEMBER, now=NOW).text()
    monkeypatch.setattr(exports_orders, "EVENT_BATCH", 1)  # one order per query: the same register
    assert write_orders(session, tmp_path / "batched.xlsx", NOVEMBER, now=NOW).text() == whole
    assert by_first(tmp_path / "batched.xlsx", "办理记录") == by_first(tmp_path / "whole.xlsx", "办理记录")

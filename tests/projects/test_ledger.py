"""The 台账: the XLSX read back, `ztc export ledger`, and the 台账 chat command returning a file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from bot.cli import main
from bot.errors import Invalid
from bot.models import Department, Person, Role
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.projects.cycle import month_of_week
from handlers.projects.ledger import weeks_in, write_ledger
from handlers.projects.ledger_chat import parse_year
from handlers.projects.ledger_chat import router as ledger_router
from handlers.projects.models import (
    CardKind,
    CardStatus,
    MonthlyReport,
    Project,
    SupervisionCard,
    WeeklyReport,
)
from jobs import runtime as job_runtime
from tests import builders
from tests.builders import Chat
from tests.conftest import T0, run_jobs

TODAY = date(2026, 11, 24)  # T0's day in Beijing
NOVEMBER = "2026年11月"
NOV_WEEKS = ("第45周\n11.2-11.8", "第46周\n11.9-11.15", "第47周\n11.16-11.22", "第48周\n11.23-11.29")


def add_project(
    session: Session, code: str, department: Department, *, leader: Person | None = None, **kw: Any
) -> Project:
    """A project registered on 5 January unless told otherwise."""
    values: dict[str, Any] = {
        "name": f"{code}项目", "stage": "building", "plan_year": 2026,
        "total_investment_yuan": 200_000_000, "annual_plan_yuan": 100_000_000,
        "created_at": datetime(2026, 1, 5, tzinfo=UTC),
    }  # fmt: skip
    project = Project(code=code, department=department, leader=leader, **{**values, **kw})
    session.add(project)
    session.flush()
    return project


def weekly(session: Session, project: Project, week: date, colour: str, wan: int, **kw: Any) -> None:
    session.add(
        WeeklyReport(
            project=project, week=week, colour=colour, invested_yuan=wan * 10_000, progress="施工中",
            channel="wecom", reported_at=T0, **kw,
        )
    )  # fmt: skip


def card(session: Session, project: Project, number: str, status: CardStatus) -> None:
    session.add(
        SupervisionCard(
            number=number, kind=CardKind.SUPERVISE.value, status=status.value, project=project,
            trigger=f"t-{number}", problem="连续两周黄色", action="说明原因并整改", due_on=TODAY,
            drafted_at=T0,
        )
    )  # fmt: skip


@pytest.fixture
def county(session: Session) -> Session:
    """XM-A with reports of every kind, XM-B registered last week, an inactive one, last year's plan."""
    kfq = builders.department(session, "开发区管委会", "KFQ")
    fgj = builders.department(session, "县发改局", "FGJ")
    leader = builders.person(session, "leader_li", Role.LEADER, "李明华")
    builders.person(session, "kfq_xu", Role.OFFICIAL, "许亮", department=kfq)
    builders.person(session, "fgj_liu", Role.OFFICIAL, "刘洋", department=fgj)
    builders.person(session, "admin", Role.ADMIN, "孙丽")
    builders.person(session, "zhang_wei", Role.ENTERPRISE, "张伟")
    a = add_project(session, "XM-A", kfq, leader=leader, name="智能农机装备生产线")
    weekly(session, a, date(2026, 11, 2), "green", 500)
    weekly(session, a, date(2026, 11, 9), "white", 900, replaced_at=T0)  # corrected later: history
    weekly(session, a, date(2026, 11, 9), "yellow", 300)
    weekly(session, a, date(2026, 11, 23), "red", 0)
    weekly(session, a, date(2026, 10, 5), "white", 100)  # October has a 月汇报: its figure counts
    session.add(
        MonthlyReport(
            project=a, month=date(2026, 10, 1), preliminary="规划许可已办结", funds_in_place_yuan=30_000_000,
            invested_yuan=20_000_000, progress="主体封顶", problems="用电增容未批", measures="协调供电公司",
            channel="wecom", reported_at=T0,
        )
    )  # fmt: skip
    for number, status in (
        ("D1", CardStatus.ISSUED),
        ("D2", CardStatus.ANSWERED),
        ("D3", CardStatus.CLEARED),
    ):
        card(session, a, number, status)
    add_project(session, "XM-B", fgj, stage="planning", created_at=datetime(2026, 11, 20, tzinfo=UTC))
    add_project(session, "XM-C", kfq, active=False)
    add_project(session, "XM-D", kfq, plan_year=2025)
    session.commit()
    return session


def rows(sheet: Any) -> list[list[Any]]:
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def by_code(sheet: Any) -> dict[str, dict[str, Any]]:
    header, *data = rows(sheet)
    return {r[0]: dict(zip(header, r, strict=True)) for r in data}


def fill(cell: Any) -> str:
    return str(cell.fill.fgColor.rgb)[-6:]


# --- weeks and months --------------------------------------------------------------------------


def test_a_week_belongs_to_the_month_of_its_thursday() -> None:
    assert month_of_week(date(2026, 10, 26)) == date(2026, 10, 1)  # Thu 29 Oct
    assert month_of_week(date(2026, 11, 30)) == date(2026, 12, 1)  # Thu 3 Dec
    assert month_of_week(date(2025, 12, 29)) == date(2026, 1, 1)  # Thu 1 Jan
    assert weeks_in(date(2026, 11, 1), TODAY) == [date(2026, 11, d) for d in (2, 9, 16, 23)]
    assert weeks_in(date(2026, 11, 1), date(2026, 11, 10)) == [date(2026, 11, 2), date(2026, 11, 9)]
    assert weeks_in(date(2026, 1, 1), TODAY)[0] == date(2025, 12, 29)


# --- the workbook ------------------------------------------------------------------------------


def test_the_ledger_has_a_summary_then_a_sheet_per_month(county: Session, tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    summary = write_ledger(county, path, 2026, today=TODAY)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["汇总", *(f"2026年{m}月" for m in range(1, 12))]
    assert (summary.projects, summary.colours, summary.open_cards) == (3, {"红": 1, "未报": 2}, 2)
    assert summary.text() == (
        "2026年重点项目3个；最新进度：绿0 白0 黄0 红1 未报2；年度计划投资2亿元，累计完成2800万元（14.0%）；"
        "未销号督办卡2张。"
    )


def test_a_month_row_carries_the_register_the_figures_and_the_monthly_report(
    county: Session, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.xlsx"
    write_ledger(county, path, 2026, today=TODAY)
    book = openpyxl.load_workbook(path)
    november, october = by_code(book[NOVEMBER]), by_code(book["2026年10月"])
    assert list(november) == ["XM-A", "XM-B", "XM-D"]  # active projects only, by code
    a = november["XM-A"]
    assert (a["名称"], a["责任单位"], a["包抓县领导"], a["阶段"]) == (
        "智能农机装备生产线",
        "开发区管委会",
        "李明华",
        "在建",
    )
    assert (a["总投资(万元)"], a["年度计划(万元)"]) == (20000, 10000)
    assert (a["本月完成投资(万元)"], a["年度累计完成(万元)"], a["完成率"]) == (800, 2800, 0.28)
    assert [a[w] for w in NOV_WEEKS] == ["绿", "黄", "未报", "红"]  # the replaced 白 is history
    assert (a["前期工作"], a["存在问题"], a["督办卡(未销号)"]) == (None, None, 2)  # no 月汇报 in November
    o = october["XM-A"]
    assert (o["本月完成投资(万元)"], o["年度累计完成(万元)"], o["资金到位(万元)"]) == (2000, 2000, 3000)
    assert (o["前期工作"], o["形象进度"], o["存在问题"], o["措施"]) == (
        "规划许可已办结", "主体封顶", "用电增容未批", "协调供电公司",
    )  # fmt: skip
    b, d = november["XM-B"], november["XM-D"]
    assert [b[w] for w in NOV_WEEKS] == [None, None, "未报", "未报"]  # before it was registered: blank
    assert (b["包抓县领导"], b["本月完成投资(万元)"], b["完成率"]) == (
        None,
        None,
        0,
    )  # an empty cell reads back as None
    assert (d["年度计划(万元)"], d["完成率"]) == (None, None)  # its plan is for 2025


def test_week_cells_are_filled_in_their_colour_and_the_header_is_frozen(
    county: Session, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.xlsx"
    write_ledger(county, path, 2026, today=TODAY)
    sheet = openpyxl.load_workbook(path)[NOVEMBER]
    header = [c.value for c in sheet[1]]
    first_week = header.index(NOV_WEEKS[0]) + 1
    assert [fill(sheet.cell(row=2, column=first_week + i)) for i in range(4)] == [
        "C6EFCE", "FFEB9C", "D9D9D9", "FFC7CE",
    ]  # fmt: skip
    assert sheet.cell(row=1, column=1).font.bold and sheet.freeze_panes == "C2"
    assert sheet.cell(row=2, column=header.index("总投资(万元)") + 1).number_format == "#,##0.00"
    assert sheet.cell(row=2, column=header.index("完成率") + 1).number_format == "0.0%"
    assert sheet.column_dimensions["B"].width == 30


def test_the_summary_sheet_counts_latest_colours_by_department(county: Session, tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    write_ledger(county, path, 2026, today=TODAY)
    sheet = openpyxl.load_workbook(path)["汇总"]
    header, *data = rows(sheet)
    assert header[:7] == ["责任单位", "项目数", "绿", "白", "黄", "红", "未报"]
    table = {
        r[0]: dict(zip(header, r, strict=True)) for r in data if r[0] in ("开发区管委会", "县发改局", "合计")
    }
    assert list(table) == ["县发改局", "开发区管委会", "合计"]  # by department code
    total = table["合计"]
    assert (total["项目数"], total["红"], total["未报"], total["绿"]) == (3, 1, 2, 0)
    assert (total["年度计划(万元)"], total["年度累计完成(万元)"], total["完成率"]) == (20000, 2800, 0.14)
    assert table["开发区管委会"]["项目数"] == 2 and table["开发区管委会"]["督办卡(未销号)"] == 2
    assert fill(sheet.cell(row=1, column=header.index("红") + 1)) == "FFC7CE"


def test_weeks_before_registration_are_blank_and_finished_projects_owe_no_report(
    county: Session, tmp_path: Path
) -> None:
    kfq = county.query(Department).filter_by(code="KFQ").one()
    saturday = datetime(2026, 11, 21, 2, tzinfo=UTC)  # after week 47's prompt (Friday 20th 09:10)
    add_project(county, "XM-E", kfq, created_at=saturday)
    add_project(county, "XM-F", kfq, stage="completed")  # 竣工
    county.commit()
    path = tmp_path / "ledger.xlsx"
    summary = write_ledger(county, path, 2026, today=TODAY)
    book = openpyxl.load_workbook(path)
    november = by_code(book[NOVEMBER])
    assert [november["XM-E"][w] for w in NOV_WEEKS] == [None, None, None, "未报"]
    assert [november["XM-F"][w] for w in NOV_WEEKS] == ["无需周报"] * 4
    assert summary.colours == {"红": 1, "未报": 3, "无需周报": 1}
    assert "未报3 无需周报1；" in summary.text()
    header, *data = rows(book["汇总"])
    total = dict(zip(header, data[[r[0] for r in data].index("合计")], strict=True))
    assert (total["项目数"], total["未报"], total["无需周报"]) == (5, 3, 1)


def test_one_department_a_past_year_and_a_year_to_come(county: Session, tmp_path: Path) -> None:
    kfq = county.query(Department).filter_by(code="KFQ").one()
    summary = write_ledger(county, tmp_path / "kfq.xlsx", 2026, today=TODAY, department=kfq)
    assert summary.projects == 2
    assert list(by_code(openpyxl.load_workbook(tmp_path / "kfq.xlsx")[NOVEMBER])) == ["XM-A", "XM-D"]
    write_ledger(county, tmp_path / "2025.xlsx", 2025, today=TODAY)
    assert len(openpyxl.load_workbook(tmp_path / "2025.xlsx").sheetnames) == 13
    with pytest.raises(Invalid, match="2027年还没有开始"):
        write_ledger(county, tmp_path / "2027.xlsx", 2027, today=TODAY)


# --- the command -------------------------------------------------------------------------------


def test_ztc_export_ledger(county: Session, settings: Settings, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "ZTC_VAR_DIR": str(tmp_path),
    }
    out = tmp_path / "台账.xlsx"
    result = CliRunner().invoke(main, ["export", "ledger", "--year", "2026", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"已导出重点项目台账：{out}\n2026年重点项目3个")
    book = openpyxl.load_workbook(out)  # the real clock: 2026 up to this month, or the whole year
    assert book.sheetnames[:2] == ["汇总", "2026年1月"] and NOVEMBER in book.sheetnames
    result = CliRunner().invoke(main, ["export", "ledger", "--year", "2999", str(out)], env=env)
    assert result.exit_code == 1 and "2999年还没有开始" in result.stderr
    result = CliRunner().invoke(main, ["export", "ledger", str(tmp_path / "no" / "such.xlsx")], env=env)
    assert result.exit_code == 1 and "无法写入" in result.stderr


# --- chat --------------------------------------------------------------------------------------


@pytest.fixture
def ledger_runtime(settings, engine, redis_conn, clock, session_factory, standin) -> Iterator[Runtime]:
    """A runtime mounting the 台账 router (the app's list is wired elsewhere), installed for jobs."""
    rt = Runtime.build(settings, clock=clock, connection=redis_conn, engine=engine, routers=[ledger_router])
    job_runtime.install(rt)
    yield rt
    job_runtime.install(None)


def test_a_leader_gets_the_summary_and_the_file(county: Session, ledger_runtime: Runtime, standin) -> None:
    chat = Chat(ledger_runtime)
    assert chat.text("leader_li", "台账") == "收到，正在处理，请稍候…"  # a worker writes the workbook
    run_jobs(ledger_runtime)
    text, file = standin.messages("leader_li")
    assert text["msgtype"] == "text" and text["body"]["text"]["content"].startswith("2026年重点项目3个；")
    assert file["msgtype"] == "file"
    media = standin.state.media[file["body"]["file"]["media_id"]]
    assert media["type"] == "file" and media["filename"].startswith("重点项目台账2026年-20261124-")
    exports = list((ledger_runtime.settings.var_dir / "exports").glob("*.xlsx"))
    assert len(exports) == 1 and media["length"] == exports[0].stat().st_size


def test_an_official_gets_his_departments_projects_only(
    county: Session, ledger_runtime: Runtime, standin
) -> None:
    Chat(ledger_runtime).say("kfq_xu", "项目台账 2026年")
    run_jobs(ledger_runtime)
    text, _ = pushed(standin, "kfq_xu")
    assert text.startswith("开发区管委会负责的2026年重点项目2个；")
    (export,) = (ledger_runtime.settings.var_dir / "exports").glob("*.xlsx")
    assert list(by_code(openpyxl.load_workbook(export)[NOVEMBER])) == ["XM-A", "XM-D"]


def test_enterprises_are_refused_and_bad_years_named(
    county: Session, ledger_runtime: Runtime, standin
) -> None:
    chat = Chat(ledger_runtime)
    assert chat.text("zhang_wei", "台账").startswith("抱歉，此操作仅限干部、县领导、管理员使用")
    chat.say("admin", "台账 下个月")
    chat.say("admin", "台账 明年")
    run_jobs(ledger_runtime)
    assert pushed(standin, "admin") == [
        "「下个月」不是年度。用法：台账 [年度]，如「台账 2026」；不写年度导出今年的。",
        "2027年还没有开始，没有台账可导出（今天是2026-11-24）。",
    ]
    assert not (ledger_runtime.settings.var_dir / "exports").exists() or not any(
        (ledger_runtime.settings.var_dir / "exports").iterdir()
    )


def test_no_projects_no_file(session: Session, ledger_runtime: Runtime, standin) -> None:
    builders.person(session, "leader_li", Role.LEADER, "李明华")
    session.commit()
    Chat(ledger_runtime).say("leader_li", "台账")
    run_jobs(ledger_runtime)
    assert pushed(standin, "leader_li") == [
        "目前没有在册重点项目，无台账可导出。项目由管理员用「ztc import projects」导入。"
    ]


def test_years_as_typed() -> None:
    assert [parse_year(t, TODAY) for t in ("", "2025", "２０２５年", "2025年度", "今年", "去年")] == [
        2026, 2025, 2025, 2025, 2026, 2025,
    ]  # fmt: skip


def pushed(standin, user: str) -> list[str]:
    """What the user was sent: texts by content, files as "<file>"."""
    return [
        m["body"]["text"]["content"] if m["msgtype"] == "text" else "<file>" for m in standin.messages(user)
    ]

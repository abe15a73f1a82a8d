"""`ztc import projects`: the register from CSV or XLSX, every row error by line, re-imports, audit."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.clock import FixedClock
from bot.importing import ImportFailed, import_file, read_table
from bot.models import AuditEvent, Enterprise, Person, Role
from bot.settings import Settings
from handlers.projects.importing import import_projects, import_projects_file
from handlers.projects.models import Project, Stage
from tests import builders
from tests.conftest import T0
from tests.test_importing import DEMO, HUATAI, write_csv, write_xlsx

HEADER = [
    "项目编号", "项目名称", "责任单位", "包抓县领导", "业主单位", "专班成员", "责任人", "阶段",
    "总投资", "年度计划投资", "开工日期", "计划竣工", "工期节点",
]  # fmt: skip
PLANT = [
    "xm2026-001", "智能农机装备生产线", "KFQ", "李明华", HUATAI, "kfq_xu、邓俊", "fgj_liu", "在建",
    "2.8亿", "9000", "2026/3/1", "2027年6月30日", "2026-06 主体开工 累计3000万；2026-03 土地摘牌",
]  # fmt: skip
ROADS = ["XM2026-002", "园区道路提升工程", "县发改局", "", "", "", "", "谋划", "", "", "", "", ""]


@pytest.fixture
def county(session: Session) -> Session:
    """Two departments, two leaders, officials (two of them named 王芳), an admin, an enterprise."""
    fgj = builders.department(session, "县发改局", "FGJ")
    kfq = builders.department(session, "开发区管委会", "KFQ")
    builders.person(session, "leader_li", Role.LEADER, "李明华")
    builders.person(session, "leader_zhao", Role.LEADER, "赵志刚")
    builders.person(session, "fgj_liu", Role.OFFICIAL, "刘洋", department=fgj)
    builders.person(session, "kfq_xu", Role.OFFICIAL, "许亮", department=kfq)
    builders.person(session, "kfq_deng", Role.OFFICIAL, "邓俊", department=kfq)
    builders.person(session, "wang_a", Role.OFFICIAL, "王芳", department=fgj)
    builders.person(session, "wang_b", Role.OFFICIAL, "王芳", department=kfq)
    builders.person(session, "admin", Role.ADMIN, "孙丽")
    builders.person(session, "zhang_wei", Role.ENTERPRISE, "张伟")
    session.add(Enterprise(uscc=HUATAI, name="示范县华泰机械制造有限公司", created_at=T0))
    session.flush()
    return session


def projects(session: Session) -> dict[str, Project]:
    return {p.code: p for p in session.scalars(select(Project))}


def team(project: Project) -> list[tuple[str, bool]]:
    return sorted((m.person.wecom_userid, m.is_lead) for m in project.members)


def schedule(project: Project) -> list[tuple[str, str, int | None]]:
    return [(f"{m.month:%Y-%m}", m.task, m.planned_cumulative_yuan) for m in project.milestones]


def audits(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.entity == "project").order_by(AuditEvent.id))
    )


def count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- the happy paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_a_register_in_csv(county: Session, clock: FixedClock, tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "p.csv", [HEADER, PLANT, ROADS], encoding)
    report = import_projects_file(county, path, clock=clock)
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    plant, roads = projects(county)["XM2026-001"], projects(county)["XM2026-002"]
    assert (plant.name, plant.department.code, plant.leader and plant.leader.wecom_userid) == (
        "智能农机装备生产线",
        "KFQ",
        "leader_li",
    )
    assert plant.enterprise is not None and plant.enterprise.uscc == HUATAI
    assert (plant.stage_enum, plant.total_investment_yuan, plant.annual_plan_yuan) == (
        Stage.BUILDING,
        280_000_000,
        90_000_000,  # 万 by default
    )
    assert (plant.plan_year, plant.starts_on, plant.due_on) == (2026, date(2026, 3, 1), date(2027, 6, 30))
    # the 责任人 not listed among the members joins the task force
    assert team(plant) == [("fgj_liu", True), ("kfq_deng", False), ("kfq_xu", False)]
    assert schedule(plant) == [("2026-03", "土地摘牌", None), ("2026-06", "主体开工", 30_000_000)]
    assert (roads.leader, roads.enterprise, roads.members, roads.milestones) == (None, None, [], [])
    assert (roads.stage_enum, roads.total_investment_yuan, roads.plan_year) == (Stage.PLANNING, 0, 2026)


def test_the_audit_keeps_each_created_project_by_name(
    county: Session, clock: FixedClock, tmp_path: Path
) -> None:
    import_projects_file(county, write_csv(tmp_path / "p.csv", [HEADER, PLANT]), clock=clock)
    (event,) = audits(county)
    assert (event.action, event.channel, event.at) == (
        "import.create",
        "cli",
        clock.now(),
    )
    assert event.data["leader"] == "leader_li" and event.data["department"] == "KFQ"
    assert event.data["members"] == {"members": ["fgj_liu", "kfq_deng", "kfq_xu"], "leads": ["fgj_liu"]}
    assert event.data["milestones"] == ["2026-03 土地摘牌", "2026-06 主体开工 累计3000万"]
    assert event.data["starts_on"] == "2026-03-01" and event.data["enterprise"] == HUATAI


def test_xlsx_with_english_headers_date_cells_and_numbers(
    county: Session, clock: FixedClock, tmp_path: Path
) -> None:
    rows: list[list[object]] = [
        ["code", "name", "department", "leader", "enterprise", "members", "leads", "stage", "total",
         "annual_plan", "plan_year", "starts_on", "due_on", "milestones"],
        ["XM-9", "示范项目", "KFQ", "leader_zhao", "示范县华泰机械制造有限公司", "wang_b,kfq_xu", "kfq_xu",
         "started", 50000, 1200.5, 2027, datetime(2026, 5, 20), datetime(2027, 12, 31),
         "2026年8月 主体施工 累计 1.2亿\n2027年12月 竣工验收"],
    ]  # fmt: skip
    report = import_projects(county, read_table(write_xlsx(tmp_path / "p.xlsx", rows)), clock=clock)
    assert report.created == 1
    project = projects(county)["XM-9"]
    assert (project.total_investment_yuan, project.annual_plan_yuan, project.plan_year) == (
        500_000_000,
        12_005_000,
        2027,
    )
    assert (project.stage_enum, project.starts_on, project.due_on) == (
        Stage.STARTED,
        date(2026, 5, 20),
        date(2027, 12, 31),
    )
    assert team(project) == [("kfq_xu", True), ("wang_b", False)]
    assert schedule(project) == [("2026-08", "主体施工", 120_000_000), ("2027-12", "竣工验收", None)]


def test_a_date_cell_saved_as_its_serial_number(county: Session, clock: FixedClock, tmp_path: Path) -> None:
    rows = [["项目编号", "项目名称", "责任单位", "开工日期"], ["XM-1", "甲", "FGJ", "46082"]]
    import_projects_file(county, write_csv(tmp_path / "p.csv", rows), clock=clock)
    assert projects(county)["XM-1"].starts_on == date(2026, 3, 1)


# --- refusals ----------------------------------------------------------------------------------


def test_every_row_error_is_named_by_line_and_nothing_is_written(
    county: Session, clock: FixedClock, tmp_path: Path
) -> None:
    header = [*HEADER, "计划年度"]

    def row(code: str, **cells: str) -> list[str]:
        values = {
            **dict.fromkeys(header, ""),
            "项目名称": "某项目",
            "责任单位": "KFQ",
            "项目编号": code,
            **cells,
        }
        return [values[h] for h in header]

    rows = [
        header,
        row("A1", 责任单位="县水利局"),
        row("A2", 包抓县领导="孙丽"),
        row("A3", 包抓县领导="钱七"),
        row("A4", 专班成员="kfq_xu、周八"),
        row("A5", 责任人="张伟"),
        row("A6", 专班成员="王芳"),
        row("A7", 总投资="1200完"),
        row("A8", 年度计划投资="abc"),
        row("A9", 开工日期="2026-02-30"),
        row("A10", 阶段="蓝图"),
        row("A11", 计划竣工="2026-06-30", 工期节点="2026-05 主体封顶；2026-08 竣工验收"),
        row("A12", 工期节点="主体封顶"),
        row("A13", 总投资="1000万", 年度计划投资="2000万"),
        row("A14", 开工日期="2026-09-01", 计划竣工="2026-03-01"),
        row("A15", 业主单位="不存在公司"),
        row("A16", 项目名称=""),
        row("A1"),
        row("A18", 工期节点="2026-03 甲 累计3000万；2026-06 乙 累计2000万"),
        row("A19", 总投资="2000万", 工期节点="2026-03 甲 累计3000万"),
        row("A20", 计划年度="26"),
        row("A21", 工期节点="2026-03-15 土地摘牌"),
    ]
    with pytest.raises(ImportFailed) as failed:
        import_projects_file(county, write_csv(tmp_path / "p.csv", rows), clock=clock)
    assert [str(e) for e in failed.value.errors] == [
        "第2行 责任单位：找不到部门「县水利局」：请填部门编码或部门名称，新部门请先导入部门表",
        "第3行 包抓县领导：「孙丽」（孙丽）不是县领导（身份：管理员）",
        "第4行 包抓县领导：找不到县领导「钱七」：请填账号或姓名，新人员请先导入人员表",
        "第5行 专班成员：找不到干部「周八」：请填账号或姓名，新人员请先导入人员表",
        "第6行 责任人：「张伟」（张伟）不是干部（身份：企业）",
        "第7行 专班成员：有2人名叫「王芳」，请改填账号：wang_a、wang_b",
        "第8行 总投资：「1200完」的单位「完」无法识别，是不是想写「1200万」？可用单位：万、亿、元。",
        "第9行 年度计划投资：「abc」不是金额，请写数字加单位，如 1200万、1.2亿、500000元（不写单位按万元）。",
        "第10行 开工日期：「2026-02-30」不是有效日期，请写成 2026-03-01、2026/3/1 或 2026年3月1日",
        "第11行 阶段：「蓝图」不是项目阶段，可填：谋划、签约、开工、在建、竣工、投产",
        "第12行 工期节点：节点「2026-08 竣工验收」在计划竣工日期（2026-06-30）之后",
        "第13行 工期节点：节点「主体封顶」应以年月开头，如「2026-03 土地摘牌 累计3000万」",
        "第14行 年度计划投资：「2000万」超过总投资「1000万」",
        "第15行 计划竣工：「2026-03-01」早于开工日期「2026-09-01」",
        "第16行 业主单位：找不到企业「不存在公司」：请填统一社会信用代码或企业全称，新企业请先导入企业表",
        "第17行 项目名称：必填，不能为空",
        "第18行 项目编号：「A1」与第2行重复",
        "第19行 工期节点：节点「2026-06 乙 累计2000万」的累计计划投资少于前一节点「2026-03 甲 累计3000万」",
        "第20行 工期节点：节点「2026-03 甲 累计3000万」的累计计划投资超过总投资「2000万」",
        "第21行 计划年度：「26」不是年度，请填四位年份，如 2026",
        "第22行 工期节点：节点「2026-03-15 土地摘牌」请只写年月，不写日，如「2026-03 土地摘牌 累计3000万」",
    ]
    assert count(county, Project) == 0
    assert audits(county) == []


def test_a_missing_required_column_is_named(county: Session, clock: FixedClock, tmp_path: Path) -> None:
    rows = [["项目编号", "项目名称"], ["XM-1", "甲"]]
    with pytest.raises(ImportFailed, match="第1行 表头：缺少必填的列：责任单位"):
        import_projects_file(county, write_csv(tmp_path / "p.csv", rows), clock=clock)


def test_an_earlier_completion_date_must_still_fit_the_stored_schedule(
    county: Session, clock: FixedClock, tmp_path: Path
) -> None:
    import_projects_file(county, write_csv(tmp_path / "p.csv", [HEADER, PLANT]), clock=clock)
    rows = [
        ["项目编号", "项目名称", "责任单位", "计划竣工"],
        ["XM2026-001", "智能农机装备生产线", "KFQ", "2026-04-30"],
    ]
    with pytest.raises(ImportFailed) as failed:
        import_projects_file(county, write_csv(tmp_path / "q.csv", rows), clock=clock)
    assert [str(e) for e in failed.value.errors] == [
        "第2行 计划竣工：节点「2026-06 主体开工 累计3000万」在计划竣工日期（2026-04-30）之后"
    ]


# --- re-imports --------------------------------------------------------------------------------


def test_a_reimport_updates_and_replaces_the_task_force_and_schedule(
    county: Session, clock: FixedClock, tmp_path: Path
) -> None:
    import_projects_file(county, write_csv(tmp_path / "p.csv", [HEADER, PLANT, ROADS]), clock=clock)
    changed = [*PLANT]
    changed[HEADER.index("专班成员")] = "kfq_xu、wang_a"
    changed[HEADER.index("责任人")] = "kfq_xu"
    changed[HEADER.index("阶段")] = "竣工"
    changed[HEADER.index("工期节点")] = "2026-09 设备安装 累计1.5亿"
    report = import_projects_file(
        county, write_csv(tmp_path / "q.csv", [HEADER, changed, ROADS]), clock=clock
    )
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    county.expire_all()
    plant = projects(county)["XM2026-001"]
    assert plant.stage_enum is Stage.COMPLETED
    assert team(plant) == [("kfq_xu", True), ("wang_a", False)]
    assert schedule(plant) == [("2026-09", "设备安装", 150_000_000)]
    update = audits(county)[-1]
    assert update.action == "import.update"
    assert update.data == {
        "stage": {"from": "building", "to": "completed"},
        "members": {
            "from": {"members": ["fgj_liu", "kfq_deng", "kfq_xu"], "leads": ["fgj_liu"]},
            "to": {"members": ["kfq_xu", "wang_a"], "leads": ["kfq_xu"]},
        },
        "milestones": {
            "from": ["2026-03 土地摘牌", "2026-06 主体开工 累计3000万"],
            "to": ["2026-09 设备安装 累计1.5亿"],
        },
    }


def test_absent_columns_keep_what_is_stored(county: Session, clock: FixedClock, tmp_path: Path) -> None:
    import_projects_file(county, write_csv(tmp_path / "p.csv", [HEADER, PLANT]), clock=clock)
    rows = [
        ["项目编号", "项目名称", "责任单位", "专班成员"],
        ["XM2026-001", "智能农机装备生产线", "KFQ", "fgj_liu、kfq_xu"],
    ]
    report = import_projects_file(county, write_csv(tmp_path / "q.csv", rows), clock=clock)
    assert report.updated == 1
    county.expire_all()
    plant = projects(county)["XM2026-001"]
    # 邓俊 leaves; 刘洋 stays 责任人 (no 责任人 column); leader, amounts and schedule are untouched
    assert team(plant) == [("fgj_liu", True), ("kfq_xu", False)]
    assert plant.leader is not None and plant.leader.wecom_userid == "leader_li"
    assert plant.total_investment_yuan == 280_000_000 and len(plant.milestones) == 2
    only_leads = [
        ["项目编号", "项目名称", "责任单位", "责任人"],
        ["XM2026-001", "智能农机装备生产线", "KFQ", "邓俊"],
    ]
    import_projects_file(county, write_csv(tmp_path / "r.csv", only_leads), clock=clock)
    county.expire_all()
    assert team(projects(county)["XM2026-001"]) == [("fgj_liu", False), ("kfq_deng", True), ("kfq_xu", False)]


def test_the_same_file_again_changes_nothing(county: Session, clock: FixedClock, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [HEADER, PLANT, ROADS])
    import_projects_file(county, path, clock=clock)
    report = import_projects_file(county, path, clock=clock)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    assert len(audits(county)) == 2


# --- the demo county and the command -----------------------------------------------------------


def test_the_demo_projects_import_cleanly(session: Session, clock: FixedClock) -> None:
    for kind in ("departments", "people", "enterprises"):
        import_file(session, kind, DEMO / f"{kind}.csv", clock=clock)
    import_file(session, "enterprises", DEMO / "enterprises_more.csv", clock=clock)
    report = import_projects_file(session, DEMO / "projects.csv", clock=clock)
    assert report.created >= 12 and report.updated == 0
    stored = list(session.scalars(select(Project)))
    assert len({p.stage for p in stored}) == len(Stage)  # every stage has a project
    assert all(p.leader is not None and p.leads and p.plan_year == 2026 for p in stored)
    assert all(0 < p.annual_plan_yuan <= p.total_investment_yuan for p in stored)
    leaders = {p.leader.wecom_userid for p in stored if p.leader is not None}
    assert leaders == {"leader_wang", "leader_li", "leader_zhao"}


def test_ztc_import_projects(session: Session, settings: Settings, tmp_path: Path) -> None:
    kfq = builders.department(session, "开发区管委会", "KFQ")
    builders.person(session, "kfq_xu", Role.OFFICIAL, "许亮", department=kfq)
    session.commit()  # the command opens its own connection
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "ZTC_VAR_DIR": str(tmp_path),
    }
    good = write_csv(
        tmp_path / "p.csv", [["项目编号", "项目名称", "责任单位", "专班成员"], ["XM-1", "甲", "KFQ", "许亮"]]
    )
    result = CliRunner().invoke(main, ["import", "projects", str(good)], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "导入重点项目：新增1条，更新0条，未变0条\n"
    bad = write_csv(tmp_path / "q.csv", [["项目编号", "项目名称", "责任单位"], ["XM-2", "乙", "水利局"]])
    result = CliRunner().invoke(main, ["import", "projects", str(bad)], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "导入失败：共1处错误，未写入任何数据。\n第2行 责任单位：找不到部门「水利局」"
    )
    session.expire_all()
    assert [p.code for p in session.scalars(select(Project))] == ["XM-1"]
    assert session.scalar(select(Person).where(Person.wecom_userid == "kfq_xu")) is not None


def test_the_years_investment_before_reporting_began(
    county: Session, clock: FixedClock, tmp_path: Path
) -> None:
    rows = [
        ["项目编号", "项目名称", "责任单位", "年度计划投资", "本年已完成投资"],
        ["XM9", "园区污水厂", "FGJ", "1亿", "6500万"],
    ]
    import_projects_file(county, write_csv(tmp_path / "p.csv", rows), clock=clock)
    assert projects(county)["XM9"].invested_before_yuan == 65_000_000
    bad = [["项目编号", "项目名称", "责任单位", "本年已完成投资"], ["XM9", "园区污水厂", "FGJ", "6500完"]]
    with pytest.raises(ImportFailed, match="本年已完成投资：「6500完」的单位「完」无法识别"):
        import_projects_file(county, write_csv(tmp_path / "q.csv", bad), clock=clock)


def test_a_new_plan_year_without_the_years_investment_starts_from_nothing(
    county: Session, clock: FixedClock, tmp_path: Path
) -> None:
    rows = [
        ["项目编号", "项目名称", "责任单位", "计划年度", "年度计划投资", "本年已完成投资"],
        ["XM9", "园区污水厂", "FGJ", "2026", "1亿", "6500万"],
    ]
    import_projects_file(county, write_csv(tmp_path / "p.csv", rows), clock=clock)
    same_year = [["项目编号", "项目名称", "责任单位", "计划年度"], ["XM9", "园区污水厂", "FGJ", "2026"]]
    import_projects_file(county, write_csv(tmp_path / "q.csv", same_year), clock=clock)
    assert projects(county)["XM9"].invested_before_yuan == 65_000_000  # the same year: kept
    next_year = [
        ["项目编号", "项目名称", "责任单位", "计划年度", "年度计划投资"],
        ["XM9", "园区污水厂", "FGJ", "2027", "2亿"],
    ]
    import_projects_file(county, write_csv(tmp_path / "r.csv", next_year), clock=clock)
    project = projects(county)["XM9"]
    assert (project.plan_year, project.invested_before_yuan) == (2027, 0)  # 6500万 was 2026's

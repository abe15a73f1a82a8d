"""`ztc import routing`: which 职能部门 handles each category, validated like every other import."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.clock import FixedClock
from bot.importing import ImportFailed, ImportReport, RowError, import_file, read_table
from bot.models import Department
from bot.settings import Settings
from handlers.complaints.importing import import_routing, import_routing_file, unrouted
from handlers.complaints.models import CATEGORIES, RoutingRule
from tests.test_importing import DEPARTMENTS, audit_rows, count, write_csv, write_xlsx

HEADER = ["类别", "承办部门"]


@pytest.fixture
def departments(session: Session, clock: FixedClock, tmp_path: Path) -> dict[str, Department]:
    """FGJ (兼), ZRZYJ (职能部门), KFQ (包联部门), DCS (办公室)."""
    import_file(session, "departments", write_csv(tmp_path / "d.csv", DEPARTMENTS), clock=clock)
    return {d.code: d for d in session.scalars(select(Department))}


def rules(session: Session) -> dict[str, str]:
    return {r.category: r.department.code for r in session.scalars(select(RoutingRule))}


def routing(session: Session, path: Path, clock: FixedClock) -> ImportReport:
    return import_routing(session, read_table(path), clock=clock)


def refused(session: Session, path: Path, clock: FixedClock) -> list[str]:
    with pytest.raises(ImportFailed) as exc:
        routing(session, path, clock)
    return [str(e) for e in exc.value.errors]


def test_rules_by_department_code_or_name(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [HEADER, ["用地", "ZRZYJ"], ["政策兑现", "县发改局"], ["其他", "DCS"]]
    report = routing(session, write_csv(tmp_path / "r.csv", rows), clock)
    assert report == ImportReport("routing", created=3, updated=0, unchanged=0)
    assert report.summary() == "导入分派规则：新增3条，更新0条，未变0条"
    assert rules(session) == {"用地": "ZRZYJ", "政策兑现": "FGJ", "其他": "DCS"}
    events = [e for e in audit_rows(session) if e.entity == "routing_rule"]
    assert [(e.channel, e.action) for e in events] == [("cli", "import.create")] * 3
    assert events[0].data == {"category": "用地", "department": "ZRZYJ"}
    land = session.scalars(select(RoutingRule).where(RoutingRule.category == "用地")).one()
    assert events[0].entity_id == str(land.id)


def test_english_headers_in_xlsx(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows: list[list[object]] = [["Category", "Department"], ["审批", "FGJ"]]
    routing(session, write_xlsx(tmp_path / "r.xlsx", rows), clock)
    assert rules(session) == {"审批": "FGJ"}


def test_reimport_updates_by_category_and_keeps_rules_left_out(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    first = [HEADER, ["用地", "ZRZYJ"], ["审批", "FGJ"], ["其他", "DCS"]]
    routing(session, write_csv(tmp_path / "r.csv", first), clock)
    second = [["诉求类别", "承办单位"], ["用地", "FGJ"], ["审批", "FGJ"], ["环评", "ZRZYJ"]]
    report = routing(session, write_csv(tmp_path / "r2.csv", second), clock)
    assert report == ImportReport("routing", created=1, updated=1, unchanged=1)
    assert rules(session) == {"用地": "FGJ", "审批": "FGJ", "其他": "DCS", "环评": "ZRZYJ"}
    [update] = [e for e in audit_rows(session) if e.action == "import.update"]
    assert (update.entity, update.data) == ("routing_rule", {"department": {"from": "ZRZYJ", "to": "FGJ"}})


def test_every_bad_row_is_reported_and_nothing_written(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [
        HEADER,
        ["用地", "ZRZYJ"],
        ["路灯", "FGJ"],
        ["审批", "县教育局"],
        ["用地", "FGJ"],
        ["融资", "KFQ"],
        ["", ""],  # a blank row is skipped
        ["用工", ""],
    ]
    audit_before = len(audit_rows(session))
    assert refused(session, write_csv(tmp_path / "r.csv", rows), clock) == [
        f"第3行 类别：「路灯」不是诉求类别，可填：{'、'.join(CATEGORIES)}",
        "第4行 承办部门：找不到部门「县教育局」：请填部门编码或部门名称，新部门请先导入部门表",
        "第5行 类别：「用地」与第2行重复",
        "第6行 承办部门：「开发区管委会」是包联部门，不能承办类别诉求（部门类型须为职能部门、兼或办公室）",
        "第8行 承办部门：必填，不能为空",
    ]
    assert count(session, RoutingRule) == 0
    assert len(audit_rows(session)) == audit_before


def test_header_must_name_both_columns(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    path = write_csv(tmp_path / "r.csv", [["类别", "备注"], ["用地", "ZRZYJ"]])
    assert refused(session, path, clock) == [
        "第1行 表头：不认识的列「备注」（可用的列：类别、承办部门）",
        "第1行 表头：缺少必填的列：承办部门",
    ]


def test_categories_come_from_the_settings(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    settings = Settings.from_env({"ZTC_ORDER_CATEGORIES": "审批、科技"})
    path = write_csv(tmp_path / "r.csv", [HEADER, ["科技", "FGJ"], ["用地", "ZRZYJ"]])
    with pytest.raises(ImportFailed) as exc:
        import_routing_file(session, path, clock=clock, settings=settings)
    assert exc.value.errors == [RowError(3, "类别", "「用地」不是诉求类别，可填：审批、科技")]
    path = write_csv(tmp_path / "r.csv", [HEADER, ["科技", "FGJ"]])
    import_routing_file(session, path, clock=clock, settings=settings)
    assert rules(session) == {"科技": "FGJ"}
    assert unrouted(session, ("审批", "科技")) == ["审批"]


def test_cli_imports_routing_and_names_unrouted_categories(
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    departments: dict[str, Department],
    settings: Settings,
) -> None:
    session.commit()  # the command opens its own connection
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "ZTC_VAR_DIR": str(tmp_path),
    }
    good = write_csv(tmp_path / "r.csv", [HEADER, *([c, "FGJ"] for c in CATEGORIES if c != "融资")])
    result = CliRunner().invoke(main, ["import", "routing", str(good)], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "导入分派规则：新增8条，更新0条，未变0条\n"
    assert result.stderr == "提示：以下类别还没有承办部门，无包联部门的企业不能提交：融资\n"

    bad = write_csv(tmp_path / "r2.csv", [HEADER, ["融资", "KFQ"]])
    result = CliRunner().invoke(main, ["import", "routing", str(bad)], env=env)
    assert result.exit_code == 1
    assert "第2行 承办部门：「开发区管委会」是包联部门" in result.stderr
    session.expire_all()
    assert "融资" not in rules(session)

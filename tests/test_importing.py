"""`ztc import`: CSV in three encodings, XLSX, Chinese and English headers, all-or-nothing, upserts."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import FixedClock
from bot.demo import seed
from bot.errors import Invalid
from bot.importing import ImportFailed, ImportReport, RowError, import_file, read_rows, read_table
from bot.models import AuditEvent, Department, DepartmentKind, Enterprise, Oversight, Person, Role
from bot.runtime import Runtime
from bot.uscc import validate_uscc
from handlers.complaints.models import CATEGORIES, RoutingRule

DEMO = Path(__file__).resolve().parent.parent / "bot" / "demo"

DEPARTMENTS = [
    ["部门编码", "部门名称", "类型"],
    ["FGJ", "县发改局", "兼"],
    ["ZRZYJ", "县自然资源局", "职能部门"],
    ["KFQ", "开发区管委会", "包联部门"],
    ["DCS", "县委督查室", "办公室"],
]
# Valid codes (the check characters were computed, and cross-checked in test_uscc).
XINYUAN = "9137152648130862X4"
HENGTONG = "91371526516713861N"
HUATAI = "913715263881078585"


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    """A CSV file as Excel would save it, in the given encoding."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    """An XLSX file whose first sheet holds the rows (typed cells: ints, floats, booleans …)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def audit_rows(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def failure(session: Session, kind: str, path: Path, clock: FixedClock) -> list[RowError]:
    with pytest.raises(ImportFailed) as exc:
        import_file(session, kind, path, clock=clock)
    return exc.value.errors


@pytest.fixture
def departments(session: Session, clock: FixedClock, tmp_path: Path) -> dict[str, Department]:
    """Four departments, imported the ordinary way."""
    import_file(session, "departments", write_csv(tmp_path / "d.csv", DEPARTMENTS), clock=clock)
    return {d.code: d for d in session.scalars(select(Department))}


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings_read_the_same(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "d.csv", DEPARTMENTS, encoding)
    rows = read_rows(path)
    assert rows[0] == {"部门编码": "FGJ", "部门名称": "县发改局", "类型": "兼"}
    assert [r.line for r in rows] == [2, 3, 4, 5]


def test_csv_line_numbers_skip_blank_rows_and_keep_quoted_breaks(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('部门编码,部门名称\n\nA," 甲\n局 "\n,\nB,乙局\n', encoding="utf-8")
    rows = read_rows(path)
    assert [(r.line, r["部门编码"], r["部门名称"]) for r in rows] == [(3, "A", "甲\n局"), (5, "B", "乙局")]


def test_xlsx_numbers_come_back_as_text(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "p.xlsx",
        [
            [],
            ["userid", "mobile", "is_head", "title"],
            [1001, 13800000001, True, "科长"],
            [1002.0, 13800000002.0, False, 1.5],
            [None, None, None, None],
            ["  zhang_wei ", "138 0000 0003", None, None],
        ],
    )
    table = read_table(path)
    assert table.header_line == 2
    assert [(r.line, dict(r)) for r in table.rows] == [
        (3, {"userid": "1001", "mobile": "13800000001", "is_head": "TRUE", "title": "科长"}),
        (4, {"userid": "1002", "mobile": "13800000002", "is_head": "FALSE", "title": "1.5"}),
        (6, {"userid": "zhang_wei", "mobile": "138 0000 0003", "is_head": "", "title": ""}),
    ]


def test_unsupported_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match=r"另存为 \.xlsx"):
        read_rows(tmp_path / "old.xls")
    with pytest.raises(Invalid, match="找不到文件"):
        read_rows(tmp_path / "nothing.csv")
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(Invalid, match="无法打开 Excel 文件"):
        read_rows(tmp_path / "broken.xlsx")
    (tmp_path / "empty.csv").write_bytes(b"\r\n\r\n")
    with pytest.raises(Invalid, match="没有内容"):
        read_rows(tmp_path / "empty.csv")


def test_undecodable_csv_is_refused(tmp_path: Path) -> None:
    (tmp_path / "u16.csv").write_bytes("部门编码,部门名称\n".encode("utf-16"))
    with pytest.raises(Invalid, match="无法识别文件编码"):
        read_rows(tmp_path / "u16.csv")


def test_data_under_an_unnamed_column_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [["部门编码", "部门名称"], ["A", "甲局"], ["B", "乙局", "多余"]])
    with pytest.raises(ImportFailed) as exc:
        read_rows(path)
    assert exc.value.errors == [RowError(3, "第3列", "这一列有内容，但表头没有列名")]


def test_repeated_header_name_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [["部门编码", "部门名称", "部门编码"], ["A", "甲局", "A"]])
    with pytest.raises(ImportFailed, match="第1行 表头：列名「部门编码」出现了不止一次"):
        read_rows(path)


# --- departments -------------------------------------------------------------------------------


def test_departments_with_chinese_headers(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    report = import_file(session, "departments", write_csv(tmp_path / "d.csv", DEPARTMENTS), clock=clock)
    assert report == ImportReport("departments", created=4, updated=0, unchanged=0)
    kinds = {d.code: (d.name, d.kind, d.created_at) for d in session.scalars(select(Department))}
    assert kinds == {
        "FGJ": ("县发改局", "both", clock.now()),
        "ZRZYJ": ("县自然资源局", "functional", clock.now()),
        "KFQ": ("开发区管委会", "contact", clock.now()),
        "DCS": ("县委督查室", "office", clock.now()),
    }


def test_departments_with_english_headers_in_xlsx(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    rows: list[list[object]] = [
        ["Code", "Name", "Kind"],
        [101, "县工信局", "both"],
        [102, "县税务局", "functional"],
    ]
    rows.append([103, "县商务局", None])  # an empty kind means 兼 (both)
    report = import_file(session, "departments", write_xlsx(tmp_path / "d.xlsx", rows), clock=clock)
    assert (report.created, report.updated) == (3, 0)
    stored = {d.code: d.kind for d in session.scalars(select(Department))}
    assert stored == {"101": "both", "102": "functional", "103": "both"}


def test_header_variants_are_accepted(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv", [["*部门编码", " 部门名称（必填） ", "ＫＩＮＤ"], ["A", "甲局", "Office"]]
    )
    import_file(session, "departments", path, clock=clock)
    assert session.scalar(select(Department.kind)) == DepartmentKind.OFFICE


def test_unknown_and_missing_columns(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [["编码", "负责人", "备注"], ["A", "张三", ""]])
    errors = failure(session, "departments", path, clock)
    assert [(e.line, e.field) for e in errors] == [(1, "表头")] * 3
    assert "不认识的列「负责人」" in errors[0].message
    assert "可用的列：部门编码、部门名称、类型、群机器人" in errors[0].message
    assert "不认识的列「备注」" in errors[1].message
    assert errors[2].message == "缺少必填的列：部门名称"
    assert count(session, Department) == 0


def test_two_headers_for_one_column(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [["部门编码", "code", "部门名称"], ["A", "A", "甲局"]])
    [error] = failure(session, "departments", path, clock)
    assert error.message == "「部门编码」和「code」是同一列（部门编码），请只保留一列"


def test_a_departments_group_robot_by_key_or_webhook_address(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    rows = [
        ["部门编码", "部门名称", "群机器人"],
        ["A", "甲局", url],
        ["B", "乙局", "0ec2-robot-key"],
        ["C", "丙局", ""],
    ]
    import_file(session, "departments", write_csv(tmp_path / "d.csv", rows), clock=clock)
    keys = {code: key for code, key in session.execute(select(Department.code, Department.group_webhook_key))}
    assert keys == {"A": "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa", "B": "0ec2-robot-key", "C": None}
    bad = [["部门编码", "部门名称", "群机器人"], ["D", "丁局", "https://example.com/hook?key=有空 格"]]
    [error] = failure(session, "departments", write_csv(tmp_path / "e.csv", bad), clock)
    assert error.field == "群机器人" and "不是群机器人的 Webhook 地址或 key" in error.message


def test_department_errors_are_all_reported(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    rows = [["部门编码", "部门名称", "类型"], ["A", "甲局", "包联"], ["B", "", "局"], ["A", "乙局", ""]]
    rows += [["C", "甲局", "职能"], ["D" * 33, "丁局", ""]]
    errors = failure(session, "departments", write_csv(tmp_path / "d.csv", rows), clock)
    assert [str(e) for e in errors] == [
        "第3行 部门名称：必填，不能为空",
        "第3行 类型：「局」无法识别，可填：包联部门、职能部门、兼、办公室",
        "第4行 部门编码：「A」与第2行重复",
        "第5行 部门名称：「甲局」与第2行重复",
        "第6行 部门编码：不能超过32个字（现有33个）",
    ]
    assert count(session, Department) == 0
    assert audit_rows(session) == []


def test_department_name_of_another_department_is_refused(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    path = write_csv(tmp_path / "d2.csv", [["部门编码", "部门名称"], ["NEW", "县发改局"]])
    [error] = failure(session, "departments", path, clock)
    assert str(error) == "第2行 部门名称：「县发改局」已是部门 FGJ 的名称"


def test_reimport_counts_created_updated_unchanged(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    clock.advance(days=1)
    rows = [*DEPARTMENTS[:3], ["KFQ", "县经济开发区管委会", "兼"], ["YSHJ", "县营商环境服务中心", "办公室"]]
    report = import_file(session, "departments", write_csv(tmp_path / "d2.csv", rows), clock=clock)
    assert report == ImportReport("departments", created=1, updated=1, unchanged=2)
    assert report.summary() == "导入部门：新增1条，更新1条，未变2条"
    kfq = departments["KFQ"]
    assert (kfq.name, kfq.kind) == ("县经济开发区管委会", "both")
    assert count(session, Department) == 5
    update = audit_rows(session)[-2]
    assert (update.action, update.entity, update.entity_id) == ("import.update", "department", str(kfq.id))
    assert update.data == {
        "name": {"from": "开发区管委会", "to": "县经济开发区管委会"},
        "kind": {"from": "contact", "to": "both"},
    }
    assert update.at == clock.now()


def test_audit_of_created_departments(
    session: Session, clock: FixedClock, departments: dict[str, Department]
) -> None:
    events = audit_rows(session)
    assert [(e.channel, e.action, e.entity) for e in events] == [("cli", "import.create", "department")] * 4
    assert events[0].entity_id == str(departments["FGJ"].id)
    assert events[0].data == {"code": "FGJ", "name": "县发改局", "kind": "both"}
    assert events[0].actor_id is None


# --- people ------------------------------------------------------------------------------------

PEOPLE_HEADER = ["账号", "姓名", "角色", "部门", "职务", "负责人", "手机"]


def test_people_reference_departments_by_code_and_name(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [
        PEOPLE_HEADER,
        ["fgj_chen", "陈国强", "干部", "FGJ", "局长", "是", "13800000011"],
        ["zrzyj_ma", "马超", "official", "县自然资源局", "科长", "否", "+86 138-0000-0018"],
        ["leader_wang", "王建国", "县领导", "", "县长", "", ""],
        ["admin", "孙丽", "Admin", "DCS", "", "N", ""],
        ["zhang_wei", "张伟", "企业", "", "总经理", "", "13800000101"],
    ]
    report = import_file(session, "people", write_csv(tmp_path / "p.csv", rows), clock=clock)
    assert (report.kind, report.created, report.updated) == ("people", 5, 0)
    people = {p.wecom_userid: p for p in session.scalars(select(Person))}
    chen, ma = people["fgj_chen"], people["zrzyj_ma"]
    assert (chen.role, chen.department, chen.is_head, chen.title) == (
        "official",
        departments["FGJ"],
        True,
        "局长",
    )
    assert (ma.department, ma.mobile, ma.is_head) == (departments["ZRZYJ"], "13800000018", False)
    assert people["leader_wang"].role_enum is Role.LEADER
    assert people["leader_wang"].mobile is None
    assert people["admin"].role == "admin"
    assert (people["zhang_wei"].role, people["zhang_wei"].department) == ("enterprise", None)


def test_people_in_xlsx_with_numeric_userids(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows: list[list[object]] = [["userid", "name", "role", "department", "is_head", "mobile"]]
    rows += [
        [1001, "陈国强", "official", "FGJ", "yes", 13800000011],
        [1002, "马超", "official", "ZRZYJ", 0, None],
    ]
    import_file(session, "people", write_xlsx(tmp_path / "p.xlsx", rows), clock=clock)
    stored = {p.wecom_userid: (p.mobile, p.is_head) for p in session.scalars(select(Person))}
    assert stored == {"1001": ("13800000011", True), "1002": (None, False)}


def test_audit_masks_mobiles(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [PEOPLE_HEADER, ["fgj_chen", "陈国强", "干部", "FGJ", "局长", "是", "13812345678"]]
    import_file(session, "people", write_csv(tmp_path / "p.csv", rows), clock=clock)
    rows[1][6] = "13987654321"
    import_file(session, "people", write_csv(tmp_path / "p.csv", rows), clock=clock)
    create, update = [e for e in audit_rows(session) if e.entity == "person"]
    assert create.data == {
        "wecom_userid": "fgj_chen",
        "name": "陈国强",
        "role": "official",
        "department": "FGJ",
        "title": "局长",
        "is_head": True,
        "mobile": "138****5678",
    }
    assert update.data == {"mobile": {"from": "138****5678", "to": "139****4321"}}
    assert "12345678" not in str([e.data for e in audit_rows(session)])


def test_people_errors_are_all_reported(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [
        PEOPLE_HEADER,
        ["ok_person", "甲", "干部", "FGJ", "", "", ""],
        ["bad id", "乙", "干部", "FGJ", "", "", ""],
        ["p3", "丙", "局长", "FGJ", "", "", ""],
        ["p4", "丁", "干部", "县财政局", "", "", ""],
        ["p5", "戊", "干部", "FGJ", "", "也许", "1380000001"],
        ["p6", "己", "干部", "", "", "", ""],
        ["p7", "庚", "企业", "KFQ", "", "", ""],
        ["p8", "辛", "县领导", "", "", "是", ""],
        ["ok_person", "壬", "干部", "FGJ", "", "", "1.38E+10"],
        ["", "", "", "", "", "", ""],
        ["", "癸", "干部", "FGJ", "", "", ""],
    ]
    errors = failure(session, "people", write_csv(tmp_path / "p.csv", rows), clock)
    assert [(e.line, e.field) for e in errors] == [
        (3, "账号"),
        (4, "角色"),
        (5, "部门"),
        (6, "负责人"),
        (6, "手机"),
        (7, "部门"),
        (8, "部门"),
        (9, "负责人"),
        (10, "手机"),
        (10, "账号"),
        (12, "账号"),
    ]
    messages = {(e.line, e.field): e.message for e in errors}
    assert messages[(4, "角色")] == "「局长」无法识别，可填：企业、干部、县领导、管理员"
    assert messages[(5, "部门")].startswith("找不到部门「县财政局」")
    assert messages[(6, "手机")] == "手机号应为以1开头的11位数字：1380000001"
    assert messages[(7, "部门")] == "干部必须填写所属部门"
    assert messages[(8, "部门")] == "企业联系人不属于任何部门，请留空"
    assert messages[(9, "负责人")] == "部门负责人必须填写所属部门"
    assert "科学计数法" in messages[(10, "手机")]
    assert messages[(10, "账号")] == "「ok_person」与第2行重复"
    assert messages[(12, "账号")] == "必填，不能为空"
    assert count(session, Person) == 0


def test_absent_column_keeps_values_empty_cell_clears_them(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [PEOPLE_HEADER, ["fgj_chen", "陈国强", "干部", "FGJ", "局长", "是", "13800000011"]]
    import_file(session, "people", write_csv(tmp_path / "p.csv", rows), clock=clock)
    # Without 手机 and 部门 columns, the stored mobile and department stay; an empty 职务 clears it.
    path = write_csv(
        tmp_path / "p2.csv", [["账号", "姓名", "角色", "职务"], ["fgj_chen", "陈国强", "干部", ""]]
    )
    report = import_file(session, "people", path, clock=clock)
    assert (report.created, report.updated) == (0, 1)
    chen = session.scalars(select(Person)).one()
    assert (chen.mobile, chen.department, chen.is_head, chen.title) == (
        "13800000011",
        departments["FGJ"],
        True,
        None,
    )


def test_rules_use_stored_values_for_absent_columns(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [PEOPLE_HEADER, ["fgj_chen", "陈国强", "干部", "FGJ", "局长", "是", ""]]
    import_file(session, "people", write_csv(tmp_path / "p.csv", rows), clock=clock)
    path = write_csv(tmp_path / "p2.csv", [["账号", "姓名", "角色"], ["fgj_chen", "陈国强", "企业"]])
    [error] = failure(session, "people", path, clock)
    assert str(error) == "第2行 部门：企业联系人不属于任何部门，请留空"


def test_erased_person_is_not_restored(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    session.add(Person(wecom_userid="gone", name="", role="enterprise", erased=True, created_at=clock.now()))
    session.flush()
    path = write_csv(tmp_path / "p.csv", [["账号", "姓名", "角色"], ["gone", "张三", "企业"]])
    [error] = failure(session, "people", path, clock)
    assert error.field == "账号"
    assert "抹除" in error.message


# --- leaders' 分管部门 ---------------------------------------------------------------------------

OVERSIGHT_HEADER = ["账号", "姓名", "角色", "部门", "分管部门"]


def overseen(session: Session) -> dict[str, list[str]]:
    """Each leader's 分管部门 as stored, by userid, codes sorted."""
    found: dict[str, list[str]] = {}
    for row in session.scalars(select(Oversight)):
        found.setdefault(row.leader.wecom_userid, []).append(row.department.code)
    return {userid: sorted(codes) for userid, codes in found.items()}


def test_leaders_oversight_by_code_or_name(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [
        OVERSIGHT_HEADER,
        ["leader_wang", "王建国", "县领导", "", "FGJ、县自然资源局，KFQ, FGJ"],
        ["leader_li", "李明华", "县领导", "", ""],
        ["fgj_chen", "陈国强", "干部", "FGJ", ""],
    ]
    report = import_file(session, "people", write_csv(tmp_path / "p.csv", rows), clock=clock)
    assert (report.created, report.updated) == (3, 0)
    assert overseen(session) == {"leader_wang": ["FGJ", "KFQ", "ZRZYJ"]}
    creates = {e.data["wecom_userid"]: e.data for e in audit_rows(session) if e.entity == "person"}
    assert creates["leader_wang"]["oversees"] == ["FGJ", "KFQ", "ZRZYJ"]
    assert "oversees" not in creates["leader_li"]
    assert "oversees" not in creates["fgj_chen"]


def test_oversight_column_replaces_and_an_empty_cell_clears(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    first = [OVERSIGHT_HEADER, ["leader_wang", "王建国", "县领导", "", "FGJ、ZRZYJ"]]
    import_file(session, "people", write_csv(tmp_path / "p.csv", first), clock=clock)
    kept = session.scalars(select(Oversight).where(Oversight.department == departments["ZRZYJ"])).one()

    replaced = [OVERSIGHT_HEADER, ["leader_wang", "王建国", "县领导", "", "ZRZYJ、县委督查室"]]
    report = import_file(session, "people", write_csv(tmp_path / "p.csv", replaced), clock=clock)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    assert overseen(session) == {"leader_wang": ["DCS", "ZRZYJ"]}
    assert (
        session.scalars(select(Oversight).where(Oversight.department == departments["ZRZYJ"])).one() is kept
    )
    assert audit_rows(session)[-1].data == {"oversees": {"from": ["FGJ", "ZRZYJ"], "to": ["DCS", "ZRZYJ"]}}

    again = import_file(session, "people", write_csv(tmp_path / "p.csv", replaced), clock=clock)
    assert (again.updated, again.unchanged) == (0, 1)
    without_column = [["账号", "姓名", "角色"], ["leader_wang", "王建国", "县领导"]]
    import_file(session, "people", write_csv(tmp_path / "p.csv", without_column), clock=clock)
    assert overseen(session) == {"leader_wang": ["DCS", "ZRZYJ"]}

    cleared = [OVERSIGHT_HEADER, ["leader_wang", "王建国", "县领导", "", ""]]
    report = import_file(session, "people", write_csv(tmp_path / "p.csv", cleared), clock=clock)
    assert report.updated == 1
    assert overseen(session) == {}
    assert audit_rows(session)[-1].data == {"oversees": {"from": ["DCS", "ZRZYJ"], "to": []}}


def test_oversight_errors_name_the_line(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [PEOPLE_HEADER, ["leader_wang", "王建国", "县领导", "", "县长", "", ""]]
    import_file(session, "people", write_csv(tmp_path / "p.csv", rows), clock=clock)
    rows = [
        OVERSIGHT_HEADER,
        ["leader_li", "李明华", "县领导", "", "FGJ、不存在局，XYZ"],
        ["fgj_chen", "陈国强", "干部", "FGJ", "FGJ"],
        ["admin", "孙丽", "管理员", "DCS", "DCS"],
        ["zhang_wei", "张伟", "企业", "", "KFQ"],
        ["leader_wang", "王建国", "干部", "FGJ", "FGJ"],  # no longer a leader, still given 分管部门
        ["leader_zhao", "赵志刚", "县领导", "", "、，"],  # separators only: nothing overseen
    ]
    errors = failure(session, "people", write_csv(tmp_path / "p.csv", rows), clock)
    assert [str(e) for e in errors] == [
        "第2行 分管部门：找不到部门「不存在局」、「XYZ」：请填部门编码或部门名称，多个部门用「、」隔开",
        "第3行 分管部门：只有县领导可以填写分管部门",
        "第4行 分管部门：只有县领导可以填写分管部门",
        "第5行 分管部门：只有县领导可以填写分管部门",
        "第6行 分管部门：只有县领导可以填写分管部门",
    ]
    assert count(session, Person) == 1
    assert count(session, Oversight) == 0


def test_a_leader_given_another_role_oversees_nothing(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [OVERSIGHT_HEADER, ["leader_wang", "王建国", "县领导", "", "FGJ、DCS"]]
    import_file(session, "people", write_csv(tmp_path / "p.csv", rows), clock=clock)
    rows = [["账号", "姓名", "角色", "部门"], ["leader_wang", "王建国", "干部", "DCS"]]
    report = import_file(session, "people", write_csv(tmp_path / "p2.csv", rows), clock=clock)
    assert report.updated == 1
    assert overseen(session) == {}
    update = audit_rows(session)[-1]
    assert update.data == {
        "role": {"from": "leader", "to": "official"},
        "department": {"from": None, "to": "DCS"},
        "oversees": {"from": ["DCS", "FGJ"], "to": []},
    }


# --- enterprises -------------------------------------------------------------------------------


def test_enterprises_normalise_codes_and_find_departments(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [
        ["统一社会信用代码", "企业名称", "包联部门", "所在乡镇"],
        [XINYUAN.lower(), "示范县鑫源食品有限公司", "KFQ", "经济开发区"],
        ["９１３７１５２６５１６７１３８６１Ｎ", "示范县恒通纺织有限公司", "县发改局", "城关镇"],
        [f" {HUATAI} ", "示范县华泰机械制造有限公司", "", ""],
    ]
    report = import_file(session, "enterprises", write_csv(tmp_path / "e.csv", rows), clock=clock)
    assert (report.created, report.updated) == (3, 0)
    stored = {e.uscc: (e.contact_department, e.region) for e in session.scalars(select(Enterprise))}
    assert stored == {
        XINYUAN: (departments["KFQ"], "经济开发区"),
        HENGTONG: (departments["FGJ"], "城关镇"),
        HUATAI: (None, None),
    }
    create = next(e for e in audit_rows(session) if e.entity == "enterprise")
    assert create.data["contact_department"] == "KFQ"


def test_enterprises_with_english_headers_in_xlsx(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows: list[list[object]] = [["USCC", "Name", "Contact_Department", "Region"]]
    rows.append([HUATAI, "示范县华泰机械制造有限公司", "KFQ", "开发区"])
    import_file(session, "enterprises", write_xlsx(tmp_path / "e.xlsx", rows), clock=clock)
    assert session.scalar(select(Enterprise.uscc)) == HUATAI


def test_bad_enterprise_file_writes_nothing(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [
        ["统一社会信用代码", "企业名称", "包联部门", "所在乡镇"],
        [XINYUAN, "示范县鑫源食品有限公司", "KFQ", ""],
        [XINYUAN[:-1] + "5", "校验位错", "KFQ", ""],
        [HENGTONG, "示范县恒通纺织有限公司", "不存在局", ""],
        [HUATAI, "", "ZRZYJ", ""],
        [XINYUAN.lower(), "重复", "KFQ", ""],
        ["91371526I1234567X", "字符错", "", ""],
        ["9.13715E+17", "被Excel改坏", "", ""],
    ]
    audit_before = len(audit_rows(session))
    errors = failure(session, "enterprises", write_csv(tmp_path / "e.csv", rows), clock)
    assert [str(e) for e in errors] == [
        f"第3行 统一社会信用代码：统一社会信用代码校验位不符：{XINYUAN[:-1]}5的最后一位应为「4」，请核对",
        "第4行 包联部门：找不到部门「不存在局」：请填部门编码或部门名称，新部门请先导入部门表",
        "第5行 企业名称：必填，不能为空",
        "第5行 包联部门：「县自然资源局」是职能部门，不能包联企业（部门类型须为包联部门或兼）",
        f"第6行 统一社会信用代码：「{XINYUAN}」与第2行重复",
        "第7行 统一社会信用代码：统一社会信用代码应为18位，您输入了17位：91371526I1234567X",
        "第8行 统一社会信用代码：「9.13715E+17」是 Excel 的科学计数法，原数字已丢失："
        "请把这一列设为文本格式后重新填写",
    ]
    assert count(session, Enterprise) == 0
    assert len(audit_rows(session)) == audit_before


def test_failure_message_lists_twenty_errors(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    rows = [["统一社会信用代码", "企业名称"]] + [[f"BAD{i}", "某企业"] for i in range(25)]
    with pytest.raises(ImportFailed) as exc:
        import_file(session, "enterprises", write_csv(tmp_path / "e.csv", rows), clock=clock)
    assert isinstance(exc.value, Invalid)
    lines = exc.value.message.splitlines()
    assert lines[0] == "导入失败：共25处错误，未写入任何数据。"
    assert lines[1] == "第2行 统一社会信用代码：统一社会信用代码应为18位，您输入了4位：BAD0"
    assert lines[20].startswith("第21行 ")
    assert lines[21] == "……另有5处错误未列出"
    assert len(exc.value.errors) == 25


def test_reimported_enterprise_is_updated(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    header = ["统一社会信用代码", "企业名称", "包联部门", "所在乡镇"]
    first = [header, [XINYUAN, "示范县鑫源食品有限公司", "KFQ", "经济开发区"]]
    import_file(session, "enterprises", write_csv(tmp_path / "e.csv", first), clock=clock)
    second = [
        header,
        [XINYUAN, "示范县鑫源食品股份有限公司", "FGJ", "经济开发区"],
        [HENGTONG, "恒通", "", ""],
    ]
    report = import_file(session, "enterprises", write_csv(tmp_path / "e.csv", second, "gbk"), clock=clock)
    assert report == ImportReport("enterprises", created=1, updated=1, unchanged=0)
    xinyuan = session.scalars(select(Enterprise).where(Enterprise.uscc == XINYUAN)).one()
    assert (xinyuan.name, xinyuan.contact_department) == ("示范县鑫源食品股份有限公司", departments["FGJ"])
    update = [e for e in audit_rows(session) if e.action == "import.update"]
    assert [u.data for u in update] == [
        {
            "name": {"from": "示范县鑫源食品有限公司", "to": "示范县鑫源食品股份有限公司"},
            "contact_department": {"from": "KFQ", "to": "FGJ"},
        }
    ]


def test_actor_is_recorded(
    session: Session, clock: FixedClock, tmp_path: Path, departments: dict[str, Department]
) -> None:
    admin = Person(wecom_userid="admin", name="孙丽", role="admin", created_at=clock.now())
    session.add(admin)
    session.flush()
    rows = [["统一社会信用代码", "企业名称"], [XINYUAN, "示范县鑫源食品有限公司"]]
    import_file(session, "enterprises", write_csv(tmp_path / "e.csv", rows), clock=clock, actor=admin)
    event = audit_rows(session)[-1]
    assert (event.actor_id, event.actor_userid) == (admin.id, "admin")


def test_unknown_kind_is_refused(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="不能导入「projects」"):
        import_file(session, "projects", write_csv(tmp_path / "x.csv", DEPARTMENTS), clock=clock)


# --- the shipped demo county ---------------------------------------------------------------------


def test_demo_files_import_cleanly_in_order(session: Session, clock: FixedClock) -> None:
    reports = [
        import_file(session, kind, DEMO / f"{kind}.csv", clock=clock)
        for kind in ("departments", "people", "enterprises")
    ]
    assert all(r.updated == r.unchanged == 0 for r in reports)
    assert count(session, Department) == reports[0].created >= 14
    assert count(session, Person) == reports[1].created >= 30
    assert count(session, Enterprise) == reports[2].created >= 20
    session.commit()
    roles = [p.role_enum for p in session.scalars(select(Person))]
    assert 2 <= roles.count(Role.LEADER) <= 3
    assert roles.count(Role.ADMIN) == 1
    assert roles.count(Role.ENTERPRISE) >= 8
    assert session.scalars(select(Person).where(Person.wecom_userid == "leader_wang")).one().name == "王建国"
    assert all(validate_uscc(e.uscc) == e.uscc for e in session.scalars(select(Enterprise)))
    assert all(e.contact_department is not None for e in session.scalars(select(Enterprise)))
    again = import_file(session, "people", DEMO / "people.csv", clock=clock)
    assert (again.created, again.updated, again.unchanged) == (0, 0, reports[1].created)


def test_demo_county_has_a_full_escalation_ladder(session: Session, clock: FixedClock) -> None:
    """handler → department head → overseeing leader: every step has someone in the demo county."""
    for kind in ("departments", "people"):
        import_file(session, kind, DEMO / f"{kind}.csv", clock=clock)
    overseers: dict[str, list[str]] = {}
    for row in session.scalars(select(Oversight)):
        assert row.leader.role_enum is Role.LEADER
        overseers.setdefault(row.department.code, []).append(row.leader.wecom_userid)
    codes = set(session.scalars(select(Department.code)))
    assert {code: len(leaders) for code, leaders in overseers.items()} == dict.fromkeys(codes, 1)
    officials = list(session.scalars(select(Person).where(Person.role == Role.OFFICIAL.value)))
    staffed = {p.department.code for p in officials if p.department is not None}
    headed = {p.department.code for p in officials if p.is_head and p.department is not None}
    assert staffed == headed


def test_seed_demo_loads_routing_and_oversight_once(runtime: Runtime) -> None:
    first = seed(runtime)
    assert "routing: 新增 9，更新 0" in first.splitlines()
    assert seed(runtime).splitlines() == [
        "departments: 新增 0，更新 0",
        "people: 新增 0，更新 0",
        "enterprises: 新增 0，更新 0",
        "enterprises (more): 新增 0，更新 0",
        "routing: 新增 0，更新 0",
        "lenient: 新增 0，更新 0",
        "profiles: 新增 0，更新 0",
        "policies: 新增 0，新版本 0",
        "企业绑定: 新增 0",
    ]
    with runtime.session_factory() as session:
        rules = {r.category: r.department.code for r in session.scalars(select(RoutingRule))}
        assert rules == {
            "审批": "XZSPJ",
            "用地": "ZRZYJ",
            "融资": "CZJ",
            "用工": "RSJ",
            "环评": "STHJ",
            "水电气": "ZJJ",
            "政策兑现": "FGJ",
            "执法检查": "SCJGJ",
            "其他": "YSHJ",
        }
        assert set(rules) == set(CATEGORIES)
        assert overseen(session) == {
            "leader_wang": ["DCS", "YSHJ", "ZFB"],
            "leader_li": ["CZJ", "FGJ", "KFQ", "XZSPJ", "ZJJ", "ZRZYJ"],
            "leader_zhao": ["GXJ", "RSJ", "SCJGJ", "STHJ", "SWJ", "SWUJ", "YJJ"],
        }
        routed = [e for e in audit_rows(session) if e.entity == "routing_rule"]
        assert len(routed) == 9  # the second seed changed nothing, so audited nothing


def test_seed_demo_routes_only_the_countys_categories(runtime: Runtime) -> None:
    custom = replace(runtime, settings=runtime.settings.with_(order_categories=("审批", "科技")))
    assert "routing: 新增 1，更新 0" in seed(custom).splitlines()
    with runtime.session_factory() as session:
        assert [(r.category, r.department.code) for r in session.scalars(select(RoutingRule))] == [
            ("审批", "XZSPJ")
        ]

"""包容免罚清单: `ztc import lenient`, the search, `免罚 <关键词>` in chat, and get_item for inspections."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.clock import FixedClock
from bot.demo import DEMO_DIR, seed
from bot.errors import Invalid, NotFound
from bot.importing import ImportFailed, ImportReport, RowError, read_table
from bot.models import AuditEvent, Role
from bot.replies import Text
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.inspections.lenient import get_item, keywords, matches, search
from handlers.inspections.lenient_import import import_lenient, import_lenient_file
from handlers.inspections.models import LenientItem
from tests import builders
from tests.builders import Chat, pushed_texts
from tests.conftest import run_jobs
from tests.test_importing import write_csv, write_xlsx

DEMO_FIELDS = {"市场监管", "生态环境", "消防", "交通运输", "城市管理", "税务"}
HEADER = ["编号", "领域", "违法行为", "法律依据", "免罚条件", "处理方式"]
AD = [
    "SCJG-002",
    "市场监管",
    "广告中使用“国家级”“最佳”等绝对化用语",
    "《中华人民共和国行政处罚法》第三十三条；《中华人民共和国广告法》第九条",
    "首次违法，持续时间短，及时改正",
    "责令停止发布",
]
LICENCE = [
    "SCJG-001",
    "市场监管",
    "未按规定将营业执照置于醒目位置",
    "《中华人民共和国行政处罚法》第三十三条；《市场主体登记管理条例》第四十八条",
    "首次被发现，及时改正",
    "责令改正",
]
WASTE = [
    "STHJ-001",
    "生态环境",
    "未按规定设置危险废物识别标志",
    "《中华人民共和国固体废物污染环境防治法》第一百一十二条",
    "首次违法，未造成环境污染",
    "",
]


def items(session: Session) -> dict[str, LenientItem]:
    return {i.code: i for i in session.scalars(select(LenientItem))}


def load(session: Session, clock: FixedClock, tmp_path: Path, *rows: list[str]) -> ImportReport:
    return import_lenient_file(session, write_csv(tmp_path / "l.csv", [HEADER, *rows]), clock=clock)


def load_demo(session: Session, clock: FixedClock) -> None:
    import_lenient(session, read_table(DEMO_DIR / "lenient.csv"), clock=clock)


# --- Import ----------------------------------------------------------------------------------


def test_import_creates_items_with_codes_folded_and_audits_each(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    report = load(session, clock, tmp_path, ["ｓｃｊｇ－００２", *AD[1:]], LICENCE, WASTE)
    assert report == ImportReport("lenient", 3, 0, 0)
    assert report.summary() == "导入免罚清单：新增3条，更新0条，未变0条"
    stored = items(session)
    assert sorted(stored) == ["SCJG-001", "SCJG-002", "STHJ-001"]
    assert stored["SCJG-002"].violation == AD[2] and stored["SCJG-002"].measure == "责令停止发布"
    assert stored["STHJ-001"].measure is None  # 处理方式 is optional
    assert stored["SCJG-001"].created_at is not None
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.entity == "lenient_item")))
    assert [(e.action, e.channel) for e in events] == [("import.create", "cli")] * 3
    assert events[0].data["code"] == "SCJG-002"


def test_english_headers_in_xlsx_without_the_optional_column(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "l.xlsx", [["code", "field", "violation", "basis", "conditions"], WASTE[:5]])
    assert import_lenient_file(session, path, clock=clock).created == 1
    assert items(session)["STHJ-001"].field == "生态环境"


def test_bad_rows_are_all_reported_by_line_and_nothing_is_written(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    rows = [
        AD,
        ["SCJG 9", *AD[1:]],  # a space inside the code
        ["scjg-002", *LICENCE[1:]],  # the same code as line 2, once folded
        ["XF-001", "消防", "", "《消防法》", "首次", ""],  # 违法行为 empty
        ["X" * 33, "消防", "违法", "依据", "条件", ""],
        ["XF-002", "领" * 51, "违法", "依据", "条件", ""],
    ]
    with pytest.raises(ImportFailed) as exc:
        load(session, clock, tmp_path, *rows)
    assert exc.value.errors == [
        RowError(3, "编号", "「SCJG 9」含有空格：编号应为一个词，如 SCJG-001"),
        RowError(4, "编号", "「SCJG-002」与第2行重复"),
        RowError(5, "违法行为", "必填，不能为空"),
        RowError(6, "编号", "不能超过32个字（现有33个）"),
        RowError(7, "领域", "不能超过50个字（现有51个）"),
    ]
    assert "第3行 编号" in exc.value.message and "未写入任何数据" in exc.value.message
    assert items(session) == {}
    assert session.scalar(select(AuditEvent.id)) is None


def test_unknown_and_missing_columns_are_refused(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [["编号", "领域", "违法行为", "备注"], ["A-1", "消防", "x", "y"]])
    with pytest.raises(ImportFailed) as exc:
        import_lenient_file(session, path, clock=clock)
    messages = [e.message for e in exc.value.errors]
    assert any("不认识的列「备注」" in m for m in messages)
    assert "缺少必填的列：法律依据、免罚条件" in messages


def test_reimport_upserts_by_code_and_audits_only_changes(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    load(session, clock, tmp_path, AD, LICENCE)
    changed = [*LICENCE[:4], "首次被发现，当场改正", ""]  # new conditions, measure cleared
    report = load(session, clock, tmp_path, AD, changed, WASTE)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    stored = items(session)
    assert stored["SCJG-001"].conditions == "首次被发现，当场改正" and stored["SCJG-001"].measure is None
    update = session.scalar(select(AuditEvent).where(AuditEvent.action == "import.update"))
    assert update is not None and update.entity_id == str(stored["SCJG-001"].id)
    assert update.data == {
        "conditions": {"from": "首次被发现，及时改正", "to": "首次被发现，当场改正"},
        "measure": {"from": "责令改正", "to": None},
    }
    # A file without 处理方式 leaves the stored measures alone.
    path = write_csv(tmp_path / "m.csv", [HEADER[:5], AD[:5]])
    assert import_lenient_file(session, path, clock=clock).unchanged == 1
    assert items(session)["SCJG-002"].measure == "责令停止发布"


def test_the_demo_list_imports_and_seed_loads_it_once(runtime: Runtime) -> None:
    first = seed(runtime)
    assert "lenient: 新增 16，更新 0" in first.splitlines()
    assert "lenient: 新增 0，更新 0" in seed(runtime).splitlines()
    with runtime.session_factory() as session:
        stored = items(session)
        assert len(stored) == 16
        assert {i.field for i in stored.values()} == DEMO_FIELDS
        assert all("第三十三条" in i.basis and i.measure for i in stored.values())


def test_cli_imports_the_list_and_refuses_a_bad_file(
    session: Session, tmp_path: Path, settings: Settings
) -> None:
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "ZTC_VAR_DIR": str(tmp_path),
    }
    good = write_csv(tmp_path / "l.csv", [HEADER, AD, LICENCE])
    result = CliRunner().invoke(main, ["import", "lenient", str(good)], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "导入免罚清单：新增2条，更新0条，未变0条\n"

    bad = write_csv(tmp_path / "bad.csv", [HEADER, [*AD[:2], "", *AD[3:]], WASTE])
    result = CliRunner().invoke(main, ["import", "lenient", str(bad)], env=env)
    assert result.exit_code == 1
    assert "第2行 违法行为：必填，不能为空" in result.stderr
    session.expire_all()
    assert sorted(items(session)) == ["SCJG-001", "SCJG-002"]  # WASTE of the bad file was not written


# --- Search and get_item ---------------------------------------------------------------------


@pytest.fixture
def listed(session: Session, clock: FixedClock) -> Session:
    """The demo list, imported."""
    load_demo(session, clock)
    return session


def codes(found: list[LenientItem]) -> list[str]:
    return [i.code for i in found]


def test_every_keyword_must_appear_in_some_field(listed: Session) -> None:
    assert codes(search(listed, "广告")) == ["SCJG-002"]
    assert codes(search(listed, "税务 银行账号")) == ["SW-002"]  # 领域 + 违法行为
    assert codes(search(listed, "消防法 消火栓")) == ["XF-002"]  # 法律依据 + 违法行为
    assert codes(search(listed, "消火栓 广告")) == []
    assert codes(search(listed, "首违不罚")) == ["SW-001", "SW-002", "SW-003"]  # 法律依据
    assert codes(search(listed, "xf")) == ["XF-001", "XF-002"]  # 编号


def test_keywords_are_width_and_case_insensitive(listed: Session) -> None:
    assert keywords("  广告，ＳＣＪＧ　国家级 广告 ") == ["广告", "scjg", "国家级"]
    assert codes(search(listed, "ｓｃｊｇ　广告")) == ["SCJG-002"]
    assert codes(search(listed, "Jtys")) == ["JTYS-001", "JTYS-002"]
    assert codes(search(listed, "“国家级”")) == ["SCJG-002"]


def test_ranking_by_keywords_in_the_violation_then_code(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    rows = [
        ["A-10", "消防", "占用疏散通道", "《消防法》", "首次，及时改正", ""],
        ["A-2", "消防", "堵塞疏散通道", "《消防法》", "首次，及时改正", ""],
        ["A-3", "消防", "堵塞消防车通道", "《消防法》疏散", "首次", ""],
        ["B-1", "消防", "未设置疏散指示标志", "《消防法》", "堵塞已清除", ""],
    ]
    load(session, clock, tmp_path, *rows)
    # 疏散: in three violations and A-3's basis; 堵塞: in A-2's and A-3's violations, B-1's conditions.
    assert codes(matches(session, "疏散 堵塞")) == ["A-2", "A-3", "B-1"]
    assert codes(matches(session, "疏散")) == ["A-2", "A-10", "B-1", "A-3"]
    assert codes(matches(session, "")) == ["A-2", "A-3", "A-10", "B-1"]  # no keyword: all, by 编号
    assert codes(search(session, "消防", limit=2)) == ["A-3", "A-2"]  # 消防车 in A-3's violation


def test_get_item_finds_a_code_however_typed(listed: Session) -> None:
    assert get_item(listed, " ｓｃｊｇ－００１ ").code == "SCJG-001"
    with pytest.raises(NotFound) as exc:
        get_item(listed, "SCJG-999")
    assert exc.value.message == "包容免罚清单中没有编号为「SCJG-999」的条目。发送「免罚 关键词」可查询编号。"
    with pytest.raises(Invalid):
        get_item(listed, " ")


# --- Chat ------------------------------------------------------------------------------------


@pytest.fixture
def chat(runtime: Runtime, standin: object, session_factory) -> Chat:
    """An official, a leader, an enterprise contact, and the demo list."""
    with session_factory() as s:
        scjgj = builders.department(s, "县市场监管局", "SCJGJ")
        builders.person(s, "scjg_wang", Role.OFFICIAL, "王科员", department=scjgj)
        builders.person(s, "leader_zhao", Role.LEADER, "赵县长")
        builders.person(s, "zhang_wei", Role.ENTERPRISE, "张伟")
        load_demo(s, runtime.clock)
        s.commit()
    return Chat(runtime)


def test_an_official_looks_up_a_violation(chat: Chat) -> None:
    answer = chat.text("scjg_wang", "免罚 广告")
    assert answer.startswith("包容免罚清单：找到1条。")
    assert "【SCJG-002】市场监管" in answer
    assert "违法行为：在自有经营场所或者自设网站发布的广告中使用“国家级”" in answer
    assert "免罚条件：首次违法，广告持续时间短" in answer
    assert "处理方式：责令停止发布广告，删除违法内容" in answer
    assert "法律依据：《行政处罚法》第三十三条第一款；《广告法》第九条、第五十七条" in answer
    assert "发送「免罚 编号」查看该条全文" in answer


def test_an_enterprise_may_read_the_list_too_with_aliases_and_no_space(chat: Chat) -> None:
    assert "【SCJG-001】" in chat.text("zhang_wei", "免罚营业执照")
    assert "【SCJG-001】" in chat.text("zhang_wei", "包容免罚 营业执照")
    assert "【SW-002】" in chat.text("leader_zhao", "免罚清单 税务 银行")
    assert "【SW-002】" in chat.text("zhang_wei", "免罚 税务，银行")
    assert "还没有在政企直通车登记" in chat.text("nobody", "免罚 广告")


def test_no_keyword_lists_the_fields_with_counts(chat: Chat) -> None:
    answer = chat.text("scjg_wang", "免罚")
    assert answer.splitlines()[0] == "包容免罚清单共16条，涉及6个领域："
    assert "· 市场监管 4条，如 SCJG-001 未按规定将营业执照置于住所或者主要经营场所醒目位置" in answer
    assert "· 税务 3条，如 SW-001" in answer
    assert "如「免罚 市场监管」" in answer


def test_many_hits_show_five_and_ask_for_more_keywords(chat: Chat, runtime: Runtime, standin) -> None:
    replies = chat.say("scjg_wang", "免罚 行政处罚法")
    first = replies[0]
    assert isinstance(first, Text)
    assert first.content.startswith("包容免罚清单：共16条，请加关键词缩小范围。以下是最相关的5条：")
    assert len(first.content.encode()) <= 2048
    run_jobs(runtime)
    rest = pushed_texts(standin.messages("scjg_wang"))  # what did not fit the first text
    shown = "\n".join([first.content, *rest])
    assert all(len(t.encode()) <= 2048 for t in rest)
    assert re.findall(r"【(.+?)】", shown) == ["CSGL-001", "CSGL-002", "JTYS-001", "JTYS-002", "SCJG-001"]
    assert shown.endswith("发送「免罚 编号」查看该条全文。")


def test_nothing_found_suggests_fewer_keywords(chat: Chat) -> None:
    answer = chat.text("scjg_wang", "免罚 消火栓 广告")
    assert "没有同时包含「消火栓」「广告」的条目" in answer and "请减少关键词" in answer
    assert "没有包含「无证驾驶」的条目" in chat.text("zhang_wei", "免罚 无证驾驶")


def test_a_code_shows_the_whole_item(chat: Chat) -> None:
    answer = chat.text("scjg_wang", "免罚 ｘｆ－００２")
    assert answer.splitlines()[0] == "包容免罚清单 XF-002（消防）"
    assert "法律依据：《中华人民共和国行政处罚法》第三十三条第一款；《中华人民共和国消防法》" in answer


def test_an_empty_list_says_it_is_not_imported(chat: Chat, session_factory) -> None:
    with session_factory() as s:
        for item in s.scalars(select(LenientItem)):
            s.delete(item)
        s.commit()
    assert "尚未导入" in chat.text("scjg_wang", "免罚")
    assert "尚未导入" in chat.text("scjg_wang", "免罚 广告")


@pytest.mark.parametrize("user", ["scjg_wang", "leader_zhao", "zhang_wei"])
def test_help_lists_the_command(chat: Chat, user: str) -> None:
    assert "· 免罚 <关键词> — 查询包容免罚清单" in chat.text(user, "帮助")

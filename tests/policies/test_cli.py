"""`ztc policies check [FILE]`, `ztc import policies FILE`, `ztc import profiles FILE`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.settings import Settings
from handlers.policies.models import Policy
from handlers.policies.profile import plain, profile_of
from tests import builders
from tests.policies.samples import HIGH_TECH, SMALL_FIRMS
from tests.test_importing import write_csv

# the 免申即享 pushes an import queues
QUEUED = "已排队：免申即享政策推送（由 worker 发送，每家企业每个政策版本只推送一次）。\n"


def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "ZTC_VAR_DIR": str(tmp_path),
    }


def test_check_a_file_passes_or_prints_each_failure(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(HIGH_TECH + SMALL_FIRMS, encoding="utf-8")
    result = CliRunner().invoke(main, ["policies", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "2条政策的5个示例企业全部符合预期。\n"

    broken = tmp_path / "broken.yaml"
    broken.write_text(HIGH_TECH.replace("min: 2000万", "min: 3000万") + SMALL_FIRMS, encoding="utf-8")
    result = CliRunner().invoke(main, ["policies", "check", str(broken)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "✗ 第20行 XKJ-GQ-2026 examples第1个：示例「高企制造业大户」应为符合（qualified）"
    )
    assert lines[-1] == "2条政策的5个示例企业中，1个结果与预期不符。"

    malformed = tmp_path / "malformed.yaml"
    malformed.write_text(HIGH_TECH.replace("level: 县", "level: 乡"), encoding="utf-8")
    result = CliRunner().invoke(main, ["policies", "check", str(malformed)])
    assert result.exit_code == 1
    assert "第5行 XKJ-GQ-2026 level：「乡」应为国家、省、市、县之一" in result.stdout


def test_import_policies_then_check_the_stored_catalog(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    session.commit()  # the command opens its own connection
    catalog = tmp_path / "policies.yaml"
    catalog.write_text(HIGH_TECH + SMALL_FIRMS, encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "policies", str(catalog)], env=env(settings, tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "导入政策：新增2条，新版本0条，未变0条\n" + QUEUED
    assert sorted(session.scalars(select(Policy.code))) == ["XGX-XW-2026", "XKJ-GQ-2026"]

    result = CliRunner().invoke(main, ["policies", "check"], env=env(settings, tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "2条政策的5个示例企业全部符合预期。\n"

    catalog.write_text(HIGH_TECH.replace("min: 2000万", "min: 3000万"), encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "policies", str(catalog)], env=env(settings, tmp_path))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "示例企业的结果与预期不符，未导入任何政策（共1处）：\n1. 第20行 XKJ-GQ-2026 examples第1个"
    )


def test_import_profiles(session: Session, settings: Settings, tmp_path: Path) -> None:
    firm = builders.enterprise(session, "鑫源食品")
    session.commit()
    table = write_csv(
        tmp_path / "p.csv", [["统一社会信用代码", "营业收入(万元)", "行业"], [firm.uscc, "2500", "C13"]]
    )
    result = CliRunner().invoke(main, ["import", "profiles", str(table)], env=env(settings, tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "导入企业信息：1家首次登记，0家有更新，0家未变\n" + QUEUED
    session.expire_all()
    assert plain(profile_of(session, firm.id, firm.created_at.replace(year=2100))) == {
        "revenue_wan": 2500, "industry": "C13", "above_scale": True,
    }  # fmt: skip

    bad = write_csv(tmp_path / "bad.csv", [["统一社会信用代码", "营业收入"], [firm.uscc, "12万万"]])
    result = CliRunner().invoke(main, ["import", "profiles", str(bad)], env=env(settings, tmp_path))
    assert result.exit_code == 1
    assert "第2行 营业收入：「12万万」的单位「万万」写错了" in result.stderr

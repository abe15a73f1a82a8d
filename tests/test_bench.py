"""The benchmarks in bench/ still run (tiny sizes; timings are printed, never asserted here)."""

from __future__ import annotations

import os

import pytest

from bench import digest, policy_matching


def test_policy_matching_benchmark_runs_and_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    policy_matching.main(["--enterprises", "200", "--policies", "20", "--rounds", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("policy matching: 200 enterprises × 20 policies")
    match_row = next(line for line in lines if line.startswith(policy_matching.MATCH_ROW))
    assert match_row.split()[-1] in ("PASS", "FAIL")  # a result row, whatever the machine's speed
    agree_row = next(line for line in lines if line.startswith(policy_matching.AGREE_ROW))
    assert "400 pairs, 0 differ" in agree_row  # 20 enterprises × 20 policies: bulk = one by one
    assert agree_row.endswith("PASS")
    if affinity is not None:
        assert os.sched_getaffinity(0) == affinity  # unpinned again for the tests that follow


def test_digest_benchmark_runs_and_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    status = digest.main(["--orders", "300", "--departments", "4", "--leaders", "2", "--rounds", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("digest: 300 orders (")
    assert "4 departments, 2 leaders" in lines[0]
    county_row = next(line for line in lines if line.startswith(digest.COUNTY_ROW))
    assert county_row.split()[-1] in ("PASS", "FAIL")  # a result row, whatever the machine's speed
    assert status == (1 if county_row.endswith("FAIL") else 0)
    assert any(line.startswith("each leader's weekly digest") for line in lines)
    assert any(line.startswith("chart render") for line in lines)  # drawn, or skipped without a font
    assert any(line.startswith("monthly ranking") for line in lines)


def test_deadlines_benchmark_finds_due_alarms_by_index_and_a_worker_fires_reminders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import deadlines

    status = deadlines.main(
        ["--sizes", "300,1000", "--due", "5", "--page", "20", "--rounds", "1", "--repeat", "2",
         "--alarms", "3", "--spread", "1"]
    )  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("deadlines: 300, 1k orders, 5 lost alarms due")
    assert [line.split(":")[0] for line in lines if "due query (due_alarms), 5 due" in line] == ["300", "1k"]
    plans = [line for line in lines if deadlines.PLAN_ROW in line]
    assert len(plans) == 2 and all(line.endswith("PASS") for line in plans)  # a range scan of the alarm index
    late = next(line for line in lines if line.startswith(deadlines.LATE_ROW))
    assert "3/3 arrived" in late  # the real worker fired every armed reminder (how late is not asserted)
    assert status == (1 if any(line.endswith("FAIL") for line in lines) else 0)


def test_imports_benchmark_imports_every_row_with_its_audit_row(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import imports

    status = imports.main(["--enterprises", "300", "--rounds", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("imports: 300 enterprises")
    imported = "导入企业：新增300条，更新0条，未变0条"
    assert any(f"{imported} / {imported}" in line for line in lines)  # from the CSV and from the XLSX
    assert any(line.startswith("stored enterprises") and line.endswith("300 / 300") for line in lines)
    for row in (imports.CSV_ROW, imports.XLSX_ROW):
        assert next(line for line in lines if line.startswith(row)).split()[-1] in ("PASS", "FAIL")
    assert status == (1 if any(line.endswith("FAIL") for line in lines) else 0)


def test_fanout_benchmark_delivers_every_row_once_within_limits(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import fanout

    status = fanout.main(["--messages", "120", "--rounds", "1", "--no-limits"])  # SQLite, embedded Redis
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("fan-out: 120 messages, 2 worker processes each; sqlite, embedded redis")
    assert any(line.startswith("workload per round") and "120 rows" in line for line in lines)
    ratio = next(line for line in lines if line.startswith(fanout.RATIO_ROW))
    assert ratio.split()[-1] in ("PASS", "FAIL")  # a result row, whatever the machine's speed
    for row in (fanout.ONCE_ROW, fanout.MEMBER_ROW, fanout.ROBOT_ROW):  # the real workers, the stand-in's log
        assert next(line for line in lines if line.startswith(row)).endswith("PASS")
    assert status == (1 if any(line.endswith("FAIL") for line in lines) else 0)

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

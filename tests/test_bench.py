"""The benchmarks in bench/ still run (tiny sizes; timings are printed, never asserted here)."""

from __future__ import annotations

import os

import pytest

from bench import policy_matching


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

"""The webhook benchmark still runs end to end (tiny sizes; timings are printed, never asserted)."""

from __future__ import annotations

import pytest

from bench import webhook


@pytest.mark.e2e
def test_webhook_benchmark_runs_every_server_and_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    status = webhook.main(["--requests", "40", "--rounds", "1", "--burst", "20", "--users", "10"])
    lines = capsys.readouterr().out.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("Webhook under load"))) :]
    assert "SQLite + embedded Redis" in table[0]
    ratio = next(line for line in table if line.startswith("ours 日报 / durable ceiling"))
    assert ratio.split()[-1] in ("PASS", "FAIL")  # a result, whatever the machine's speed
    errors = next(line for line in table if line.startswith("errors"))
    assert errors.endswith("PASS")  # every callback of every server got an encrypted answer
    assert status == (1 if any(line.endswith("FAIL") for line in table) else 0)

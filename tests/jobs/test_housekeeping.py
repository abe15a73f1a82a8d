"""Generated files are removed after two weeks, unless an unsent or failed message still needs them."""

from __future__ import annotations

import os
from datetime import timedelta

from bot.db import session_scope
from bot.outbox import OutboxWriter
from bot.replies import File
from jobs.housekeeping import KEEP_DAYS, clean_files


def _file(folder, name: str, age_days: float, now) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"x")
    stamp = (now - timedelta(days=age_days)).timestamp()
    os.utime(path, (stamp, stamp))
    return str(path)


def test_old_files_go_unless_a_waiting_message_names_them(runtime, standin):
    var, now = runtime.settings.var_dir, runtime.clock.now()
    old_chart = _file(var / "digests", "day-old.png", KEEP_DAYS + 1, now)
    new_chart = _file(var / "digests", "day-new.png", 1, now)
    old_export = _file(var / "exports", "台账-old.xlsx", KEEP_DAYS + 3, now)
    waiting = _file(var / "exports", "导出-waiting.xlsx", KEEP_DAYS + 3, now)
    with session_scope(runtime.session_factory) as session:
        OutboxWriter(session, runtime.clock).add("leader_li", File(path=waiting), key="test:waiting")

    assert clean_files() == 2
    assert [os.path.exists(p) for p in (old_chart, new_chart, old_export, waiting)] == [
        False,
        True,
        False,
        True,
    ]
    assert clean_files() == 0

"""The 5-minute sweep over a county's worth of projects: a bounded number of SQL statements per run.

200 projects × 2 责任人 in 20 departments. A run with nothing left to send must cost a few queries
(it runs every 5 minutes); a first run costs a number independent of how many projects there are,
apart from the outbox rows it writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, event, func, select

from bot.clock import LOCAL_ZONE
from bot.models import OutboxMessage, Oversight, Role
from jobs import projects as project_jobs
from tests import builders

DEPARTMENTS = 20
PROJECTS = 200
QUIET_RUN = 40  # statements of a run with nothing left to send
FIRST_RUN = 40  # statements of a first run, not counting those writing outbox rows


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent on `engine` inside the block."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def at(clock, text: str) -> None:
    clock.set(datetime.fromisoformat(text).replace(tzinfo=LOCAL_ZONE))


def outbox_rows(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage))


@pytest.fixture
def big_county(session_factory) -> None:
    """20 departments with group robots and heads; 5 leaders overseeing half of them; 200 projects,
    every other one with a 包抓县领导, each with two 责任人."""
    with session_factory() as s:
        leaders = [builders.person(s, f"leader_{n}", Role.LEADER, f"县领导{n}") for n in range(5)]
        for d in range(DEPARTMENTS):
            dept = builders.department(s, f"县第{d}局", f"D{d:02d}", group_webhook_key=f"robot-{d}")
            builders.person(s, f"head_{d}", Role.OFFICIAL, f"局长{d}", department=dept, is_head=True)
            if d % 2 == 0:
                s.add(Oversight(leader=leaders[d % 5], department=dept))
            for p in range(PROJECTS // DEPARTMENTS):
                n = d * (PROJECTS // DEPARTMENTS) + p
                leads = tuple(
                    builders.person(s, f"lead_{n}_{k}", Role.OFFICIAL, f"干部{n}{k}", department=dept)
                    for k in range(2)
                )
                leader = leaders[n % 5] if n % 2 == 0 else None
                builders.project(s, f"XM{n:03d}", f"重点项目{n}", dept, leads=leads, leader=leader)
        s.commit()


def run_counted(engine: Engine) -> tuple[int, int]:
    """One sweep: (statements not about the outbox, statements about it)."""
    with statements(engine) as seen:
        project_jobs.sweep()
    outbox = sum(1 for s in seen if "outbox" in s.lower())
    return len(seen) - outbox, outbox


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-27 09:10",  # Friday: the prompt to 400 责任人 and 20 groups
        "2026-11-27 15:00",  # the reminder (the prompt window is still open)
        "2026-11-30 09:10",  # Monday: the late reminder
        "2026-11-30 18:00",  # the leaders' lists
    ],
)
def test_a_sweep_costs_a_bounded_number_of_statements(
    runtime, standin, big_county, clock, session_factory, engine, moment
):
    at(clock, moment)
    before = outbox_rows(session_factory)
    others, outbox = run_counted(engine)
    written = outbox_rows(session_factory) - before
    assert written > 0
    assert others < FIRST_RUN, f"{others} statements besides the {written} outbox rows"
    # OutboxWriter.add looks each new key up, and the insert is batched (PostgreSQL) or not (SQLite)
    assert outbox <= 2 * written + 5

    clock.set(clock.now() + timedelta(minutes=5))  # the next run: nothing new
    others, outbox = run_counted(engine)
    assert outbox_rows(session_factory) - before == written
    assert others + outbox < QUIET_RUN


def test_a_run_outside_every_window_reads_no_projects(runtime, standin, big_county, clock, engine):
    at(clock, "2026-11-25 10:00")  # Wednesday: nothing is due
    with statements(engine) as seen:
        assert project_jobs.sweep() == 0
    assert not [s for s in seen if "projects" in s.lower()]

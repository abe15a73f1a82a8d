"""Periodic jobs: Asia/Shanghai schedules, the catch-up window, once per run across cron processes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from bot.queues import DEFAULT, INBOUND
from bot.runtime import Runtime
from jobs import runtime as job_runtime
from jobs import schedule
from jobs.schedule import Periodic, due_runs, tick
from tests.conftest import run_jobs

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY_DIGEST = Periodic("weekly-digest", "10 9 * * 5", "jobs.outbox.sweep")  # Fridays 09:10 Beijing
EVERY_MINUTE = Periodic("every-minute", "* * * * *", "jobs.inbound.sweep", queue=INBOUND)

# Friday 2026-11-27, 09:10 in Beijing is 01:10 UTC.
FRIDAY_0910_UTC = datetime(2026, 11, 27, 1, 10, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def queued_ids(rt: Runtime, name: str = DEFAULT) -> list[str]:
    return rt.queues[name].job_ids


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch):
    """Replace the schedule with the given entries for one test."""

    def use(*entries: Periodic) -> None:
        monkeypatch.setattr(schedule, "SCHEDULE", list(entries))

    return use


@pytest.fixture
def second_cron(runtime: Runtime, redis_url: str) -> Iterator[Runtime]:
    """Another cron process: its own Redis client and runtime, same Redis, same (fixed) time."""
    conn = redis.Redis.from_url(redis_url)
    yield Runtime.build(runtime.settings, clock=runtime.clock, connection=conn, engine=runtime.engine)
    conn.close()


# ---------------------------------------------------------------- due_runs: pure


def test_a_friday_0910_beijing_schedule_falls_at_0110_utc():
    runs = due_runs(FRIDAY_DIGEST, utc(2026, 11, 27, 1, 0), utc(2026, 11, 27, 1, 20), SHANGHAI)
    assert [r.astimezone(UTC) for r in runs] == [FRIDAY_0910_UTC]
    assert runs[0].tzinfo is not None and runs[0].strftime("%a %H:%M") == "Fri 09:10"


def test_a_week_holds_exactly_one_friday_run():
    since = utc(2026, 11, 24, 1, 30)  # Tuesday 09:30 Beijing
    runs = due_runs(FRIDAY_DIGEST, since, since + timedelta(days=7), SHANGHAI)
    assert [r.astimezone(UTC) for r in runs] == [FRIDAY_0910_UTC]


def test_the_window_is_open_at_the_start_and_closed_at_the_end():
    assert due_runs(FRIDAY_DIGEST, FRIDAY_0910_UTC, FRIDAY_0910_UTC + timedelta(hours=1), SHANGHAI) == []
    end_on_it = due_runs(FRIDAY_DIGEST, FRIDAY_0910_UTC - timedelta(minutes=1), FRIDAY_0910_UTC, SHANGHAI)
    assert [r.astimezone(UTC) for r in end_on_it] == [FRIDAY_0910_UTC]


def test_thursday_late_evening_utc_is_already_friday_in_beijing():
    early = Periodic("early", "30 7 * * 5", "jobs.outbox.sweep")  # Friday 07:30 Beijing
    runs = due_runs(early, utc(2026, 11, 26, 12, 0), utc(2026, 11, 27, 12, 0), SHANGHAI)
    assert [r.astimezone(UTC) for r in runs] == [utc(2026, 11, 26, 23, 30)]  # Thursday in UTC


def test_the_same_expression_in_utc_runs_eight_hours_later():
    runs = due_runs(FRIDAY_DIGEST, utc(2026, 11, 27, 0, 0), utc(2026, 11, 28, 0, 0), ZoneInfo("UTC"))
    assert [r.astimezone(UTC) for r in runs] == [utc(2026, 11, 27, 9, 10)]


# ---------------------------------------------------------------- tick: the cron process's job


def test_tick_enqueues_a_run_due_now_with_a_job_id_for_its_local_period(runtime, only):
    only(FRIDAY_DIGEST)
    runtime.clock.set(FRIDAY_0910_UTC)
    assert tick() == ["cron-weekly-digest-20261127T0910"]
    assert queued_ids(runtime) == ["cron-weekly-digest-20261127T0910"]


def test_a_run_missed_by_less_than_catch_up_still_happens(runtime, only):
    only(FRIDAY_DIGEST)
    runtime.clock.set(FRIDAY_0910_UTC + timedelta(minutes=1, seconds=59))  # cron was down 2 minutes
    assert tick() == ["cron-weekly-digest-20261127T0910"]


def test_a_run_missed_by_more_than_catch_up_is_skipped(runtime, only):
    only(FRIDAY_DIGEST)
    runtime.clock.set(FRIDAY_0910_UTC + timedelta(minutes=2))
    assert tick() == []
    assert queued_ids(runtime) == []


def test_a_longer_catch_up_window_recovers_a_longer_outage(runtime, only):
    only(Periodic("digest", "10 9 * * 5", "jobs.outbox.sweep", catch_up=timedelta(hours=1)))
    runtime.clock.set(FRIDAY_0910_UTC + timedelta(minutes=45))
    assert tick() == ["cron-digest-20261127T0910"]


def test_two_cron_processes_ticking_at_the_same_time_enqueue_each_run_once(runtime, second_cron, only):
    only(FRIDAY_DIGEST, EVERY_MINUTE)
    runtime.clock.set(FRIDAY_0910_UTC)
    first = tick()
    job_runtime.install(second_cron)
    assert tick() == []
    job_runtime.install(runtime)
    assert tick() == []  # and the first process's next tick, 20 s later, neither

    assert first == [
        "cron-weekly-digest-20261127T0910",
        "cron-every-minute-20261127T0909",  # inside the catch-up window of the first tick
        "cron-every-minute-20261127T0910",
    ]
    assert queued_ids(runtime, DEFAULT) == ["cron-weekly-digest-20261127T0910"]
    assert queued_ids(runtime, INBOUND) == [
        "cron-every-minute-20261127T0909",
        "cron-every-minute-20261127T0910",
    ]


def test_the_next_minute_enqueues_only_the_next_run(runtime, second_cron, only):
    only(EVERY_MINUTE)
    runtime.clock.set(FRIDAY_0910_UTC)
    tick()
    runtime.clock.advance(seconds=20)
    assert tick() == []

    runtime.clock.advance(seconds=40)  # 09:11:00
    job_runtime.install(second_cron)
    assert tick() == ["cron-every-minute-20261127T0911"]
    job_runtime.install(runtime)
    assert tick() == []
    assert queued_ids(runtime, INBOUND)[-1] == "cron-every-minute-20261127T0911"
    assert len(queued_ids(runtime, INBOUND)) == 3


def test_the_zone_comes_from_settings(runtime, only, engine, redis_conn):
    only(FRIDAY_DIGEST)
    in_utc = Runtime.build(
        runtime.settings.with_(tz="UTC"), clock=runtime.clock, connection=redis_conn, engine=engine
    )
    job_runtime.install(in_utc)
    runtime.clock.set(FRIDAY_0910_UTC)
    assert tick() == []
    runtime.clock.set(utc(2026, 11, 27, 9, 10))
    assert tick() == ["cron-weekly-digest-20261127T0910"]


def test_the_real_schedule_sweeps_every_minute_and_its_jobs_run(runtime, standin):
    started = tick()  # T0: Tuesday 09:30 Beijing
    assert "cron-outbox-sweep-20261124T0930" in started
    assert "cron-inbound-sweep-20261124T0930" in started
    run_jobs(runtime)  # the sweeps themselves run cleanly on an empty database
    assert all(q.count == 0 for q in runtime.queues.all())
    assert runtime.queues[DEFAULT].failed_job_registry.count == 0

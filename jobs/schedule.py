"""Every periodic job in one list, with schedules in the county's local time.

RQ's cron evaluates cron expressions in UTC (RQ 2.x; RQ 3 uses the process's zone), skips
missed windows and takes no lock, so two cron processes would enqueue everything twice. So the
cron process only enqueues `tick` every 20 s; `tick` works out which local-time runs fell due,
claims each run once with Redis SET NX, and enqueues it with a job id unique to its period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from bot.queues import DEFAULT, INBOUND
from bot.runtime import Runtime
from jobs.runtime import current

log = logging.getLogger(__name__)

TICK_SECONDS = 20
TICK_QUEUE = INBOUND  # the highest-priority queue: a backlog of digests must not delay the clock
CLAIM_TTL = int(timedelta(days=2).total_seconds())


@dataclass(frozen=True)
class Periodic:
    """A job that runs on a local-time cron schedule."""

    name: str
    cron: str  # minute hour day month weekday, in local time (TZ, default Asia/Shanghai)
    func: str  # dotted path of the job
    queue: str = DEFAULT
    catch_up: timedelta = timedelta(minutes=2)  # a run missed by less than this still happens


SCHEDULE: list[Periodic] = [
    Periodic("outbox-sweep", "* * * * *", "jobs.outbox.sweep"),
    Periodic("inbound-sweep", "* * * * *", "jobs.inbound.sweep"),
    Periodic("order-alarms", "*/5 * * * *", "jobs.orders.sweep"),
    Periodic("quiet-day-reminders", "0 16 * * *", "jobs.inspections.remind"),  # the afternoon before
    Periodic("policy-pushes", "30 9 * * *", "jobs.policies.push"),  # policies whose day has come
    Periodic("supervision-reminders", "5 9 * * *", "jobs.supervision.remind"),  # 督办卡 due or overdue
    Periodic("project-weekly", "*/5 * * * *", "jobs.projects.sweep"),  # prompts at ZTC_PROJECT_PROMPT_TIME
    Periodic("project-monthly", "20 9 * * *", "jobs.projects.monthly"),  # 月汇报 reminders, late lists
    Periodic("digests", "*/5 * * * *", "jobs.digests.sweep"),  # 日报/周报 at ZTC_DIGEST_*_TIME
    Periodic("housekeeping", "10 3 * * *", "jobs.housekeeping.clean_files"),  # old charts and exports
]


def due_runs(periodic: Periodic, since: datetime, until: datetime, zone: ZoneInfo) -> list[datetime]:
    """The scheduled moments in (since, until], as aware local datetimes."""
    runs: list[datetime] = []
    it = croniter(periodic.cron, since.astimezone(zone))
    while (moment := it.get_next(datetime)) <= until:
        runs.append(moment)
    return runs


def _claim_and_enqueue(rt: Runtime, periodic: Periodic, run_id: str) -> bool:
    """Claim the run for this period, then enqueue it; a failed enqueue gives the claim back."""
    claim = f"{rt.settings.queue_prefix}:{run_id}"
    if not rt.redis.set(claim, 1, nx=True, ex=CLAIM_TTL):
        return False  # another cron process (or an earlier tick) has it
    try:
        return rt.queues.enqueue(periodic.queue, periodic.func, job_id=run_id)
    except Exception:
        rt.redis.delete(claim)  # so the next tick, within catch_up, tries again
        raise


def tick() -> list[str]:
    """Enqueue every periodic run that fell due, once, whichever cron process asked first."""
    rt = current()
    now = rt.clock.now()
    started: list[str] = []
    for periodic in SCHEDULE:
        for moment in due_runs(periodic, now - periodic.catch_up, now, rt.settings.zone):
            run_id = f"cron-{periodic.name}-{moment:%Y%m%dT%H%M}"
            if _claim_and_enqueue(rt, periodic, run_id):
                started.append(run_id)
    if started:
        log.info("cron started %s", ", ".join(started))
    return started

"""The worker and cron entry points: the runtime is built once, before any job (or fork)."""

from __future__ import annotations

import logging
import os
import time

from redis import RedisError
from rq import SimpleWorker, Worker
from rq.cron import CronScheduler
from rq.exceptions import StopRequested
from rq.scheduler import RQScheduler
from rq.worker import BaseWorker

from bot.runtime import Runtime
from jobs import runtime as job_runtime
from jobs.schedule import TICK_QUEUE, TICK_SECONDS, tick

log = logging.getLogger(__name__)

# RQ restarts its scheduler process (the one that runs enqueue_at jobs: back-offs, send-rate waits,
# 盯单 alarms) only in its maintenance, by default every 10 minutes, and a Redis outage kills that
# process: back-offs would then wait for the sweepers. Checking every 30 s keeps them on time.
MAINTENANCE_SECONDS = 30
CRON_RETRY_SECONDS = 2.0  # while Redis is down, the cron process tries again this often
SCHEDULER_SECONDS = 0.25  # how often the scheduler looks for due enqueue_at jobs (PromptScheduler)


def _prepare(runtime: Runtime) -> None:
    job_runtime.install(runtime)
    # A forked work horse must not reuse the parent's database connections.
    os.register_at_fork(after_in_child=lambda: runtime.engine.dispose(close=False))


def run_worker(runtime: Runtime, *, fork: bool = False, burst: bool = False) -> bool:
    """Work the inbound, outbox and default queues, with RQ's scheduler for enqueue_at jobs."""
    _prepare(runtime)
    worker_class = Worker if fork else SimpleWorker  # simple: ~5x the jobs/s of forking (bench/)
    worker = worker_class(
        runtime.queues.all(), connection=runtime.redis, maintenance_interval=MAINTENANCE_SECONDS
    )
    if not burst:  # (a burst worker queues the due jobs once, RQ's way)
        _start_scheduler(worker, runtime)
    level = runtime.settings.log_level
    return bool(worker.work(with_scheduler=burst, burst=burst, logging_level=level))


class PromptScheduler(RQScheduler):
    """RQ's scheduler process, looking for due enqueue_at jobs every SCHEDULER_SECONDS.

    RQ's looks once per `interval`, and that must be whole seconds (its locks expire after interval
    + 60 s, set with EXPIRE); a job is kept to the whole second, rounded up (bot/queues.py). So a
    盯单 alarm due at 09:00:05.1 was queued at 09:00:06 plus up to a second, and reached WeCom up to
    2.5 s late on a busy machine (bench/deadlines.py). This is RQ 2.x's loop with a shorter sleep.
    """

    def work(self) -> None:
        self._install_signal_handlers()
        self.register_birth()
        while not self._stop_requested:
            if self.should_reacquire_locks:
                self.acquire_locks()
            self.heartbeat()
            self.enqueue_scheduled_jobs()
            time.sleep(SCHEDULER_SECONDS)
        self.stop()


def _start_scheduler(worker: BaseWorker, runtime: Runtime) -> None:
    """Start a PromptScheduler as the worker's own: the worker stops it, and restarts it in its
    maintenance, as it would RQ's (Worker.work cannot be given another scheduler class)."""
    level = runtime.settings.log_level
    scheduler = PromptScheduler(worker.queues, connection=runtime.redis, logging_level=level)
    worker.scheduler = scheduler
    scheduler.acquire_locks(auto_start=True)  # held by another worker: the maintenance tries again


def run_cron(runtime: Runtime) -> None:
    """RQ's cron, enqueueing only `tick` (see jobs/schedule.py for why), until asked to stop."""
    job_runtime.install(runtime)
    while not _run_cron_until_redis_fails(runtime):
        pass


def _run_cron_until_redis_fails(runtime: Runtime) -> bool:
    """Run RQ's cron; True once asked to stop, False after a Redis failure and a short pause.

    RQ's cron loop exits on the first Redis error; then a supervisor would have to restart it, and
    until then nothing would tick: no outbox sweep, so messages held back by the outage stayed put.
    """
    scheduler = CronScheduler(connection=runtime.redis, logging_level=runtime.settings.log_level)
    scheduler.register(tick, queue_name=runtime.queues[TICK_QUEUE].name, interval=TICK_SECONDS)
    try:
        scheduler.start()  # returns on SIGTERM or SIGINT
        return True
    except RedisError as exc:
        log.warning("cron: Redis unavailable (%s); trying again in %.0f s", exc, CRON_RETRY_SECONDS)
    try:
        time.sleep(CRON_RETRY_SECONDS)
    except StopRequested:  # RQ's signal handler is still installed: a SIGTERM while we wait
        return True
    return False

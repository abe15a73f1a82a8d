"""The worker and cron entry points: the runtime is built once, before any job (or fork)."""

from __future__ import annotations

import logging
import os

from rq import SimpleWorker, Worker
from rq.cron import CronScheduler

from bot.runtime import Runtime
from jobs import runtime as job_runtime
from jobs.schedule import TICK_QUEUE, TICK_SECONDS, tick

log = logging.getLogger(__name__)


def _prepare(runtime: Runtime) -> None:
    job_runtime.install(runtime)
    # A forked work horse must not reuse the parent's database connections.
    os.register_at_fork(after_in_child=lambda: runtime.engine.dispose(close=False))


def run_worker(runtime: Runtime, *, fork: bool = False, burst: bool = False) -> bool:
    """Work the inbound, outbox and default queues, with RQ's scheduler for enqueue_at jobs."""
    _prepare(runtime)
    worker_class = Worker if fork else SimpleWorker  # simple: ~5x the jobs/s of forking (bench/)
    worker = worker_class(runtime.queues.all(), connection=runtime.redis)
    return bool(worker.work(with_scheduler=True, burst=burst, logging_level=runtime.settings.log_level))


def run_cron(runtime: Runtime) -> None:
    """RQ's cron, enqueueing only `tick` (see jobs/schedule.py for why)."""
    job_runtime.install(runtime)
    scheduler = CronScheduler(connection=runtime.redis, logging_level=runtime.settings.log_level)
    scheduler.register(tick, queue_name=runtime.queues[TICK_QUEUE].name, interval=TICK_SECONDS)
    scheduler.start()

"""Redis connection and the RQ queues, in one place so web, worker and cron agree on names."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import JobStatus

from bot.embedded_redis import ensure_embedded_redis
from bot.settings import Settings

INBOUND = "inbound"  # slow handlers: a person is waiting
OUTBOX = "outbox"  # sends
DEFAULT = "default"  # reminders, sweeps, digests
ALL = (INBOUND, OUTBOX, DEFAULT)  # the worker's priority order
RETRY = Retry(max=3, interval=[10, 60, 300])


def redis_url(settings: Settings) -> str:
    """REDIS_URL, or the embedded server's socket (started if needed)."""
    return settings.redis_url or ensure_embedded_redis(settings.var_dir)


# redis-py 8 retries a refused connection with backoff for ~4 s by default: far too long inside
# WeCom's 5-second window. One immediate retry (a reconnect after a Redis restart), short
# timeouts, no health-check PING; callers degrade on RedisError and trip a Breaker. RQ raises
# the socket timeout of a worker's own connection above its blocking-pop timeout itself.
CLIENT_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 0.5,
    "socket_timeout": 1.0,
    "health_check_interval": 0,
    "retry": RedisRetry(NoBackoff(), 1),
}


@dataclass(frozen=True)
class Deferred:
    """A job to run at a moment, asked for by a handler and enqueued once its transaction commits."""

    func: str  # dotted path, so handlers never import jobs
    when: datetime
    args: tuple[Any, ...]
    job_id: str  # unique per cause: asking twice schedules it once


class Breaker:
    """After a Redis failure, skip Redis for a while: one slow failure per outage, not one per call."""

    def __init__(self, cooldown_seconds: float = 10.0) -> None:
        self.cooldown = cooldown_seconds
        self._open_until = 0.0

    def allow(self) -> bool:
        """False while recovering from a failure (callers take their fallback path)."""
        return time.monotonic() >= self._open_until

    def trip(self) -> None:
        """Record a failure: Redis is skipped until the cooldown passes."""
        self._open_until = time.monotonic() + self.cooldown


def connect(settings: Settings) -> redis.Redis:
    """A client that fails fast: a Redis outage must not hang a webhook request."""
    return redis.Redis.from_url(redis_url(settings), **CLIENT_OPTIONS)


class Queues:
    """The named RQ queues over one connection."""

    def __init__(self, connection: redis.Redis, prefix: str = "ztc") -> None:
        self.connection = connection
        self.prefix = prefix
        self._queues = {name: Queue(f"{prefix}-{name}", connection=connection) for name in ALL}

    def __getitem__(self, name: str) -> Queue:
        return self._queues[name]

    def all(self) -> list[Queue]:
        """In priority order, for the worker."""
        return [self._queues[name] for name in ALL]

    def enqueue(self, name: str, func: Any, *args: Any, job_id: str, **kwargs: Any) -> bool:
        """Enqueue once per job id, with bounded retries (RQ reruns the whole job); False if already there."""
        try:
            self._queues[name].enqueue(func, *args, job_id=job_id, unique=True, retry=RETRY, **kwargs)
        except DuplicateJobError:
            return False
        return True

    def enqueue_at(
        self, name: str, when: datetime, func: Any, *args: Any, job_id: str, **kwargs: Any
    ) -> bool:
        """Run at a moment, once per job id; needs a worker with the scheduler (`ztc worker` has it)."""
        queue = self._queues[name]
        # Queue.enqueue_at ignores `unique` (RQ 2.12), so build and schedule the job ourselves.
        job = queue.create_job(
            func, args=args, job_id=job_id, retry=RETRY, status=JobStatus.SCHEDULED, **kwargs
        )
        try:
            queue.schedule_job(job, whole_second_from(when), unique=True)
        except DuplicateJobError:
            return False
        return True


def whole_second_from(when: datetime) -> datetime:
    """`when`, rounded up to a whole second.

    RQ's scheduler keeps whole seconds and drops the fraction, so a job due at 12:00:05.6 could run
    at 12:00:05.1, find its outbox row's back-off or its alarm not yet due, and do nothing: the
    message would then wait for a sweeper, a minute or more.
    """
    if not when.microsecond:
        return when
    return when.replace(microsecond=0) + timedelta(seconds=1)

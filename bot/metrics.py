"""Prometheus metrics of the web process, GET /metrics (text format, the official prometheus_client).

Why this design. `ztc web` is gunicorn with several sync worker processes; RQ workers and cron are
other processes, maybe on other hosts. A scrape reaches one web worker, yet must report totals.
So each figure is kept where it can be summed, or read where everyone sees the same:

- **Callbacks by result and their duration** are counted by the web workers that answer them,
  in Flask hooks keyed by request.path and the response status (so bot/webhook.py and
  bot/intake.py know nothing of metrics). Under `ztc web` they use prometheus_client's
  multiprocess mode: bot/serve.py makes a fresh directory per start and sets
  PROMETHEUS_MULTIPROC_DIR before gunicorn forks; each worker writes its counters to its own
  memory-mapped file there and a scrape sums every file, including those of workers gunicorn
  has since replaced, so a total never goes backwards within a start. These are per host: with
  web processes on several hosts, Prometheus sums the instances.
- **State in PostgreSQL and Redis** — outbox depth, queue depth and the age of each queue's
  oldest job, overdue work orders — is read at scrape time (StateCollector). Every web process
  sees the same rows, so whichever answers reports the deployment's truth, and no process holds a
  copy that could drift. The reads are cheap: a GROUP BY over the outbox's (status, not_before)
  index, one aggregate over the open work orders, and two pipelined Redis round trips.
- **Counters of the RQ workers** — WeCom API results by errcode — are added to a Redis hash by
  the WeCom client (bot/wecom/tally.py) and exposed by StateCollector, so any web process reports
  the cluster-wide total. (Multiprocess files would need every worker on the web's host; a
  Pushgateway would be one more service to run and does not sum pushes.)

A scrape never fails because a dependency is down: the database part and the Redis part each run
bounded in time (bot.health.run_bounded); a part that failed is reported as ztc_up{dependency}=0
and its metrics are left out, everything else is reported.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis import Redis
from rq.job import Job
from rq.utils import utcparse
from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import SystemClock
from bot.health import run_bounded
from bot.models import InboundMessage, OutboxMessage, OutboxStatus
from bot.queues import ALL
from bot.wecom.tally import read_results, tally_key

if TYPE_CHECKING:
    from bot.runtime import Runtime

CALLBACK_ENDPOINTS = frozenset({"/wecom/callback", "/wecom/aibot", "/wechat/callback"})
# Around WeCom's 5-second rule: the passive reply is given up at 3 s (bot.intake), WeCom at 5 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0)
# What bot/webhook.py means by each refusal status.
REFUSAL_REASONS = {
    400: "malformed",
    403: "signature",
    404: "not_configured",
    405: "method",
    411: "no_length",
    413: "too_large",
}
WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)
SCRAPE_TIMEOUT = 3.0  # seconds per part (database, Redis); Prometheus' scrape timeout is 10 s
OLDEST_LOOKED_AT = 5  # ids at a queue's head read for the oldest job (one may be a deleted job)

OverdueCounts = Callable[[Session, datetime], Mapping[str, int]]


# ---------------------------------------------------------------- callbacks (per request)


def callback_outcome(method: str, status: int, duplicate: bool) -> tuple[str, str]:
    """(outcome, reason) of one callback request, from what the webhook answered."""
    if status >= 500:
        return "error", ""
    if status >= 400:
        return "refused", REFUSAL_REASONS.get(status, str(status))
    if method == "GET":
        return "verified", ""  # the console's URL check
    return ("duplicate" if duplicate else "answered"), ""


class CallbackMetrics:
    """Callbacks by endpoint and outcome, and their duration, as this process (or its file) counts them."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.results = Counter(
            "ztc_callbacks",
            "WeCom callbacks answered, by endpoint and outcome (refused: by reason)",
            ("endpoint", "outcome", "reason"),
            registry=registry,
        )
        self.duration = Histogram(
            "ztc_callback_duration_seconds",
            "Time from a callback request's arrival in Flask to its answer",
            ("endpoint",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def record(self, endpoint: str, method: str, status: int, duplicate: bool, seconds: float) -> None:
        """Count one callback and its duration."""
        outcome, reason = callback_outcome(method, status, duplicate)
        self.results.labels(endpoint, outcome, reason).inc()
        self.duration.labels(endpoint).observe(seconds)


def _note_duplicate(context: ExceptionContext) -> None:
    """The inbound row's unique dedup key refused an insert: the intake met a delivery stored before.

    That violation is the intake's own test for a duplicate (README: "a retried callback acts
    once"), and watching for it keeps the count out of bot/intake.py.
    """
    statement = (context.statement or "").lstrip().lower()
    if (
        has_request_context()
        and isinstance(context.sqlalchemy_exception, IntegrityError)
        and statement.startswith(f"insert into {InboundMessage.__tablename__} ")
    ):
        g.ztc_duplicate = True


def _watch_duplicates(engine: Engine) -> None:
    """Listen for refused inbound inserts on this engine, once however many apps share it."""
    if not event.contains(engine, "handle_error", _note_duplicate):
        event.listen(engine, "handle_error", _note_duplicate)


def _install_callback_hooks(app: Flask, metrics: CallbackMetrics) -> None:
    """Time and count the callback paths; everything else is left alone."""

    @app.before_request
    def start_timer() -> None:
        if request.path in CALLBACK_ENDPOINTS:
            g.ztc_started = time.perf_counter()

    def record(status: int) -> None:
        started = g.pop("ztc_started", None)
        if started is not None:
            duplicate = bool(g.pop("ztc_duplicate", False))
            metrics.record(request.path, request.method, status, duplicate, time.perf_counter() - started)

    @app.after_request
    def count_answer(response: Response) -> Response:
        record(response.status_code)
        return response

    @app.teardown_request
    def count_failure(exc: BaseException | None) -> None:
        record(500)  # only if after_request never ran: an exception escaped the view


# ---------------------------------------------------------------- state (read at scrape time)


def outbox_depth(session: Session) -> dict[str, int]:
    """Outbox rows waiting (pending), being sent (sending) and dead letters (failed)."""
    query = (
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_([s.value for s in WAITING]))
        .group_by(OutboxMessage.status)
    )
    counts = {s.value: 0 for s in WAITING}
    counts.update({str(status): int(n) for status, n in session.execute(query)})
    return counts


def queue_figures(redis: Redis, queue_keys: Mapping[str, str], now: datetime) -> dict[str, tuple[int, float]]:
    """{queue: (jobs waiting, age in seconds of the oldest)} in two pipelined round trips."""
    pipe = redis.pipeline(transaction=False)
    for key in queue_keys.values():
        pipe.llen(key)
        pipe.lrange(key, 0, OLDEST_LOOKED_AT - 1)  # RQ appends at the tail: the head is the oldest
    replies = pipe.execute()
    depths = dict(zip(queue_keys, replies[0::2], strict=True))
    heads: dict[str, list[bytes]] = dict(zip(queue_keys, replies[1::2], strict=True))
    pipe = redis.pipeline(transaction=False)
    for ids in heads.values():
        for job_id in ids:
            pipe.hget(Job.key_for(job_id.decode()), "enqueued_at")
    stamps = iter(pipe.execute())
    figures = {}
    for name, ids in heads.items():
        enqueued = [stamp for stamp in (next(stamps) for _ in ids) if stamp]
        age = (now - utcparse(enqueued[0].decode())).total_seconds() if enqueued else 0.0
        figures[name] = (int(depths[name]), max(0.0, age))
    return figures


class StateCollector:
    """Reads the deployment's state when scraped: the same figures from whichever process answers."""

    def __init__(
        self, runtime: Runtime, overdue: OverdueCounts | None, timeout: float = SCRAPE_TIMEOUT
    ) -> None:
        self.runtime = runtime
        self.overdue = overdue
        self.timeout = timeout

    def collect(self) -> Iterable[Metric]:
        """ztc_up, then what the database and Redis gave (a part that failed is left out)."""
        outcomes = run_bounded({"database": self._database, "redis": self._redis}, self.timeout)
        up = GaugeMetricFamily(
            "ztc_up", "1 if the dependency answered this scrape, else 0", labels=["dependency"]
        )
        for name, outcome in outcomes.items():
            up.add_metric([name], 1.0 if outcome.ok else 0.0)
        yield up
        for outcome in outcomes.values():
            if outcome.ok:
                yield from outcome.value

    def _database(self) -> list[Metric]:
        with self.runtime.session_factory() as session:
            depth = outbox_depth(session)
            overdue = self.overdue(session, self.runtime.clock.now()) if self.overdue else None
        outbox = GaugeMetricFamily("ztc_outbox_messages", "Outbox rows by status", labels=["status"])
        for status, n in depth.items():
            outbox.add_metric([status], n)
        families: list[Metric] = [outbox]
        if overdue is not None:
            late = GaugeMetricFamily(
                "ztc_orders_overdue",
                "Open 诉求 work orders past their deadline, by clock",
                labels=["deadline"],
            )
            for clock, n in overdue.items():
                late.add_metric([clock], n)
            families.append(late)
        return families

    def _redis(self) -> list[Metric]:
        rt = self.runtime
        keys = {name: rt.queues[name].key for name in ALL}
        # RQ stamps jobs with the real clock, so their age is measured against it too.
        figures = queue_figures(rt.redis, keys, SystemClock().now())
        depth = GaugeMetricFamily("ztc_queue_jobs", "Jobs waiting in an RQ queue", labels=["queue"])
        age = GaugeMetricFamily(
            "ztc_queue_oldest_job_age_seconds",
            "Age of the oldest job waiting in an RQ queue",
            labels=["queue"],
        )
        for name, (jobs, seconds) in figures.items():
            depth.add_metric([name], jobs)
            age.add_metric([name], seconds)
        sends = CounterMetricFamily(
            "ztc_wecom_api_results",
            "WeCom API calls by endpoint and errcode (transport: no answer), from every process",
            labels=["endpoint", "errcode"],
        )
        tally = read_results(rt.redis, tally_key(rt.settings.wecom_corp_id, rt.settings.wecom_agent_id))
        for (endpoint, errcode), n in sorted(tally.items()):
            sends.add_metric([endpoint, errcode], n)
        return [depth, age, sends]


# ---------------------------------------------------------------- wiring


def _multiprocess_registry(path: str, state: StateCollector) -> Callable[[], CollectorRegistry]:
    """A registry per scrape: every process's files in `path`, plus the state read now."""
    from prometheus_client import multiprocess, values

    # The value class is chosen when prometheus_client is first imported: imported before the
    # directory was set, this process would count in memory only and scrapes would disagree.
    if values.ValueClass is values.MutexValue:
        raise RuntimeError("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set")

    def registry() -> CollectorRegistry:
        fresh = CollectorRegistry()  # per scrape, as multiprocess mode requires
        multiprocess.MultiProcessCollector(fresh, path=path)
        fresh.register(state)
        return fresh

    return registry


def install(app: Flask, runtime: Runtime, overdue: OverdueCounts | None = None) -> None:
    """Count the callbacks and serve GET /metrics (multiprocess when PROMETHEUS_MULTIPROC_DIR is set)."""
    state = StateCollector(runtime, overdue)
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        callbacks = CallbackMetrics(registry=None)  # written to this process's file, summed per scrape
        registry = _multiprocess_registry(path, state)
    else:
        own = CollectorRegistry()  # one per app: tests build many apps in one process
        callbacks = CallbackMetrics(registry=own)
        own.register(state)
        registry = lambda: own  # noqa: E731
    _install_callback_hooks(app, callbacks)
    _watch_duplicates(runtime.engine)

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus text format: callbacks, latency, outbox, queues, WeCom results, overdue orders."""
        return Response(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)

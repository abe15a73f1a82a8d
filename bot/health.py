"""/readyz: can this web process reach PostgreSQL and Redis right now?

/healthz says the process is up; /readyz says it can do its work, so a load balancer or an
orchestrator stops sending callbacks to a process cut off from its database or Redis. Each check
runs in a thread of its own and is waited for at most CHECK_TIMEOUT: a database host that drops
packets would otherwise hold the probe until the driver gives up (psycopg has no connect timeout
by default), and a probe that hangs tells the prober less than a quick 503. The answer names the
dependency that failed and the exception's class, never its message: those carry host names,
users and URLs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Response
from sqlalchemy import Engine, text

if TYPE_CHECKING:
    from redis import Redis

    from bot.runtime import Runtime

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0  # seconds; Redis clients give up after 0.5 s connecting, 1 s reading (bot.queues)


@dataclass(frozen=True)
class Outcome:
    """What one bounded call gave: its value, or why there is none (no secrets in `problem`)."""

    value: Any = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def run_bounded(calls: Mapping[str, Callable[[], Any]], timeout: float) -> dict[str, Outcome]:
    """Run the calls side by side, each in a daemon thread; whatever is not done by `timeout` failed."""
    outcomes: dict[str, Outcome] = {}

    def run(name: str, call: Callable[[], Any]) -> None:
        try:
            outcomes[name] = Outcome(value=call())
        except Exception as exc:  # reported by class only: messages may hold URLs and hosts
            outcomes[name] = Outcome(problem=f"failed ({type(exc).__name__})")
            log.warning("%s: %s", name, outcomes[name].problem, exc_info=log.isEnabledFor(logging.DEBUG))

    threads = {
        name: threading.Thread(target=run, args=(name, call), daemon=True) for name, call in calls.items()
    }
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    # A thread still running is left to finish on its own (bounded by the drivers' own timeouts).
    return {name: outcomes.get(name, Outcome(problem=f"timed out after {timeout:g} s")) for name in calls}


def ping_database(engine: Engine) -> bool:
    """SELECT 1 on a pooled connection."""
    with engine.connect() as connection:
        return connection.execute(text("SELECT 1")).scalar() == 1


def ping_redis(redis: Redis) -> bool:
    """PING."""
    return bool(redis.ping())


def dependency_checks(runtime: Runtime) -> dict[str, Callable[[], Any]]:
    """The checks /readyz runs, by the name it reports."""
    return {"database": lambda: ping_database(runtime.engine), "redis": lambda: ping_redis(runtime.redis)}


def readiness(runtime: Runtime, timeout: float = CHECK_TIMEOUT) -> Response:
    """200 when the database and Redis both answer in time, else 503; one line per dependency."""
    outcomes = run_bounded(dependency_checks(runtime), timeout)
    lines = [f"{name}: {'ok' if o.ok and o.value else o.problem or 'failed'}" for name, o in outcomes.items()]
    ready = all(o.ok and o.value for o in outcomes.values())
    return Response("\n".join(lines) + "\n", status=200 if ready else 503, mimetype="text/plain")

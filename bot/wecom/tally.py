"""WeCom API results by endpoint and errcode, counted in Redis so every process's sends add up.

The sends happen in RQ worker processes, possibly on several hosts, while Prometheus scrapes the
web processes. So each HTTP round trip of the WeCom client (`WeComClient._request`, decorated
with `tallied`) adds one to a field of a Redis hash shared by the whole deployment, and any web
process's /metrics reports the cluster-wide totals from it (bot.metrics). One HINCRBY per call
costs far less than the call itself; if Redis fails, counting pauses for a while (a Breaker) and
the send goes on: a metric is never worth a failed or slowed message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from redis import RedisError

from bot.queues import Breaker

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)

TRANSPORT = "transport"  # no errcode: a network failure, an HTTP error status or a body that is not JSON
_SEPARATOR = "|"
_paused = Breaker(cooldown_seconds=30.0)  # per process: after a Redis failure, stop counting a while

Request = TypeVar("Request", bound=Callable[..., dict[str, Any]])


def tally_key(corp_id: str, agent_id: int) -> str:
    """The Redis hash of one WeCom app's results (keyed like its access token: per corp and agent)."""
    return f"ztc:metrics:wecom:{corp_id}:{agent_id}"


def count_result(redis: Redis, key: str, endpoint: str, errcode: str) -> None:
    """Add one call of `endpoint` that ended with `errcode`; never raises."""
    if not _paused.allow():
        return
    try:
        redis.hincrby(key, f"{endpoint}{_SEPARATOR}{errcode}", 1)
    except RedisError as exc:
        _paused.trip()
        log.debug("WeCom result not counted (%s); counting paused", type(exc).__name__)


def read_results(redis: Redis, key: str) -> dict[tuple[str, str], int]:
    """{(endpoint, errcode): calls} as counted so far by every process."""
    raw: dict[bytes | str, bytes | str] = redis.hgetall(key)
    results: dict[tuple[str, str], int] = {}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else field
        endpoint, _, errcode = name.rpartition(_SEPARATOR)
        results[(endpoint, errcode)] = int(value)
    return results


def errcode_of(result: dict[str, Any]) -> str:
    """The errcode of a decoded answer as a label: "0" for success (an answer without one succeeded)."""
    try:
        return str(int(result.get("errcode", 0)))
    except (TypeError, ValueError):
        return "unreadable"


def tallied(request: Request) -> Request:
    """Decorates WeComClient._request(self, method, endpoint, …): counts each round trip's result."""

    @functools.wraps(request)
    def counted(client: Any, method: str, endpoint: str, **kwargs: Any) -> dict[str, Any]:
        key = tally_key(client.corp_id, client.agent_id)
        try:
            result = request(client, method, endpoint, **kwargs)
        except Exception:
            count_result(client._redis, key, endpoint, TRANSPORT)
            raise
        count_result(client._redis, key, endpoint, errcode_of(result))
        return result

    return cast(Request, counted)

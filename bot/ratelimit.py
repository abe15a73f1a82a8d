"""Sliding-window send limits in Redis, shared by all workers.

WeCom silently DROPS messages above 30/min or 1000/hour per member of an app, and a group
robot takes 20/min; so we wait instead of sending into the void.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis

# Atomically: drop entries older than the window; if under the limit, take a slot (0),
# else answer how many milliseconds until the oldest entry leaves the window.
_ACQUIRE = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


@dataclass(frozen=True)
class Window:
    """A limit: at most `limit` sends per `seconds`."""

    limit: int
    seconds: int


MEMBER_WINDOWS = (Window(30, 60), Window(1000, 3600))
ROBOT_WINDOWS = (Window(20, 60),)


class SendLimiter:
    """Takes a send slot for a recipient, or says how long to wait for one."""

    def __init__(self, connection: redis.Redis, prefix: str = "ztc", per_minute: int = 30) -> None:
        self._script = connection.register_script(_ACQUIRE)
        self.prefix = prefix
        self.member_windows = (Window(per_minute, 60), *MEMBER_WINDOWS[1:])

    def wait_seconds(self, recipient: str, now_ms: int) -> float:
        """0 if a slot was taken for this send, else seconds until one frees up."""
        windows = ROBOT_WINDOWS if recipient.startswith("group:") else self.member_windows
        for window in windows:
            key = f"{self.prefix}:rl:{window.seconds}:{recipient}"
            wait_ms = int(
                self._script(keys=[key], args=[now_ms, window.seconds * 1000, window.limit, _token()])
            )
            if wait_ms:
                return wait_ms / 1000
        return 0.0


def _token() -> str:
    # A unique member per send: two sends in the same millisecond are two entries.
    return uuid.uuid4().hex

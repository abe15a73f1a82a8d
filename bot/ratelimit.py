"""Sliding-window send limits in Redis, shared by all workers.

WeCom silently DROPS messages above 30/min or 1000/hour per member of an app, and a group
robot takes 20/min; so we wait instead of sending into the void.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis

# Atomically, over every window of one recipient (KEYS[i] with ARGV limit/window pairs):
# drop entries older than each window; if all have room, take a slot in each and answer 0,
# else take nothing and answer the milliseconds until the fullest window frees a slot.
_ACQUIRE = """
local now, token = tonumber(ARGV[1]), ARGV[2]
local wait = 0
for i, key in ipairs(KEYS) do
  local limit, window = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now, 1)
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, token)
  redis.call('PEXPIRE', key, tonumber(ARGV[2 + 2 * i]))
end
return 0
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
        """0 if a slot was taken for this send (in every window), else seconds until one frees up."""
        windows = ROBOT_WINDOWS if recipient.startswith("group:") else self.member_windows
        keys = [f"{self.prefix}:rl:{w.seconds}:{recipient}" for w in windows]
        args: list[int | str] = [now_ms, _token()]
        for w in windows:
            args += [w.limit, w.seconds * 1000]
        return int(self._script(keys=keys, args=args)) / 1000


def _token() -> str:
    # A unique member per send: two sends in the same millisecond are two entries.
    return uuid.uuid4().hex

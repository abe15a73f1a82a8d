"""Per-user conversation state in Redis: a named step and its data, with a TTL.

A handler reads `ctx.conversation.state/data` and calls `goto(step, **data)` or `end()`.
Changes are applied only after the handler's transaction commits, so a refused step leaves
the conversation where it was. 「取消」 ends any conversation (see routing.CANCEL_WORDS).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.exceptions import LockError

from bot.queues import Breaker

log = logging.getLogger(__name__)

# One user's messages are handled one at a time (load → handle → save), so two photos sent
# together both land in the conversation. The wait is short: WeCom gives up after 5 seconds,
# and a message that waited too long is handled anyway rather than dropped.
LOCK_SECONDS = 10
LOCK_WAIT_SECONDS = 1.5


@dataclass
class Conversation:
    """One user's conversation: the current step and what was collected so far."""

    user_id: str
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    changed: bool = False

    def goto(self, state: str, **data: Any) -> None:
        """Move to a step, merging data into what was collected."""
        self.state = state
        self.data = {**self.data, **data}
        self.changed = True

    def end(self) -> None:
        """Finish the conversation (also on 取消)."""
        self.state = None
        self.data = {}
        self.changed = True


class ConversationStore:
    """Load and save conversations; a Redis outage degrades to 'no conversation', never an error."""

    def __init__(self, connection: redis.Redis, ttl_seconds: int, prefix: str, breaker: Breaker) -> None:
        self.connection = connection
        self.ttl = ttl_seconds
        self.prefix = prefix
        self.breaker = breaker

    def _key(self, user_id: str) -> str:
        return f"{self.prefix}:conv:{user_id}"

    @contextmanager
    def locked(self, user_id: str) -> Iterator[None]:
        """Hold the user's lock while his message is handled (best effort: Redis down means no lock)."""
        lock = self.connection.lock(
            f"{self.prefix}:conv-lock:{user_id}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS
        )
        acquired = False
        if self.breaker.allow():
            try:
                acquired = bool(lock.acquire())
            except redis.RedisError:
                self.breaker.trip()
        if not acquired:
            log.info("handling %s without the conversation lock", user_id)
        try:
            yield
        finally:
            if acquired:
                try:
                    lock.release()
                except (LockError, redis.RedisError):
                    log.info("conversation lock of %s expired before release", user_id)

    def load(self, user_id: str) -> Conversation:
        """The user's conversation, or an empty one."""
        if not self.breaker.allow():
            return Conversation(user_id)
        try:
            raw = self.connection.get(self._key(user_id))
        except redis.RedisError:
            self.breaker.trip()
            log.warning("conversation store unavailable; treating %s as idle", user_id)
            return Conversation(user_id)
        if not raw:
            return Conversation(user_id)
        try:
            stored = json.loads(raw)
            return Conversation(user_id, str(stored["state"]), dict(stored.get("data", {})))
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable conversation of %s dropped", user_id)  # a stuck user is worse
            return Conversation(user_id, changed=True)  # saved as ended: the key is deleted

    def save(self, conv: Conversation) -> None:
        """Persist a changed conversation (or delete it when ended)."""
        if not conv.changed or not self.breaker.allow():
            return
        try:
            if conv.state is None:
                self.connection.delete(self._key(conv.user_id))
            else:
                payload = json.dumps({"state": conv.state, "data": conv.data}, ensure_ascii=False)
                self.connection.set(self._key(conv.user_id), payload, ex=self.ttl)
        except redis.RedisError:
            self.breaker.trip()
            log.warning("conversation store unavailable; step of %s not saved", conv.user_id)

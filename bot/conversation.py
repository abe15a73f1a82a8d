"""Per-user conversation state in Redis: a named step and its data, with a TTL.

A handler reads `ctx.conversation.state/data` and calls `goto(step, **data)` or `end()`.
Changes are applied only after the handler's transaction commits, so a refused step leaves
the conversation where it was. 「取消」 ends any conversation (see routing.CANCEL_WORDS).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.client import Pipeline

from bot.queues import Breaker

log = logging.getLogger(__name__)

# One user's messages are handled one at a time (load → handle → save), so two photos sent
# together both land in the conversation. The wait is short: WeCom gives up after 5 seconds,
# and a message that waited too long is handled anyway rather than dropped.
LOCK_SECONDS = 10
LOCK_WAIT_SECONDS = 1.5
LOCK_POLL_SECONDS = 0.02
# Delete the lock only if it still holds our token (it may have expired and been taken by another).
RELEASE_IF_OURS = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


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


@dataclass
class Held:
    """A user's conversation while his message is handled under his lock; `to_save` is kept on release."""

    conversation: Conversation
    to_save: Conversation | None = None


class ConversationStore:
    """Load and save conversations; a Redis outage degrades to 'no conversation', never an error."""

    def __init__(self, connection: redis.Redis, ttl_seconds: int, prefix: str, breaker: Breaker) -> None:
        self.connection = connection
        self.ttl = ttl_seconds
        self.prefix = prefix
        self.breaker = breaker

    def _key(self, user_id: str) -> str:
        return f"{self.prefix}:conv:{user_id}"

    def _lock_key(self, user_id: str) -> str:
        return f"{self.prefix}:conv-lock:{user_id}"

    @contextmanager
    def held(self, user_id: str) -> Iterator[Held]:
        """The user's conversation under his lock: taken with the load, released with the save.

        Each is one round trip to Redis (a pipeline), since every webhook request pays for them.
        Best effort: with Redis down there is no lock and no conversation, never an error.
        """
        token = secrets.token_hex(16)
        acquired, conversation = self._lock_and_load(user_id, token)
        held = Held(conversation)
        try:
            yield held
        finally:
            self._save_and_release(user_id, held.to_save, token if acquired else None)

    def _lock_and_load(self, user_id: str, token: str) -> tuple[bool, Conversation]:
        """Try the lock and read the conversation together, retrying the pair until the wait is over."""
        if not self.breaker.allow():
            return False, Conversation(user_id)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        try:
            while True:
                pipe = self.connection.pipeline(transaction=False)
                pipe.set(self._lock_key(user_id), token, nx=True, px=LOCK_SECONDS * 1000)
                pipe.get(self._key(user_id))
                acquired, raw = pipe.execute()
                if acquired or time.monotonic() >= deadline:
                    break
                time.sleep(LOCK_POLL_SECONDS)
        except redis.RedisError:
            self.breaker.trip()
            log.warning("conversation store unavailable; treating %s as idle", user_id)
            return False, Conversation(user_id)
        if not acquired:
            log.info("handling %s without the conversation lock", user_id)
        return bool(acquired), self._parse(user_id, raw)

    def _save_and_release(self, user_id: str, conv: Conversation | None, token: str | None) -> None:
        """Save a changed conversation and release the lock (if still ours) in one round trip."""
        if not self.breaker.allow() or (token is None and (conv is None or not conv.changed)):
            return
        pipe = self.connection.pipeline(transaction=False)
        if conv is not None and conv.changed:
            self._queue_save(pipe, conv)
        if token is not None:
            pipe.eval(RELEASE_IF_OURS, 1, self._lock_key(user_id), token)
        try:
            results = pipe.execute()
        except redis.RedisError:
            self.breaker.trip()
            log.warning("conversation store unavailable; step of %s not saved", user_id)
            return
        if token is not None and not results[-1]:
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
        return self._parse(user_id, raw)

    @staticmethod
    def _parse(user_id: str, raw: bytes | str | None) -> Conversation:
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
            self._queue_save(self.connection, conv)
        except redis.RedisError:
            self.breaker.trip()
            log.warning("conversation store unavailable; step of %s not saved", conv.user_id)

    def _queue_save(self, client: redis.Redis | Pipeline, conv: Conversation) -> None:
        """The write that stores the conversation (or deletes it when ended), on a client or pipeline."""
        if conv.state is None:
            client.delete(self._key(conv.user_id))
        else:
            payload = json.dumps({"state": conv.state, "data": conv.data}, ensure_ascii=False)
            client.set(self._key(conv.user_id), payload, ex=self.ttl)

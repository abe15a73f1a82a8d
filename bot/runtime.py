"""The wiring of one process: settings, database, Redis, queues, clock, dispatcher, WeCom client.

Built once by the web factory, the worker (before forking) and the CLI; nothing is created at
import time. Jobs are referenced by dotted name, so `bot` never imports `jobs`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from redis import Redis, RedisError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, SystemClock
from bot.conversation import ConversationStore
from bot.db import make_engine, make_session_factory
from bot.outbox import Deliverer
from bot.queues import DEFAULT, INBOUND, OUTBOX, Breaker, Deferred, Queues, connect
from bot.ratelimit import SendLimiter
from bot.routing import Dispatcher, Router
from bot.settings import Settings
from bot.wecom.client import WeComClient
from bot.wecom.mp_client import WeChatMPClient

if TYPE_CHECKING:
    from bot.intake import SenderCache

log = logging.getLogger(__name__)

DELIVER_JOB = "jobs.outbox.deliver"
HANDLE_JOB = "jobs.inbound.handle"
# Job ids free again soon after a job ends: the row (outbox or inbound) is the truth, and a
# sweeper may need the same id again after a failure.
SHORT_JOB_TTLS = {"result_ttl": 60, "failure_ttl": 600}


@dataclass
class Runtime:
    """Everything a request or a job needs, explicitly wired."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    redis: Redis
    queues: Queues
    clock: Clock
    dispatcher: Dispatcher
    conversations: ConversationStore
    breaker: Breaker = field(default_factory=Breaker)
    services: dict[str, object] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        connection: Redis | None = None,
        routers: Sequence[Router] | None = None,
        engine: Engine | None = None,
    ) -> Runtime:
        """Wire a runtime from settings; tests pass their own clock, Redis and engine."""
        if routers is None:
            from handlers import ALL_ROUTERS  # the app mounts features, not the reverse

            routers = ALL_ROUTERS
        engine = engine or make_engine(settings.database_url)
        connection = connection or connect(settings)
        dispatcher = Dispatcher(routers)
        breaker = Breaker()
        return cls(
            settings=settings,
            engine=engine,
            session_factory=make_session_factory(engine),
            redis=connection,
            queues=Queues(connection, settings.queue_prefix),
            clock=clock or SystemClock(),
            dispatcher=dispatcher,
            conversations=ConversationStore(
                connection, settings.conversation_ttl_seconds, settings.queue_prefix, breaker
            ),
            breaker=breaker,
            services={"dispatcher": dispatcher, "settings": settings},
        )

    @cached_property
    def senders(self) -> SenderCache:
        """Who sent recent messages, for routing (bot/intake.py)."""
        from bot.intake import SenderCache  # the intake builds on the runtime, not the reverse

        return SenderCache()

    @cached_property
    def client(self) -> WeComClient:
        """The WeCom API client (token shared through Redis)."""
        return WeComClient.from_settings(self.settings, self.redis)

    @cached_property
    def deliverer(self) -> Deliverer:
        """The outbox sender."""
        limiter = SendLimiter(self.redis, self.settings.queue_prefix, self.settings.per_member_per_minute)
        return Deliverer(
            session_factory=self.session_factory,
            client=self.client,
            clock=self.clock,
            agent_id=self.settings.wecom_agent_id,
            enqueue=self.enqueue_delivery,
            wait_for_slot=limiter.wait_seconds,
            wechat=self.wechat_client,
            wechat_template_id=self.settings.wechat_template_id,
            files_dir=self.settings.var_dir,
        )

    @cached_property
    def wechat_client(self) -> WeChatMPClient | None:
        """The 公众号 API client, or None when no 公众号 (with its AppSecret) is configured."""
        if not (self.settings.wechat_enabled and self.settings.wechat_secret):
            return None
        return WeChatMPClient.from_mp_settings(self.settings, self.redis)

    def enqueue_delivery(self, outbox_id: int, tag: str, when: datetime | None = None) -> None:
        """Queue deliver(outbox_id); with Redis down it is skipped, and the sweeper catches up later."""
        job_id = f"outbox-{outbox_id}-{tag}"
        if not self.breaker.allow():
            return
        try:
            if when is None or when <= self.clock.now():
                self.queues.enqueue(OUTBOX, DELIVER_JOB, outbox_id, job_id=job_id, **SHORT_JOB_TTLS)
            else:
                self.queues.enqueue_at(OUTBOX, when, DELIVER_JOB, outbox_id, job_id=job_id)
        except RedisError as exc:
            self.breaker.trip()
            log.warning("outbox %s not queued (%s); the sweeper will queue it", outbox_id, exc)

    def enqueue_rows(self, rows: Sequence[tuple[int, datetime]]) -> None:
        """Queue the rows an OutboxWriter added, after their transaction committed."""
        for outbox_id, not_before in rows:
            self.enqueue_delivery(outbox_id, "new", not_before)

    def enqueue_deferred(self, jobs: Sequence[Deferred]) -> None:
        """Schedule jobs handlers asked for; with Redis down they are skipped (their sweeper re-arms them)."""
        for job in jobs:
            if not self.breaker.allow():
                return
            try:
                if job.when <= self.clock.now():
                    self.queues.enqueue(DEFAULT, job.func, *job.args, job_id=job.job_id, **SHORT_JOB_TTLS)
                else:
                    self.queues.enqueue_at(
                        DEFAULT, job.when, job.func, *job.args, job_id=job.job_id, **SHORT_JOB_TTLS
                    )
            except RedisError as exc:
                self.breaker.trip()
                log.warning("job %s not scheduled (%s); its sweeper will catch up", job.job_id, exc)

    def enqueue_handling(self, inbound_id: int) -> bool:
        """Hand a stored inbound message to a worker; False if Redis is unreachable."""
        if not self.breaker.allow():
            return False
        try:
            self.queues.enqueue(
                INBOUND, HANDLE_JOB, inbound_id, job_id=f"inbound-{inbound_id}", **SHORT_JOB_TTLS
            )
        except RedisError as exc:
            self.breaker.trip()
            log.warning("inbound %s not queued (%s); the sweeper will queue it", inbound_id, exc)
            return False
        return True  # queued now, or already queued (the job id is unique)

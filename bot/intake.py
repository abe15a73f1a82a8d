"""From a parsed Inbound to replies: store, dedupe, identify, dispatch, answer — transport-free.

The order is what makes the promises hold:
1. the message is stored (unique dedup key) before anything else, so it is never lost and a
   platform retry of the same delivery finds the row and does not act twice;
2. the handler runs in one transaction that also marks the row handled and writes the outbox
   rows, so either all of it happened or none of it did;
3. a slow handler (or one that overran the passive-reply deadline) answers through the outbox.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from bot.conversation import Conversation, Held
from bot.db import session_scope
from bot.errors import DomainError, Invalid
from bot.messages import Channel, Inbound
from bot.models import InboundMessage, InboundStatus, Person, Role
from bot.outbox import OutboxWriter
from bot.replies import (
    BotAnswer,
    CardUpdate,
    File,
    Image,
    Markdown,
    Reply,
    TemplateCard,
    Text,
    reply_from_dict,
    reply_to_dict,
)
from bot.routing import Context, Route, as_list
from bot.runtime import Runtime

log = logging.getLogger(__name__)

PASSIVE_DEADLINE = 3.0  # seconds: past this, answer through the API (WeCom gives up at 5 s)
ACK_SLOW = Text("收到，正在处理，请稍候…")
SORRY = Text("抱歉，系统处理您的消息时出错了，我们已记录。请稍后再试，或发送「帮助」。")
# WeCom keeps an AI-bot response_url for one hour; the margin covers clock skew and a slow send.
RESPONSE_URL_LIFETIME = timedelta(minutes=55)
CARDS_IN_APP = "（卡片已发到您与「政企直通车」应用的单聊，请在那里操作。）"
FILES_IN_APP = "（文件已发到您与「政企直通车」应用的单聊，请在那里查看。）"


@dataclass(frozen=True)
class _Handled:
    """A handler's outcome inside its transaction: the passive answer and the outbox rows to queue."""

    answer_now: list[Reply]
    new_rows: list[tuple[int, datetime]]


@dataclass(frozen=True)
class Received:
    """What the webhook answers: the passive replies (maybe none)."""

    replies: list[Reply]


@dataclass(frozen=True)
class Sender:
    """Who sent a message, as routing needs it: the person's id and role (no ORM object, no session)."""

    id: int
    role: str

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class SenderCache:
    """userid → Sender, per process, for a few seconds: a hint for routing, re-checked where it matters.

    Looking the sender up was a quarter of the web's CPU for a callback (bench/README.md
    "webhook"), though roles change rarely. A slow command is routed on the hint and handed to a
    worker, which looks the sender up afresh and routes again; a fast one (and a refusal) loads
    the person anyway and routes again if the role differs. Only people found are kept: someone
    who has just been registered is never told he is unknown.
    """

    def __init__(self, seconds: float = 5.0, size: int = 10_000) -> None:
        self.seconds, self.size = seconds, size
        self._found: dict[str, tuple[float, Sender]] = {}

    def get(self, user_id: str) -> Sender | None:
        """The sender seen in the last few seconds, if any."""
        entry = self._found.get(user_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def remember(self, user_id: str, person: Person | None) -> Sender | None:
        """Keep (and return) the sender of a person just loaded; None for nobody."""
        if person is None:
            self._found.pop(user_id, None)
            return None
        if len(self._found) >= self.size:
            self._found.clear()  # a burst of new senders: start again rather than grow
        sender = Sender(person.id, person.role)
        self._found[user_id] = (time.monotonic() + self.seconds, sender)
        return sender


def find_person(session: Session, user_id: str) -> Person | None:
    """The active person with this WeCom userid, if any."""
    # The department comes in the same query: most staff commands show or check it.
    query = (
        select(Person)
        .options(joinedload(Person.department))
        .where(Person.wecom_userid == user_id, Person.active.is_(True))
    )
    return session.scalar(query)


# Built once: building a statement with .values() costs about as much as running it.
_INSERT_INBOUND = insert(InboundMessage).returning(InboundMessage.id)


class _AlreadyStored(Exception):
    """This delivery's dedup key is stored already: a platform retry."""


class Intake:
    """Receives inbound messages for one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def receive(self, inbound: Inbound) -> Received:
        """Store, then answer now (fast handlers) or hand to a worker (slow ones)."""
        started = time.monotonic()
        # The user's lock first: a platform retry of a message still being handled waits here and
        # then finds it stored, and one user's messages are handled in the order they arrive.
        with self.rt.conversations.held(inbound.user_id) as held:
            try:
                return self._receive_once(inbound, held, started)
            except _AlreadyStored:
                log.info("duplicate delivery %s ignored", inbound.dedup_key)
                return Received(self._stored_reply(inbound.dedup_key))

    def _receive_once(self, inbound: Inbound, held: Held, started: float) -> Received:
        """Store, route and (if fast) handle the message in one transaction, committed before we answer."""
        as_loaded = copy.deepcopy(held.conversation)  # a refused handler's steps must not stick
        try:
            return self._transaction(inbound, held, held.conversation, started)
        except DomainError as exc:
            # The handler's changes (and its conversation step) are rolled back, the message with
            # them; it is stored again with the refusal as its answer.
            return self._transaction(inbound, held, as_loaded, started, refusal=exc)
        except _AlreadyStored:
            raise
        except Exception:
            log.exception("handler failed for %s", inbound.dedup_key)
            self._store_failed(inbound)
            return Received([SORRY])

    def _transaction(
        self,
        inbound: Inbound,
        held: Held,
        conversation: Conversation,
        started: float,
        refusal: DomainError | None = None,
    ) -> Received:
        """One transaction: insert (a retry collides on the dedup key), route, run the fast handler."""
        with session_scope(self.rt.session_factory) as session:
            inbound_id = self._insert(session, inbound)
            senders = self.rt.senders
            person, looked_up = None, False
            sender = senders.get(inbound.user_id)
            if sender is None:
                person, looked_up = find_person(session, inbound.user_id), True
                sender = senders.remember(inbound.user_id, person)
            route = None if refusal else self.rt.dispatcher.resolve(inbound, sender, conversation.state)
            if route is not None and route.slow:
                handled = None  # the worker looks the sender up again and routes on that
            else:
                if not looked_up:  # the handler acts as the person as stored now
                    person = find_person(session, inbound.user_id)
                    if _role(person) != _role(sender):
                        senders.remember(inbound.user_id, person)
                        route = (
                            None
                            if refusal
                            else self.rt.dispatcher.resolve(inbound, person, conversation.state)
                        )
                ctx = self._context(session, inbound, conversation, person)
                handled = self._answer(ctx, route, refusal, started)
                self._mark_handled(session, inbound_id, handled.answer_now)
        if handled is None:
            return Received(self._hand_to_worker(inbound_id))
        held.to_save = ctx.conversation  # saved as the lock is released
        self._after_commit(ctx, handled.new_rows)
        return Received(handled.answer_now)

    def _insert(self, session: Session, inbound: Inbound) -> int:
        """Insert the message in this transaction, its id; _AlreadyStored when it was stored before."""
        # Core, not the unit of work: this runs for every callback and the row is never read back.
        try:
            return int(session.connection().execute(_INSERT_INBOUND, self._values(inbound)).scalar_one())
        except IntegrityError as exc:
            raise _AlreadyStored from exc

    def _values(self, inbound: Inbound, status: InboundStatus = InboundStatus.RECEIVED) -> dict[str, Any]:
        return {
            "channel": inbound.channel.value,
            "dedup_key": inbound.dedup_key,
            "user_id": inbound.user_id,
            "kind": inbound.kind.value,
            "payload": inbound.to_dict(),
            "status": status.value,
            "received_at": self.rt.clock.now(),
        }

    def _mark_handled(self, session: Session, inbound_id: int, answer_now: list[Reply]) -> None:
        """Handled, with the passive answer kept: a platform retry is answered the same."""
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == inbound_id)
            .values(
                status=InboundStatus.HANDLED.value,
                handled_at=self.rt.clock.now(),
                reply=[reply_to_dict(r) for r in answer_now],
            )
        )

    def _hand_to_worker(self, inbound_id: int) -> list[Reply]:
        """A slow command: the stored message goes to a worker; the person hears it was received."""
        if not self.rt.enqueue_handling(inbound_id):
            return [Text("收到。系统繁忙，处理结果稍后发给您。")]  # the inbound sweeper queues it later
        return [ACK_SLOW]

    def _store_failed(self, inbound: Inbound) -> None:
        """Keep a message whose handler raised, marked failed, so it is never lost."""
        try:
            with session_scope(self.rt.session_factory) as session:
                values = self._values(inbound, InboundStatus.FAILED)
                values.update(error="handler raised; see logs", reply=[reply_to_dict(SORRY)])
                session.execute(insert(InboundMessage).values(values))
        except IntegrityError:
            log.info("failed message %s was stored meanwhile", inbound.dedup_key)

    def store(self, inbound: Inbound) -> int | None:
        """Insert the message for a worker to handle; None when this delivery was stored before."""
        try:
            with session_scope(self.rt.session_factory) as session:
                return self._insert(session, inbound)
        except _AlreadyStored:
            return None

    def _stored_reply(self, dedup_key: str) -> list[Reply]:
        # A retry arrives when our first answer did not reach WeCom in time: answer it again.
        with session_scope(self.rt.session_factory) as session:
            stored = session.scalar(select(InboundMessage.reply).where(InboundMessage.dedup_key == dedup_key))
        return [reply_from_dict(r) for r in stored or []]

    def handle(self, inbound_id: int) -> list[Reply]:
        """A worker's job: run the handler for a stored message once; every answer goes to the outbox."""
        try:
            return self._run(inbound_id)
        except DomainError as exc:
            # The handler's changes (and its conversation step) are rolled back; the refusal answers.
            return self._run(inbound_id, refusal=exc)
        except Exception:
            log.exception("handler failed for inbound %s", inbound_id)
            self._mark_failed(inbound_id)
            return []

    def _run(self, inbound_id: int, *, refusal: DomainError | None = None) -> list[Reply]:
        """One transaction: claim the message, run the handler (or refuse), keep the answer, queue sends."""
        with session_scope(self.rt.session_factory) as session:
            if not self._claim(session, inbound_id):
                return []  # handled already (a retried job, the sweeper and the webhook raced)
            row = session.get_one(InboundMessage, inbound_id)
            inbound = Inbound.from_dict(row.payload)
            conversation = self.rt.conversations.load(inbound.user_id)
            ctx = self._context(session, inbound, conversation, find_person(session, inbound.user_id))
            handled = self._answer(ctx, None, refusal, None)
            row.reply = [reply_to_dict(r) for r in handled.answer_now]
        self.rt.conversations.save(ctx.conversation)
        self._after_commit(ctx, handled.new_rows)
        return handled.answer_now

    def _answer(
        self, ctx: Context, route: Route | None, refusal: DomainError | None, started: float | None
    ) -> _Handled:
        """Run the handler (or refuse); the first text answers passively if in time, the rest is queued."""
        replies = _refuse(ctx, refusal) if refusal else self._call(ctx, route)
        in_time = started is not None and time.monotonic() - started < PASSIVE_DEADLINE
        answer_now = self._split(replies, in_time, ctx.inbound, ctx.outbox)
        return _Handled(answer_now, ctx.outbox.scheduled())

    def _after_commit(self, ctx: Context, new_rows: list[tuple[int, datetime]]) -> None:
        """What must wait for the commit (as the conversation step does): the sends, the deferred jobs."""
        self.rt.enqueue_rows(new_rows)
        self.rt.enqueue_deferred(ctx.deferred)

    def _call(self, ctx: Context, route: Route | None) -> list[Reply]:
        """The handler's replies (the route is resolved here when a worker handles the message)."""
        route = route or self.rt.dispatcher.resolve(ctx.inbound, ctx.person, ctx.conversation.state)
        return as_list(route.call(ctx))

    def _claim(self, session: Session, inbound_id: int) -> bool:
        """Take the message for handling; False if someone else already did (row lock on PostgreSQL)."""
        claimed = session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == inbound_id, InboundMessage.status == InboundStatus.RECEIVED.value)
            .values(status=InboundStatus.HANDLED.value, handled_at=self.rt.clock.now())
        )
        return claimed.rowcount == 1  # type: ignore[attr-defined]

    def _context(
        self, session: Session, inbound: Inbound, conversation: Conversation, person: Person | None
    ) -> Context:
        """The handler's view of this message, in this transaction."""
        outbox = OutboxWriter(session, self.rt.clock, inbound.channel.value)
        return Context(
            session=session,
            clock=self.rt.clock,
            inbound=inbound,
            person=person,
            outbox=outbox,
            conversation=conversation,
            services=self.rt.services,
        )

    @staticmethod
    def _split(replies: list[Reply], in_time: bool, inbound: Inbound, outbox: OutboxWriter) -> list[Reply]:
        """The first text goes back passively if still in time; everything else via the outbox."""
        answer_now: list[Reply] = []
        if in_time and replies and isinstance(replies[0], Text):
            answer_now, replies = [replies[0]], replies[1:]
        queue_answers(outbox, inbound, replies, key=f"{inbound.dedup_key}:reply")
        return answer_now

    def _mark_failed(self, inbound_id: int) -> None:
        """Record the failure; the person, answered by a worker, still hears that it failed."""
        with session_scope(self.rt.session_factory) as session:
            row = session.get_one(InboundMessage, inbound_id)
            row.status = InboundStatus.FAILED.value
            row.error = "handler raised; see logs"
            outbox = OutboxWriter(session, self.rt.clock, row.channel)
            queue_answers(outbox, Inbound.from_dict(row.payload), [SORRY], key=f"{row.dedup_key}:sorry")
            new_rows = outbox.scheduled()
        self.rt.enqueue_rows(new_rows)


def queue_answers(outbox: OutboxWriter, inbound: Inbound, replies: list[Reply], *, key: str) -> None:
    """Queue the answers not given passively, back where the message came from."""
    if inbound.channel is Channel.WECOM_AIBOT:
        _queue_aibot_answers(outbox, inbound, replies, key)
        return
    for index, reply in enumerate(replies):
        outbox.add(inbound.user_id, reply, key=f"{key}:{index}")


# What the group is told when part of the answer went to the person's 1:1 app chat instead.
_IN_APP: dict[type, str] = {TemplateCard: CARDS_IN_APP, File: FILES_IN_APP, Image: FILES_IN_APP}


def _queue_aibot_answers(outbox: OutboxWriter, inbound: Inbound, replies: list[Reply], key: str) -> None:
    """An AI-bot message: its texts as one answer in the chat; cards and files in the 1:1 app chat."""
    texts: list[str] = []
    for index, reply in enumerate(replies):
        if isinstance(reply, Text | Markdown):
            texts.append(reply.content)
        elif isinstance(reply, CardUpdate):
            # Our cards live in the app's 1:1 chat; a click in a group cannot carry their response_code.
            log.info("card update for AI-bot message %s dropped", inbound.dedup_key)
        else:
            # A group cannot show an app's template card (nor its files): the person gets them 1:1.
            outbox.add(inbound.user_id, reply, key=f"{key}:{index}")
            note = _IN_APP.get(type(reply))
            if note is not None and note not in texts:
                texts.append(note)
    if texts:
        _queue_bot_answer(outbox, inbound, "\n\n".join(texts))


def _queue_bot_answer(outbox: OutboxWriter, inbound: Inbound, content: str) -> None:
    """One post to the response_url (it takes only one); without a url, a text in the 1:1 app chat."""
    # One key per message, whatever the path (answer or apology): a second add is a no-op,
    # so the response_url is never queued twice.
    key = f"{inbound.dedup_key}:response_url"
    if not inbound.response_url:
        outbox.add(inbound.user_id, Text(content), key=key)
        return
    expires = inbound.created_at + RESPONSE_URL_LIFETIME
    answer = BotAnswer(inbound.response_url, content, inbound.user_id, int(expires.timestamp()))
    # The recipient column is shown by `ztc outbox failed`: name the chat, never the url.
    recipient = f"response_url:{inbound.chat_id or inbound.user_id}"[:128]
    outbox.add(recipient, answer, key=key)


def _role(sender: Sender | Person | None) -> str | None:
    return None if sender is None else sender.role


def _refuse(ctx: Context, exc: DomainError) -> list[Reply]:
    """A refusal; in a conversation a fixable one keeps the step, others end it (no trap)."""
    if ctx.conversation.state is None:
        return [Text(exc.message)]
    if isinstance(exc, Invalid):
        return [Text(f"{exc.message}\n（发送「取消」可退出当前操作）")]
    ctx.conversation.end()
    return [Text(exc.message)]


def stale_inbound(session: Session, runtime: Runtime, older_than: timedelta) -> list[int]:
    """Ids of messages stored but never handled (a crash, or Redis down on the slow path)."""
    cutoff = runtime.clock.now() - older_than
    query = select(InboundMessage.id).where(
        InboundMessage.status == InboundStatus.RECEIVED.value, InboundMessage.received_at < cutoff
    )
    return list(session.scalars(query.limit(500)))

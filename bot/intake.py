"""From a parsed Inbound to replies: store, dedupe, identify, dispatch, answer — transport-free.

The order is what makes the promises hold:
1. the message is stored (unique dedup key) before anything else, so it is never lost and a
   platform retry of the same delivery finds the row and does not act twice;
2. the handler runs in one transaction that also marks the row handled and writes the outbox
   rows, so either all of it happened or none of it did;
3. a slow handler (or one that overran the passive-reply deadline) answers through the outbox.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.conversation import Conversation
from bot.db import session_scope
from bot.errors import DomainError, Invalid
from bot.messages import Channel, Inbound
from bot.models import InboundMessage, InboundStatus, Person
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
class Received:
    """What the webhook answers: the passive replies (maybe none)."""

    replies: list[Reply]


def find_person(session: Session, user_id: str) -> Person | None:
    """The active person with this WeCom userid, if any."""
    query = select(Person).where(Person.wecom_userid == user_id, Person.active.is_(True))
    return session.scalar(query)


class Intake:
    """Receives inbound messages for one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def receive(self, inbound: Inbound) -> Received:
        """Store, then answer now (fast handlers) or hand to a worker (slow ones)."""
        started = time.monotonic()
        inbound_id = self._store(inbound)
        if inbound_id is None:
            return Received(self._stored_reply(inbound.dedup_key))
        with self.rt.conversations.locked(inbound.user_id):
            conversation = self.rt.conversations.load(inbound.user_id)  # once per request: Redis may be slow
            route = self._route(inbound, conversation.state)
            if route.slow:
                if not self.rt.enqueue_handling(inbound_id):
                    return Received([Text("收到。系统繁忙，处理结果稍后发给您。")])
                return Received([ACK_SLOW])
            return Received(self.handle(inbound_id, route=route, conversation=conversation, started=started))

    def _store(self, inbound: Inbound) -> int | None:
        """Insert the message; None when this delivery was stored before (a platform retry)."""
        row = InboundMessage(
            channel=inbound.channel.value,
            dedup_key=inbound.dedup_key,
            user_id=inbound.user_id,
            kind=inbound.kind.value,
            payload=inbound.to_dict(),
            status=InboundStatus.RECEIVED.value,
            received_at=self.rt.clock.now(),
        )
        try:
            with session_scope(self.rt.session_factory) as session:
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            log.info("duplicate delivery %s ignored", inbound.dedup_key)
            return None

    def _stored_reply(self, dedup_key: str) -> list[Reply]:
        # A retry arrives when our first answer did not reach WeCom in time: answer it again.
        with session_scope(self.rt.session_factory) as session:
            stored = session.scalar(select(InboundMessage.reply).where(InboundMessage.dedup_key == dedup_key))
        return [reply_from_dict(r) for r in stored or []]

    def _route(self, inbound: Inbound, state: str | None) -> Route:
        """Who is asking decides the route (role checks), so look the person up first."""
        with session_scope(self.rt.session_factory) as session:
            person = find_person(session, inbound.user_id)
            return self.rt.dispatcher.resolve(inbound, person, state)

    def handle(
        self,
        inbound_id: int,
        *,
        route: Route | None = None,
        conversation: Conversation | None = None,
        started: float | None = None,
    ) -> list[Reply]:
        """Run the handler for a stored message once; the replies to answer passively (if in time)."""
        try:
            return self._run(inbound_id, started, route=route, conversation=conversation)
        except DomainError as exc:
            # The handler's changes (and its conversation step) are rolled back; the refusal answers.
            return self._run(inbound_id, started, refusal=exc)
        except Exception:
            log.exception("handler failed for inbound %s", inbound_id)
            self._mark_failed(inbound_id, apologise=started is None)
            return [SORRY] if started is not None else []

    def _run(
        self,
        inbound_id: int,
        started: float | None,
        *,
        route: Route | None = None,
        conversation: Conversation | None = None,
        refusal: DomainError | None = None,
    ) -> list[Reply]:
        """One transaction: claim the message, run the handler (or refuse), keep the answer, queue sends."""
        with session_scope(self.rt.session_factory) as session:
            if not self._claim(session, inbound_id):
                return []  # handled already (a retried job, the sweeper and the webhook raced)
            row = session.get_one(InboundMessage, inbound_id)
            inbound = Inbound.from_dict(row.payload)
            outbox = OutboxWriter(session, self.rt.clock, inbound.channel.value)
            ctx = self._context(session, inbound, outbox, conversation)
            replies = _refuse(ctx, refusal) if refusal else self._call(ctx, route)
            in_time = started is not None and time.monotonic() - started < PASSIVE_DEADLINE
            answer_now = self._split(replies, in_time, inbound, outbox)
            row.reply = [reply_to_dict(r) for r in answer_now]
            new_rows = outbox.scheduled()
        self.rt.conversations.save(ctx.conversation)
        self.rt.enqueue_rows(new_rows)
        self.rt.enqueue_deferred(ctx.deferred)
        return answer_now

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
        self, session: Session, inbound: Inbound, outbox: OutboxWriter, conversation: Conversation | None
    ) -> Context:
        """The handler's view of this message, in this transaction."""
        return Context(
            session=session,
            clock=self.rt.clock,
            inbound=inbound,
            person=find_person(session, inbound.user_id),
            outbox=outbox,
            conversation=conversation or self.rt.conversations.load(inbound.user_id),
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

    def _mark_failed(self, inbound_id: int, *, apologise: bool) -> None:
        """Record the failure; a person answered by a worker still hears that it failed."""
        with session_scope(self.rt.session_factory) as session:
            row = session.get_one(InboundMessage, inbound_id)
            row.status = InboundStatus.FAILED.value
            row.error = "handler raised; see logs"
            outbox = OutboxWriter(session, self.rt.clock, row.channel)
            if apologise:
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

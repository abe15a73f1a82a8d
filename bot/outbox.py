"""The durable outbox: every outbound message is a row first, then an RQ job, then a send.

Exactly once to the user's eye:
- a row is written in the same transaction as the change that causes it, with a unique
  idempotency key, so a re-run handler cannot queue it twice;
- a worker claims the row with a conditional UPDATE (pending → sending, with a lease), so two
  jobs for one row cannot both send;
- a worker killed after sending leaves the row `sending`; when the lease runs out the sweeper
  queues it again, and WeCom's `enable_duplicate_check` drops the repeat on the platform side.

That check compares content, not rows: a second, distinct row with the same words to the same
person inside the window (a leader asking 排名 twice, the 日报 asked for after the morning push)
would be dropped too. Such a row's text is sent with a note naming the earlier message
(`_distinct`), so it differs from that one while its own retries stay identical to it.

The worker's own bookkeeping (the claim, "sent") commits without waiting for the disk
(PostgreSQL's synchronous_commit off, in the workers' own pool: bookkeeping_engine): a durable commit
waited ~5 ms for the disk on the benchmark machine, twice per message, more than the rest of a
delivery (bench/fanout.py). Other sessions still see each commit at once, so the claim excludes
as before; only a database crash can forget the last fraction of a second of it, and a forgotten
claim or "sent" is the killed-worker case above: swept, sent again, dropped by the platform.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, local
from bot.db import UTCDateTime, make_engine
from bot.models import InboundMessage, OutboxMessage, OutboxStatus
from bot.replies import (
    BotAnswer,
    CardUpdate,
    File,
    GroupImage,
    GroupText,
    Image,
    Markdown,
    Reply,
    TemplateCard,
    Text,
    reply_from_dict,
    reply_to_dict,
)
from bot.wecom.client import Permanent, RateLimited, SendResult, TokenInvalid, Transient, WeComClient
from bot.wecom.mp import openid_of, reply_text
from bot.wecom.mp_client import OUT_OF_WINDOW, WeChatMPClient, custom_text, template_text
from bot.wecom.outbound import (
    DUPLICATE_CHECK_SECONDS,
    render_app_message,
    render_bot_answer,
    render_card_update,
    render_group_image,
    render_group_message,
    render_template_card,
)

log = logging.getLogger(__name__)

ALL_RECIPIENTS_INVALID = 81013
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
SWEEP_GRACE = timedelta(seconds=30)  # rows younger than this still have their first job coming
CUSTOM_WINDOW = timedelta(hours=48)  # 公众号 客服消息 only this long after the follower's last message


class Enqueue(Protocol):
    """Schedules deliver(outbox_id) now or at a moment, once per (row, tag)."""

    def __call__(self, outbox_id: int, tag: str, when: datetime | None = None) -> None: ...


class OutboxWriter:
    """Adds outbound rows to the caller's session; the caller enqueues them after commit."""

    def __init__(self, session: Session, clock: Clock, channel: str = "wecom") -> None:
        self.session = session
        self.clock = clock
        self.channel = channel
        self.rows: list[OutboxMessage] = []
        self._keys = _session_keys(session)

    def add(self, recipient: str, reply: Reply, *, key: str, not_before: datetime | None = None) -> None:
        """Queue one message to one recipient, once per idempotency key.

        A key already added in this session is skipped here; one already in the database (the same
        cause ran before: a retried job) is dropped when the session flushes, with the other new
        rows' keys in one query per KEYS_PER_QUERY, not one query per message.
        """
        if isinstance(reply, GroupText | GroupImage):
            recipient = f"group:{reply.webhook_key}"
        _check_renders(reply, recipient)
        earlier = self._keys.added.get(key)
        if earlier is not None and (earlier is _STORED or earlier in self.session):
            return
        now = self.clock.now()
        row = OutboxMessage(
            idempotency_key=key,
            channel=self.channel,
            recipient=recipient,
            payload=reply_to_dict(reply),
            status=OutboxStatus.PENDING.value,
            attempts=0,
            not_before=not_before or now,
            created_at=now,
        )
        self._keys.added[key] = row
        self._keys.unchecked.append(row)
        self.session.add(row)
        self.rows.append(row)

    def scheduled(self) -> list[tuple[int, datetime]]:
        """(id, not_before) of the rows added and flushed (those whose key was already stored left out)."""
        self.session.flush()
        return [(row.id, row.not_before) for row in self.rows if row in self.session]


KEYS_PER_QUERY = 500  # idempotency keys looked up at once (well inside every driver's parameter limit)
_STORED = object()  # a key found in the database when its row was about to be added


@dataclass
class _SessionKeys:
    """The outbox rows one session added, by key, and those not yet checked against the table."""

    added: dict[str, Any] = field(default_factory=dict)  # key → its row, or _STORED
    unchecked: list[OutboxMessage] = field(default_factory=list)


def _session_keys(session: Session) -> _SessionKeys:
    """This session's outbox keys, with the flush hook that drops rows whose key is stored already."""
    keys: _SessionKeys | None = session.info.get("outbox_keys")
    if keys is None:
        keys = session.info["outbox_keys"] = _SessionKeys()
        event.listen(session, "before_flush", _drop_stored_keys)
    return keys


def _drop_stored_keys(session: Session, _context: Any, _instances: Any) -> None:
    """Before a flush: rows added since the last one whose key the table already holds are not inserted."""
    keys: _SessionKeys = session.info["outbox_keys"]
    new = session.new  # built on each access: once, not once per row
    pending = [row for row in keys.unchecked if row in new]
    keys.unchecked = []
    if not pending:
        return
    with session.no_autoflush:
        stored = _stored_keys(session, (row.idempotency_key for row in pending))
    for row in pending:
        if row.idempotency_key in stored:
            session.expunge(row)
            keys.added[row.idempotency_key] = _STORED


def _stored_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these idempotency keys the outbox table holds."""
    wanted, found = list(keys), set[str]()
    for start in range(0, len(wanted), KEYS_PER_QUERY):
        chunk = wanted[start : start + KEYS_PER_QUERY]
        query = select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(chunk))
        found.update(session.scalars(query))
    return found


@dataclass(frozen=True)
class Claimed:
    """A row this worker holds the lease of: what sending, the duplicate note and recording need."""

    id: int
    recipient: str
    payload: dict[str, Any]
    attempts: int  # this attempt included
    created_at: datetime


@dataclass
class Deliverer:
    """Sends one outbox row through the WeCom client, honouring limits, retries and leases."""

    session_factory: sessionmaker[Session]
    client: WeComClient
    clock: Clock
    agent_id: int
    enqueue: Enqueue
    wait_for_slot: Callable[[str, int], float]  # SendLimiter.wait_seconds
    wechat: WeChatMPClient | None = None  # the 公众号, for "wx:" recipients; None: none configured
    wechat_template_id: str = ""  # 模板消息 outside the 48-hour window; empty: such rows fail
    files_dir: Path | None = None  # ZTC_VAR_DIR: where a reply's relative file path lives (web photos)

    def deliver(self, outbox_id: int) -> str:
        """Claim, send and record one row; returns what happened (for the job's result)."""
        try:
            return self._deliver_once(outbox_id)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            # The database restarted since this pooled connection was last used, and the pool is
            # renewed: once more (this replaces a pre-ping). Lost at the claim, nothing was sent;
            # lost later, the row is leased, the new claim skips it and the sweeper takes over.
            log.info("outbox %s: database connection lost, trying once more", outbox_id)
            return self._deliver_once(outbox_id)

    def _deliver_once(self, outbox_id: int) -> str:
        with self._connection() as conn:
            row = self._claim(conn, outbox_id)
            if row is None:
                return "skipped"
            return self._deliver(conn, row)

    def _deliver(self, conn: Connection, row: Claimed) -> str:
        wait = self.wait_for_slot(row.recipient, int(self.clock.now().timestamp() * 1000))
        if wait:
            # Our own limit is not a failed attempt: give the attempt back.
            return self._defer(
                conn,
                row,
                timedelta(seconds=wait),
                "rate limit: waiting for a send slot",
                attempts=row.attempts - 1,
            )
        try:
            result = self._send(row)
        except RateLimited as exc:
            return self._defer(conn, row, _backoff(row.attempts), f"rate limited: {exc}")
        except (Transient, TokenInvalid) as exc:
            if row.attempts >= MAX_ATTEMPTS:
                return self._fail(conn, row, f"gave up after {row.attempts} attempts: {exc}")
            return self._defer(conn, row, _backoff(row.attempts), f"transient: {exc}")
        except Permanent as exc:
            if exc.errcode == ALL_RECIPIENTS_INVALID:
                return self._fail(conn, row, f"permanent: {exc}", invalid_users=row.recipient.lower())
            return self._fail(conn, row, f"permanent: {exc}")
        except Exception as exc:
            # Not WeCom's fault (a missing file, a bug): retry a few times, then dead-letter it,
            # so one bad row never loops forever between the sweeper and the worker.
            log.exception("outbox %s: unexpected error while sending", row.id)
            if row.attempts >= MAX_ATTEMPTS:
                return self._fail(conn, row, f"error: {exc!r}")
            return self._defer(conn, row, _backoff(row.attempts), f"error: {exc!r}")
        return self._mark_sent(conn, row, result)

    def _connection(self) -> Connection:
        """One connection for a whole delivery, from the bookkeeping pool (see bookkeeping_engine).

        Idle during the HTTP call, it holds no transaction open.
        """
        engine: Engine = self.session_factory.kw["bind"]
        return bookkeeping_engine(engine).connect()

    def _claim(self, conn: Connection, outbox_id: int) -> Claimed | None:
        now = self.clock.now()
        params = {"claim_id": outbox_id, "claim_now": now, "claim_lease": now + LEASE}
        claimed = conn.execute(_CLAIM, params).one_or_none()
        return None if claimed is None else Claimed(*claimed)

    def _send(self, row: Claimed) -> SendResult:
        reply = reply_from_dict(row.payload)
        openid = openid_of(row.recipient)
        if openid is not None:  # a 公众号 follower: never WeCom's message/send
            return self._send_wechat(row, openid, reply)
        if isinstance(reply, BotAnswer):
            return self._send_bot_answer(row, reply)
        if isinstance(reply, GroupText):
            raw = self.client.send_group(reply.webhook_key, render_group_message(reply))
            return SendResult(msgid=None, invalid_users=[], raw=raw)
        if isinstance(reply, GroupImage):
            raw = self.client.send_group(reply.webhook_key, render_group_image(Path(reply.path).read_bytes()))
            return SendResult(msgid=None, invalid_users=[], raw=raw)
        if isinstance(reply, CardUpdate):
            raw = self.client.update_template_card(render_card_update(reply, self.agent_id, [row.recipient]))
            return SendResult(msgid=None, invalid_users=[], raw=raw)
        reply = self._distinct(row, self._uploaded(reply))
        return self.client.send_message(render_app_message(reply, row.recipient, self.agent_id))

    def _send_bot_answer(self, row: Claimed, answer: BotAnswer) -> SendResult:
        """Post to the message's response_url; once it has expired, to the person's 1:1 app chat."""
        if self.clock.now().timestamp() >= answer.expires_at:
            # A late answer (Redis was down, retries ran long) still reaches the person who asked.
            body = render_app_message(
                self._distinct(row, Text(answer.content)), answer.user_id, self.agent_id
            )
            return self.client.send_message(body)
        raw = self.client.post_response_url(answer.response_url, render_bot_answer(answer))
        return SendResult(msgid=None, invalid_users=[], raw=raw)

    def _send_wechat(self, row: Claimed, openid: str, reply: Reply) -> SendResult:
        """客服消息 within 48 h of the follower's last message, else 模板消息; cards go as text."""
        if self.wechat is None:
            raise Permanent(None, "no WeChat official account configured (WECHAT_APP_ID, WECHAT_SECRET)")
        content = reply_text(reply)  # WeChat has no server-side duplicate check: no _distinct note
        if content is None:
            raise Permanent(None, f"a 公众号 follower cannot receive {type(reply).__name__}")
        last = self._last_heard(row.recipient)
        if last is not None and self.clock.now() - last < CUSTOM_WINDOW:
            try:
                return _sent(self.wechat.send_custom(custom_text(openid, content)))
            except Permanent as exc:
                if exc.errcode != OUT_OF_WINDOW:  # our clock and WeChat's may disagree at the edge
                    raise
        if not self.wechat_template_id:
            raise Permanent(None, "follower silent for over 48 h and WECHAT_TEMPLATE_ID is not set")
        return _sent(self.wechat.send_template(template_text(openid, self.wechat_template_id, content)))

    def _last_heard(self, user_id: str) -> datetime | None:
        """When this person's last message reached us, if ever."""
        query = select(func.max(InboundMessage.received_at)).where(InboundMessage.user_id == user_id)
        with self.session_factory() as session:
            return session.scalar(query)

    def _distinct(self, row: Claimed, reply: Reply) -> Reply:
        """The text, with a note if an earlier row told this person the same within the check window.

        Decided from rows written before this one, which do not change: every attempt of a row
        sends the same content, so WeCom still drops a retry. Cards carry a task id of their own
        and differ anyway; files and images are uploaded afresh for each attempt.
        """
        if not isinstance(reply, Text | Markdown):
            return reply
        earlier = self._same_words_before(row)
        if earlier is None:
            return reply
        note = f"（与 {local(earlier):%H:%M:%S} 的消息内容相同）"
        return type(reply)(f"{reply.content}\n{note}")

    def _same_words_before(self, row: Claimed) -> datetime | None:
        """When the latest earlier row with this row's words was written for its recipient, if recent."""
        words = _app_words(row.payload)
        since = row.created_at - timedelta(seconds=DUPLICATE_CHECK_SECONDS)
        query = (
            select(OutboxMessage.created_at, OutboxMessage.payload)
            .where(
                OutboxMessage.recipient == row.recipient,
                OutboxMessage.created_at >= since,
                OutboxMessage.id < row.id,
            )
            .order_by(OutboxMessage.id.desc())
        )
        with self.session_factory() as session:
            return next((at for at, payload in session.execute(query) if _app_words(payload) == words), None)

    def _uploaded(self, reply: Reply) -> Reply:
        # Files are uploaded at send time: media ids expire after three days.
        if isinstance(reply, Image) and reply.path and not reply.media_id:
            return Image(media_id=self.client.upload_media(self._local(reply.path), "image"))
        if isinstance(reply, File) and reply.path and not reply.media_id:
            return File(media_id=self.client.upload_media(self._local(reply.path), "file"))
        return reply

    def _local(self, path: str) -> Path:
        """A reply's file: an absolute path as written; a relative one under ZTC_VAR_DIR.

        Handlers keep files they store with a record relative to ZTC_VAR_DIR (a web photo is
        "h5-photos/….jpg" on its order), so they need no settings and the worker reads its own mount.
        """
        local_path = Path(path)
        if local_path.is_absolute() or self.files_dir is None:
            return local_path
        return self.files_dir / local_path

    def _finish(self, conn: Connection, row: Claimed, **values: Any) -> None:
        conn.execute(
            update(OutboxMessage).where(OutboxMessage.id == row.id).values(lease_until=None, **values)
        )

    def _mark_sent(self, conn: Connection, row: Claimed, result: SendResult) -> str:
        invalid = [u for u in result.invalid_users if u.lower() == row.recipient.lower()]
        if invalid:
            # WeCom answered 200 but did not deliver: the recipient left or was never licensed.
            reason = "invaliduser: recipient unknown to WeCom"
            return self._fail(conn, row, reason, invalid_users="|".join(invalid))
        conn.execute(_MARK_SENT, {"row_id": row.id, "when_sent": self.clock.now(), "msgid": result.msgid})
        return "sent"

    def _defer(self, conn: Connection, row: Claimed, wait: timedelta, reason: str, **values: Any) -> str:
        when = self.clock.now() + wait
        self._finish(
            conn, row, status=OutboxStatus.PENDING.value, not_before=when, last_error=reason, **values
        )
        self.enqueue(row.id, f"t{int(when.timestamp() * 1000)}", when)
        log.info("outbox %s deferred %.0fs: %s", row.id, wait.total_seconds(), reason)
        return "deferred"

    def _fail(self, conn: Connection, row: Claimed, reason: str, **values: Any) -> str:
        self._finish(conn, row, status=OutboxStatus.FAILED.value, last_error=reason, **values)
        log.warning("outbox %s failed: %s", row.id, reason)
        return "failed"


def _sent(raw: dict[str, Any]) -> SendResult:
    """A 公众号 send's result (its msgid, when it gives one)."""
    msgid = raw.get("msgid")
    return SendResult(msgid=str(msgid) if msgid is not None else None, invalid_users=[], raw=raw)


def _app_words(payload: dict[str, Any]) -> tuple[str, str] | None:
    """What a text row says in the app chat, as WeCom compares it (a late AI-bot answer goes as text)."""
    kind = payload.get("type")
    if kind in ("Text", "BotAnswer"):
        return ("text", payload["content"])
    if kind == "Markdown":
        return ("markdown", payload["content"])
    return None


def _check_renders(reply: Reply, recipient: str) -> None:
    """Render once now: a card breaking WeCom's limits fails its handler, not a worker ten minutes later."""
    if isinstance(reply, TemplateCard):
        render_template_card(reply)
    elif isinstance(reply, CardUpdate):
        render_card_update(reply, 0, [recipient])
    elif isinstance(reply, GroupText):
        render_group_message(reply)


_BOOKKEEPING: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def bookkeeping_engine(engine: Engine) -> Engine:
    """The workers' pool for claims and "sent": autocommit, commits not waiting for the disk.

    Each statement of a delivery is a transaction by itself (the claim is one conditional UPDATE),
    so autocommit spares a BEGIN and a COMMIT round trip each; the pool is the workers' own, so
    its sessions can skip the disk flush (the module's docstring says why that is safe) while the
    handlers' transactions, on `engine`, stay durable. No pre-ping: the claim comes first and
    finds a dead connection before anything is sent (Deliverer.deliver then tries once more).
    One per `engine` and process.
    """
    found = _BOOKKEEPING.get(engine)
    if found is None:
        found = _BOOKKEEPING[engine] = _new_bookkeeping_engine(engine)
        own, pid = weakref.ref(found), os.getpid()
        # Disposed with `engine`; a forked work horse must not close (or share) its parent's
        # connections, as jobs/worker.py does for `engine`.
        event.listen(engine, "engine_disposed", lambda _engine: _dispose(own(), close=os.getpid() == pid))
        os.register_at_fork(after_in_child=lambda: _dispose(own(), close=False))
    return found


def _new_bookkeeping_engine(engine: Engine) -> Engine:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):  # one database per connection: share the caller's
            return engine.execution_options(isolation_level="AUTOCOMMIT")
        sqlite = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
        event.listen(sqlite, "connect", _run("PRAGMA synchronous = NORMAL"))  # WAL: no sync per commit
        return sqlite
    own = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=4)
    if url.get_backend_name() == "postgresql":
        event.listen(own, "connect", _run("SET synchronous_commit = off"))
    return own


def _run(statement: str) -> Callable[[Any, Any], None]:
    """A pool "connect" listener running `statement` on each new connection."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()  # a session setting: kept after the commit, whatever the mode

    return on_connect


def _dispose(engine: Engine | None, *, close: bool) -> None:
    if engine is not None:
        engine.dispose(close=close)


def _claimable(now: Any) -> Any:
    """Pending, or sending with its lease run out (the worker died); `now` a moment or a bound parameter."""
    return or_(
        OutboxMessage.status == OutboxStatus.PENDING.value,
        (OutboxMessage.status == OutboxStatus.SENDING.value) & (OutboxMessage.lease_until < now),
    )


# Built once: a worker runs these for every message, and building a statement costs as much as
# running it. pending → sending with a lease, only if still claimable: two jobs for one row
# cannot both get it back.
_NOW = bindparam("claim_now", type_=UTCDateTime)
_CLAIM = (
    update(OutboxMessage)
    .where(OutboxMessage.id == bindparam("claim_id"), OutboxMessage.not_before <= _NOW, _claimable(_NOW))
    .values(
        status=OutboxStatus.SENDING.value,
        attempts=OutboxMessage.attempts + 1,
        lease_until=bindparam("claim_lease"),
    )
    .returning(
        OutboxMessage.id,
        OutboxMessage.recipient,
        OutboxMessage.payload,
        OutboxMessage.attempts,
        OutboxMessage.created_at,
    )
)
_MARK_SENT = (
    update(OutboxMessage)
    .where(OutboxMessage.id == bindparam("row_id"))
    .values(
        status=OutboxStatus.SENT.value,
        sent_at=bindparam("when_sent"),
        platform_msgid=bindparam("msgid"),
        lease_until=None,
    )
)


def _backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at 10 minutes."""
    return timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


def due_for_sweep(session: Session, now: datetime, limit: int = 500) -> list[tuple[int, int]]:
    """(id, attempts) of rows whose job may have been lost (Redis was down, a worker died)."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.attempts)
        .where(OutboxMessage.not_before <= now - SWEEP_GRACE, _claimable(now))
        .order_by(OutboxMessage.not_before)
        .limit(limit)
    )
    return [(row.id, row.attempts) for row in rows]


def failed_rows(session: Session, limit: int = 100) -> list[OutboxMessage]:
    """The dead-letter list an admin reviews (`ztc outbox failed`)."""
    query = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED.value)
    return list(session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)))


def requeue_failed(session: Session, now: datetime, ids: list[int] | None = None) -> list[int]:
    """Put failed rows back to pending (`ztc outbox retry`); returns their ids to enqueue."""
    query = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED.value)
    if ids:
        query = query.where(OutboxMessage.id.in_(ids))
    rows = list(session.scalars(query))
    for row in rows:
        row.status = OutboxStatus.PENDING.value
        row.not_before = now
        row.attempts = 0
        row.last_error = None
    session.flush()
    return [row.id for row in rows]

"""Faults the real processes survive (issue 9 §1): Redis down, PostgreSQL restarted, WeCom failing,
two cron processes, and the per-member send limit.

The bot runs as in tests/e2e/conftest.py (`ztc web`, two `ztc worker`, two `ztc cron`, `ztc standin`),
but on a redis-server of its own, started here, so a test can stop it and start it again (empty, as
after a crash without persistence): never the machine's Redis. The database is the run's (a fresh
`<name>_e2e` on DATABASE_URL's PostgreSQL, else SQLite). The PostgreSQL restart runs on a cluster
of its own, made with initdb and restarted with pg_ctl; it is skipped where no PostgreSQL is installed.

A worker SIGKILLed in the middle of a send is in test_processes.py
(`test_a_worker_killed_in_the_middle_of_a_send_does_not_send_twice`).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from rq.cron import get_cron_job_ids
from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import session_scope
from bot.embedded_redis import redis_server_binary
from bot.models import InboundMessage, OutboxMessage, OutboxStatus
from bot.outbox import OutboxWriter
from bot.queues import OUTBOX
from bot.ratelimit import MEMBER_WINDOWS
from bot.replies import Text
from bot.runtime import Runtime
from handlers.complaints.models import WorkOrder
from jobs.schedule import SCHEDULE, TICK_SECONDS
from tests.e2e.conftest import CRONS, E2E, e2e_database, free_ports, running_bot, wait_until
from tests.e2e.test_processes import reply_text

pytestmark = pytest.mark.e2e

DELIVERY_TIMEOUT = 15.0  # seconds for a message without faults to get out
SETTLE = 1.0  # after the expected message arrived: time for a duplicate to show up
SWEEP_TIMEOUT = 150.0  # the outbox sweep runs each minute, for rows at least 30 s old
CRON_WINDOW = 65.0  # the two crons have run at least this long when their runs are counted
MEMBER = "faults_member"  # a WeCom member the demo county's own jobs never write to: only the tests' messages
BURST_MEMBER = "faults_burst"  # another, whose minute no other test's message shares
PER_MINUTE = MEMBER_WINDOWS[0].limit  # WeCom's 30 messages a minute to one member
BURST = PER_MINUTE + 3
BURSTED = "限速测试"
# The limiter stamps a send when it takes the slot, the stand-in when the message arrives: allow for
# the time between the two on a loaded machine.
MINUTE_LESS_JITTER = timedelta(seconds=58)


# ---------------------------------------------------------------- a Redis we may stop


class PrivateRedis:
    """A redis-server on a free loopback port, without persistence: stopped, it comes back empty."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_ports(1)[0]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _up(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir), "--logfile", "redis.log"]  # fmt: skip
        self.proc = subprocess.Popen(args)
        wait_until(self._up, "the private redis-server", timeout=10)

    def stop(self) -> None:
        """SIGTERM: the server exits without saving (nothing to save)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        assert not self._up()

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


# ---------------------------------------------------------------- a PostgreSQL we may restart


def postgres_bindir() -> Path | None:
    """The directory of initdb and pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for bindir in [*candidates, *versions]:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    return None


class PrivatePostgres:
    """A throwaway cluster (trust auth, loopback, no fsync) in a temp dir; as `postgres` when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_ports(1)[0]
        self.root = Path(tempfile.mkdtemp(prefix="ztc-pg-"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, program: str, *args: str) -> None:
        command = [*self.as_user, str(self.bindir / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.root / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)}: {done.stdout}{done.stderr}\n{tail}")

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")  # fmt: skip
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w", "-o", options,
                 "start")  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown: every open connection is cut, as in a restart for an upgrade."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def __enter__(self) -> PrivatePostgres:
        self.init()
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except RuntimeError:
            pass  # already stopped
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def postgres_or_skip() -> Path:
    """initdb and pg_ctl, and a way to run them; else skip, saying what is missing."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL restart: no initdb/pg_ctl (on PATH or in /usr/lib/postgresql/*/bin)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("PostgreSQL restart: running as root and there is no `postgres` user for initdb")
        if not shutil.which("runuser"):
            pytest.skip("PostgreSQL restart: running as root and `runuser` is missing")
    return bindir


# ---------------------------------------------------------------- the bot on the private Redis


@dataclass
class Faults:
    """The running bot, its stoppable Redis, and a runtime to write messages as a handler does."""

    bot: E2E
    redis: PrivateRedis
    runtime: Runtime


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    """The bot with two workers (sharing the send limit, racing for jobs) on a private Redis."""
    workdir = tmp_path_factory.mktemp("faults")
    with (
        e2e_database(workdir) as database_url,
        PrivateRedis(workdir) as server,
        running_bot(database_url, server.url, workdir) as bot,
    ):
        bot.start_worker("worker-2")
        yield Faults(bot, server, Runtime.build(bot.settings, engine=bot.engine, connection=bot.redis))


def queue_texts(faults: Faults, *messages: tuple[str, str]) -> list[int]:
    """(recipient, text) messages written and queued as a handler does: rows committed, then jobs; ids."""
    rt = faults.runtime
    with session_scope(rt.session_factory) as session:
        writer = OutboxWriter(session, rt.clock)
        for recipient, text in messages:
            writer.add(recipient, Text(text), key=f"faults:{recipient}:{text}")
        rows = writer.scheduled()
    rt.enqueue_rows(rows)
    return [outbox_id for outbox_id, _ in rows]


def outbox_row(bot: E2E, outbox_id: int) -> OutboxMessage:
    with Session(bot.engine) as session:
        return session.get_one(OutboxMessage, outbox_id)


def outbox_rows(bot: E2E, after: int = 0) -> list[OutboxMessage]:
    with Session(bot.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id)
        return list(session.scalars(query))


def count(bot: E2E, query: Any) -> int:
    with bot.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def arrived(bot: E2E, user: str, text: str) -> list[dict[str, Any]]:
    """The text messages `text` that reached `user`."""
    return [
        m
        for m in bot.standin.messages(user)
        if m["msgtype"] == "text" and m["body"]["text"]["content"] == text
    ]


def dropped(bot: E2E, user: str, text: str) -> list[dict[str, Any]]:
    """Repeats of `text` to `user` that WeCom's duplicate check dropped."""
    return [
        m
        for m in bot.standin.suppressed()
        if m["touser"] == user and m["body"].get("text", {}).get("content") == text
    ]


def arrives_once(bot: E2E, user: str, text: str, timeout: float = DELIVERY_TIMEOUT) -> dict[str, Any]:
    """Wait for `text` to reach `user`, then make sure it came once; the message."""
    wait_until(
        lambda: arrived(bot, user, text), f"{text!r} to reach {user}", timeout=timeout, check=bot.check
    )
    time.sleep(SETTLE)
    (message,) = arrived(bot, user, text)
    return message


def worker_logs(bot: E2E) -> str:
    """What both RQ workers logged (either may have handled a job)."""
    return "\n".join(bot.stack.log(name).read_text(errors="replace") for name in ("worker", "worker-2"))


def ztc(bot: E2E, *args: str) -> str:
    """Run the real `ztc` command line against the bot's database and Redis; its output."""
    return bot.stack.run(f"ztc-{'-'.join(args)}-{time.monotonic_ns()}", *args)


def file_order(bot: E2E, user: str, text: str, msg_id: str | None = None) -> str:
    """`user` files a 诉求 in the app chat; the order number from the passive answer."""
    started = time.monotonic()
    answer = reply_text(bot.platform().send_text(user, f"诉求 {text}", msg_id=msg_id))
    assert time.monotonic() - started < 3.0, "answered past WeCom's 5 s window"
    found = re.search(r"诉求已受理，单号 (S\d{4}-\d{4})", answer)
    assert found, answer
    return found.group(1)


def sent_one_to_one(bot: E2E, rows: list[OutboxMessage], messages: list[dict[str, Any]]) -> None:
    """Every row was sent, and what WeCom received is exactly one message per row (by msgid).

    The cron runs all along (its 08:30 digests, 09:30 免申即享 …): messages of rows it wrote after
    `rows` was read may arrive too. Those must belong to an outbox row of their own, and
    nothing may arrive twice.
    """
    assert {row.status for row in rows} <= {OutboxStatus.SENT.value}, [(r.id, r.status) for r in rows]
    by_rows = Counter((row.recipient.lower(), row.platform_msgid) for row in rows if row.platform_msgid)
    received = Counter((m["touser"].lower(), m["msgid"]) for m in messages)
    assert {key: received[key] for key in by_rows} == by_rows
    assert [key for key, times in received.items() if times > 1] == []

    def unmatched() -> list[tuple[str, str]]:
        known = {(r.recipient.lower(), r.platform_msgid) for r in outbox_rows(bot) if r.platform_msgid}
        return [key for key in received if key not in known]

    # A row sent just now may not have recorded its msgid yet: give the worker a moment.
    try:
        wait_until(lambda: unmatched() == [] or None, "every message to belong to an outbox row", timeout=10)
    except AssertionError:
        assert unmatched() == []  # shows which


# ---------------------------------------------------------------- WeCom answering errors


def test_a_rate_limit_then_a_gateway_error_are_retried_with_growing_backoff_and_arrive_once(
    faults: Faults,
) -> None:
    bot = faults.bot
    sends = bot.standin.calls("message/send", MEMBER)
    bot.standin.inject("message/send", [45009, {"http": 502}], touser=MEMBER)
    queued = time.monotonic()
    (outbox_id,) = queue_texts(faults, (MEMBER, "限流和网关故障之后送达"))

    arrives_once(bot, MEMBER, "限流和网关故障之后送达", timeout=45)
    took = time.monotonic() - queued
    row = outbox_row(bot, outbox_id)
    assert row.status == OutboxStatus.SENT and row.attempts == 3
    assert bot.standin.calls("message/send", MEMBER) - sends == 3
    log = worker_logs(bot)
    assert f"outbox {outbox_id} deferred 5s: rate limited: errcode=45009" in log
    assert f"outbox {outbox_id} deferred 10s: transient: errcode=None: message/send: HTTP 502" in log
    assert 15 <= took < 35  # waited out both back-offs, and was not left to the minute's sweep


def test_an_expired_token_is_refreshed_once_and_a_second_refusal_backs_off(faults: Faults) -> None:
    bot = faults.bot
    bot.standin.expire_tokens()  # the token every process shares (in Redis) is now expired
    tokens, sends = bot.standin.calls("gettoken"), bot.standin.calls("message/send", MEMBER)
    (refreshed,) = queue_texts(faults, (MEMBER, "令牌过期后换新令牌送达"))
    arrives_once(bot, MEMBER, "令牌过期后换新令牌送达")
    assert outbox_row(bot, refreshed).attempts == 1  # refreshed within the attempt
    assert bot.standin.calls("gettoken") - tokens == 1
    assert bot.standin.calls("message/send", MEMBER) - sends == 2

    # Refused again right after the refresh: no second refresh, the attempt backs off instead.
    bot.standin.inject("message/send", [42001, 42001], touser=MEMBER)
    (backed_off,) = queue_texts(faults, (MEMBER, "令牌两次被拒后稍后送达"))
    arrives_once(bot, MEMBER, "令牌两次被拒后稍后送达", timeout=30)
    assert outbox_row(bot, backed_off).attempts == 2
    assert bot.standin.calls("gettoken") - tokens == 2  # one refresh for each message
    assert f"outbox {backed_off} deferred 5s: transient: errcode=42001" in worker_logs(bot)


def test_a_send_that_times_out_is_retried_and_the_platform_drops_the_repeat(faults: Faults) -> None:
    bot = faults.bot
    # WeCom takes 11 s to answer (the client waits 10 s): the message is delivered, the worker
    # does not know it, and sends again after its back-off.
    bot.standin.inject("message/send", [{"sleep": 11}], touser=MEMBER)
    (outbox_id,) = queue_texts(faults, (MEMBER, "超时之后重发也只收到一次"))
    wait_until(lambda: outbox_row(bot, outbox_id).status == OutboxStatus.SENT, "the resend",
               timeout=45, check=bot.check)  # fmt: skip
    arrives_once(bot, MEMBER, "超时之后重发也只收到一次")
    assert len(dropped(bot, MEMBER, "超时之后重发也只收到一次")) == 1  # enable_duplicate_check at work
    assert outbox_row(bot, outbox_id).attempts == 2
    assert (
        f"outbox {outbox_id} deferred 5s: transient: errcode=None: message/send: ReadTimeout"
        in worker_logs(bot)
    )


def test_a_recipient_wecom_does_not_know_is_a_dead_letter_listed_and_replayed_with_the_cli(
    faults: Faults,
) -> None:
    bot = faults.bot
    bot.standin.set_users(["zhang_wei"])  # MEMBER has left the corp, as far as WeCom knows
    try:
        (outbox_id,) = queue_texts(faults, (MEMBER, "离开企业微信后的消息"))
        failed = wait_until(
            lambda: (row := outbox_row(bot, outbox_id)).status == OutboxStatus.FAILED and row,
            "the dead letter", timeout=DELIVERY_TIMEOUT, check=bot.check,
        )  # fmt: skip
    finally:
        bot.standin.set_users(None)
    assert failed.attempts == 1 and failed.invalid_users == MEMBER  # no retries for 81013
    assert arrived(bot, MEMBER, "离开企业微信后的消息") == []

    listed = ztc(bot, "outbox", "failed")
    assert f"{outbox_id}\t{MEMBER}\t1 次\tpermanent: errcode=81013" in listed

    # MEMBER is back in the corp: an admin replays the dead letter.
    assert "已重新排队 1 条消息。" in ztc(bot, "outbox", "retry", str(outbox_id))
    arrives_once(bot, MEMBER, "离开企业微信后的消息")
    assert outbox_row(bot, outbox_id).status == OutboxStatus.SENT
    assert [row.id for row in outbox_rows(bot) if row.status == OutboxStatus.FAILED] == []


# ---------------------------------------------------------------- two cron processes


def test_two_cron_processes_start_each_periodic_run_once_over_more_than_a_minute(faults: Faults) -> None:
    bot = faults.bot
    remaining = CRON_WINDOW - (time.monotonic() - bot.crons_started)
    if remaining > 0:
        time.sleep(remaining)
    for name in CRONS:  # both were ticking all along
        enqueued = bot.stack.log(name).read_text().count("Enqueued job tick")
        assert enqueued >= CRON_WINDOW // TICK_SECONDS, (name, enqueued)

    ticks = wait_until(lambda: _finished(bot, get_cron_job_ids("jobs.schedule.tick", bot.redis)),
                       "the ticks to run", timeout=10, check=bot.check)  # fmt: skip
    started = Counter(run_id for job in ticks for run_id in job.return_value() or [])
    assert started and set(started.values()) == {1}, started  # each run claimed by one tick only
    wait_until(lambda: _finished(bot, list(started)), "the runs", timeout=10, check=bot.check)

    # Each run was worked once, by one of the two workers.
    runs = Counter(re.findall(r"\((cron-[\w-]+)\)$", worker_logs(bot), flags=re.MULTILINE))
    assert set(runs) <= set(started)
    assert {run_id: n for run_id, n in runs.items() if n != 2} == {}  # "… (id)" at start and at OK
    for periodic in (p for p in SCHEDULE if p.cron == "* * * * *"):
        prefix = f"cron-{periodic.name}-"
        stamps = sorted(run_id.removeprefix(prefix) for run_id in started if run_id.startswith(prefix))
        minutes = [datetime.strptime(stamp, "%Y%m%dT%H%M") for stamp in stamps]  # noqa: DTZ007 - local
        assert len(minutes) >= 3, minutes  # the minute before the start, and at least two more
        assert minutes == [minutes[0] + timedelta(minutes=i) for i in range(len(minutes))]  # no gaps


def _finished(bot: E2E, job_ids: list[str]) -> list[Job] | None:
    jobs = Job.fetch_many(job_ids, connection=bot.redis)
    if all(job is not None and job.get_status() == JobStatus.FINISHED for job in jobs):
        return [job for job in jobs if job is not None]
    return None


# ---------------------------------------------------------------- Redis down


FILINGS = (  # three enterprises, three holding departments' officials
    ("zhang_wei", "用地 Redis停机时提交的扩建用地诉求"),
    ("wang_fang", "融资 Redis停机时提交的贷款续贷诉求"),
    ("li_na", "用工 Redis停机时提交的招工诉求"),
)


def test_with_redis_down_orders_are_stored_and_answered_and_their_messages_go_out_once_it_is_back(
    faults: Faults,
) -> None:
    bot = faults.bot
    rows_before = max((row.id for row in outbox_rows(bot)), default=0)
    seen_before = max((m["seq"] for m in bot.standin.messages()), default=0)
    orders_before = count(bot, select(func.count()).select_from(WorkOrder))
    dropped_before = len(bot.standin.suppressed())
    msg_ids = [f"redisdown{n}{time.time_ns()}" for n in range(len(FILINGS))]

    faults.redis.stop()
    try:
        numbers = [
            file_order(bot, user, text, msg_id) for (user, text), msg_id in zip(FILINGS, msg_ids, strict=True)
        ]
        # WeCom retries the first callback: the stored answer again, not a second order.
        (user, text), msg_id = FILINGS[0], msg_ids[0]
        assert file_order(bot, user, text, msg_id) == numbers[0]
        assert len(set(numbers)) == len(FILINGS)

        # A cron tick falls in the outage: every process rides it out.
        time.sleep(TICK_SECONDS + 2)
        bot.check()
        inbound = select(func.count()).where(
            InboundMessage.dedup_key.in_([f"wecom:msg:{m}" for m in msg_ids])
        )
        assert count(bot, inbound) == len(FILINGS)
        assert count(bot, select(func.count()).select_from(WorkOrder)) == orders_before + len(FILINGS)
        waiting = outbox_rows(bot, after=rows_before)
        # Each order: a status card to its enterprise and a card to each official of the department.
        assert len(waiting) >= 3 * len(FILINGS), waiting
        assert {row.status for row in waiting} == {OutboxStatus.PENDING.value}
    finally:
        faults.redis.start()  # empty: every queued job and claim is gone

    def all_sent() -> list[OutboxMessage] | None:
        rows = outbox_rows(bot, after=rows_before)
        return rows if all(row.status == OutboxStatus.SENT for row in rows) else None

    sent = wait_until(all_sent, "the sweeper to send what waited", timeout=SWEEP_TIMEOUT, check=bot.check)
    time.sleep(SETTLE)
    messages = [m for m in bot.standin.messages() if m["seq"] > seen_before]
    sent_one_to_one(bot, sent, messages)
    assert {m["touser"] for m in messages} >= {user for user, _ in FILINGS}
    assert len(bot.standin.suppressed()) == dropped_before  # nothing sent twice, not even a repeat

    # Delayed jobs are on time again: RQ's scheduler process, killed by the outage, is back, and a
    # 5 s back-off takes 5 s, not the minute of the sweep.
    scheduler_lock = RQScheduler.get_locking_key(faults.runtime.queues[OUTBOX].name)
    wait_until(lambda: bot.redis.exists(scheduler_lock), "RQ's scheduler", timeout=60, check=bot.check)
    bot.standin.inject("message/send", [45009], touser=MEMBER)
    queued = time.monotonic()
    queue_texts(faults, (MEMBER, "Redis恢复后限流重试"))
    arrives_once(bot, MEMBER, "Redis恢复后限流重试", timeout=45)
    assert time.monotonic() - queued < 25


# ---------------------------------------------------------------- the per-member send limit


def test_sends_above_30_a_minute_to_one_member_are_held_back_not_dropped(faults: Faults) -> None:
    bot = faults.bot
    texts = [f"{BURSTED}第{n}条" for n in range(1, BURST + 1)]
    ids = queue_texts(faults, *((BURST_MEMBER, text) for text in texts))

    def burst_arrived() -> list[dict[str, Any]]:
        return [m for m in bot.standin.messages(BURST_MEMBER) if BURSTED in str(m["body"])]

    first = wait_until(lambda: len(burst_arrived()) >= PER_MINUTE and burst_arrived(), "30 messages",
                       timeout=30, check=bot.check)  # fmt: skip
    time.sleep(3 * SETTLE)
    assert len(burst_arrived()) == PER_MINUTE == len(first)  # two workers, one limit
    held = [row for row in (outbox_row(bot, i) for i in ids) if row.status != OutboxStatus.SENT]
    assert len(held) == BURST - PER_MINUTE
    assert {(row.status, row.attempts, row.last_error) for row in held} == {
        (OutboxStatus.PENDING.value, 0, "rate limit: waiting for a send slot")  # not a failed try
    }
    earliest = datetime.fromisoformat(min(m["at"] for m in first))
    assert all(row.not_before >= earliest + MINUTE_LESS_JITTER for row in held)
    # They arrive after their minute: test_held_back_messages_arrive_… at the end of this module.


# ---------------------------------------------------------------- PostgreSQL restarted


WARN_SECONDS = 18  # ZTC_ORDER_WARN_HOURS so that the 接单 reminder fires 18 s after filing


@pytest.fixture
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[E2E, PrivatePostgres]]:
    """The bot on a PostgreSQL cluster of its own (and a Redis of its own), with a quick reminder."""
    bindir = postgres_or_skip()
    workdir = tmp_path_factory.mktemp("pg-restart")
    warn_hours = str(24 - WARN_SECONDS / 3600)
    with (
        PrivatePostgres(bindir) as postgres,
        PrivateRedis(workdir) as server,
        # No cron: nothing here waits for a sweep (the reminders are the worker scheduler's).
        running_bot(
            postgres.url, server.url, workdir, env={"ZTC_ORDER_WARN_HOURS": warn_hours}, crons=()
        ) as bot,
    ):
        yield bot, postgres


def test_after_postgresql_restarts_web_and_workers_carry_on(restartable: tuple[E2E, PrivatePostgres]) -> None:
    bot, postgres = restartable
    platform = bot.platform()
    before = file_order(bot, "zhang_wei", "用地 重启数据库之前提交的诉求")
    wait_until(lambda: _all_sent(bot), "the order's cards", timeout=DELIVERY_TIMEOUT, check=bot.check)
    for user in ("zhang_wei", "li_na", "gxj_zhou", "kfq_deng"):  # both gunicorn workers use the database
        assert "姓名：" in reply_text(platform.send_text(user, "我是谁"))

    postgres.stop()
    # A callback while the database is down is not acknowledged, so WeCom delivers it again.
    down_msg_id = f"pgdown{time.time_ns()}"
    refused = platform.send_text("li_na", "诉求 用工 数据库停机时提交的诉求", msg_id=down_msg_id)
    assert refused.status >= 500 and refused.reply is None
    postgres.start()

    # WeCom's retry of that callback, then more, on the same (now stale) connection pools.
    after = file_order(bot, "li_na", "用工 数据库停机时提交的诉求", msg_id=down_msg_id)
    for user in ("zhang_wei", "li_na", "gxj_zhou", "kfq_deng"):
        assert "姓名：" in reply_text(platform.send_text(user, "我是谁"))
    stored = select(func.count()).where(InboundMessage.dedup_key == f"wecom:msg:{down_msg_id}")
    assert count(bot, stored) == 1
    assert count(bot, select(func.count()).select_from(WorkOrder)) == 2
    unhandled = select(func.count()).where(InboundMessage.status != "handled")
    assert count(bot, unhandled) == 0  # every callback before and after: stored and answered

    # The worker, too: cards of the new order, and the reminder of the old one (scheduled before
    # the restart, fired after it) and of the new one.
    def reminded(number: str, officials: tuple[str, ...]) -> bool:
        return all(
            any(
                f"诉求 {number}" in m["body"].get("text", {}).get("content", "")
                for m in bot.standin.messages(u)
            )
            for u in officials
        )

    wait_until(lambda: reminded(before, ("gxj_zhou", "gxj_wu")) and reminded(after, ("kfq_deng", "kfq_xu")),
               "the 接单 reminders", timeout=WARN_SECONDS + DELIVERY_TIMEOUT, check=bot.check)  # fmt: skip
    wait_until(lambda: _all_sent(bot), "every message", timeout=DELIVERY_TIMEOUT, check=bot.check)
    time.sleep(SETTLE)
    sent_one_to_one(bot, outbox_rows(bot), bot.standin.messages())
    assert bot.standin.suppressed() == []


def _all_sent(bot: E2E) -> bool:
    rows = outbox_rows(bot)
    return bool(rows) and all(row.status == OutboxStatus.SENT for row in rows)


# ---------------------------------------------------------------- over the whole module


def test_held_back_messages_arrive_after_their_minute_and_nothing_arrived_twice(faults: Faults) -> None:
    bot = faults.bot
    burst = [row for row in outbox_rows(bot) if BURSTED in str(row.payload)]
    if not burst:
        pytest.skip("checks what the tests above sent; run them too")
    wait_until(lambda: all(outbox_row(bot, row.id).status == OutboxStatus.SENT for row in burst),
               "the held-back messages", timeout=90, check=bot.check)  # fmt: skip
    time.sleep(SETTLE)
    arrivals = sorted(
        datetime.fromisoformat(m["at"])
        for m in bot.standin.messages(BURST_MEMBER)
        if BURSTED in str(m["body"])
    )
    assert len(arrivals) == BURST
    # WeCom drops what exceeds 30 in any minute to one member: the 31st came a minute after the 1st.
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[PER_MINUTE:], strict=False)]
    assert min(gaps) >= MINUTE_LESS_JITTER, gaps

    sent_one_to_one(bot, outbox_rows(bot), bot.standin.messages())
    assert len(bot.standin.suppressed()) == 1  # the repeat after the timeout, dropped by WeCom

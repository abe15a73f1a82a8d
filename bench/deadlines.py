"""Benchmark: finding the orders whose alarm is due, and how late reminders fire (issue 10, benchmark 4).

Goal (issue 10): **1,000,000 orders; finding what is due uses an index (≤ 2× an indexed count,
≈ 4 ms) and costs the same per due item at 10k and 1M rows; reminders fire ≤ 2 s late.**

    .venv/bin/python -m bench.deadlines [--sizes 10000,1000000] [--due 50] [--page 500] [--rounds 7]
                                        [--repeat 20] [--alarms 20] [--spread 20] [--seed 1]
                                        [--no-worker] [--database-url URL] [--redis-url URL]

"What is due" is what the 盯单 code asks the database: every order stores its next alarm
(work_orders.alarm_at / alarm_rung, handlers/complaints/alarms.py); a job fires it by primary key
with a compare-and-set, and every 5 minutes jobs.orders.sweep re-queues the alarms due more than
30 s ago whose job was lost, with alarms.due_alarms: `alarm_at <= now - 30 s ORDER BY alarm_at
LIMIT 500`. That is the query measured, called as the sweep calls it.

For each size, a register of that many orders is generated in a database of its own (a SQLite
file, or a PostgreSQL schema): filed at a county's 50,000 a year up to the moment measured, nearly
all closed, so their alarm is NULL; 1% open with alarms in the next three days; `--due` of them with
an alarm that fell due 30 s to 6 h ago and whose job was lost. Rows are inserted with Core
executemany. Every query on every register is measured in the same interleaved rounds (rotated,
every other round reversed, `--repeat` calls per batch, medians), against `SELECT count(*) … WHERE
alarm_at <= now - 30 s`, the same predicate answered from the index alone:
- the backlog: the `--due` lost alarms, judged (≤ 2× the count, ≤ 4 ms);
- a full page: the sweep's limit of `--page` due alarms (the query at a later moment), shown;
- their plans (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL), judged: an index range scan;
- the cost per due item at the largest size against the smallest, judged (the same: ≤ 1.25×);
- /metrics' overdue count (handlers/complaints/overdue.py), shown, its plan judged: an index.

Then, on the largest register, `--alarms` orders are armed a few seconds ahead with the services'
own alarms.arm() and scheduled through RQ (enqueue_at) as a transition does, and a real worker
(`ztc worker`: SimpleWorker with RQ's scheduler, as jobs/worker.py runs it) fires them; their
reminders go through the outbox to the local WeCom stand-in. Lateness = the stand-in receiving
the first reminder − the alarm's moment; judged ≤ 2 s at the worst.

The databases are temporary SQLite files and Redis an embedded redis-server, unless --database-url
(an EMPTY database: a schema per size is created and dropped) and --redis-url (a database of its
own) name others.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import rq
from rq import Worker
from sqlalchemy import Connection, Engine, event, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.common import Report, Row, backend_options, finish, parser_for, positive
from bench.digest import DEPARTMENTS, RESULTS, _number
from bench.digest import REQUESTS as DESCRIPTIONS
from bot.clock import SystemClock, as_utc
from bot.db import Base, make_engine, make_session_factory, session_scope
from bot.embedded_redis import socket_url, start_embedded_redis, stop_embedded_redis
from bot.models import Department, Enterprise, Person, Role
from bot.runtime import Runtime
from bot.settings import DEMO_CORP_ID, DEMO_SECRET, Settings
from bot.standin.server import StandinServer
from bot.uscc import make_uscc
from handlers.complaints.alarms import arm, due_alarms
from handlers.complaints.models import CATEGORIES, OrderState, WorkOrder
from handlers.complaints.overdue import overdue_counts
from handlers.complaints.rules import rules_from
from jobs.orders import SWEEP_GRACE

NOW = datetime(2026, 12, 28, 2, 0, tzinfo=UTC)  # 10:00 on a Monday in Beijing: the moment measured
SWEEP_NOW = NOW - SWEEP_GRACE  # what jobs.orders.sweep asks due_alarms for
ORDERS_PER_YEAR = 50_000  # a county's rate, as in bench/digest.py
OPEN_SHARE = 0.01  # orders not closed (alarms armed): recent ones
CHUNK = 10_000
GOAL_RATIO = 2.0  # ≤ 2× the indexed count
GOAL_MS = 4.0
GOAL_SAME = 1.25  # "the same": the issue counts differences under 25% as noise
GOAL_LATE = 2.0
INDEX = "ix_work_orders_alarm"
STATE_INDEX = "ix_work_orders_state"

PLAN_ROW = "plan of the due query"
RATIO_ROW = "due query / indexed count, median"
PER_ITEM_ROW = "cost per due item (full page)"
LATE_ROW = "reminder lateness: alarm → WeCom stand-in, median"


# --- the register ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cast:
    """Who the orders belong to: departments (id → its officials' person ids), enterprises, contacts."""

    departments: dict[int, list[int]]
    enterprises: int  # enterprise i has contact person `contact_base + i`
    contact_base: int


def build_cast(conn: Connection, enterprises: int) -> Cast:
    """The departments of bench.digest's county with three officials each, and the enterprises."""
    created = NOW - timedelta(days=8000)
    conn.execute(insert(Department), [
        {"id": n, "code": code, "name": name, "kind": kind, "created_at": created}
        for n, (code, name, kind) in enumerate(DEPARTMENTS, start=1)
    ])  # fmt: skip
    people: list[dict[str, Any]] = []
    departments: dict[int, list[int]] = {}
    for n, (code, _, _) in enumerate(DEPARTMENTS, start=1):
        ids = [len(people) + k + 1 for k in range(3)]
        departments[n] = ids
        people += [
            {"id": pid, "wecom_userid": f"{code.lower()}_{k + 1}", "name": f"{code}干部{k + 1}",
             "role": Role.OFFICIAL.value, "department_id": n, "is_head": k == 0, "created_at": created}
            for k, pid in enumerate(ids)
        ]  # fmt: skip
    base = len(people)
    people += [
        {"id": base + i, "wecom_userid": f"ent_{i}", "name": f"联系人{i}", "role": Role.ENTERPRISE.value,
         "department_id": None, "is_head": False, "created_at": created}
        for i in range(1, enterprises + 1)
    ]  # fmt: skip
    for batch in _batches(people):
        conn.execute(insert(Person), batch)
    firms = (
        {"id": i, "uscc": make_uscc(f"91371526{i:09d}"), "name": f"示范县第{i}号企业有限公司",
         "contact_department_id": 1 + i % len(DEPARTMENTS), "created_at": created}
        for i in range(1, enterprises + 1)
    )  # fmt: skip
    for batch in _batches(firms):
        conn.execute(insert(Enterprise), batch)
    return Cast(departments, enterprises, base)


def _batches(rows: Any, size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


PHASES = (  # an open order's phase, its share, and the rungs its next alarm may be
    (OrderState.DISPATCHED, 45, ("pickup.warn", "pickup.overdue", "pickup.head", "pickup.leader")),
    (OrderState.PICKED_UP, 35, ("solve.warn", "solve.overdue", "solve.head", "solve.leader")),
    (OrderState.RESOLVED, 20, ("signoff.remind", "signoff.close")),
)


def order_rows(rng: random.Random, count: int, due: int, page: int, cast: Cast) -> Iterator[dict[str, Any]]:
    """`count` orders filed at the county's rate up to NOW; 1% open (at least `due` + a page), recent ones."""
    span = timedelta(days=365 * count / ORDERS_PER_YEAR)
    opened_count = min(count, max(math.ceil(count * OPEN_SHARE), due + page))
    recent = range(count - min(count, max(count // 20, 2 * opened_count)), count)
    opened = rng.sample(recent, opened_count)
    lost = set(opened[:due])  # alarms due a while ago whose job went missing
    armed = set(opened[due:])
    numbers: dict[str, int] = {}
    categories = list(CATEGORIES)
    for index in range(count):
        filed = NOW - span + span * ((index + rng.random()) / count)
        firm = 1 + int(rng.paretovariate(1.2) * 7) % cast.enterprises
        department = 1 + firm % len(cast.departments)
        category = rng.choice(categories)
        row = {
            "id": index + 1, "number": _number("S", filed, numbers), "enterprise_id": firm,
            "filed_by_id": cast.contact_base + firm, "category": category,
            "description": rng.choice(DESCRIPTIONS[category]),
            "urgency": "紧急" if rng.random() < 0.1 else "普通",
            "clock_mode": "natural", "holding_department_id": department, "filed_at": filed,
            "dispatched_at": filed, "pickup_due_at": filed + timedelta(hours=24), "held_since": filed,
            "rework_count": 0, "auto_closed": False, "photos": [], "extension_requested_until": None,
            "extended_until": None, "rating": None,
        }  # fmt: skip
        if index in lost or index in armed:
            at = NOW - timedelta(seconds=rng.uniform(31, 6 * 3600)) if index in lost else None
            row.update(_open(rng, filed, at))
        else:
            row.update(_closed(rng, filed))
        yield row


def _open(rng: random.Random, filed: datetime, due_at: datetime | None) -> dict[str, Any]:
    """An order still open, its next alarm at `due_at` (lost) or in the next three days (armed)."""
    state, _, rungs = rng.choices(PHASES, [p[1] for p in PHASES])[0]
    picked = filed + timedelta(hours=rng.uniform(0.5, 20)) if state != OrderState.DISPATCHED else None
    resolved = (
        picked + timedelta(hours=rng.uniform(1, 20)) if state == OrderState.RESOLVED and picked else None
    )
    alarm = due_at or NOW + timedelta(seconds=rng.uniform(60, 3 * 86400))
    return {
        "state": state.value, "picked_up_at": picked,
        "solve_due_at": picked + timedelta(hours=24) if picked else None,
        "resolved_at": resolved, "result": rng.choice(RESULTS) if resolved else None, "closed_at": None,
        "alarm_at": alarm, "alarm_rung": rng.choice(rungs), "version": 3,
    }  # fmt: skip


def _closed(rng: random.Random, filed: datetime) -> dict[str, Any]:
    """A closed order (销号): no alarm."""
    picked = filed + timedelta(hours=rng.uniform(0.2, 20))
    resolved = picked + timedelta(hours=rng.uniform(1, 30))
    return {
        "state": OrderState.CLOSED.value, "picked_up_at": picked,
        "solve_due_at": picked + timedelta(hours=24),
        "resolved_at": resolved, "result": rng.choice(RESULTS), "closed_at": resolved + timedelta(hours=3),
        "rating": "满意", "alarm_at": None, "alarm_rung": None, "version": 5,
    }  # fmt: skip


@dataclass(frozen=True)
class Register:
    """One generated register, in a database (SQLite file or PostgreSQL schema) of its own."""

    size: int
    cast: Cast
    seconds: float
    engine: Engine
    url: str  # for the worker process

    @property
    def label(self) -> str:
        return _size(self.size)


def register_url(base: str | None, folder: Path, size: int) -> str:
    """Where a size's register lives: its own SQLite file, or its own schema of the given database
    (search_path set for every connection, so the app's queries and the worker find its tables)."""
    if base is None:
        return f"sqlite:///{folder / f'deadlines-{size}.sqlite3'}"
    url = make_url(base).update_query_dict({"options": f"-csearch_path={_schema(size)}"})
    return url.render_as_string(hide_password=False)


def _schema(size: int) -> str:
    return f"bench_deadlines_{size}"


def build(url: str, size: int, options: argparse.Namespace) -> Register:
    """Tables, then the cast and `size` orders (Core executemany, one transaction)."""
    start = time.perf_counter()
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {_schema(size)}"))
    Base.metadata.create_all(engine)
    rng = random.Random(options.seed)
    with engine.begin() as conn:
        cast = build_cast(conn, max(50, min(size // 10, 20_000)))
        for batch in _batches(order_rows(rng, size, options.due, options.page, cast)):
            conn.execute(insert(WorkOrder), batch)
    if engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return Register(size, cast, time.perf_counter() - start, engine, url)


def drop(register: Register) -> None:
    """Remove a register's tables (its schema on PostgreSQL); a SQLite file goes with the temp dir."""
    if register.engine.dialect.name == "postgresql":
        with register.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {_schema(register.size)} CASCADE"))
    register.engine.dispose()


# --- the queries -------------------------------------------------------------------------------------


def due_query(session: Session, moment: datetime) -> int:
    """The sweep's query (alarms.due_alarms), as jobs.orders.sweep calls it: how many it found."""
    return len(due_alarms(session, moment))


def indexed_count(session: Session, moment: datetime) -> int:
    """The same predicate, counted: the database touches the index range and nothing else."""
    query = select(func.count()).select_from(WorkOrder).where(WorkOrder.alarm_at <= moment)
    return session.scalar(query) or 0


def overdue(session: Session, moment: datetime) -> int:
    """The overdue orders, as /metrics counts them (handlers/complaints/overdue.py)."""
    return sum(overdue_counts(session, moment).values())


Query = Callable[[Session, datetime], int]


def _batch(factory: sessionmaker[Session], query: Query, moment: datetime, repeat: int) -> float:
    """Seconds per call, over `repeat` calls in one session (a sweep job's session runs one)."""
    with factory() as session:
        start = time.perf_counter()
        for _ in range(repeat):
            query(session, moment)
        return (time.perf_counter() - start) / repeat


@dataclass
class Contender:
    """One query on one register at one moment, and its per-call seconds, one per round."""

    register: Register
    query: Query
    moment: datetime
    repeat: int
    times: list[float]

    def run(self) -> None:
        self.times.append(
            _batch(make_session_factory(self.register.engine), self.query, self.moment, self.repeat)
        )

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def found(self) -> int:
        with make_session_factory(self.register.engine)() as session:
            return self.query(session, self.moment)


def interleave(contenders: list[Contender], rounds: int) -> None:
    """A warm-up of each, then `rounds` rounds of all of them, each round in a rotated order (and
    every other one reversed), so that the machine's drifting load falls on all alike."""
    for contender in contenders:
        _batch(make_session_factory(contender.register.engine), contender.query, contender.moment, 1)
    for round_ in range(rounds):
        shift = round_ % len(contenders)
        order = contenders[shift:] + contenders[:shift]
        for contender in order[::-1] if round_ % 2 else order:
            contender.run()


def plan(register: Register, query: Query, moment: datetime) -> str:
    """The plan of the SQL `query` really sends (captured from the driver), in one line."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sent.append((statement, parameters))

    engine = register.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with make_session_factory(engine)() as session:
            query(session, moment)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = sent[-1]
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            return "; ".join(str(row[-1]) for row in rows)
        lines = [str(row[0]).strip() for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)]
    shown = [line.removeprefix("->  ").split("  (cost=")[0] for line in lines]
    skipped = ("Sort Key", "Group Key", "Filter", "Recheck Cond")
    return " | ".join(line for line in shown if not line.startswith(skipped))


def uses_index(plan_text: str, index: str = INDEX) -> bool:
    """A range scan of `index`, and no scan of the whole table."""
    if "SEARCH" in plan_text or "SCAN" in plan_text:  # SQLite
        return (
            "SEARCH work_orders USING" in plan_text
            and index in plan_text
            and "SCAN work_orders" not in plan_text
        )
    return index in plan_text and "Seq Scan" not in plan_text  # PostgreSQL: Index (Only) / Bitmap Index Scan


def page_moment(register: Register, page: int) -> datetime:
    """The moment at which `page` alarms are due: the query at it returns a full sweep page."""
    with make_session_factory(register.engine)() as session:
        query = (
            select(WorkOrder.alarm_at)
            .where(WorkOrder.alarm_at.is_not(None))
            .order_by(WorkOrder.alarm_at)
            .offset(page - 1)
            .limit(1)
        )
        found = session.scalar(query)
    if found is None:
        raise SystemExit(f"fewer than {page} armed orders: raise --sizes or lower --page")
    return as_utc(found)


@dataclass(frozen=True)
class Level:
    """One due level on one register: the due query and the count, interleaved."""

    due: Contender
    count: Contender

    @property
    def ratio(self) -> float:
        return self.due.median / self.count.median

    def per_item(self) -> float:
        return self.due.median / max(self.due.found(), 1)


@dataclass(frozen=True)
class Measured:
    """One register's figures: the backlog and the full page, the overdue count, and the plans."""

    register: Register
    backlog: Level
    page: Level
    overdue: Contender
    plans: dict[str, str]


def measure(registers: list[Register], options: argparse.Namespace) -> list[Measured]:
    """Every query on every register, all interleaved in the same rounds; then the plans."""
    measured = []
    for register in registers:
        page_at = page_moment(register, options.page)

        def pair(moment: datetime, register: Register = register) -> Level:
            return Level(
                Contender(register, due_query, moment, options.repeat, []),
                Contender(register, indexed_count, moment, options.repeat, []),
            )

        overdue_repeat = max(1, options.repeat // 10)  # a full scan, before 0008, took ~1 s at 1M
        plans = {
            "due": plan(register, due_query, SWEEP_NOW),
            "count": plan(register, indexed_count, SWEEP_NOW),
            "page": plan(register, due_query, page_at),
            "overdue": plan(register, overdue, NOW),
        }
        measured.append(
            Measured(
                register,
                pair(SWEEP_NOW),
                pair(page_at),
                Contender(register, overdue, NOW, overdue_repeat, []),
                plans,
            )
        )
    contenders = [
        c for m in measured for c in (m.backlog.due, m.backlog.count, m.page.due, m.page.count, m.overdue)
    ]
    interleave(contenders, options.rounds)
    return measured


# --- reminders fired by a real worker ------------------------------------------------------------------


@dataclass(frozen=True)
class Lateness:
    """Seconds late (negative: early) of each reminder at the stand-in, and of each job's start."""

    delivered: list[float]
    enqueued: list[float]  # by RQ's scheduler, into the queue
    started: list[float]  # by the worker
    missing: int


def _worker_env(settings_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZTC_", "WECOM_", "AIBOT_"))}
    env.update(settings_env)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return env


@contextlib.contextmanager
def worker_process(env: dict[str, str], folder: Path, connection: redis.Redis, prefix: str) -> Iterator[None]:
    """`ztc worker` (SimpleWorker with RQ's scheduler) in its own session; stopped (group) after."""
    log = (folder / "worker.log").open("ab")
    child = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker"], env=env, cwd=folder, stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not any(
            q.startswith(prefix) for w in Worker.all(connection=connection) for q in w.queue_names()
        ):
            if child.poll() is not None or time.monotonic() > deadline:
                tail = (folder / "worker.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"the worker did not start:\n{tail}")
            time.sleep(0.1)
        time.sleep(1.0)  # its scheduler process takes the lock right after
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=15)
        log.close()


@dataclass(frozen=True)
class Alarm:
    """An order armed for the worker: when its reminder is due, and the RQ job that fires it."""

    number: str
    moment: datetime
    job_id: str


def arm_orders(runtime: Runtime, register: Register, count: int, spread: float) -> list[Alarm]:
    """`count` new orders 接单'd with their 2-hour 办结 warning a few seconds ahead, armed and
    scheduled as a transition does (alarms.arm, then Runtime.enqueue_deferred)."""
    rng, now = random.Random(7), runtime.clock.now()
    rules = rules_from(runtime.settings)
    moments = sorted(
        now + timedelta(seconds=2.0 + spread * i / count + rng.random()) for i in range(count)
    )  # fractions of a second on purpose: RQ schedules to the whole second
    alarms, jobs = [], []
    filed = now - timedelta(hours=22)
    with session_scope(runtime.session_factory) as session:
        top = session.scalar(select(func.max(WorkOrder.id))) or 0
        for i, moment in enumerate(moments, start=1):
            department = 1 + i % len(register.cast.departments)  # spread over the departments' officials
            firm = 1 + i % register.cast.enterprises
            solve_due = moment + rules.warn_before
            order = WorkOrder(
                id=top + i, number=f"S9912-{i:04d}", enterprise_id=firm,
                filed_by_id=register.cast.contact_base + firm,
                category="其他", description=DESCRIPTIONS["其他"][0], holding_department_id=department,
                state=OrderState.PICKED_UP.value, filed_at=filed, dispatched_at=filed, held_since=filed,
                pickup_due_at=filed + timedelta(hours=24), picked_up_at=solve_due - timedelta(hours=24),
                solve_due_at=solve_due,
            )  # fmt: skip
            session.add(order)
            session.flush()
            job = arm(session, order, rules, now)
            if job is None or job.when != moment:
                raise AssertionError(f"armed {job} for {order.number}, expected the warning at {moment}")
            alarms.append(Alarm(order.number, moment, job.job_id))
            jobs.append(job)
    runtime.enqueue_deferred(jobs)
    return alarms


def fire_reminders(register: Register, options: argparse.Namespace, folder: Path, redis_url: str) -> Lateness:
    """Arm `--alarms` orders, let a real worker fire them, read the lateness off the stand-in and RQ."""
    prefix = f"bench-deadlines-{os.getpid()}"
    with StandinServer(corp_id=DEMO_CORP_ID, secret=DEMO_SECRET) as standin:
        env = {
            "DATABASE_URL": register.url, "REDIS_URL": redis_url,
            "WECOM_API_BASE": standin.base_url, "ZTC_QUEUE_PREFIX": prefix, "ZTC_VAR_DIR": str(folder),
            "ZTC_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        connection = redis.Redis.from_url(redis_url)
        runtime = Runtime.build(
            Settings.from_env(env), clock=SystemClock(), connection=connection, engine=register.engine
        )
        try:
            with worker_process(_worker_env(env), folder, connection, prefix):
                alarms = arm_orders(runtime, register, options.alarms, options.spread)
                deadline = time.monotonic() + options.spread + 25
                while len(_first_messages(standin, alarms)) < len(alarms) and time.monotonic() < deadline:
                    time.sleep(0.2)
                delivered = _first_messages(standin, alarms)
                enqueued, started = _job_times(connection, alarms)
        finally:
            _forget_jobs(runtime)
            connection.close()
    if len(delivered) < len(alarms):  # say why, from the worker's own log
        tail = (folder / "worker.log").read_text(encoding="utf-8", errors="replace")[-4000:]
        missing = len(alarms) - len(delivered)
        print(f"bench.deadlines: {missing} reminder(s) missing; worker log:\n{tail}", file=sys.stderr)
    by_number = {alarm.number: alarm.moment for alarm in alarms}
    late = [(at - by_number[number]).total_seconds() for number, at in delivered.items()]
    return Lateness(late, enqueued, started, len(alarms) - len(delivered))


def _forget_jobs(runtime: Runtime) -> None:
    """Remove what the run left under its queue prefix: the next rungs fire() scheduled (2 h on)."""
    for queue in runtime.queues.all():
        registry = queue.scheduled_job_registry
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
        queue.empty()


def _first_messages(standin: StandinServer, alarms: list[Alarm]) -> dict[str, datetime]:
    """When the stand-in received the first reminder naming each armed order."""
    first: dict[str, datetime] = {}
    for message in standin.messages():
        content = str(message["body"].get("text", {}).get("content", ""))
        for alarm in alarms:
            if alarm.number in content and alarm.number not in first:
                first[alarm.number] = datetime.fromisoformat(message["at"])
    return first


def _job_times(connection: redis.Redis, alarms: list[Alarm]) -> tuple[list[float], list[float]]:
    """Seconds from each alarm until RQ's scheduler queued its job, and until the worker started it
    (RQ keeps a finished job a minute: read at once)."""
    jobs = rq.job.Job.fetch_many([alarm.job_id for alarm in alarms], connection=connection)
    pairs = [(alarm, job) for alarm, job in zip(alarms, jobs, strict=True) if job is not None]

    def late(at: datetime | None, alarm: Alarm) -> float | None:
        return None if at is None else (at.replace(tzinfo=UTC) - alarm.moment).total_seconds()

    enqueued = [x for alarm, job in pairs if (x := late(job.enqueued_at, alarm)) is not None]
    started = [x for alarm, job in pairs if (x := late(job.started_at, alarm)) is not None]
    return enqueued, started


@contextlib.contextmanager
def redis_server(options: argparse.Namespace, folder: Path) -> Iterator[str]:
    """--redis-url, or an embedded redis-server in the temp folder (stopped after)."""
    if options.redis_url:
        yield options.redis_url
        return
    var = folder / "redis-var"
    var.mkdir()
    process = start_embedded_redis(var, daemonize=False)
    try:
        yield socket_url(var)
    finally:
        stop_embedded_redis(var)
        if process is not None:
            process.wait(timeout=10)


# --- the table ---------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def _size(count: int) -> str:
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1_000 and count % 1_000 == 0:
        return f"{count // 1_000}k"
    return f"{count:,}"


def size_rows(m: Measured) -> list[Row]:
    """One register's rows: build, the backlog (judged), the full page (shown), overdue, the plans."""
    label = f"{m.register.label}:"
    backlog, page = m.backlog, m.page
    found, page_found = backlog.due.found(), page.due.found()
    return [
        Row(f"{label} build the register (generate + insert)", f"{m.register.seconds:.1f} s"),
        Row(
            f"{label} due query (due_alarms), {found} due, median",
            f"{_ms(backlog.due.median)} ({_us(backlog.per_item())} per due item)",
            f"<= {GOAL_MS:g} ms",
            backlog.due.median * 1000 <= GOAL_MS,
        ),
        Row(f"{label} indexed count, same predicate, median", _ms(backlog.count.median)),
        Row(
            f"{label} {RATIO_ROW}",
            f"{backlog.ratio:.2f}x",
            f"<= {GOAL_RATIO:g}x",
            backlog.ratio <= GOAL_RATIO,
        ),
        Row(f"{label} {PLAN_ROW}", m.plans["due"], "an index range", uses_index(m.plans["due"])),
        Row(f"{label}   plan of the count", m.plans["count"]),
        Row(
            f"{label} full page: due query, {page_found} due, median",
            f"{_ms(page.due.median)} ({_us(page.per_item())} per due item); count {_ms(page.count.median)}; "
            f"{page.ratio:.2f}x",
        ),
        Row(f"{label}   plan (full page)", m.plans["page"], "an index range", uses_index(m.plans["page"])),
        Row(
            f"{label} overdue orders (overdue_counts, for /metrics), median",
            f"{_ms(m.overdue.median)} ({m.overdue.found():,} overdue)",
        ),
        Row(
            f"{label}   plan (overdue)",
            m.plans["overdue"],
            "an index",
            uses_index(m.plans["overdue"], STATE_INDEX),
        ),
    ]


def comparison_rows(small: Measured, large: Measured) -> list[Row]:
    """The cost per due item on the largest register against the smallest (backlog shown, page judged)."""
    rows = []
    for name, a, b in (("backlog", small.backlog, large.backlog), ("full page", small.page, large.page)):
        per_small, per_large = a.per_item(), b.per_item()
        ratio = per_large / per_small
        judged = name == "full page"
        rows.append(
            Row(
                f"{PER_ITEM_ROW if judged else 'cost per due item (backlog)'}, "
                f"{large.register.label} / {small.register.label}",
                f"{_us(per_large)} / {_us(per_small)} = {ratio:.2f}x",
                f"<= {GOAL_SAME:g}x" if judged else "",
                ratio <= GOAL_SAME if judged else None,
            )
        )
    return rows


def _median_max(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({max(values):.2f} s)" if values else "not read"


def lateness_rows(late: Lateness, alarms: int) -> list[Row]:
    """The reminders' lateness at the stand-in (judged at the worst) and their jobs' start."""
    if not late.delivered:
        return [Row(LATE_ROW, f"no reminder arrived ({late.missing} missing)", f"<= {GOAL_LATE:g} s", False)]
    worst = max(late.delivered)
    ordered = sorted(late.delivered)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    early = sum(1 for x in late.delivered if x < 0)
    rows = [
        Row(
            LATE_ROW,
            f"{statistics.median(late.delivered):.2f} s (p95 {p95:.2f} s, max {worst:.2f} s, "
            f"min {ordered[0]:.2f} s; "
            f"{len(late.delivered)}/{alarms} arrived)",
            f"<= {GOAL_LATE:g} s (max)",
            worst <= GOAL_LATE and late.missing == 0,
        ),
        Row("  alarm → queued by RQ's scheduler, median (max)", _median_max(late.enqueued)),
        Row("  alarm → its job started by the worker, median (max)", _median_max(late.started)),
        Row("  reminders sent before their moment (alarms.EARLY_TOLERANCE)", f"{early}"),
    ]
    return rows


# --- running ----------------------------------------------------------------------------------------


def run(options: argparse.Namespace) -> Report:
    """A register per size, measured all together; then the worker on the largest; the report."""
    sizes = sorted(set(options.sizes))
    rows: list[Row] = []
    registers: list[Register] = []
    with tempfile.TemporaryDirectory(prefix="bench-deadlines-") as name:
        folder = Path(name)
        if options.database_url:
            probe = make_engine(options.database_url)
            try:
                if inspect(probe).get_table_names():
                    raise SystemExit(f"bench.deadlines needs an empty database; {probe.url!r} has tables")
            finally:
                probe.dispose()
        try:
            for size in sizes:
                registers.append(build(register_url(options.database_url, folder, size), size, options))
            measured = measure(registers, options)
            for m in measured:
                rows += size_rows(m)
            if len(measured) > 1:
                rows += comparison_rows(measured[0], measured[-1])
            if not options.no_worker:
                with redis_server(options, folder) as redis_url:
                    late = fire_reminders(registers[-1], options, folder, redis_url)
                rows += lateness_rows(late, options.alarms)
        finally:
            for register in registers:
                drop(register)
    backend = (
        "SQLite (a temp file per size)" if not options.database_url else "PostgreSQL (a schema per size)"
    )
    worker = (
        "no worker" if options.no_worker else f"{options.alarms} reminders by ztc worker (RQ {rq.VERSION})"
    )
    title = (
        f"deadlines: {', '.join(_size(s) for s in sizes)} orders, {options.due} lost alarms due, "
        f"a full page of {options.page}; {backend}; {options.rounds} rounds × {options.repeat} calls; "
        f"{worker}; seed {options.seed}; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}"
    )
    return Report(title, rows)


def _sizes(raw: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sizes are whole numbers separated by commas, not {raw!r}"
        ) from None
    if not sizes or min(sizes) < 100:
        raise argparse.ArgumentTypeError(f"each size must be at least 100, not {raw!r}")
    return sizes


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = parser_for("bench.deadlines", __doc__)
    parser.add_argument(
        "--sizes", type=_sizes, default=[10_000, 1_000_000], help="orders, e.g. 10000,1000000"
    )
    parser.add_argument("--due", type=positive, default=50, help="alarms due whose job was lost")
    parser.add_argument("--page", type=positive, default=500, help="the sweep's page (due_alarms' limit)")
    parser.add_argument("--rounds", type=positive, default=7)
    parser.add_argument("--repeat", type=positive, default=20, help="calls per timed batch")
    parser.add_argument("--alarms", type=positive, default=20, help="reminders fired by the worker")
    parser.add_argument("--spread", type=float, default=20.0, help="seconds the reminders are spread over")
    parser.add_argument("--no-worker", action="store_true", help="skip the reminders (no Redis, no worker)")
    parser.add_argument("--seed", type=int, default=1)
    backend_options(parser, redis=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table; 1 if a goal was missed."""
    return finish(run(options(argv)))


if __name__ == "__main__":
    sys.exit(main())

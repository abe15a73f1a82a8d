"""Benchmark: fan-out of 10,000 outbound messages from the outbox to the WeCom API (issue 10, benchmark 2).

Goal (issue 10): **≥ 60% of two bare SimpleWorkers' rate on trivial HTTP jobs in the same run, with
the per-member and per-robot limits respected.**

    .venv/bin/python -m bench.fanout [--messages 10000 --rounds 3 --seed 1] [--no-limits]
                                     [--database-url URL] [--redis-url URL]

Ours, per round: a job's worth of messages (the weekly 重点项目 prompt: a card per project to each
责任人 and a markdown message per department group; then a 免申即享 push after a catalog import: a
card per newly qualifying policy to each enterprise contact) is written with OutboxWriter in one
transaction and queued after the commit with Runtime.enqueue_rows, as jobs/projects.py and
jobs/policies.py do; two `ztc worker` processes (jobs/worker.py run_worker: SimpleWorker, runtime
built once) deliver them to the local WeCom stand-in (bot/standin's app, in its own process under
gunicorn with threads and keep-alive). Measured: messages per second from the first enqueue to the
last row marked sent, and the CPU time per message of the workers, PostgreSQL's server processes
and the stand-in (from /proc: steadier than rates on a machine shared with other work).

The ceiling, in the same run and interleaved with ours (the order alternates each round): two bare
`rq worker -w rq.worker.SimpleWorker` processes, each job one HTTP POST of the same message body to
the same stand-in endpoint (a kept-alive requests.Session, as our client has), from the first
enqueue to the last message the stand-in received.

Checked every round, from the stand-in's own log: every row was delivered exactly once (recipients
and msgids against the rows; no repeat suppressed), no member received more than 30 messages in any
60 seconds and no 群机器人 more than 20 (none refused with 45009). Then, unless --no-limits, once:
one contact newly qualifying for 40 policies and one robot with 25 messages, to see the limits hold
the excess back a minute (this takes about 65 s).

The database is a temporary SQLite file and Redis an embedded redis-server, unless --database-url
and --redis-url name others: that database and that Redis database must be empty; the benchmark
creates its tables and drops them afterwards, and empties the Redis database when done.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import redis
import requests
from flask import Flask
from rq import Queue, Worker
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.common import Report, Row, backend_options, finish, parser_for, positive
from bot.db import Base, make_engine, session_scope
from bot.embedded_redis import socket_url, start_embedded_redis, stop_embedded_redis
from bot.models import Department, OutboxMessage, OutboxStatus, Person
from bot.outbox import OutboxWriter
from bot.ratelimit import ROBOT_WINDOWS
from bot.replies import Button, GroupText, Reply, TemplateCard
from bot.runtime import Runtime
from bot.settings import DEMO_CORP_ID, DEMO_SECRET, Settings
from bot.standin.api import create_standin_app
from bot.wecom.outbound import render_app_message, render_group_message
from handlers.projects.cycle import cycle_of
from handlers.projects.models import Project
from handlers.projects.prompts import how_to_answer, prompt_card
from handlers.projects.rules import rules_from

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "ztcbench"  # queue and rate-limit keys of our workers
CEILING_QUEUE = "ztcbench-ceiling"
CEILING_JOB = "bench.fanout.ceiling_post"  # by name: run as a module, this file is __main__
GOAL_RATIO = 0.60
WEEK = date(2026, 11, 23)  # the prompt's week (a Monday); its Friday prompt is the job being replayed
PROMPT_SHARE, GROUP_SHARE = 0.40, 0.01  # of the messages; the rest are 免申即享 cards
CARDS_PER_OFFICIAL = (1, 1, 1, 2, 2, 3, 4, 6)  # projects an official answers for (责任人)
CARDS_PER_CONTACT = (1, 1, 1, 2, 2, 3, 5, 8, 12)  # policies an enterprise newly qualifies for
HOT_EXTRA = 10  # the limits phase: one contact gets the member's limit + 10 cards…
HOT_ROBOT_EXTRA = 5  # …and one robot its limit + 5 messages
WORKERS = 2
POLL_SECONDS = 0.25
READY_SECONDS = 60.0
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}

OURS_ROW = "ours: outbox → stand-in, 2 `ztc worker`s, median"
CEILING_ROW = "ceiling: 2 bare SimpleWorkers, 1 POST per job, median"
RATIO_ROW = "ours / ceiling, median of the rounds' ratios"
ONCE_ROW = "every row delivered exactly once"
MEMBER_ROW = "per member: most in any 60 s"
ROBOT_ROW = "per robot: most in any 60 s; refused (45009)"


# --- the ceiling's job (imported by the bare rq workers) --------------------------------------------

_HTTP: requests.Session | None = None


def ceiling_post(url: str, body: bytes) -> int:
    """The ceiling's whole job: one POST to the stand-in on a kept-alive session; raises unless errcode 0."""
    global _HTTP
    if _HTTP is None:
        _HTTP = requests.Session()
    response = _HTTP.post(url, data=body, headers=JSON_HEADERS, timeout=10)
    response.raise_for_status()
    errcode = int(response.json().get("errcode", 0))
    if errcode:
        raise RuntimeError(f"errcode {errcode}")
    return errcode


# --- the workload --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One outbox row to write: as a job hands it to OutboxWriter.add."""

    recipient: str  # a userid, or group:<department code> (OutboxWriter uses the webhook key)
    reply: Reply
    key: str


@dataclass
class Workload:
    """One round's messages and what they are made of."""

    messages: list[Message]
    officials: int = 0
    contacts: int = 0
    robots: int = 0

    def count(self, kind: type) -> int:
        """How many messages carry a reply of this type."""
        return sum(1 for m in self.messages if isinstance(m.reply, kind))


@dataclass
class Ids:
    """Counters for ids, userids and task ids: unique over the whole run, so no round repeats one."""

    person: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    project: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    push: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    robot: Iterator[int] = field(default_factory=lambda: itertools.count(1))


def _spread(total: int, per_person: Sequence[int], rng: random.Random) -> list[int]:
    """How many of `total` messages each person gets, drawn from `per_person`."""
    counts: list[int] = []
    while total > 0:
        take = min(total, rng.choice(per_person))
        counts.append(take)
        total -= take
    return counts


def _prompts(count: int, ids: Ids, rng: random.Random, settings: Settings) -> tuple[list[Message], int]:
    """Weekly prompt cards (the real prompt_card), each 责任人 answering for one or more projects."""
    cycle = cycle_of(WEEK, rules_from(settings))
    department = Department(id=1, code="GXJ", name="县工信局")
    leader = Person(id=0, wecom_userid="leader_1", name="王县长")
    out, counts = [], _spread(count, CARDS_PER_OFFICIAL, rng)
    for projects in counts:
        number = next(ids.person)
        official = Person(id=number, wecom_userid=f"official_{number}", name="周明")
        for _ in range(projects):
            pid = next(ids.project)
            project = Project(id=pid, code=f"XM{pid:05d}", name="年产5万吨新材料项目", department=department)
            project.leader = leader
            card = prompt_card(project, official, cycle)
            out.append(Message(official.wecom_userid, card, f"proj:{WEEK}:prompt:{pid}:{number}"))
    return out, len(counts)


def _push_card(push_id: int, contact_id: int) -> TemplateCard:
    """A 免申即享 card shaped as handlers/policies/pushes.push_card makes it."""
    return TemplateCard(
        card_type="button_interaction",
        task_id=f"policy-push-{push_id}-{contact_id}",
        title="免申即享：您企业符合条件",
        desc="关于支持中小企业技术改造的若干措施（示政发〔2026〕12号）",
        quote="按设备投资额的10%给予一次性奖补",
        fields=(
            ("企业", "示范县鑫源食品有限公司"),
            ("金额", "20万元"),
            ("办理", "无需申请，确认后由县工信局直接兑现"),
            ("咨询", "县工信局企业科 0000-1234567"),
            ("推送编号", f"P{push_id}"),
        ),
        buttons=(
            Button("确认享受", f"policy:push:ok:{push_id}", style=1),
            Button("不需要", f"policy:push:no:{push_id}", style=2),
        ),
        replace_text="已回复",
    )


def _pushes(count: int, ids: Ids, rng: random.Random, per_person: Sequence[int]) -> tuple[list[Message], int]:
    """免申即享 cards, each enterprise contact getting one per policy newly qualified for."""
    out, counts = [], _spread(count, per_person, rng)
    for policies in counts:
        contact = next(ids.person)
        for _ in range(policies):
            push = next(ids.push)
            out.append(Message(f"contact_{contact}", _push_card(push, contact), f"policy:push:{push}"))
    return out, len(counts)


def _group_texts(count: int, robots: int, ids: Ids) -> list[Message]:
    """Markdown to department groups (a long list in parts, as the weekly prompt sends it)."""
    keys = [f"bench-robot-{next(ids.robot)}" for _ in range(robots)]
    how = how_to_answer(None, "prompt")
    out = []
    for n in range(count):
        key = keys[n % robots]
        rows = "\n".join(f"> XM{n:03d}{r} 重点项目（责任人：周明）" for r in range(8))
        text = f"**【重点项目周进展】第48周** 请报送本周进展（{n + 1}）\n{how}\n{rows}"
        reply = GroupText(key, text, ("official_1",), markdown=True)
        out.append(Message(f"group:{key}", reply, f"group:{key}:{n}"))
    return out


def workload(size: int, ids: Ids, rng: random.Random, settings: Settings) -> Workload:
    """`size` messages in a job's order: prompt cards, group messages, then 免申即享 cards (each shuffled)."""
    groups = max(1, round(size * GROUP_SHARE))
    prompts = round(size * PROMPT_SHARE)
    robots = min(20, groups)
    cards, officials = _prompts(prompts, ids, rng, settings)
    pushes, contacts = _pushes(size - groups - prompts, ids, rng, CARDS_PER_CONTACT)
    rng.shuffle(cards)
    rng.shuffle(pushes)
    return Workload(cards + _group_texts(groups, robots, ids) + pushes, officials, contacts, robots)


def hot_workload(ids: Ids, per_minute: int) -> Workload:
    """The limits phase: one contact newly qualifying for many policies, one robot with many messages."""
    contact = next(ids.person)
    cards = [
        Message(f"contact_{contact}", _push_card(push, contact), f"policy:push:{push}")
        for push in itertools.islice(ids.push, per_minute + HOT_EXTRA)
    ]
    texts = _group_texts(ROBOT_WINDOWS[0].limit + HOT_ROBOT_EXTRA, 1, ids)
    return Workload(cards + texts, 0, 1, 1)


# --- the processes ---------------------------------------------------------------------------------


@dataclass
class Stack:
    """The database, Redis, the stand-in and the four workers, started once for the whole run."""

    folder: Path
    database_url: str
    redis_url: str
    standin: str  # root url of the stand-in
    runtime: Runtime
    groups: dict[str, list[int]]  # pids: "ours", "ceiling" (the workers), "stand-in"
    seq: int = 0  # the stand-in's last sequence number already looked at

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.runtime.session_factory

    def get(self, path: str, **params: Any) -> Any:
        response = requests.get(self.standin + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()


def _env(database_url: str, redis_url: str, var_dir: Path, standin: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ZTC_VAR_DIR": str(var_dir),
        "ZTC_QUEUE_PREFIX": PREFIX,
        "ZTC_LOG_LEVEL": "INFO",  # production's default; RQ logs two lines per job at INFO
        "WECOM_CORP_ID": DEMO_CORP_ID,
        "WECOM_SECRET": DEMO_SECRET,
        "PYTHONPATH": str(ROOT),
    }
    if standin:
        env["WECOM_API_BASE"] = standin + "cgi-bin/"
    return env


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def standin_app() -> Flask:
    """The WeCom stand-in's app for gunicorn: the corp and its secret from the environment."""
    return create_standin_app(corp_id=os.environ["WECOM_CORP_ID"], secret=os.environ["WECOM_SECRET"])


def _start_standin(env: dict[str, str], folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The stand-in in its own process, on a free port; its root url.

    Under gunicorn with threads, not bot.standin.server's werkzeug server: that one closes the
    connection after each answer, and a new TCP connection (and thread) per message would cost
    both sides more than the rest of the ceiling's job. WeCom's API keeps connections alive.
    """
    log = folder / "standin.log"
    args = [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "8", "--keep-alive", "60"]
    process = _spawn([*args, "-b", "127.0.0.1:0", "bench.fanout:standin_app()"], env, log)
    deadline = time.monotonic() + READY_SECONDS
    while (found := re.search(r"Listening at: (http://\S+)", log.read_text())) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise SystemExit(f"bench.fanout: the WeCom stand-in did not start; its log:\n{log.read_text()}")
        time.sleep(POLL_SECONDS)
    return process, found.group(1) + "/"


def _wait_for_workers(
    connection: redis.Redis, processes: list[subprocess.Popen[bytes]], logs: list[Path]
) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while len(Worker.all(connection=connection)) < len(processes):
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in logs if log.exists())
            raise SystemExit(f"bench.fanout: the workers did not start; their logs:\n{tails}")
        time.sleep(POLL_SECONDS)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (RQ finishes its job and leaves), then SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _database(url: str) -> Iterator[None]:
    engine = make_engine(url)
    try:
        if inspect(engine).get_table_names():
            raise SystemExit(f"bench.fanout needs an empty database; {engine.url!r} has tables")
        Base.metadata.create_all(engine)
        try:
            yield
        finally:
            Base.metadata.drop_all(engine)
    finally:
        engine.dispose()


@contextlib.contextmanager
def _redis(url: str | None, folder: Path) -> Iterator[str]:
    """The given Redis database (it must be empty; emptied after), or an embedded server here."""
    if url is None:
        process = start_embedded_redis(folder, daemonize=False)
        try:
            yield socket_url(folder)
        finally:
            stop_embedded_redis(folder)
            if process is not None:
                process.wait(timeout=10)
        return
    connection = redis.Redis.from_url(url)
    if connection.dbsize():
        raise SystemExit(f"bench.fanout needs an empty Redis database; {url} has keys (FLUSHDB it first)")
    try:
        yield url
    finally:
        connection.flushdb()
        connection.close()


@contextlib.contextmanager
def stack(options: argparse.Namespace) -> Iterator[Stack]:
    """Everything started, in order, and stopped in reverse however the run ends."""
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as name, contextlib.ExitStack() as later:
        folder = Path(name)
        database_url = options.database_url or f"sqlite:///{folder / 'fanout.sqlite3'}"
        later.enter_context(_database(database_url))
        redis_url = later.enter_context(_redis(options.redis_url, folder))
        standin_process, standin = _start_standin(_env(database_url, redis_url, folder, None), folder)
        later.callback(_stop, standin_process)
        env = _env(database_url, redis_url, folder, standin)
        runtime = Runtime.build(Settings.from_env(env))
        later.callback(runtime.engine.dispose)
        ours = [sys.executable, "-m", "bot.cli", "worker"]
        bare = [sys.executable, "-m", "rq.cli", "worker", "-w", "rq.worker.SimpleWorker", "-u", redis_url]
        bare += ["-P", str(ROOT), "--logging_level", "INFO", CEILING_QUEUE]
        logs = [folder / f"{kind}-{n}.log" for kind in ("worker", "ceiling") for n in range(WORKERS)]
        mine = [_spawn(ours, env, log) for log in logs[:WORKERS]]
        theirs = [_spawn(bare, env, log) for log in logs[WORKERS:]]
        for process in mine + theirs:
            later.callback(_stop, process)
        _wait_for_workers(runtime.redis, mine + theirs, logs)
        groups = {
            "ours": [p.pid for p in mine],
            "ceiling": [p.pid for p in theirs],
            "stand-in": [standin_process.pid],
        }
        yield Stack(folder, database_url, redis_url, standin, runtime, groups)


# --- CPU time, from /proc (Linux): steadier than rates on a machine shared with other work -----------


def _stat(pid: int) -> list[str] | None:
    try:
        # After the ")" closing the command name: state, ppid, … (field 3 of stat onwards).
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _with_children(pids: Sequence[int]) -> set[int]:
    """The processes and their descendants (a `ztc worker` runs RQ's scheduler in a child)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields:
            parents[int(entry.name)] = int(fields[1])
    found, grew = set(pids), True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


def _cpu_seconds(pid: int) -> float | None:
    fields = _stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_backends(stack: Stack) -> list[int]:
    """The server processes serving the benchmark's database, when PostgreSQL runs on this machine."""
    if stack.runtime.engine.dialect.name != "postgresql":
        return []
    with stack.runtime.engine.connect() as conn:
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [pid for (pid,) in conn.execute(query)]


Cpu = dict[str, dict[int, float]]  # CPU seconds used so far, by group and pid


def cpu_snapshot(stack: Stack) -> Cpu:
    """CPU seconds used so far by each process of each group (the workers, the stand-in, PostgreSQL)."""
    if not Path("/proc/self/stat").exists():
        return {}
    groups = {name: _with_children(pids) for name, pids in stack.groups.items()}
    groups["postgres"] = set(_postgres_backends(stack))
    snapshot: Cpu = {}
    for name, pids in groups.items():
        seconds = {pid: _cpu_seconds(pid) for pid in pids}
        snapshot[name] = {pid: used for pid, used in seconds.items() if used is not None}
    return snapshot


def cpu_used(stack: Stack, before: Cpu) -> dict[str, float]:
    """CPU seconds each group used since `before` (a process started since counts in full)."""
    used = {}
    for name, now in cpu_snapshot(stack).items():
        earlier = before.get(name, {})
        if now:
            used[name] = sum(seconds - earlier.get(pid, 0.0) for pid, seconds in now.items())
    return used


# --- one round of each ----------------------------------------------------------------------------


@dataclass
class Delivered:
    """What the stand-in recorded since the last look."""

    messages: list[dict[str, Any]]  # message/send deliveries, one per recipient
    groups: list[dict[str, Any]]  # webhook/send messages accepted
    suppressed: int  # sends WeCom's duplicate check dropped (a repeat)


@dataclass
class Outcome:
    """One round of ours or the ceiling."""

    rate: float  # messages per second
    seconds: float
    write: float = 0.0
    enqueue: float = 0.0
    problems: list[str] = field(default_factory=list)
    member_peak: int = 0
    robot_peak: int = 0
    refused: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU ms per message, by group of processes


def _stamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _delivered(stack: Stack, suppressed_before: int) -> Delivered:
    messages = stack.get("_standin/messages", since=stack.seq)["messages"]
    groups = [g for g in stack.get("_standin/groups")["groups"] if g["seq"] > stack.seq]
    suppressed = len(stack.get("_standin/suppressed")["suppressed"]) - suppressed_before
    stack.seq = max([stack.seq, *(m["seq"] for m in messages), *(g["seq"] for g in groups)])
    return Delivered(messages, groups, suppressed)


def _calls(stack: Stack) -> Counter[str]:
    return Counter(stack.get("_standin/calls")["calls"])


def busiest_minute(stamps: Sequence[float]) -> int:
    """The most entries inside any 60-second window."""
    ordered, start, best = sorted(stamps), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= 60:
            start += 1
        best = max(best, end - start + 1)
    return best


def _peaks(delivered: Delivered) -> tuple[int, int]:
    """The busiest minute of any member, and of any robot, as the stand-in saw them."""
    members: dict[str, list[float]] = defaultdict(list)
    for m in delivered.messages:
        members[m["touser"].lower()].append(_stamp(m["at"]))
    robots: dict[str, list[float]] = defaultdict(list)
    for g in delivered.groups:
        robots[g["key"]].append(_stamp(g["at"]))
    return (
        max((busiest_minute(s) for s in members.values()), default=0),
        max((busiest_minute(s) for s in robots.values()), default=0),
    )


def write_rows(stack: Stack, load: Workload) -> list[tuple[int, datetime]]:
    """The job's transaction: every message through OutboxWriter.add, committed; the rows to enqueue."""
    with session_scope(stack.factory) as session:
        outbox = OutboxWriter(session, stack.runtime.clock)
        for message in load.messages:
            outbox.add(message.recipient, message.reply, key=message.key)
        return outbox.scheduled()


def _sent(stack: Stack, low: int, high: int) -> int:
    with stack.factory() as session:
        query = select(func.count()).where(
            OutboxMessage.id.between(low, high), OutboxMessage.status == OutboxStatus.SENT.value
        )
        return session.scalar(query) or 0


def _wait(done: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench.fanout: {what} not done after {seconds:.0f} s")
        time.sleep(POLL_SECONDS)


def _exactly_once(stack: Stack, ids: list[int], delivered: Delivered) -> list[str]:
    """Rows against the stand-in's log: each app row's (recipient, msgid) once, each robot's count."""
    with stack.factory() as session:
        rows = session.execute(
            select(OutboxMessage.recipient, OutboxMessage.status, OutboxMessage.platform_msgid).where(
                OutboxMessage.id.in_(ids)
            )
        ).all()
    problems = []
    unsent = sum(1 for r in rows if r.status != OutboxStatus.SENT.value)
    if unsent:
        problems.append(f"{unsent} rows not sent")
    expected = Counter(
        (r.recipient.lower(), r.platform_msgid) for r in rows if not r.recipient.startswith("group:")
    )
    seen = Counter((m["touser"].lower(), m["msgid"]) for m in delivered.messages)
    if expected != seen:
        missing, extra = sum((expected - seen).values()), sum((seen - expected).values())
        problems.append(f"app messages: {missing} missing, {extra} unexpected or repeated")
    robots = Counter(r.recipient.removeprefix("group:") for r in rows if r.recipient.startswith("group:"))
    if robots != Counter(g["key"] for g in delivered.groups):
        problems.append("group messages differ from the rows")
    if delivered.suppressed:
        problems.append(f"{delivered.suppressed} repeats sent (dropped by the duplicate check)")
    return problems


def ours(stack: Stack, load: Workload, timeout: float) -> Outcome:
    """Write, enqueue as production does, wait for the last row sent; check it against the stand-in."""
    suppressed = len(stack.get("_standin/suppressed")["suppressed"])
    calls = _calls(stack)
    start = time.perf_counter()
    rows = write_rows(stack, load)
    write = time.perf_counter() - start
    ids = [outbox_id for outbox_id, _ in rows]
    low, high = min(ids), max(ids)
    cpu = cpu_snapshot(stack)
    began = time.time()
    stack.runtime.enqueue_rows(rows)
    enqueue = time.time() - began
    _wait(lambda: _sent(stack, low, high) >= len(ids), timeout, "ours")
    used = cpu_used(stack, cpu)
    with stack.factory() as session:
        last = session.scalar(
            select(func.max(OutboxMessage.sent_at)).where(OutboxMessage.id.between(low, high))
        )
    assert last is not None
    seconds = last.timestamp() - began
    delivered = _delivered(stack, suppressed)
    member, robot = _peaks(delivered)
    refused = (_calls(stack) - calls)["webhook/send"] - len(delivered.groups)
    outcome = Outcome(len(ids) / seconds, seconds, write, enqueue, _exactly_once(stack, ids, delivered))
    outcome.member_peak, outcome.robot_peak, outcome.refused = member, robot, refused
    outcome.cpu = _per_message(used, len(ids), "ours")
    return outcome


def _per_message(used: dict[str, float], messages: int, workers: str) -> dict[str, float]:
    """CPU ms per message of the workers that ran, the stand-in and PostgreSQL."""
    wanted = {
        "workers": used.get(workers),
        "stand-in": used.get("stand-in"),
        "postgres": used.get("postgres"),
    }
    return {name: 1000 * seconds / messages for name, seconds in wanted.items() if seconds is not None}


def _bodies(stack: Stack, load: Workload) -> list[tuple[str, bytes]]:
    """(url, body) of each message, rendered as our client would post it, with a fresh token."""
    settings = stack.runtime.settings
    token = stack.get("cgi-bin/gettoken", corpid=settings.wecom_corp_id, corpsecret=settings.wecom_secret)
    send = f"{stack.standin}cgi-bin/message/send?access_token={token['access_token']}"
    out = []
    for m in load.messages:
        if isinstance(m.reply, GroupText):
            url, body = (
                f"{stack.standin}cgi-bin/webhook/send?key={m.reply.webhook_key}",
                render_group_message(m.reply),
            )
        else:
            url, body = send, render_app_message(m.reply, m.recipient, settings.wecom_agent_id)
        out.append((url, json.dumps(body, ensure_ascii=False).encode()))
    return out


def ceiling(stack: Stack, load: Workload, timeout: float) -> Outcome:
    """The same messages as bare jobs of one POST each; from the first enqueue to the last received."""
    bodies = _bodies(stack, load)
    queue = Queue(CEILING_QUEUE, connection=stack.runtime.redis)
    suppressed = len(stack.get("_standin/suppressed")["suppressed"])
    before = _calls(stack)

    def posted() -> int:
        calls = _calls(stack) - before
        return calls["message/send"] + calls["webhook/send"]

    cpu = cpu_snapshot(stack)
    began = time.time()
    for url, body in bodies:
        queue.enqueue(CEILING_JOB, url, body)
    enqueue = time.time() - began
    _wait(lambda: posted() >= len(bodies), timeout, "the ceiling")
    used = cpu_used(stack, cpu)
    delivered = _delivered(stack, suppressed)
    stamps = [_stamp(m["at"]) for m in delivered.messages] + [_stamp(g["at"]) for g in delivered.groups]
    seconds = max(stamps) - began
    problems = []
    if len(stamps) != len(bodies):
        problems.append(f"the stand-in recorded {len(stamps)} of {len(bodies)}")
    outcome = Outcome(len(bodies) / seconds, seconds, enqueue=enqueue, problems=problems)
    outcome.cpu = _per_message(used, len(bodies), "ceiling")
    return outcome


# --- the limits phase -------------------------------------------------------------------------------


@dataclass
class Held:
    """How the limits phase went for one recipient."""

    sent: int
    first_minute: int  # delivered within 60 s of the first
    peak: int  # the busiest 60 s
    last_after: float  # seconds from the first delivery to the last


def _held(stamps: list[float]) -> Held:
    first = min(stamps)
    return Held(
        len(stamps), sum(1 for s in stamps if s - first < 60), busiest_minute(stamps), max(stamps) - first
    )


def limits(stack: Stack, ids: Ids) -> tuple[Held, Held, int, list[str]]:
    """Over-limit sends to one member and one robot: held back, then all delivered, once."""
    load = hot_workload(ids, stack.runtime.settings.per_member_per_minute)
    suppressed = len(stack.get("_standin/suppressed")["suppressed"])
    calls = _calls(stack)
    rows = write_rows(stack, load)
    outbox_ids = [outbox_id for outbox_id, _ in rows]
    stack.runtime.enqueue_rows(rows)
    _wait(lambda: _sent(stack, min(outbox_ids), max(outbox_ids)) >= len(outbox_ids), 240, "the limits phase")
    delivered = _delivered(stack, suppressed)
    member = _held([_stamp(m["at"]) for m in delivered.messages])
    robot = _held([_stamp(g["at"]) for g in delivered.groups])
    refused = (_calls(stack) - calls)["webhook/send"] - len(delivered.groups)
    return member, robot, refused, _exactly_once(stack, outbox_ids, delivered)


# --- the report ------------------------------------------------------------------------------------


def _rates(outcomes: Sequence[Outcome]) -> str:
    rates = [o.rate for o in outcomes]
    seconds = statistics.median(o.seconds for o in outcomes)
    return f"{statistics.median(rates):,.0f} msg/s ({min(rates):,.0f}–{max(rates):,.0f}); {seconds:.1f} s"


def _limit_rows(stack: Stack, ids: Ids) -> list[Row]:
    member, robot, refused, problems = limits(stack, ids)
    per_minute = stack.runtime.settings.per_member_per_minute
    robot_limit = ROBOT_WINDOWS[0].limit
    return [
        Row(
            f"limits: {member.sent} cards to one contact",
            f"{member.first_minute} in the first minute, the rest after; last at {member.last_after:.1f} s",
            f"≤ {per_minute} per 60 s",
            member.peak <= per_minute and member.first_minute == per_minute,
        ),
        Row(
            f"limits: {robot.sent} messages to one robot",
            f"{robot.first_minute} in the first minute, last at {robot.last_after:.1f} s; {refused} refused",
            f"≤ {robot_limit} per 60 s",
            robot.peak <= robot_limit and refused == 0,
        ),
        Row("limits: delivered exactly once", "; ".join(problems) or "yes", "all", not problems),
    ]


@dataclass
class Rounds:
    """What the interleaved rounds measured."""

    mine: list[Outcome] = field(default_factory=list)
    bare: list[Outcome] = field(default_factory=list)
    load: Workload | None = None  # the first round's, for the table


def interleaved(running: Stack, options: argparse.Namespace, ids: Ids) -> Rounds:
    """A small warm-up of each, then the rounds, ours first in odd rounds and the ceiling first in even."""
    rng, settings = random.Random(options.seed), running.runtime.settings
    timeout = max(300.0, options.messages / 5)  # a hang, not a slow machine: 5 msg/s is very slow
    warm = max(50, options.messages // 50)
    ours(running, workload(warm, ids, rng, settings), timeout)
    ceiling(running, workload(warm, ids, rng, settings), timeout)
    done = Rounds()
    for number in range(options.rounds):
        pair = [(ours, done.mine), (ceiling, done.bare)]
        for measure, into in pair if number % 2 == 0 else reversed(pair):
            load = workload(options.messages, ids, rng, settings)
            done.load = done.load or load
            into.append(measure(running, load, timeout))
    return done


def _workload_row(load: Workload) -> Row:
    groups = load.count(GroupText)
    return Row(
        "workload per round",
        f"{len(load.messages):,} rows: {load.count(TemplateCard):,} cards to {load.officials:,} officials "
        f"and {load.contacts:,} contacts, {groups} group messages to {load.robots} robots",
    )


def _rows(done: Rounds, per_minute: int) -> list[Row]:
    mine, bare = done.mine, done.bare
    assert done.load is not None
    ratios = [m.rate / b.rate for m, b in zip(mine, bare, strict=True)]
    ratio = statistics.median(ratios)
    problems = [p for o in mine + bare for p in o.problems]
    member = max(o.member_peak for o in mine)
    robot, robot_limit = max(o.robot_peak for o in mine), ROBOT_WINDOWS[0].limit
    refused = sum(o.refused for o in mine)
    once = f"{len(mine)} × {len(done.load.messages):,} rows, yes"
    return [
        _workload_row(done.load),
        Row("write the rows (OutboxWriter, one transaction), median", seconds(mine, "write")),
        Row(OURS_ROW, _rates(mine)),
        Row("  enqueue (Runtime.enqueue_rows), median", seconds(mine, "enqueue")),
        Row("  CPU per message, median", _cpu(mine)),
        Row(CEILING_ROW, _rates(bare)),
        Row("  enqueue (Queue.enqueue), median", seconds(bare, "enqueue")),
        Row("  CPU per message, median", _cpu(bare)),
        Row(
            RATIO_ROW,
            f"{ratio:.0%} (rounds: {', '.join(f'{r:.0%}' for r in ratios)})",
            f"≥ {GOAL_RATIO:.0%}",
            ratio >= GOAL_RATIO,
        ),
        Row(ONCE_ROW, "; ".join(problems) or once, "all", not problems),
        Row(MEMBER_ROW, f"{member}", f"≤ {per_minute}", member <= per_minute),
        Row(
            ROBOT_ROW, f"{robot}; {refused} refused", f"≤ {robot_limit}", robot <= robot_limit and not refused
        ),
    ]


def run(options: argparse.Namespace) -> Report:
    """Start everything, run the interleaved rounds and (unless --no-limits) the limits phase, judge."""
    ids = Ids()
    with stack(options) as running:
        done = interleaved(running, options, ids)
        limit_rows = _limit_rows(running, ids) if options.limits else []
        backend = running.runtime.engine.dialect.name
        per_minute = running.runtime.settings.per_member_per_minute
    redis_kind = "embedded redis-server" if options.redis_url is None else "Redis"
    title = (
        f"fan-out: {options.messages:,} messages, {WORKERS} worker processes each; {backend}, {redis_kind}; "
        f"seed {options.seed}, {options.rounds} round(s); Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )
    return Report(title, _rows(done, per_minute) + limit_rows)


def _cpu(outcomes: Sequence[Outcome]) -> str:
    names = [name for name in ("workers", "postgres", "stand-in") if all(name in o.cpu for o in outcomes)]
    if not names:
        return "n/a (no /proc)"
    return ", ".join(f"{name} {statistics.median(o.cpu[name] for o in outcomes):.2f} ms" for name in names)


def seconds(outcomes: Sequence[Outcome], attribute: str) -> str:
    values = [getattr(o, attribute) for o in outcomes]
    return f"{statistics.median(values):.2f} s (min {min(values):.2f} s)"


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = parser_for("bench.fanout", __doc__)
    parser.add_argument("--messages", type=positive, default=10_000)
    parser.add_argument("--rounds", type=positive, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-limits", dest="limits", action="store_false", help="skip the limits phase (about 65 s)"
    )
    backend_options(parser, redis=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table; 1 if a goal was missed."""
    return finish(run(options(argv)))


if __name__ == "__main__":
    sys.exit(main())

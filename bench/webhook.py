"""Benchmark: the WeCom callback under load, against its ceilings (issue 10, benchmark 1).

    .venv/bin/python -m bench.webhook [--requests 3000] [--concurrency 16] [--rounds 3] [--burst 1000]
                                      [--users 1000] [--workers 2] [--database-url URL] [--redis-url URL]

Goals (issue 10): the full callback path (verify, decrypt, parse, dedupe, store, enqueue, encrypted
passive reply) on PostgreSQL and Redis reaches **≥ 70% of the durable ceiling's throughput**
(a minimal decrypt + one insert + one enqueue + reply endpoint), with unloaded p99 ≤ 25 ms, p99
≤ 100 ms at half of saturation, a burst of 1,000 callbacks each answered within 5 s, and 0 errors.
Commands that need no write of their own are compared with the minimal (decrypt + reply) endpoint.

Four servers run side by side, each under gunicorn with the same number of sync workers:
- `ours: 日报` — `ztc web`; an official's 日报 is a slow command: the message is stored
  (deduplicated), routed by the sender's role, enqueued for a worker and acknowledged passively
  (「收到，正在处理…」). That is the full path of the goal, step for step the ceiling's work plus ours.
- `ours: 我是谁` — a command answered at once: stored, routed, handled, its answer kept for
  retries and sent back passively.
- `ceiling: durable` and `ceiling: minimal` — bench/webhook_apps.py (wechatpy's crypto, xmltodict).

Every request is a distinct message (its own MsgId) from one of `--users` officials, encrypted
beforehand as WeCom would. For each server and round, interleaved (ceiling, ours, …): the
throughput of `--requests` callbacks over `--concurrency` connections (closed loop), then 200
callbacks one at a time (unloaded latency). After the rounds, each ours is loaded open-loop at half
its median throughput (latency measured from the scheduled send, so queueing counts), and hit by
`--burst` callbacks at once (100 connections). No RQ worker runs: the enqueued jobs wait.

The database is a temporary SQLite file unless --database-url names an empty one (PostgreSQL);
Redis is an embedded redis-server unless --redis-url is given (its database is flushed). The load
generator is this process (threads over loopback HTTP), on the same 2 cores as the servers.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import os
import platform
import queue
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import redis
from sqlalchemy import Engine, insert, inspect

from bench.common import Report, Row, finish, positive
from bench.webhook_apps import metadata as ceiling_metadata
from bot.db import Base, make_engine
from bot.embedded_redis import start_embedded_redis
from bot.models import Department, Person, Role
from bot.settings import DEMO_AES_KEY, DEMO_CORP_ID, DEMO_TOKEN
from bot.standin.platform import text_xml
from bot.wecom.crypto import CallbackCrypto

ROOT = Path(__file__).resolve().parent.parent
AGENT_ID = 1000002
BURST_CONNECTIONS = 100
UNLOADED = 200
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Callback:
    """One encrypted POST as WeCom sends it."""

    path: str
    body: bytes


@dataclass
class Server:
    """A gunicorn serving one endpoint on a loopback port."""

    name: str
    port: int
    process: subprocess.Popen[bytes]


@dataclass
class Load:
    """What one load run measured."""

    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


# -- the callbacks -------------------------------------------------------------------------


class Messages:
    """Distinct encrypted text callbacks from the seeded officials (a MsgId is never reused)."""

    def __init__(self, users: int) -> None:
        self.crypto = CallbackCrypto(DEMO_TOKEN, DEMO_AES_KEY, DEMO_CORP_ID)
        self.users = [f"bench_official_{i:05d}" for i in range(users)]
        self.ids = itertools.count(int(time.time() * 1000) * 1000)

    def make(self, content: str, count: int) -> list[Callback]:
        """`count` callbacks saying `content`, round robin over the users."""
        now = str(int(time.time()))
        return [self._one(self.users[i % len(self.users)], content, now) for i in range(count)]

    def _one(self, user: str, content: str, timestamp: str) -> Callback:
        xml = text_xml(
            corp_id=DEMO_CORP_ID, user=user, content=content, agent_id=AGENT_ID,
            create_time=int(timestamp), msg_id=str(next(self.ids)),
        )  # fmt: skip
        nonce = secrets.token_hex(8)
        body, params = self.crypto.build_callback_body(xml, nonce, timestamp, DEMO_CORP_ID, AGENT_ID)
        return Callback(f"/wecom/callback?{urlencode(params)}", body)


def _post(port: int, callback: Callback) -> tuple[float, bool]:
    """Post one callback on a fresh connection (gunicorn's sync workers close each); (seconds, ok)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", callback.path, callback.body, {"Content-Type": "text/xml"})
        response = conn.getresponse()
        body = response.read()
        ok = response.status == 200 and b"<Encrypt>" in body
    except (OSError, http.client.HTTPException):
        ok = False
    finally:
        conn.close()
    return time.perf_counter() - started, ok


def closed_loop(port: int, callbacks: Sequence[Callback], concurrency: int) -> Load:
    """Send every callback over `concurrency` connections, each as soon as the previous answered."""
    work: queue.SimpleQueue[Callback] = queue.SimpleQueue()
    for callback in callbacks:
        work.put(callback)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def run() -> None:
        while True:
            try:
                callback = work.get_nowait()
            except queue.Empty:
                return
            seconds, ok = _post(port, callback)
            with lock:
                latencies.append(seconds)
                errors[0] += not ok

    started = time.perf_counter()
    _join([threading.Thread(target=run) for _ in range(concurrency)])
    return Load(time.perf_counter() - started, latencies, errors[0])


def open_loop(port: int, callbacks: Sequence[Callback], rate: float) -> Load:
    """Send the callbacks at a fixed rate; each latency counts from its scheduled send time."""
    start = time.perf_counter() + 0.05
    slots = iter(enumerate(callbacks))
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]

    def run() -> None:
        while True:
            with lock:
                item = next(slots, None)
            if item is None:
                return
            index, callback = item
            scheduled = start + index / rate
            time.sleep(max(0.0, scheduled - time.perf_counter()))
            _, ok = _post(port, callback)
            with lock:
                latencies.append(time.perf_counter() - scheduled)
                errors[0] += not ok

    _join([threading.Thread(target=run) for _ in range(64)])
    return Load(time.perf_counter() - start, latencies, errors[0])


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# -- the servers ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _environment(database_url: str, redis_url: str, var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        BENCH_DATABASE_URL=database_url,
        BENCH_REDIS_URL=redis_url,
        WECOM_CORP_ID=DEMO_CORP_ID,
        WECOM_TOKEN=DEMO_TOKEN,
        WECOM_AES_KEY=DEMO_AES_KEY,
        WECOM_AGENT_ID=str(AGENT_ID),
        WECOM_API_BASE="http://127.0.0.1:9/cgi-bin/",  # never called: the benchmark's commands send nothing
        ZTC_VAR_DIR=str(var_dir),
        ZTC_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def start_server(name: str, app: str | None, workers: int, env: dict[str, str], logs: Path) -> Server:
    """Our `ztc web` (app None) or a reference app under gunicorn, once it answers."""
    port = _free_port()
    python = sys.executable
    if app is None:
        argv = [python, "-m", "bot.cli", "web", "--port", str(port), "--workers", str(workers)]
    else:
        argv = [python, "-m", "gunicorn", "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}", app]
    log = logs / f"{name}.log"
    with log.open("ab") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start; see {log.name}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return Server(name, port, process)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not start within 30 s")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a gunicorn master and its workers so far, from /proc."""
    total = 0.0
    for process in (pid, *_children(pid)):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a worker that just exited
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def stop(servers: Sequence[Server]) -> None:
    for server in servers:
        server.process.terminate()
    for server in servers:
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


# -- the data ------------------------------------------------------------------------------


def prepare_database(engine: Engine, users: Sequence[str]) -> None:
    """Our tables and the ceiling's, empty, and one department of officials who send the callbacks."""
    if inspect(engine).get_table_names():
        raise SystemExit("the database is not empty: give the benchmark an empty database")
    Base.metadata.create_all(engine)
    ceiling_metadata.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        department = conn.execute(
            insert(Department).values(code="bench", name="基准测试局", kind="both", created_at=now)
        ).inserted_primary_key
        assert department is not None
        official = {"role": Role.OFFICIAL.value, "department_id": department[0], "is_head": False}
        official.update(active=True, erased=False, created_at=now)
        rows = [{**official, "wecom_userid": u, "name": f"干部{i}"} for i, u in enumerate(users)]
        conn.execute(insert(Person), rows)


def drop_database(engine: Engine) -> None:
    ceiling_metadata.drop_all(engine)
    Base.metadata.drop_all(engine)


@contextlib.contextmanager
def backends(args: argparse.Namespace, work: Path) -> Iterator[tuple[str, str]]:
    """(database url, redis url): the given ones, or a SQLite file and an embedded redis-server."""
    database_url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
    embedded = None
    redis_url = args.redis_url
    if not redis_url:
        embedded = start_embedded_redis(work, daemonize=False)
        redis_url = f"unix://{work / 'redis.sock'}"
        _wait_for_redis(redis_url)
    try:
        redis.Redis.from_url(redis_url).flushdb()
        yield database_url, redis_url
    finally:
        if embedded is not None:
            embedded.terminate()
            embedded.wait(10)


def _wait_for_redis(url: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError):
            if redis.Redis.from_url(url).ping():
                return
        time.sleep(0.05)
    raise RuntimeError("the embedded redis-server did not start")


# -- the run -------------------------------------------------------------------------------

# The servers: gunicorn app, or None for ours (`ztc web`).
APPS = {"durable": "bench.webhook_apps:durable()", "ours": None, "minimal": "bench.webhook_apps:minimal()"}
SERVERS = (
    # (name, server, the text the officials send), in the order they are interleaved
    ("ceiling: durable", "durable", "日报"),
    ("ours: 日报", "ours", "日报"),
    ("ceiling: minimal", "minimal", "我是谁"),
    ("ours: 我是谁", "ours", "我是谁"),
)


def measure(
    args: argparse.Namespace, servers: dict[str, Server], messages: Messages
) -> tuple[dict[str, dict[str, Load]], dict[str, float]]:
    """Throughput and unloaded latency per server and round, interleaved; then half load and the burst.

    Also the web processes' CPU time per callback in the throughput runs (from /proc): unlike the
    rates, it hardly depends on what else the machine is doing.
    """
    ports = {name: servers[name].port for name, _, _ in SERVERS}
    results: dict[str, dict[str, Load]] = {name: {} for name, _, _ in SERVERS}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in SERVERS}
    rates: dict[str, list[float]] = {name: [] for name, _, _ in SERVERS}
    unloaded: dict[str, list[float]] = {name: [] for name, _, _ in SERVERS}
    for name, _, content in SERVERS:  # warm-up: imports, connection pools, first queries
        closed_loop(ports[name], messages.make(content, min(50, args.requests)), args.concurrency)
    for round_no in range(args.rounds):
        for name, _, content in SERVERS:
            callbacks = messages.make(content, args.requests)
            before = cpu_seconds(servers[name].process.pid)
            load = closed_loop(ports[name], callbacks, args.concurrency)
            cpu[name].append((cpu_seconds(servers[name].process.pid) - before) / len(callbacks))
            rates[name].append(load.rate)
            sequential = closed_loop(ports[name], messages.make(content, min(UNLOADED, args.requests)), 1)
            unloaded[name].extend(sequential.latencies)
            results[name][f"round {round_no}"] = load
            results[name][f"unloaded {round_no}"] = sequential
            errors = load.errors + sequential.errors
            print(f"  round {round_no + 1}: {name:<18} {load.rate:7.0f} req/s, errors {errors}")
    for name, _, content in SERVERS:
        results[name]["rate"] = Load(1.0, [statistics.median(rates[name])], 0)
        results[name]["unloaded"] = Load(1.0, unloaded[name], 0)
        if name.startswith("ours"):
            half = statistics.median(rates[name]) / 2
            count = max(20, int(half * 5))  # five seconds at half of saturation
            results[name]["half"] = open_loop(ports[name], messages.make(content, count), half)
            results[name]["burst"] = closed_loop(
                ports[name], messages.make(content, args.burst), BURST_CONNECTIONS
            )
    return results, {name: statistics.median(values) for name, values in cpu.items()}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def report(
    results: dict[str, dict[str, Load]], cpu: dict[str, float], args: argparse.Namespace, backend: str
) -> Report:
    """The table: ours vs its ceiling, latencies vs their goals."""
    rate = {name: r["rate"].latencies[0] for name, r in results.items()}
    rows = [Row(f"{name} throughput (median of {args.rounds})", f"{rate[name]:.0f} req/s") for name in rate]
    rows += [Row(f"{name} web CPU per callback", _ms(cpu[name])) for name in rate]
    full, ceiling = rate["ours: 日报"] / rate["ceiling: durable"], rate["ceiling: durable"]
    rows.append(
        Row("ours 日报 / durable ceiling", f"{full:.0%} (of {ceiling:.0f} req/s)", "≥ 70%", full >= 0.7)
    )
    command = rate["ours: 我是谁"] / rate["ceiling: minimal"]
    rows.append(Row("ours 我是谁 / minimal endpoint", f"{command:.0%}", "≥ 70%", command >= 0.7))
    versus_durable = rate["ours: 我是谁"] / ceiling
    rows.append(Row("ours 我是谁 / durable ceiling", f"{versus_durable:.0%}", "shown"))
    errors = 0
    for name in ("ours: 日报", "ours: 我是谁"):
        r = results[name]
        p99 = r["unloaded"].percentile(99)
        rows.append(Row(f"{name} unloaded p50 / p99", f"{_ms(r['unloaded'].percentile(50))} / {_ms(p99)}",
                        "p99 ≤ 25 ms", p99 <= 0.025))  # fmt: skip
        half = r["half"].percentile(99)
        rows.append(Row(f"{name} p99 at half saturation ({r['half'].rate:.0f} req/s)", _ms(half),
                        "≤ 100 ms", half <= 0.1))  # fmt: skip
        worst = max(r["burst"].latencies)
        rows.append(Row(f"{name} burst of {args.burst}: slowest answer", _ms(worst), "≤ 5 s", worst <= 5))
        errors += sum(load.errors for load in r.values())
    rows.append(Row("errors (non-200 or no encrypted reply)", str(errors), "0", errors == 0))
    for name in ("ceiling: durable", "ceiling: minimal"):
        u = results[name]["unloaded"]
        rows.append(Row(f"{name} unloaded p50 / p99", f"{_ms(u.percentile(50))} / {_ms(u.percentile(99))}"))
    title = (
        f"Webhook under load: {backend}, gunicorn sync ×{args.workers}, {args.concurrency} connections, "
        f"{platform.machine()} × {os.cpu_count()} cores"
    )
    return Report(title, rows)


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=positive, default=3000, help="callbacks per throughput run")
    parser.add_argument("--concurrency", type=positive, default=16, help="connections in the throughput runs")
    parser.add_argument("--rounds", type=positive, default=3)
    parser.add_argument("--burst", type=positive, default=1000, help="callbacks sent at once")
    parser.add_argument("--users", type=positive, default=1000, help="officials who send the callbacks")
    parser.add_argument("--workers", type=positive, default=2, help="gunicorn sync workers per server")
    parser.add_argument("--database-url", help="an empty database (default: a temporary SQLite file)")
    parser.add_argument("--redis-url", help="a Redis database to flush and use (default: embedded)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = options(argv)
    messages = Messages(args.users)
    with tempfile.TemporaryDirectory(prefix="ztc-bench-webhook-") as tmp:
        work = Path(tmp)
        with backends(args, work) as (database_url, redis_url):
            engine = make_engine(database_url)
            prepare_database(engine, messages.users)
            env = _environment(database_url, redis_url, work)
            servers: list[Server] = []
            try:
                for key, app in APPS.items():
                    servers.append(start_server(key, app, args.workers, env, work))
                by_name = {name: next(s for s in servers if s.name == key) for name, key, _ in SERVERS}
                results, cpu = measure(args, by_name, messages)
            finally:
                stop(servers)
                drop_database(engine)
                engine.dispose()
                with contextlib.suppress(redis.RedisError, OSError):
                    redis.Redis.from_url(redis_url).flushdb()
    backend = "PostgreSQL + Redis" if args.database_url else "SQLite + embedded Redis"
    return finish(report(results, cpu, args, backend))


if __name__ == "__main__":
    sys.exit(main())

"""The bot as production runs it: `ztc web` (gunicorn), `ztc worker`, two `ztc cron` and the stand-in.

Every process is `python -m bot.cli …` with its own log file. The backends are the test run's:
DATABASE_URL / REDIS_URL when set (CI: PostgreSQL and Redis — then a fresh database `<name>_e2e`
beside DATABASE_URL's and Redis db 13, so the unit tests' tables and keys are left alone), else a
SQLite file and the embedded redis-server in a temp dir.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import redis
import requests
from rq import Worker
from rq.cron import CronScheduler
from sqlalchemy import Engine, create_engine, make_url, text

from bot.db import make_engine
from bot.demo import demo_environment
from bot.settings import Settings
from bot.standin.platform import WeComPlatform

ROOT = Path(__file__).resolve().parents[2]
E2E_REDIS_DB = 13
E2E_DATABASE_SUFFIX = "_e2e"  # beside the test run's own database, so two runs never share one
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CRONS = ("cron-a", "cron-b")  # two cron processes on purpose: `rq cron` takes no lock

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], what: str, *, timeout: float, check: Callable[[], None] | None = None
) -> T:
    """Poll until predicate() is truthy (and return it); `check` raises early if a process died."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def free_ports(count: int) -> list[int]:
    """Distinct ports nobody listens on right now (the kernel's pick, all held until all are picked)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


# ---------------------------------------------------------------- processes


class ProcessStack:
    """Child processes `python -m bot.cli <args>`, each in its own session, logging to <dir>/<name>.log."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.expected_dead: set[str] = set()

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def _command(self, args: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "bot.cli", *args]

    def run(self, name: str, *args: str, timeout: float = 60.0) -> str:
        """Run a one-off command (`db upgrade`, `seed-demo`) to completion; its output."""
        with self.log(name).open("ab") as log:
            done = subprocess.run(
                self._command(args), env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                timeout=timeout, check=False,
            )  # fmt: skip
        output = self.log(name).read_text(encoding="utf-8", errors="replace")
        if done.returncode != 0:
            raise RuntimeError(f"ztc {' '.join(args)} exited with {done.returncode}:\n{output[-3000:]}")
        return output

    def start(self, name: str, *args: str) -> None:
        """Start a long-running role; the cwd is the temp dir, so a developer's .env is not read."""
        if name in self.children and self.children[name].poll() is None:
            raise RuntimeError(f"{name} is already running")
        with self.log(name).open("ab") as log:
            log.write(f"\n===== start {' '.join(args)} at {time.strftime('%H:%M:%S')} =====\n".encode())
            log.flush()
            # A new session: the role and its own children (gunicorn's workers, RQ's scheduler
            # process) form one process group that we can stop together.
            self.children[name] = subprocess.Popen(
                self._command(args), env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.expected_dead.discard(name)

    def kill(self, name: str) -> None:
        """SIGKILL a role and everything it forked (an OOM kill, a pulled plug)."""
        child = self.children[name]
        self.expected_dead.add(name)
        self._killpg(child, signal.SIGKILL)
        child.wait(timeout=STOP_TIMEOUT)

    def stop(self, name: str) -> None:
        """SIGTERM (graceful), then SIGKILL the whole group if it does not go in time."""
        child = self.children[name]
        self.expected_dead.add(name)
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=STOP_TIMEOUT)
        self._killpg(child, signal.SIGKILL)  # stragglers: orphaned gunicorn or scheduler children
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=STOP_TIMEOUT)

    def stop_all(self) -> None:
        # Terminate together (each role exits in parallel), then make sure of each.
        for name, child in self.children.items():
            if child.poll() is None:
                self.expected_dead.add(name)
                child.send_signal(signal.SIGTERM)
        for name in list(self.children):
            self.stop(name)

    @staticmethod
    def _killpg(child: subprocess.Popen[bytes], signum: int) -> None:
        # The group id is the child's pid (start_new_session); it outlives the leader while
        # members remain, so this also reaches orphans of a leader already gone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)

    def check_alive(self) -> None:
        """Raise, with its log, if a role exited that should be running."""
        for name, child in self.children.items():
            if name not in self.expected_dead and child.poll() is not None:
                raise RuntimeError(f"{name} exited with {child.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        try:
            content = self.log(name).read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(content[-lines:])

    def tails(self, lines: int = 40) -> str:
        """The end of every log, for a failure report."""
        logs = sorted(self.workdir.glob("*.log"))
        parts = [f"----- {p.name} (last {lines} lines) -----\n{self.tail(p.stem, lines)}" for p in logs]
        return "\n\n".join(parts)


_current_stack: ProcessStack | None = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failure, show the end of every process's log in the report."""
    report = yield
    if report.failed and _current_stack is not None:
        report.sections.append(("e2e process logs", _current_stack.tails()))
    return report


# ---------------------------------------------------------------- the stand-in over HTTP


@dataclass
class StandinClient:
    """The stand-in's /_standin/ inspection and fault endpoints (it runs in another process)."""

    url: str
    http: requests.Session = field(default_factory=requests.Session)

    def _get(self, path: str, **params: str) -> Any:
        response = self.http.get(f"{self.url}/_standin/{path}", params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def messages(self, touser: str = "") -> list[dict[str, Any]]:
        return list(self._get("messages", touser=touser)["messages"])

    def updates(self) -> list[dict[str, Any]]:
        return list(self._get("updates")["updates"])

    def suppressed(self) -> list[dict[str, Any]]:
        return list(self._get("suppressed")["suppressed"])

    def calls(self, path: str, touser: str = "") -> int:
        """Calls of `path` so far (only those naming `touser`, if given)."""
        return int(self._get("calls", touser=touser)["calls"].get(path, 0))

    def inject(self, path: str, errors: list[Any], touser: str = "") -> None:
        """The next calls of `path` (only those naming `touser`, if given) fail in turn with `errors`."""
        body = {"path": path, "errors": errors, "touser": touser}
        self.http.post(f"{self.url}/_standin/faults", json=body, timeout=5).raise_for_status()

    def set_users(self, users: list[str] | None) -> None:
        """The userids WeCom knows from now on (None: any); others are answered `invaliduser`."""
        body = {} if users is None else {"users": users}
        self.http.post(f"{self.url}/_standin/users", json=body, timeout=5).raise_for_status()

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on (errcode 42001)."""
        self.http.post(f"{self.url}/_standin/expire_tokens", timeout=5).raise_for_status()


# ---------------------------------------------------------------- backends


def _e2e_redis_url(url: str) -> str:
    """The same server, database E2E_REDIS_DB."""
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss"):
        return urlunsplit(parts._replace(path=f"/{E2E_REDIS_DB}"))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"] + [("db", str(E2E_REDIS_DB))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _fresh_postgres(url: str) -> tuple[str, Callable[[], None]]:
    """Create `<url's database>_e2e` anew on the server of `url`; its URL and a function that drops it."""
    base = make_url(url)
    name = f"{base.database or 'ztc'}{E2E_DATABASE_SUFFIX}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def execute(*statements: str) -> None:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))

    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')

    def drop() -> None:
        try:
            execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def _wait(proc: subprocess.Popen[bytes]) -> None:
    proc.wait(timeout=10)


@contextlib.contextmanager
def e2e_database(workdir: Path) -> Iterator[str]:
    """The processes' DATABASE_URL: a fresh `<name>_e2e` on DATABASE_URL's PostgreSQL, else a SQLite file."""
    database_url = os.environ.get("DATABASE_URL") or ""
    if database_url.startswith("postgresql"):
        database_url, drop = _fresh_postgres(database_url)
        try:
            yield database_url
        finally:
            drop()
    elif not database_url or database_url.startswith("sqlite"):
        yield f"sqlite:///{workdir / 'e2e.sqlite3'}"
    else:
        pytest.skip(f"e2e tests support PostgreSQL and SQLite, not {make_url(database_url).drivername}")


@contextlib.contextmanager
def e2e_redis(workdir: Path) -> Iterator[str]:
    """The processes' REDIS_URL: db E2E_REDIS_DB of REDIS_URL's server, else the embedded one; emptied."""
    cleanups: list[Callable[[], None]] = []
    try:
        if os.environ.get("REDIS_URL"):
            redis_url = _e2e_redis_url(os.environ["REDIS_URL"])
        else:
            from bot.embedded_redis import socket_url, start_embedded_redis, stop_embedded_redis

            proc = start_embedded_redis(workdir, daemonize=False)
            redis_url = socket_url(workdir)
            cleanups.append(lambda: stop_embedded_redis(workdir))
            if proc is not None:
                cleanups.append(lambda: _wait(proc))
        client = redis.Redis.from_url(redis_url)
        client.flushdb()

        def empty_redis() -> None:
            client.flushdb()
            client.close()

        cleanups.insert(0, empty_redis)
        yield redis_url
    finally:
        for cleanup in cleanups:
            cleanup()


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, REDIS_URL) for the processes, emptied first and cleaned up after."""
    workdir = tmp_path_factory.mktemp("e2e-backends")
    with e2e_database(workdir) as database_url, e2e_redis(workdir) as redis_url:
        yield database_url, redis_url


# ---------------------------------------------------------------- the running bot


@dataclass
class E2E:
    """The running bot: its addresses, its backends (to look at) and its processes."""

    stack: ProcessStack
    settings: Settings
    web_url: str
    standin: StandinClient
    redis: redis.Redis
    engine: Engine
    crons_started: float  # monotonic

    def platform(self) -> WeComPlatform:
        """WeCom itself, posting encrypted callbacks to the web process."""
        s = self.settings
        url = f"{self.web_url}/wecom/callback"
        return WeComPlatform(url, s.wecom_corp_id, s.wecom_token, s.wecom_aes_key, s.wecom_agent_id)

    def check(self) -> None:
        self.stack.check_alive()

    def start_worker(self, name: str = "worker") -> None:
        """Start `ztc worker` as role `name` (a second one: another name) and wait until it is registered."""
        self.stack.start(name, "worker")
        wait_until(lambda: self._worker_registered(name), f"{name} to register", timeout=START_TIMEOUT,
                   check=self.check)  # fmt: skip

    def _worker_registered(self, name: str) -> bool:
        return any(w.pid == self.stack.children[name].pid for w in Worker.all(connection=self.redis))


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def running_bot(
    database_url: str,
    redis_url: str,
    workdir: Path,
    *,
    env: dict[str, str] | None = None,
    crons: tuple[str, ...] = CRONS,
) -> Iterator[E2E]:
    """Migrate, seed, start the stand-in, web, worker and the crons; always stop them after.

    `env` adds to (or overrides) the processes' environment, e.g. a setting under test; `crons`
    names the cron processes (none: nothing ticks).
    """
    global _current_stack
    web_port, standin_port = free_ports(2)
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "ZTC_VAR_DIR": str(workdir)}
    )
    process_env = demo_environment(settings, standin_port, redis_url)
    process_env.update(ZTC_VAR_DIR=str(workdir), ZTC_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    process_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), process_env.get("PYTHONPATH")]))
    process_env.update(env or {})
    stack = ProcessStack(workdir, process_env)
    outer_stack, _current_stack = _current_stack, stack
    client = redis.Redis.from_url(redis_url)
    engine = make_engine(database_url)
    bot = E2E(stack, settings, f"http://127.0.0.1:{web_port}", StandinClient(f"http://127.0.0.1:{standin_port}"),
              client, engine, crons_started=0.0)  # fmt: skip
    try:
        stack.run("setup", "db", "upgrade")
        seeded = stack.run("setup", "seed-demo")
        assert "企业绑定: 新增 7" in seeded, seeded
        stack.start("standin", "standin", "--port", str(standin_port))
        stack.start("web", "web", "--port", str(web_port), "--workers", "2")
        wait_until(lambda: _http_ok(f"{bot.standin.url}/_standin/messages"), "the stand-in",
                   timeout=START_TIMEOUT, check=stack.check_alive)  # fmt: skip
        bot.start_worker()
        for name in crons:  # together, so their first ticks race for the same periods
            stack.start(name, "cron")
        bot.crons_started = time.monotonic()
        wait_until(lambda: _http_ok(f"{bot.web_url}/healthz"), "the web process /healthz",
                   timeout=START_TIMEOUT, check=stack.check_alive)  # fmt: skip
        wait_until(lambda: len(CronScheduler.all(client)) == len(crons), "the cron schedulers",
                   timeout=START_TIMEOUT, check=stack.check_alive)  # fmt: skip
        yield bot
        stack.check_alive()  # a role that died during the tests is a failure too
    finally:
        stack.stop_all()
        engine.dispose()
        client.close()
        _current_stack = outer_stack


@pytest.fixture(scope="module")
def e2e(backends: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    """The bot on the test run's backends, for one test module."""
    database_url, redis_url = backends
    with running_bot(database_url, redis_url, tmp_path_factory.mktemp("e2e")) as bot:
        yield bot

"""Shared fixtures: a real database (DATABASE_URL or a SQLite file) and a fixed clock."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from rq import SimpleWorker
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

import bot.models  # noqa: F401 - registers the tables
import handlers.complaints.models
import handlers.inspections.models
import handlers.policies.models
import handlers.projects.models  # noqa: F401 - registers the feature tables
from bot import create_app
from bot.clock import FixedClock
from bot.db import Base, make_engine, make_session_factory
from bot.runtime import Runtime
from bot.settings import DEMO_CORP_ID, DEMO_SECRET, Settings
from bot.standin.platform import WeComPlatform
from bot.standin.server import StandinServer
from jobs import runtime as job_runtime

# A Tuesday morning in Beijing (01:30 UTC = 09:30 local).
T0 = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)


def _database_url(tmp_root: Path) -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_root / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine per test run; the schema is created fresh."""
    eng = make_engine(_database_url(tmp_path_factory.mktemp("db")))
    Base.metadata.drop_all(eng)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on a clean database: every table is emptied after the test."""
    yield make_session_factory(engine)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for a test that works on the database directly."""
    with session_factory() as s:
        yield s


@pytest.fixture
def clock() -> FixedClock:
    """A clock fixed at T0 (2026-11-24 09:30 Beijing time)."""
    return FixedClock(T0)


# --- Redis: REDIS_URL (CI: the machine's server) or the embedded redis-server -------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: REDIS_URL if set, else the embedded server in a temp dir (as `ztc demo`)."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from bot.embedded_redis import socket_url, start_embedded_redis, stop_embedded_redis

    var = tmp_path_factory.mktemp("var")
    proc = start_embedded_redis(var, daemonize=False)
    yield socket_url(var)
    stop_embedded_redis(var)
    if proc is not None:
        proc.wait(timeout=10)


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    """A client on an emptied database."""
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


# --- The WeCom stand-in and a runtime wired to it ------------------------------------------


@pytest.fixture(scope="session")
def standin_server() -> Iterator[StandinServer]:
    """The fake WeCom API over real HTTP, for the whole run."""
    with StandinServer(corp_id=DEMO_CORP_ID, secret=DEMO_SECRET) as server:
        yield server


@pytest.fixture
def standin(standin_server: StandinServer) -> StandinServer:
    """The stand-in, emptied for this test."""
    standin_server.reset()
    return standin_server


@pytest.fixture
def settings(engine: Engine, redis_url: str, standin: StandinServer, tmp_path: Path) -> Settings:
    """Test settings: the test database, Redis and the stand-in as the WeCom API."""
    env = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "REDIS_URL": redis_url,
        "WECOM_API_BASE": standin.base_url,
        "ZTC_VAR_DIR": str(tmp_path),
    }
    return Settings.from_env(env)


@pytest.fixture
def runtime(
    settings: Settings, engine: Engine, redis_conn: redis.Redis, clock: FixedClock, session_factory: object
) -> Iterator[Runtime]:
    """A runtime on the test database and Redis with a fixed clock, installed for jobs."""
    rt = Runtime.build(settings, clock=clock, connection=redis_conn, engine=engine)
    job_runtime.install(rt)
    yield rt
    job_runtime.install(None)


def run_jobs(rt: Runtime) -> None:
    """Run every queued job in-process, and scheduled ones whose time has come by the fixed clock."""
    for _ in range(20):
        released = release_scheduled(rt)
        queued = sum(q.count for q in rt.queues.all())
        if not queued and not released:
            return
        SimpleWorker(rt.queues.all(), connection=rt.redis).work(burst=True, with_scheduler=False)
    raise AssertionError("jobs keep coming: a loop?")


def selects_sent(engine: Engine, action: Callable[[], object], naming: str) -> int:
    """How many SELECT statements naming `naming` (a table or column) `action()` sent."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and naming in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


def release_scheduled(rt: Runtime) -> int:
    """Move enqueue_at jobs due by the runtime's clock into their queues (RQ's scheduler uses real time)."""
    released = 0
    for queue in rt.queues.all():
        registry = queue.scheduled_job_registry
        for job_id in registry.get_jobs_to_schedule(int(rt.clock.now().timestamp())):
            job = queue.fetch_job(job_id)
            registry.remove(job_id)
            if job is not None:
                queue.enqueue_job(job)
                released += 1
    return released


# --- the webhook over HTTP, and WeCom posting encrypted callbacks to it ---------------------


def serve(rt: Runtime) -> Iterator[str]:
    """Serve the app of `rt` over HTTP on a free port, until the generator is closed; its base URL."""
    server = make_server("127.0.0.1", 0, create_app(runtime=rt), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def web(runtime: Runtime) -> Iterator[str]:
    """The real Flask app over HTTP, on the test runtime (its fixed clock, database and Redis)."""
    yield from serve(runtime)


@pytest.fixture
def platform(web: str, settings, standin: StandinServer) -> WeComPlatform:
    """WeCom itself, posting encrypted callbacks to our webhook (the app's and the AI bot's)."""
    return WeComPlatform(
        callback_url=f"{web}/wecom/callback",
        corp_id=settings.wecom_corp_id,
        token=settings.wecom_token,
        aes_key=settings.wecom_aes_key,
        agent_id=settings.wecom_agent_id,
        aibot_token=settings.aibot_token,
        aibot_aes_key=settings.aibot_aes_key,
        standin_url=standin.url,
    )

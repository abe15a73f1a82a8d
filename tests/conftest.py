"""Shared fixtures: a real database (DATABASE_URL or a SQLite file) and a fixed clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FixedClock
from bot.db import Base, make_engine, make_session_factory

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

"""Alembic migrations build exactly the schema the models describe, on SQLite and on PostgreSQL.

A model change without a migration makes compare_metadata report a difference and fails CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect, text
from sqlalchemy.engine import make_url

import bot.models  # noqa: F401 - registers the tables
from bot.db import Base, make_engine
from bot.migrations import alembic_config, upgrade


def schema_diff(database_url: str, metadata: MetaData = Base.metadata) -> list[object]:
    """What autogenerate would add to a new migration: empty when migrations and models agree."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def schema_snapshot(database_url: str) -> dict[str, object]:
    """Tables, their columns and indexes, and the recorded revision."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            tables = {
                name: (
                    [c["name"] for c in found.get_columns(name)],
                    sorted(i["name"] or "" for i in found.get_indexes(name)),
                )
                for name in sorted(found.get_table_names())
            }
            revisions = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
        return {"tables": tables, "revisions": revisions}
    finally:
        engine.dispose()


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


# PostgreSQL too when the run is pointed at one (CI); SQLite always.
BACKENDS = ["sqlite", "postgresql"] if _postgres_url() else ["sqlite"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'migrated.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the DATABASE_URL server, dropped afterwards."""
    base = _postgres_url()
    assert base is not None
    name = f"ztc_migtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest) -> str:
    """An empty database of each backend (PostgreSQL only when DATABASE_URL names one)."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


def test_migrations_build_exactly_the_models_schema(empty_database):
    upgrade(empty_database)
    assert schema_diff(empty_database) == []


def test_upgrading_again_changes_nothing(empty_database):
    upgrade(empty_database)
    before = schema_snapshot(empty_database)
    upgrade(empty_database)
    assert schema_snapshot(empty_database) == before
    assert before["revisions"] == [head_revision()]


def test_a_model_change_without_a_migration_is_reported(sqlite_url):
    upgrade(sqlite_url)
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    Table("complaints", changed, Column("id", Integer, primary_key=True))
    changed.tables["outbox"].append_column(Column("priority", Integer))
    diff = schema_diff(sqlite_url, changed)
    assert ("add_table", "complaints") in [(d[0], d[1].name) for d in diff if d[0] == "add_table"]  # type: ignore[index]
    assert any(d[0] == "add_column" and d[3].name == "priority" for d in diff)  # type: ignore[index]

"""Alembic environment: the models' metadata, SQLite batch mode for ALTERs."""

from __future__ import annotations

from alembic import context

import bot.models  # noqa: F401 - registers the tables on Base.metadata
import handlers.complaints.models
import handlers.inspections.models
import handlers.policies.models
import handlers.projects.models  # noqa: F401
from bot.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    """Emit SQL without a connection (`alembic upgrade --sql`)."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Apply migrations over a connection."""
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

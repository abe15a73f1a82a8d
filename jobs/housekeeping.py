"""Housekeeping: generated files (digest charts, XLSX exports) are removed once nobody can need them.

They are written under ZTC_VAR_DIR and uploaded by the outbox when sent; WeCom keeps an uploaded
media for three days. A file is kept while any unsent or failed outbox row (a dead letter an admin
may replay with `ztc outbox retry`) still names it, and otherwise for KEEP_DAYS.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import session_scope
from bot.models import OutboxMessage, OutboxStatus
from jobs.runtime import current

log = logging.getLogger(__name__)

KEEP_DAYS = 14
GENERATED_DIRS = (
    "digests",
    "exports",
)  # handlers/digests/delivery.py, export_chat.py, projects/ledger_chat.py


def clean_files() -> int:
    """Delete generated files older than KEEP_DAYS that no unsent outbox row refers to; how many."""
    rt = current()
    cutoff = (rt.clock.now() - timedelta(days=KEEP_DAYS)).timestamp()
    with session_scope(rt.session_factory) as session:
        waiting = _paths_still_needed(session)
    removed = 0
    for folder in GENERATED_DIRS:
        for path in sorted((Path(rt.settings.var_dir) / folder).glob("*")):
            if path.is_file() and path.stat().st_mtime < cutoff and str(path.resolve()) not in waiting:
                path.unlink(missing_ok=True)
                removed += 1
    if removed:
        log.info("housekeeping removed %s generated files older than %s days", removed, KEEP_DAYS)
    return removed


def _paths_still_needed(session: Session) -> set[str]:
    """The files named by outbox rows not sent yet, or failed (they may be replayed)."""
    unsent = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value, OutboxStatus.FAILED.value)
    rows = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.status.in_(unsent)))
    return {str(Path(p["path"]).resolve()) for p in rows if isinstance(p, dict) and p.get("path")}

"""How exported values read: times in Beijing time with their offset, ISO 8601."""

from __future__ import annotations

from datetime import datetime

from bot.clock import as_utc, local


def when(at: datetime | None) -> str | None:
    """2026-11-24T09:30:00+08:00, or None."""
    return None if at is None else local(as_utc(at)).isoformat(timespec="seconds")

"""Time is injected: rules take a Clock, never call datetime.now() themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests: it stands still until moved."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward, e.g. advance(hours=23)."""
        self._at += timedelta(**delta)
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)


def local(at: datetime, zone: ZoneInfo = LOCAL_ZONE) -> datetime:
    """The same instant in the county's local zone (for rules and display)."""
    return at.astimezone(zone)


def as_utc(at: datetime) -> datetime:
    """Aware UTC; naive values (SQLite gives them back) are taken as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def fmt_local(at: datetime, zone: ZoneInfo = LOCAL_ZONE) -> str:
    """Display form used in replies: 2026-11-24 09:30."""
    return local(as_utc(at), zone).strftime("%Y-%m-%d %H:%M")

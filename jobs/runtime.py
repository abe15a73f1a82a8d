"""The runtime a worker process uses, built once (before forking) or installed by a test."""

from __future__ import annotations

from bot.runtime import Runtime
from bot.settings import Settings

_current: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    """Use this runtime for jobs in this process (the worker's parent, or a test)."""
    global _current
    _current = runtime


def current() -> Runtime:
    """The installed runtime, or one built from the environment."""
    global _current
    if _current is None:
        _current = Runtime.build(Settings.from_env())
    return _current

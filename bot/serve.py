"""The web role: the Flask app under gunicorn's sync workers (as benchmarked, see bench/).

Metrics: the workers count callbacks in prometheus_client's multiprocess mode (see bot/metrics.py).
Each start gets a fresh, empty directory for their files, named in PROMETHEUS_MULTIPROC_DIR
before gunicorn forks (prometheus_client reads it when first imported, in the workers); the files
of workers that exit are kept, so totals survive a worker's replacement, and the directory is
removed when the server stops. It lives in the temporary directory, never on shared storage:
the files are memory-mapped, and another host's would be summed into this host's totals.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Each gunicorn worker builds its own runtime after the fork: no shared connections.
        from bot import create_app
        from bot.logs import setup_logging

        setup_logging(self.settings.log_level)
        return create_app(self.settings)


def _worker_exited(server: Any, worker: Any) -> None:
    """gunicorn's child_exit hook (in the master): drop the worker's live-gauge files, keep its counters."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def fresh_metrics_dir() -> str:
    """A new empty directory for this start's metric files, named in the environment the workers inherit."""
    if "prometheus_client.values" in sys.modules:
        # Its value class is fixed at import: the workers would count in memory, each on its own.
        raise RuntimeError("prometheus_client was imported before the metrics directory was set")
    path = tempfile.mkdtemp(prefix="ztc-metrics-")
    os.environ[MULTIPROC_ENV] = path
    return path


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve until stopped; a request may take at most 30 s (WeCom gives up after 5)."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": "-",
        "limit_request_line": 8190,
        "child_exit": _worker_exited,
    }
    master = os.getpid()
    metrics_dir = fresh_metrics_dir()
    try:
        _Gunicorn(settings, options).run()
    finally:
        # A worker leaves through here too (gunicorn's workers exit by SystemExit in the forked
        # stack): only the master removes the directory the others still write to.
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)

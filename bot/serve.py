"""The web role: the Flask app under gunicorn's sync workers (as benchmarked, see bench/)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from bot.settings import Settings


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
    }
    _Gunicorn(settings, options).run()

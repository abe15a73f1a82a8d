"""The simulator in a real browser: Debian's chromium, headless, driven by Selenium through
/usr/bin/chromedriver, against the bot's real processes (tests/e2e's fixtures) plus `ztc simulator`.

Nothing is downloaded: the driver and the browser are named by path, so Selenium Manager never
runs. Without chromium (a fresh development machine) the tests skip saying what to install; CI
installs it (.ci/run) and sets ZTC_BROWSER_TESTS=required, so there they fail instead.

The processes use a database of their own (`<the test database>_browser` on PostgreSQL, a SQLite
file otherwise) and REDIS_URL's database, emptied before and after, like the unit tests.
Screenshots go to $ZTC_ARTIFACTS_DIR (else a pytest temp dir), named in the summary.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import create_engine, make_url, text

import tests.e2e.conftest as e2e_support
from tests.e2e.conftest import E2E, e2e, free_ports, wait_until  # noqa: F401 - e2e is a fixture used here

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install --no-install-recommends chromium chromium-driver"
CHROME_ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
)  # fmt: skip

_artifacts: list[Path] = []
_drivers: list[WebDriver] = []


# ---------------------------------------------------------------- backends of their own


def _fresh_postgres(url: str) -> tuple[str, Callable[[], None]]:
    """A new database beside the test one (`test` -> `test_browser`); its URL and its dropper."""
    base = make_url(url)
    name = f"{base.database}_browser"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def execute(*statements: str) -> None:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))

    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')

    def drop() -> None:
        try:
            execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory, browser: WebDriver) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, REDIS_URL) for the processes (overrides tests/e2e's: other names, same shape).

    It asks for the browser first, so a machine without chromium skips before starting anything.
    """
    workdir = tmp_path_factory.mktemp("browser-backends")
    cleanups: list[Callable[[], None]] = []
    try:
        database_url = os.environ.get("DATABASE_URL") or ""
        if database_url.startswith("postgresql"):
            database_url, drop = _fresh_postgres(database_url)
            cleanups.append(drop)
        elif not database_url or database_url.startswith("sqlite"):
            database_url = f"sqlite:///{workdir / 'browser.sqlite3'}"
        else:
            pytest.skip(
                f"browser tests support PostgreSQL and SQLite, not {make_url(database_url).drivername}"
            )
        redis_url = os.environ.get("REDIS_URL") or _embedded_redis(workdir, cleanups)
        client = redis.Redis.from_url(redis_url)
        client.flushdb()
        cleanups.insert(0, lambda: (client.flushdb(), client.close()))
        yield database_url, redis_url
    finally:
        for cleanup in cleanups:
            cleanup()


def _embedded_redis(workdir: Path, cleanups: list[Callable[[], None]]) -> str:
    from bot.embedded_redis import socket_url, start_embedded_redis, stop_embedded_redis

    proc = start_embedded_redis(workdir, daemonize=False)
    cleanups.append(lambda: stop_embedded_redis(workdir))
    if proc is not None:
        cleanups.append(lambda: proc.wait(timeout=10))
    return socket_url(workdir)


# ---------------------------------------------------------------- the simulator process


@pytest.fixture(scope="module")
def simulator_url(e2e: E2E) -> str:  # noqa: F811 - the e2e fixture, imported above
    """`ztc simulator` against the running bot, as `ztc demo` starts it; its address."""
    (port,) = free_ports(1)
    e2e.stack.start("simulator", "simulator", "--port", str(port), "--url", e2e.web_url,
                    "--standin", e2e.standin.url)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    wait_until(lambda: _answers(url + "static/simulator.css"), "the simulator", timeout=30, check=e2e.check)
    return url


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


# ---------------------------------------------------------------- the browser


def _require_chromium() -> None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if not missing:
        return
    reason = f"{' and '.join(missing)} missing ({INSTALL}); CI installs them (.ci/run)"
    if os.environ.get("ZTC_BROWSER_TESTS") == "required":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless chromium in a fresh profile, at a desktop width."""
    _require_chromium()
    profile = tempfile.mkdtemp(prefix="ztc-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (*CHROME_ARGS, f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    except WebDriverException as exc:
        shutil.rmtree(profile, ignore_errors=True)
        raise RuntimeError(f"chromium did not start: {exc.msg}") from exc
    _drivers.append(driver)
    try:
        yield driver
    finally:
        _drivers.remove(driver)
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $ZTC_ARTIFACTS_DIR/browser, else a pytest temp dir."""
    root = os.environ.get("ZTC_ARTIFACTS_DIR")
    path = Path(root) / "browser" if root else tmp_path_factory.mktemp("browser-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def screenshot(browser: WebDriver, artifacts: Path, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Save the page as <test>-<n>-<name>.png."""
    counter = iter(range(1, 100))

    def save(name: str) -> Path:
        path = artifacts / f"{_slug(request.node.name)}-{next(counter):02d}-{name}.png"
        browser.save_screenshot(str(path))
        _artifacts.append(path)
        return path

    return save


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:80]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failure: a screenshot of the page, and the end of every process's log."""
    report = yield
    if report.failed and report.when == "call":
        for driver in _drivers:
            with contextlib.suppress(WebDriverException, OSError):
                directory = Path(os.environ.get("ZTC_ARTIFACTS_DIR") or tempfile.gettempdir()) / "browser"
                directory.mkdir(parents=True, exist_ok=True)
                path = directory / f"{_slug(item.name)}-FAILED.png"
                driver.save_screenshot(str(path))
                _artifacts.append(path)
                report.sections.append(("browser", f"screenshot: {path}\nurl: {driver.current_url}"))
    if report.failed and e2e_support._current_stack is not None:
        report.sections.append(("e2e process logs", e2e_support._current_stack.tails()))
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name the screenshots' directory at the end of the run."""
    if _artifacts:
        folders = sorted({str(path.parent) for path in _artifacts})
        terminalreporter.write_line(f"browser screenshots ({len(_artifacts)}): {', '.join(folders)}")

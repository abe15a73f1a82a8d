"""`ztc demo`: the whole bot on one machine — embedded Redis, SQLite, web, worker, cron, the
local WeCom stand-in and the browser simulator — then a chat as a demo person in the terminal.
With DATABASE_URL/REDIS_URL set it uses those instead.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.db import session_scope
from bot.embedded_redis import is_up, socket_url, start_embedded_redis, stop_embedded_redis
from bot.importing import Table, import_file, read_table
from bot.migrations import upgrade
from bot.models import BindingStatus, Enterprise, EnterpriseMember, Person
from bot.queues import Deferred
from bot.runtime import Runtime
from bot.settings import Settings

DEMO_DIR = Path(__file__).parent / "demo"
KINDS = ("departments", "people", "enterprises")


def seed(runtime: Runtime) -> str:
    """Import the demo county, its rules, policies and profiles; bind its contacts (safe to run again)."""
    from handlers.complaints.importing import import_routing  # bot imports no feature at import time
    from handlers.complaints.rules import rules_from
    from handlers.inspections.lenient_import import import_lenient
    from handlers.inspections.rules import load_policy_file
    from handlers.policies.catalog import import_policies_file
    from handlers.policies.profile import import_profiles

    lines = []
    categories = rules_from(runtime.settings).categories
    with session_scope(runtime.session_factory) as session:
        for kind in KINDS:
            report = import_file(session, kind, DEMO_DIR / f"{kind}.csv", clock=runtime.clock)
            lines.append(f"{kind}: 新增 {report.created}，更新 {report.updated}")
        more = import_file(session, "enterprises", DEMO_DIR / "enterprises_more.csv", clock=runtime.clock)
        lines.append(f"enterprises (more): 新增 {more.created}，更新 {more.updated}")
        lines += _demo_projects(session, runtime.clock)
        routing = _demo_routing(categories)
        report = import_routing(session, routing, clock=runtime.clock, categories=categories)
        lines.append(f"routing: 新增 {report.created}，更新 {report.updated}")
        report = import_lenient(session, read_table(DEMO_DIR / "lenient.csv"), clock=runtime.clock)
        lines.append(f"lenient: 新增 {report.created}，更新 {report.updated}")
        load_policy_file(session, DEMO_DIR / "quiet_days.yaml", now=runtime.clock.now())  # same again: no-op
        profiles = import_profiles(session, read_table(DEMO_DIR / "profiles.csv"), clock=runtime.clock)
        lines.append(f"profiles: 新增 {profiles.created}，更新 {profiles.updated}")
        catalog = import_policies_file(session, DEMO_DIR / "policies.yaml", now=runtime.clock.now())
        lines.append(f"policies: 新增 {catalog.created}，新版本 {catalog.versioned}")
        bound = _bind_demo_members(session, runtime.clock)
    lines.append(f"企业绑定: 新增 {bound}")
    return "\n".join(lines)


def _demo_projects(session: Session, clock: Clock) -> list[str]:
    """Import the demo's 重点项目; a line only when something changed (a re-seed stays as it was)."""
    from handlers.projects.importing import import_projects_file

    report = import_projects_file(session, DEMO_DIR / "projects.csv", clock=clock)
    changed = report.created or report.updated
    return [f"projects: 新增 {report.created}，更新 {report.updated}"] if changed else []


def _demo_routing(categories: tuple[str, ...]) -> Table:
    """The demo's routing rules for the categories this county uses (ZTC_ORDER_CATEGORIES may differ)."""
    table = read_table(DEMO_DIR / "routing.csv")
    rows = [row for row in table.rows if row["类别"] in categories]
    return Table(table.header_line, table.header, rows)


def _bind_demo_members(session: Session, clock: Clock) -> int:
    created = 0
    with (DEMO_DIR / "members.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            person = session.scalar(select(Person).where(Person.wecom_userid == row["账号"]))
            enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == row["统一社会信用代码"]))
            if person is None or enterprise is None or _bound(session, person, enterprise):
                continue
            now = clock.now()
            session.add(
                EnterpriseMember(
                    person=person, enterprise=enterprise, status=BindingStatus.CONFIRMED.value,
                    requested_at=now, decided_at=now,
                )
            )  # fmt: skip
            created += 1
    return created


def _bound(session: Session, person: Person, enterprise: Enterprise) -> bool:
    query = select(EnterpriseMember.id).where(
        EnterpriseMember.person_id == person.id, EnterpriseMember.enterprise_id == enterprise.id
    )
    return session.scalar(query) is not None


class Processes:
    """The demo's child processes, stopped together."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> None:
        """Start `ztc <args>` with its output in var/log/<name>.log."""
        log = (self.log_dir / f"{name}.log").open("ab")
        command = [sys.executable, "-m", "bot.cli", *args]
        self.children.append(subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT))  # noqa: S603

    def stop(self) -> None:
        """SIGTERM everyone, then wait (RQ finishes the job in hand)."""
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


def _wait_for(url: str, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start; see var/log/")


def demo_environment(settings: Settings, standin_port: int, redis_url: str) -> dict[str, str]:
    """The environment of the demo's processes: our Redis, our database, the stand-in as WeCom."""
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_url,
        DATABASE_URL=settings.database_url,
        WECOM_API_BASE=f"http://127.0.0.1:{standin_port}/cgi-bin/",
        WECOM_CORP_ID=settings.wecom_corp_id,
        WECOM_SECRET=settings.wecom_secret,
        WECOM_TOKEN=settings.wecom_token,
        WECOM_AES_KEY=settings.wecom_aes_key,
        WECOM_AGENT_ID=str(settings.wecom_agent_id),
        AIBOT_TOKEN=settings.aibot_token,
        AIBOT_AES_KEY=settings.aibot_aes_key,
        TZ=settings.tz,
    )
    # The demo county's 县长 reads the whole county; the leaders' group has a robot on the stand-in.
    env.setdefault("ZTC_DIGEST_COUNTY_LEADERS", "leader_wang")
    env.setdefault("ZTC_DIGEST_GROUP_WEBHOOK", "demo-leaders-robot")
    return env


def queue_policy_pushes(runtime: Runtime) -> None:
    """Queue the 免申即享 push job now (it pushes each policy version to each enterprise once)."""
    now = runtime.clock.now()
    job = Deferred("jobs.policies.push", now, (), job_id=f"policy-push-{int(now.timestamp())}")
    runtime.enqueue_deferred([job])


def run_demo(
    settings: Settings, *, port: int, standin_port: int, user: str, chat: bool, simulator_port: int = 8402
) -> None:
    """Start everything, chat (or wait), and stop everything on exit."""
    var = settings.var_dir
    (var / "log").mkdir(parents=True, exist_ok=True)
    redis_url, own_redis = _redis_for_demo(settings)
    env = demo_environment(settings, standin_port, redis_url)
    upgrade(settings.database_url)
    runtime = Runtime.build(settings.with_(redis_url=redis_url))
    print(seed(runtime))
    queue_policy_pushes(runtime)  # the worker pushes 免申即享 policies to qualifying enterprises once up
    procs = Processes(var / "log", env)
    for signum in (signal.SIGTERM, signal.SIGHUP):  # a closed terminal still cleans up
        signal.signal(signum, _exit_on_signal)
    try:
        _start_all(procs, port, standin_port)
        _start_simulator(procs, port, standin_port, simulator_port, user)
        print(_banner(port, standin_port, redis_url, settings.database_url))
        print(
            f"在浏览器打开 http://127.0.0.1:{simulator_port}/ 体验（选一个人对话、点卡片、在群里 @ 机器人）\n"
        )
        if chat and sys.stdin.isatty():
            from bot.standin.chat import run_chat

            run_chat(
                settings,
                user=user,
                web_url=f"http://127.0.0.1:{port}",
                standin_url=f"http://127.0.0.1:{standin_port}",
            )
        else:
            # Block first, so SIGTERM reaches sigwait instead of killing us before cleanup.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        try:
            procs.stop()
        finally:
            if own_redis:
                stop_embedded_redis(var)


def _exit_on_signal(signum: int, _frame: object) -> None:
    # A closed terminal sends SIGHUP more than once: let the first start the cleanup, ignore the rest.
    for other in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(other, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def _redis_for_demo(settings: Settings) -> tuple[str, bool]:
    if settings.redis_url:
        return settings.redis_url, False
    url = socket_url(settings.var_dir)
    if is_up(url):
        return url, False
    start_embedded_redis(settings.var_dir, daemonize=True)
    return url, True


def _start_all(procs: Processes, port: int, standin_port: int) -> None:
    procs.start("standin", "standin", "--port", str(standin_port))
    _wait_for(f"http://127.0.0.1:{standin_port}/_standin/messages", "the WeCom stand-in")
    procs.start("web", "web", "--port", str(port))
    procs.start("worker", "worker")
    procs.start("cron", "cron")
    _wait_for(f"http://127.0.0.1:{port}/healthz", "the web process")


def _start_simulator(procs: Processes, port: int, standin_port: int, simulator_port: int, user: str) -> None:
    """The browser simulator, a process like the others, speaking to them over HTTP."""
    procs.start(
        "simulator", "simulator", "--port", str(simulator_port), "--url", f"http://127.0.0.1:{port}",
        "--standin", f"http://127.0.0.1:{standin_port}", "--as", user,
    )  # fmt: skip
    _wait_for(f"http://127.0.0.1:{simulator_port}/static/simulator.css", "the simulator")


def _banner(port: int, standin_port: int, redis_url: str, database_url: str) -> str:
    return (
        "\n政企直通车 demo is running:\n"
        f"  webhook      http://127.0.0.1:{port}/wecom/callback (app), /wecom/aibot (智能机器人)\n"
        f"  WeCom 替身   http://127.0.0.1:{standin_port}/_standin/messages\n"
        f"  Redis        {redis_url}\n"
        f"  database     {database_url}\n"
        "  logs         var/log/\n"
    )

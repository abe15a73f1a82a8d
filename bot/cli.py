"""`ztc`: the process roles (web, worker, cron), database, imports, outbox and the demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from dotenv import load_dotenv

from bot.settings import Settings, SettingsError, require_real_secrets

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.importing import ImportReport
    from bot.runtime import Runtime


def _settings() -> Settings:
    load_dotenv(".env", override=False)  # development convenience; the environment wins
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(f"配置错误 / bad setting: {exc}") from exc


def _serving_settings() -> Settings:
    """Settings for web, worker and cron: never the public demo secrets against the real WeCom."""
    settings = _settings()
    try:
        require_real_secrets(settings)
    except SettingsError as exc:
        raise click.ClickException(f"配置错误 / bad setting: {exc}") from exc
    return settings


def _runtime(settings: Settings | None = None) -> Runtime:
    from bot.logs import setup_logging
    from bot.runtime import Runtime

    settings = settings or _settings()
    setup_logging(settings.log_level)
    runtime = Runtime.build(settings)
    context = click.get_current_context(silent=True)
    if context is not None:  # a one-shot command (or a test's CliRunner) must not leak connections
        context.call_on_close(runtime.engine.dispose)
    return runtime


@click.group()
def main() -> None:
    """政企直通车 — WeCom bot for county governments."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8400, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn sync workers")
def web(host: str, port: int, workers: int) -> None:
    """Run the web process (the WeCom callback) under gunicorn."""
    from bot.queues import redis_url
    from bot.serve import serve

    settings = _serving_settings()
    # Resolve the embedded server once here, not racily in each gunicorn worker.
    serve(settings.with_(redis_url=redis_url(settings)), host=host, port=port, workers=workers)


@main.command()
@click.option("--fork", is_flag=True, help="fork a work horse per job (isolation over speed)")
@click.option("--burst", is_flag=True, help="exit when the queues are empty")
def worker(fork: bool, burst: bool) -> None:
    """Run an RQ worker (with the scheduler for delayed jobs)."""
    from jobs.worker import run_worker

    run_worker(_runtime(_serving_settings()), fork=fork, burst=burst)


@main.command()
def cron() -> None:
    """Run the cron process (exactly one per deployment; a second one does no harm)."""
    from jobs.worker import run_cron

    run_cron(_runtime(_serving_settings()))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations (idempotent; run once per deploy, before the new web and workers)."""
    from bot.migrations import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo("数据库已是最新 / database is up to date")


@main.command("import")
@click.argument(
    "kind",
    type=click.Choice(
        [
            "departments",
            "people",
            "enterprises",
            "routing",
            "lenient",
            "quiet-rules",
            "profiles",
            "policies",
            "projects",
        ]
    ),
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_(kind: str, file: Path) -> None:
    """Import a CSV/XLSX table (departments … lenient, profiles) or a YAML (quiet-rules, policies)."""
    from bot.db import session_scope
    from bot.errors import Invalid
    from bot.importing import import_file

    rt = _runtime()
    notes: list[str] = []
    summary = ""  # set by the imports that are not a table
    try:
        with session_scope(rt.session_factory) as session:
            if kind == "routing":  # the work orders' rules: handlers, so imported only here
                report, notes = _import_routing(session, file, rt)
            elif kind == "lenient":  # the 包容免罚清单 belongs to the inspections feature
                from handlers.inspections.lenient_import import import_lenient_file

                report = import_lenient_file(session, file, clock=rt.clock)
            elif kind == "quiet-rules":  # the 企业宁静日 rules: one YAML version, not a table
                summary = _import_quiet_rules(session, file, rt)
            elif kind == "profiles":  # 政策匹配's enterprise profiles: values appended, not rows upserted
                summary = _import_profiles(session, file, rt)
            elif kind == "projects":  # 重点项目 belong to the projects feature
                from handlers.projects.importing import import_projects_file

                report = import_projects_file(session, file, clock=rt.clock)
            elif kind == "policies":  # the policy catalog: YAML, each example enterprise run first
                from handlers.policies.catalog import import_policies_file

                summary = import_policies_file(session, file, now=rt.clock.now()).summary()
            else:
                report = import_file(session, kind, file, clock=rt.clock)
    except Invalid as exc:  # bad rows (ImportFailed) and unreadable files alike
        click.echo(exc.message, err=True)
        sys.exit(1)
    click.echo(summary or report.summary())
    for note in notes:
        click.echo(note, err=True)
    if kind in ("policies", "profiles"):  # 免申即享: push what newly qualifies, through the worker
        _queue_policy_pushes(rt)


def _queue_policy_pushes(rt: Runtime) -> None:
    from bot.demo import queue_policy_pushes

    queue_policy_pushes(rt)
    click.echo("已排队：免申即享政策推送（由 worker 发送，每家企业每个政策版本只推送一次）。")


def _import_routing(session: Session, file: Path, rt: Runtime) -> tuple[ImportReport, list[str]]:
    """Import routing rules; a note names the categories still without a 承办部门."""
    from handlers.complaints.importing import import_routing_file, unrouted
    from handlers.complaints.rules import rules_from

    report = import_routing_file(session, file, clock=rt.clock, settings=rt.settings)
    missing = unrouted(session, rules_from(rt.settings).categories)
    note = f"提示：以下类别还没有承办部门，无包联部门的企业不能提交：{'、'.join(missing)}"
    return report, [note] if missing else []


def _import_quiet_rules(session: Session, file: Path, rt: Runtime) -> str:
    """Load one version of the quiet-day rules (YAML); the line saying which."""
    from handlers.inspections.rules import load_policy_file

    policy = load_policy_file(session, file, now=rt.clock.now())
    return f"已载入企业宁静日规则：{policy.effective_from:%Y-%m-%d}起生效（版本{policy.id}，{policy.source}）"


def _import_profiles(session: Session, file: Path, rt: Runtime) -> str:
    """Append the profile values of a table; the line saying how many enterprises changed."""
    from bot.importing import read_table
    from handlers.policies.profile import import_profiles

    report = import_profiles(session, read_table(file), clock=rt.clock)
    return f"导入企业信息：{report.created}家首次登记，{report.updated}家有更新，{report.unchanged}家未变"


@main.group()
def policies() -> None:
    """政策匹配: the policy catalog."""


@policies.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def policies_export(file: Path) -> None:
    """Write the current catalog as YAML (edit it, then `ztc import policies` it back)."""
    from bot.db import session_scope
    from handlers.policies.catalog import export_catalog

    rt = _runtime()
    with session_scope(rt.session_factory) as session:
        file.write_text(export_catalog(session), encoding="utf-8")
    click.echo(f"已导出政策目录：{file}")


@policies.command("check")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def policies_check(file: Path | None) -> None:
    """Run every policy's example enterprises (of FILE, or of the catalog stored); exit 1 on any failure."""
    from bot.db import session_scope
    from bot.errors import Invalid
    from handlers.policies.catalog import check_specs, stored_specs
    from handlers.policies.catalog_reading import read_catalog_file

    try:
        if file is not None:
            specs = read_catalog_file(file)
        else:
            with session_scope(_runtime().session_factory) as session:
                specs = stored_specs(session)
        problems = check_specs(specs)
    except Invalid as exc:  # an unreadable file, or a stored condition that no longer reads
        click.echo(exc.message)
        sys.exit(1)
    for problem in problems:
        click.echo(f"✗ {problem}")
    examples = sum(len(spec.examples) for spec in specs)
    if problems:
        click.echo(f"{len(specs)}条政策的{examples}个示例企业中，{len(problems)}个结果与预期不符。")
        sys.exit(1)
    click.echo(f"{len(specs)}条政策的{examples}个示例企业全部符合预期。")


@main.group("export")
def export_group() -> None:
    """Exports as files (the 重点项目台账 …)."""


@export_group.command("ledger")
@click.option("--year", type=int, default=None, help="the year (default: this year)")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export_ledger(year: int | None, file: Path) -> None:
    """Write the 重点项目台账 as XLSX: 汇总, then one sheet per month up to this month."""
    from bot.clock import local
    from bot.db import session_scope
    from bot.errors import Invalid
    from handlers.projects.ledger import write_ledger
    from handlers.projects.rules import rules_from

    rt = _runtime()
    today = local(rt.clock.now()).date()
    try:
        with session_scope(rt.session_factory) as session:
            rules = rules_from(rt.settings)
            summary = write_ledger(session, file, year or today.year, today=today, rules=rules)
    except Invalid as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    except OSError as exc:  # a missing folder, a file open in Excel
        click.echo(f"无法写入 {file}：{exc.strerror or exc}", err=True)
        sys.exit(1)
    click.echo(f"已导出重点项目台账：{file}\n{summary.text()}")


def _period_options(func: Any) -> Any:
    """`--from` and `--to` (YYYY-MM-DD, local days, both included) and FILE."""
    func = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))(func)
    func = click.option("--to", "to", default=None, help="last day (default: today)")(func)
    return click.option("--from", "from_", default=None, help="first day (default: the 1st)")(func)


@export_group.command("orders")
@_period_options
def export_orders(from_: str | None, to: str | None, file: Path) -> None:
    """Write the 诉求工单 filed in the period, with every event (办理记录), as XLSX."""
    _export_register("orders", from_, to, file)


@export_group.command("projects")
@_period_options
def export_projects(from_: str | None, to: str | None, file: Path) -> None:
    """Write the 重点项目 weekly reports of the period's weeks and its 督办卡/批示卡 as XLSX."""
    _export_register("projects", from_, to, file)


@export_group.command("inspections")
@_period_options
def export_inspections(from_: str | None, to: str | None, file: Path) -> None:
    """Write the inspections registered (报备) in the period as XLSX."""
    _export_register("inspections", from_, to, file)


def _export_register(kind: str, start: str | None, end: str | None, file: Path) -> None:
    """Write one register for --from … --to; a bad period or an unwritable file exits 1 with why."""
    from bot.clock import local
    from bot.db import session_scope
    from bot.errors import Invalid
    from handlers.digests.exports import span_of, write_register

    rt = _runtime()
    now = rt.clock.now()
    try:
        span = span_of(start, end, local(now).date())
        with session_scope(rt.session_factory) as session:
            exported = write_register(kind, session, file, span, now=now)
    except Invalid as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    except OSError as exc:  # a missing folder, a file open in Excel
        click.echo(f"无法写入 {file}：{exc.strerror or exc}", err=True)
        sys.exit(1)
    click.echo(f"已导出{exported.title}：{file}\n{exported.text()}")


@main.command("seed-demo")
def seed_demo() -> None:
    """Load the demo county's departments, people, enterprises and routing rules (idempotent)."""
    from bot.demo import seed

    click.echo(seed(_runtime()))


@main.group()
def outbox() -> None:
    """The outbound queue: dead letters and replay."""


@outbox.command("failed")
def outbox_failed() -> None:
    """List messages that could not be sent."""
    from bot.db import session_scope
    from bot.outbox import failed_rows

    rt = _runtime()
    with session_scope(rt.session_factory) as session:
        rows = failed_rows(session)
        for row in rows:
            click.echo(f"{row.id}\t{row.recipient}\t{row.attempts} 次\t{row.last_error}")
    if not rows:
        click.echo("没有发送失败的消息。")


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="replay every failed message")
def outbox_retry(ids: tuple[int, ...], all_: bool) -> None:
    """Replay failed messages by id (or --all)."""
    from bot.db import session_scope
    from bot.outbox import requeue_failed

    if not ids and not all_:
        raise click.UsageError("give message ids or --all")
    rt = _runtime()
    with session_scope(rt.session_factory) as session:
        requeued = requeue_failed(session, rt.clock.now(), list(ids) or None)
    stamp = int(rt.clock.now().timestamp())
    for outbox_id in requeued:
        rt.enqueue_delivery(outbox_id, f"retry{stamp}")
    click.echo(f"已重新排队 {len(requeued)} 条消息。")


@main.group()
def person() -> None:
    """Personal data on request: export everything held about one person, or erase it."""


_BY_OPTION = click.option(
    "--by", "admin", required=True, metavar="ADMIN_USERID", help="the admin handling the request (audited)"
)


@person.command("export")
@click.argument("userid")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@_BY_OPTION
def person_export(userid: str, file: Path | None, admin: str) -> None:
    """Write everything held about USERID as JSON to FILE (default: standard output); audited."""
    from bot import audit
    from bot.db import session_scope
    from bot.errors import DomainError
    from bot.privacy import export_person, find_admin, find_subject, to_json

    rt = _runtime()
    now = rt.clock.now()
    try:
        with session_scope(rt.session_factory) as session:
            subject = find_subject(session, userid, _privacy_key(rt))
            by = find_admin(session, admin)
            conversation = _stored_conversation(rt, subject.wecom_userid)
            text = to_json(export_person(session, subject, conversation=conversation, now=now))
            audit.record(
                session, at=now, actor=by, channel="cli", action="person.export",
                entity="person", entity_id=subject.id, data={"to_file": file is not None},
            )  # fmt: skip
            if file is not None:  # written before the commit: no audit row for a file never written
                file.write_text(text, encoding="utf-8")
    except DomainError as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"无法写入 {file}：{exc.strerror or exc}", err=True)
        sys.exit(1)
    if file is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"已导出人员#{subject.id}的个人信息：{file}", err=True)


@person.command("erase")
@click.argument("userid")
@_BY_OPTION
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def person_erase(userid: str, admin: str, yes: bool) -> None:
    """Pseudonymise USERID: name, userid, mobile and messages go; the register stays (idempotent)."""
    from redis import RedisError

    from bot.db import session_scope
    from bot.errors import DomainError
    from bot.privacy import erase_person, find_admin, find_subject, forget_in_redis

    rt = _runtime()
    key = _privacy_key(rt)
    try:
        with session_scope(rt.session_factory) as session:
            subject, by = find_subject(session, userid, key), find_admin(session, admin)
            shown = f"{subject.name}（{subject.wecom_userid}，人员#{subject.id}）"
        if not yes and not subject.erased:
            click.confirm(f"将注销 {shown} 的个人信息，不可恢复。继续？", abort=True)
        with session_scope(rt.session_factory) as session:
            subject, by = find_subject(session, userid, key), find_admin(session, admin)
            erasure = erase_person(
                session, subject, by=by, key=key, now=rt.clock.now(), userid=userid.strip()
            )
    except DomainError as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    click.echo(erasure.summary())
    try:  # after the commit; left behind (Redis down) the keys expire by themselves within the hour
        forget_in_redis(rt.redis, rt.settings.queue_prefix, userid.strip())
    except RedisError as exc:
        click.echo(
            f"Redis 不可用（{exc}）：会话和限流记录未删除，它们会自行过期；可稍后重新执行本命令。", err=True
        )


def _privacy_key(rt: Runtime) -> bytes:
    """The key of the erased userids' hash: the app's secret, kept outside the database."""
    return rt.settings.wecom_secret.encode("utf-8")


def _stored_conversation(rt: Runtime, userid: str) -> dict[str, Any] | str | None:
    """The person's conversation as Redis holds it (state and data), for the export."""
    import json

    from redis import RedisError

    try:
        raw = rt.redis.get(f"{rt.settings.queue_prefix}:conv:{userid}")
    except RedisError as exc:
        return f"（Redis 不可用，未能读取：{exc}）"
    return json.loads(raw) if raw else None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8401, show_default=True, type=int)
def standin(host: str, port: int) -> None:
    """Run the local WeCom stand-in (a fake WeCom API that records what the bot sends)."""
    from bot.standin.api import create_standin_app

    settings = _settings()
    app = create_standin_app(corp_id=settings.wecom_corp_id, secret=settings.wecom_secret)
    app.run(host=host, port=port, threaded=True)


@main.command()
@click.option("--as", "user", default="zhang_wei", show_default=True, help="the WeCom userid you speak as")
@click.option("--url", default="http://127.0.0.1:8400", show_default=True, help="the bot's web process")
@click.option("--standin", "standin_url", default="http://127.0.0.1:8401", show_default=True)
def chat(user: str, url: str, standin_url: str) -> None:
    """Talk to the bot as a chosen person, through the real encrypted callback."""
    from bot.standin.chat import run_chat

    run_chat(_settings(), user=user, web_url=url, standin_url=standin_url)


@main.command()
@click.option("--port", default=8402, show_default=True, type=int, help="its port (127.0.0.1 only)")
@click.option("--url", default="http://127.0.0.1:8400", show_default=True, help="the bot's web process")
@click.option("--standin", "standin_url", default="http://127.0.0.1:8401", show_default=True)
@click.option("--as", "user", default="zhang_wei", show_default=True, help="who the page opens as")
def simulator(port: int, url: str, standin_url: str, user: str) -> None:
    """The chat simulator in a browser: pick a person, chat, press card buttons, speak in a group."""
    from bot.simulator import run_simulator

    run_simulator(_settings(), port=port, web_url=url, standin_url=standin_url, user=user)


@main.command()
@click.option("--port", default=8400, show_default=True, type=int, help="the bot's web port")
@click.option("--standin-port", default=8401, show_default=True, type=int)
@click.option("--simulator-port", default=8402, show_default=True, type=int, help="the browser simulator")
@click.option("--as", "user", default="zhang_wei", show_default=True, help="who you chat as")
@click.option("--no-chat", is_flag=True, help="run the processes only (no interactive chat)")
def demo(port: int, standin_port: int, simulator_port: int, user: str, no_chat: bool) -> None:
    """Run everything locally: Redis, web, worker, cron, the WeCom stand-in, the simulator, and a chat."""
    from bot.demo import run_demo

    run_demo(_settings(), port=port, standin_port=standin_port, simulator_port=simulator_port, user=user,
             chat=not no_chat)  # fmt: skip


if __name__ == "__main__":
    main()

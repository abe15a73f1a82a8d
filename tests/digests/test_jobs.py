"""The scheduled digests: each recipient on his own, within the job's time; files any worker can send."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from rq.timeouts import JobTimeoutException
from sqlalchemy import select

from bot.clock import LOCAL_ZONE
from bot.models import OutboxMessage, Oversight, Person, Role
from bot.settings import Settings
from handlers.complaints import service as orders
from handlers.digests import charts, delivery
from handlers.digests.export_chat import export_file
from handlers.digests.exports import Span
from handlers.digests.model import (
    Digest,
    InspectionFigures,
    OrderFigures,
    PeriodKind,
    PolicyFigures,
    ProjectFigures,
    Scope,
    day_period,
)
from jobs import digests as digest_jobs
from tests import builders
from tests.conftest import T0

ROOT = Path(__file__).resolve().parents[2]


def at(clock, moment: str) -> None:
    clock.set(datetime.fromisoformat(moment).replace(tzinfo=LOCAL_ZONE))


@pytest.fixture
def county(session_factory):
    """李县长 oversees 工信局 (an order), 王县长 sees the county; the leaders' group is configured."""
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.person(s, "gxj_wu", Role.OFFICIAL, "吴晓燕", department=gxj)
        li = builders.person(s, "leader_li", Role.LEADER, "李县长")
        builders.person(s, "leader_wang", Role.LEADER, "王县长")
        s.add(Oversight(leader_id=li.id, department_id=gxj.id))
        firm = builders.enterprise(s, "示范县鑫源电子有限公司", gxj)
        who = builders.contact(s, "zhang_wei", "张伟", firm)
        orders.file_order(s, who, "门前道路破损", "其他", "普通", T0)
        s.commit()


@pytest.fixture
def rt(runtime):
    runtime.settings = runtime.settings.with_(
        digest_county_leaders=("leader_wang",), digest_group_webhook="leaders-robot"
    )
    runtime.services["settings"] = runtime.settings
    return runtime


def keys(session_factory) -> set[str]:
    """The digests in the outbox: the key of each one's first message, without the :0."""
    with session_factory() as s:
        found = s.scalars(select(OutboxMessage.idempotency_key))
        return {k.removesuffix(":0") for k in found if k.endswith(":0")}


def recipients_of(found: set[str]) -> set[str]:
    """The recipients (person ids, "group") of the digests."""
    return {k.rsplit(":", 1)[1] for k in found}


def person_id(session_factory, userid: str) -> int:
    with session_factory() as s:
        return s.scalars(select(Person.id).where(Person.wecom_userid == userid)).one()


def failing_for(monkeypatch, when) -> None:
    """Make the chart of every digest `when(digest)` says fail, as matplotlib might."""
    real = digest_jobs.chart_file

    def chart_file(digest, settings):
        if when(digest):
            raise RuntimeError("matplotlib fell over")
        return real(digest, settings)

    monkeypatch.setattr(digest_jobs, "chart_file", chart_file)


# ---------------------------------------------------------------- one recipient at a time


def test_a_failing_leaders_digest_is_logged_and_skipped_and_the_next_run_retries_it(
    rt, standin, county, clock, session_factory, monkeypatch, caplog
):
    failing_for(monkeypatch, lambda d: d.scope.label.startswith("李县长"))
    at(clock, "2026-11-25 08:30")
    with caplog.at_level(logging.ERROR, logger="jobs.digests"):
        assert digest_jobs.sweep() == 2  # 王县长 and the group; 李县长's failed
    [logged] = [r for r in caplog.records if "failed" in r.getMessage()]
    assert logged.exc_info and "matplotlib" in str(logged.exc_info[1])
    assert recipients_of(keys(session_factory)) == {str(person_id(session_factory, "leader_wang")), "group"}
    monkeypatch.undo()
    at(clock, "2026-11-25 08:35")
    assert digest_jobs.sweep() == 1  # the next run: only his, nobody's twice
    found = keys(session_factory)
    assert len(found) == 3 and all(k.startswith("digest:day:2026-11-24:") for k in found)
    assert str(person_id(session_factory, "leader_li")) in recipients_of(found)


def test_on_monday_a_failing_daily_digest_does_not_hold_back_the_weekly(
    rt, standin, county, clock, session_factory, monkeypatch
):
    failing_for(monkeypatch, lambda d: d.period.kind is PeriodKind.DAY)
    at(clock, "2026-11-30 08:30")
    assert digest_jobs.sweep() == 3  # the 周报 of two leaders and the group
    assert {k.rsplit(":", 1)[0] for k in keys(session_factory)} == {"digest:week:2026-11-23"}
    monkeypatch.undo()
    at(clock, "2026-11-30 08:35")
    assert digest_jobs.sweep() == 3  # now the 日报
    assert len(keys(session_factory)) == 6


def test_a_run_stops_starting_digests_when_its_budget_is_spent_and_the_next_carries_on(
    rt, standin, county, clock, session_factory, monkeypatch
):
    at(clock, "2026-11-25 08:30")
    monkeypatch.setattr(digest_jobs, "RUN_BUDGET", 0.0)  # spent before the first digest
    assert digest_jobs.sweep() == 0 and keys(session_factory) == set()
    monkeypatch.setattr(digest_jobs, "RUN_BUDGET", 120.0)
    at(clock, "2026-11-25 08:35")
    assert digest_jobs.sweep() == 3
    assert digest_jobs.RUN_BUDGET + 30 < 180  # room for one slow digest under RQ's default job timeout


def test_rqs_job_timeout_is_not_swallowed_as_one_recipients_failure(
    rt, standin, county, clock, session_factory, monkeypatch
):
    def timeout(digest, settings):
        raise JobTimeoutException("Task exceeded maximum timeout value (180 seconds)")

    monkeypatch.setattr(digest_jobs, "chart_file", timeout)
    at(clock, "2026-11-25 08:30")
    with pytest.raises(JobTimeoutException):
        digest_jobs.sweep()


def test_after_spring_festival_both_weekly_digests_go_out_each_under_its_own_key(
    rt, standin, county, clock, session_factory
):
    at(clock, "2026-02-24 08:30")  # the first working day after 2月15日–23日
    assert digest_jobs.sweep() == 9  # a 日报 and two 周报, to two leaders and the group
    found = keys(session_factory)
    assert {k.rsplit(":", 1)[0] for k in found} == {
        "digest:day:2026-02-14",
        "digest:week:2026-02-09",
        "digest:week:2026-02-16",
    }
    leaders = {str(person_id(session_factory, u)) for u in ("leader_li", "leader_wang")}
    assert recipients_of(found) == {*leaders, "group"}
    at(clock, "2026-02-24 08:35")
    assert digest_jobs.sweep() == 0


# ---------------------------------------------------------------- files another worker sends


def a_digest(start: date = date(2026, 11, 23)) -> Digest:
    """An empty digest of one day."""
    return Digest(
        period=day_period(start),
        scope=Scope("李县长分管", frozenset({1}), frozenset({2})),
        orders=OrderFigures(0, 0, 0, [], {}, {}, []),
        projects=ProjectFigures("第47周", {}, {}, [], [], [], [], 0, [], []),
        inspections=InspectionFigures(0, [], [], 0),
        policies=PolicyFigures(0, 0, 0),
    )


@pytest.fixture
def relative_var(tmp_path, monkeypatch) -> Settings:
    """ZTC_VAR_DIR=var (the default, relative) in a working directory of its own."""
    monkeypatch.chdir(tmp_path)
    return Settings.from_env({"ZTC_VAR_DIR": "var"})


def test_a_chart_file_is_absolute_and_named_by_period_scope_and_content(relative_var, tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "render", lambda digest, font: b"first chart")
    first = delivery.chart_file(a_digest(), relative_var)
    assert first is not None and os.path.isabs(first)  # the outbox may run from another directory
    path = Path(first)
    assert path.parent == (tmp_path / "var" / "digests").resolve()
    content = hashlib.sha256(b"first chart").hexdigest()[:12]
    assert re.fullmatch(rf"day-20261123-20261124-[0-9a-f]{{12}}-{content}\.png", path.name), path.name
    # A rerun that draws another chart for the same digest never overwrites the file a queued
    # message names; the same chart again is the same file.
    monkeypatch.setattr(charts, "render", lambda digest, font: b"second chart")
    second = delivery.chart_file(a_digest(), relative_var)
    assert second != first and path.read_bytes() == b"first chart"
    monkeypatch.setattr(charts, "render", lambda digest, font: b"first chart")
    assert delivery.chart_file(a_digest(), relative_var) == first
    monkeypatch.chdir("/")
    assert Path(first).read_bytes() == b"first chart"
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, Path(second or "").name])


def test_a_chart_is_written_whole_or_not_at_all(relative_var, tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "render", lambda digest, font: b"chart")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(delivery.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        delivery.chart_file(a_digest(), relative_var)
    monkeypatch.undo()
    folder = tmp_path / "var" / "digests"
    assert list(folder.iterdir()) == []  # neither a half-written chart nor a temporary file


def test_an_export_is_absolute_and_named_by_its_span_when_and_content(relative_var, tmp_path):
    span = Span(date(2026, 11, 1), date(2026, 11, 30))
    path = export_file(relative_var.var_dir, "orders", span, T0, b"workbook")
    assert path.is_absolute() and path.parent == (tmp_path / "var" / "exports").resolve()
    content = hashlib.sha256(b"workbook").hexdigest()[:12]
    assert path.name == f"诉求工单20261101-20261130-20261124-093000-{content}.xlsx"
    assert path.read_bytes() == b"workbook" and list(path.parent.iterdir()) == [path]


# ---------------------------------------------------------------- the deployment shares them


def test_compose_gives_web_workers_and_cron_one_var_dir():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    var_dir = re.search(r"ZTC_VAR_DIR=(\S+)", dockerfile)
    assert var_dir is not None
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    mounts = {name: set(services[name].get("volumes", [])) for name in ("web", "worker", "cron")}
    shared = set.intersection(*mounts.values())
    [volume] = [m for m in shared if m.endswith(f":{var_dir.group(1)}")]
    assert volume.split(":")[0] in compose["volumes"]  # a named volume, not a path on one host
    assert all(services[name]["environment"]["ZTC_VAR_DIR"] == var_dir.group(1) for name in mounts)
    assert services["worker"]["deploy"]["replicas"] > 1  # why it matters

"""/readyz and /metrics as an operator sees them: through the real app over HTTP, on the test backends.

Callbacks are real encrypted deliveries (conftest's `platform`), sends go through the outbox to the
WeCom stand-in, work orders are filed through the complaint service; the scrape is parsed with
prometheus_client's own parser.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from bot.db import make_engine, session_scope
from bot.health import readiness
from bot.metrics import LATENCY_BUCKETS
from bot.models import OutboxMessage, OutboxStatus
from bot.outbox import OutboxWriter
from bot.queues import CLIENT_OPTIONS
from bot.replies import Text
from bot.runtime import Runtime
from bot.standin.platform import text_xml
from handlers.complaints import closing, service
from tests.complaints.conftest import county  # noqa: F401 - a fixture, used by name
from tests.conftest import T0, run_jobs, serve

H = timedelta(hours=1)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# ---------------------------------------------------------------- helpers


def parse(text: str) -> Samples:
    """{(sample name, labels): value} of a Prometheus text exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(url: str) -> Samples:
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def callbacks(samples: Samples, endpoint: str, outcome: str, reason: str = "") -> float:
    return value(samples, "ztc_callbacks_total", endpoint=endpoint, outcome=outcome, reason=reason) or 0.0


@contextmanager
def served(rt: Runtime) -> Iterator[str]:
    """Another web process (an app of its own) on `rt`, over HTTP, for the block."""
    server = serve(rt)
    try:
        yield next(server)
    finally:
        server.close()  # runs serve()'s shutdown


@pytest.fixture
def dead_redis() -> redis.Redis:
    """A Redis nobody listens for (port 1): refused at once."""
    return redis.Redis(host="127.0.0.1", port=1, **CLIENT_OPTIONS)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers: a hung server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def runtime_on(runtime: Runtime, **parts: object) -> Runtime:
    """A runtime like the test's, with its engine or Redis connection replaced."""
    return Runtime.build(
        runtime.settings,
        clock=runtime.clock,
        connection=parts.get("connection", runtime.redis),  # type: ignore[arg-type]
        engine=parts.get("engine", runtime.engine),  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------- /healthz and /readyz


def test_readyz_is_200_when_the_database_and_redis_answer(web):
    response = requests.get(f"{web}/readyz", timeout=5)
    assert response.status_code == 200
    assert response.text == "database: ok\nredis: ok\n"
    assert requests.get(f"{web}/healthz", timeout=5).text == "ok"


def test_readyz_is_503_naming_redis_when_it_is_down(runtime, dead_redis):
    with served(runtime_on(runtime, connection=dead_redis)) as url:
        response = requests.get(f"{url}/readyz", timeout=5)
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200  # the process itself is up
    assert response.status_code == 503
    assert response.text.splitlines() == ["database: ok", "redis: failed (ConnectionError)"]


def test_readyz_is_503_naming_the_database_without_revealing_its_url(runtime):
    closed = make_engine("postgresql+psycopg://ztc:s3cret-pw@127.0.0.1:1/ztc_nowhere")
    with served(runtime_on(runtime, engine=closed)) as url:
        response = requests.get(f"{url}/readyz", timeout=5)
    assert response.status_code == 503
    assert response.text.splitlines() == ["database: failed (OperationalError)", "redis: ok"]
    assert (
        "s3cret" not in response.text
        and "127.0.0.1" not in response.text
        and "ztc_nowhere" not in response.text
    )
    closed.dispose()


def test_readyz_answers_in_time_when_redis_hangs(runtime, silent_port):
    hung = redis.Redis(host="127.0.0.1", port=silent_port, socket_connect_timeout=5, socket_timeout=5)
    started = time.monotonic()
    response = readiness(runtime_on(runtime, connection=hung), timeout=0.3)
    assert time.monotonic() - started < 1.0
    assert response.status_code == 503
    assert response.get_data(as_text=True).splitlines() == ["database: ok", "redis: timed out after 0.3 s"]


# ---------------------------------------------------------------- callbacks by result, latency


def test_callbacks_are_counted_by_endpoint_and_outcome_with_their_latency(platform, web):
    for n in range(3):
        assert platform.send_text("someone_new", "帮助", msg_id=f"8100{n}").status == 200
    assert platform.send_text("someone_new", "帮助", msg_id="81000").status == 200  # WeCom retries one
    xml = text_xml(corp_id=platform.corp_id, user="u1", content="帮助", agent_id=1, create_time=1, msg_id="9")
    body, query = platform.crypto.build_callback_body(xml, "n1", "1700000000", platform.corp_id, 1)
    forged = platform.http.post(
        f"{web}/wecom/callback", params={**query, "msg_signature": "0" * 40}, data=body, timeout=5
    )
    assert forged.status_code == 403
    garbage = platform.http.post(f"{web}/wecom/callback", params=query, data=b"not xml", timeout=5)
    assert garbage.status_code == 400
    assert platform.group_say("gxj_zhou", "chat1", "帮助").status == 200
    requests.get(f"{web}/healthz", timeout=5)  # not a callback: not counted

    samples = scrape(web)
    app = "/wecom/callback"
    assert callbacks(samples, app, "answered") == 3
    assert callbacks(samples, app, "duplicate") == 1
    assert callbacks(samples, app, "refused", "signature") == 1
    assert callbacks(samples, app, "refused", "malformed") == 1
    assert callbacks(samples, "/wecom/aibot", "answered") == 1
    assert value(samples, "ztc_callback_duration_seconds_count", endpoint=app) == 6
    assert value(samples, "ztc_callback_duration_seconds_bucket", endpoint=app, le="5.0") == 6  # the 5 s rule
    assert value(samples, "ztc_callback_duration_seconds_bucket", endpoint=app, le="+Inf") == 6
    assert 0 < (value(samples, "ztc_callback_duration_seconds_sum", endpoint=app) or 0) < 6 * 5
    assert {
        le for (name, labels) in samples if name.endswith("_bucket") for k, le in labels if k == "le"
    } == {
        *(str(b) for b in LATENCY_BUCKETS),
        "+Inf",
    }
    assert not [key for key in samples if ("endpoint", "/healthz") in key[1]]


def test_a_callback_that_crashes_is_counted_as_an_error(platform, web, monkeypatch):
    def crash(self, inbound):
        raise RuntimeError("a bug")

    monkeypatch.setattr("bot.intake.Intake.receive", crash)
    assert platform.send_text("someone_new", "帮助").status == 500
    assert callbacks(scrape(web), "/wecom/callback", "error") == 1


# ---------------------------------------------------------------- outbox and queues


def add_texts(rt: Runtime, count: int, prefix: str) -> list[int]:
    """`count` text rows, committed and queued as a handler's would be; their ids."""
    with session_scope(rt.session_factory) as session:
        writer = OutboxWriter(session, rt.clock)
        for n in range(count):
            writer.add("zhang_san", Text(f"{prefix} {n}"), key=f"metrics-test:{prefix}:{n}")
        rows = writer.scheduled()
    rt.enqueue_rows(rows)
    return [outbox_id for outbox_id, _ in rows]


def test_outbox_depth_and_the_outbox_queue_reflect_waiting_rows(runtime, web):
    ids = add_texts(runtime, 4, "待发")
    with session_scope(runtime.session_factory) as session:  # one became a dead letter
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == ids[0]).values(status=OutboxStatus.FAILED.value)
        )
    time.sleep(0.3)
    samples = scrape(web)
    assert value(samples, "ztc_outbox_messages", status="pending") == 3
    assert value(samples, "ztc_outbox_messages", status="failed") == 1
    assert value(samples, "ztc_outbox_messages", status="sending") == 0
    assert value(samples, "ztc_queue_jobs", queue="outbox") == 4
    assert value(samples, "ztc_queue_jobs", queue="inbound") == 0
    assert (value(samples, "ztc_queue_oldest_job_age_seconds", queue="outbox") or 0) >= 0.25
    assert value(samples, "ztc_queue_oldest_job_age_seconds", queue="inbound") == 0
    assert (
        value(samples, "ztc_up", dependency="database") == 1
        and value(samples, "ztc_up", dependency="redis") == 1
    )

    run_jobs(runtime)
    samples = scrape(web)
    assert value(samples, "ztc_outbox_messages", status="pending") == 0
    assert value(samples, "ztc_queue_jobs", queue="outbox") == 0


def test_a_scrape_with_redis_down_still_reports_the_database_figures(runtime, dead_redis):
    add_texts(runtime, 2, "待发")
    with served(runtime_on(runtime, connection=dead_redis)) as url:
        samples = scrape(url)
    assert value(samples, "ztc_up", dependency="redis") == 0
    assert value(samples, "ztc_up", dependency="database") == 1
    assert value(samples, "ztc_outbox_messages", status="pending") == 2
    assert value(samples, "ztc_queue_jobs", queue="outbox") is None  # unknown, not zero


# ---------------------------------------------------------------- sends by errcode


def test_sends_are_counted_by_errcode_and_every_web_process_reports_the_total(runtime, web, standin):
    standin.inject("message/send", [40058, 45009])
    add_texts(runtime, 3, "通知")
    for _ in range(5):  # the rate-limited row is retried when the clock gets past its backoff
        run_jobs(runtime)
        runtime.clock.advance(minutes=10)  # type: ignore[attr-defined]
    assert len(standin.messages("zhang_san")) == 2  # one permanent failure, two sent (one after a retry)

    with served(runtime_on(runtime)) as other_web:  # another process: the totals live in Redis
        scrapes = [scrape(web), scrape(other_web)]
    for samples in scrapes:
        sent = "ztc_wecom_api_results_total"
        assert value(samples, sent, endpoint="message/send", errcode="0") == 2
        assert value(samples, sent, endpoint="message/send", errcode="40058") == 1
        assert value(samples, sent, endpoint="message/send", errcode="45009") == 1
        assert value(samples, sent, endpoint="gettoken", errcode="0") == 1


def test_a_wecom_api_that_cannot_be_reached_counts_as_transport(runtime, web, standin):
    standin.inject("message/send", [{"http": 502}])
    add_texts(runtime, 1, "通知")
    run_jobs(runtime)
    samples = scrape(web)
    assert value(samples, "ztc_wecom_api_results_total", endpoint="message/send", errcode="transport") == 1


# ---------------------------------------------------------------- overdue work orders


def test_overdue_orders_are_counted_by_the_deadline_they_missed(runtime, web, session, county):  # noqa: F811
    def file(text: str) -> str:
        """The boss files an order at T0 (dispatched to 县工信局, pickup due T0 + 24 h); its number."""
        order = service.file_order(session, county.boss, text, "水电气", "普通", T0).order
        session.commit()
        return order.number

    file("厂区门前路灯坏了，夜间运输不安全。")  # never picked up
    picked = file("园区道路积水严重，货车无法通行。")
    extended = file("供气压力不足，生产线时常停机。")
    service.pick_up(session, county.gxj_wu, picked, T0 + H)
    service.pick_up(session, county.gxj_wu, extended, T0 + H)
    closing.request_extension(session, county.gxj_wu, extended, T0 + 72 * H, "需现场勘测", T0 + 2 * H)
    closing.decide_extension(session, county.leader, extended, True, T0 + 3 * H)
    session.commit()

    runtime.clock.set(T0 + 23 * H)  # type: ignore[attr-defined]
    samples = scrape(web)
    assert value(samples, "ztc_orders_overdue", deadline="pickup") == 0
    assert value(samples, "ztc_orders_overdue", deadline="solve") == 0

    runtime.clock.set(T0 + 26 * H)  # type: ignore[attr-defined]
    samples = scrape(web)
    assert value(samples, "ztc_orders_overdue", deadline="pickup") == 1  # never picked up
    assert value(samples, "ztc_orders_overdue", deadline="solve") == 1  # picked up, not solved in 24 h

    closing.resolve(session, county.gxj_wu, picked, "已排水", T0 + 26 * H)
    session.commit()
    samples = scrape(web)
    assert value(samples, "ztc_orders_overdue", deadline="solve") == 0  # resolved: nobody is chased
    runtime.clock.set(T0 + 80 * H)  # type: ignore[attr-defined]
    assert value(scrape(web), "ztc_orders_overdue", deadline="solve") == 1  # the 延期 ran out too

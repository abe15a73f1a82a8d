"""/metrics and /readyz of a real `ztc web` (gunicorn, 2 sync workers) beside a real `ztc worker`.

What an operator relies on: whichever gunicorn worker answers the scrape, it reports the callbacks
of all of them; a worker that gunicorn replaces takes none of the counts with it; the sends of the
RQ worker (another process) are reported by the web; and the per-start metrics directory is gone
when the web process stops. Each worker's own share is read from its file in that directory (found
through /proc: Linux), to show that both workers answered callbacks and the scrape summed them.
"""

from __future__ import annotations

import os
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import E2E, START_TIMEOUT, wait_until

pytestmark = pytest.mark.e2e

RUNHE = "93371526MA37GY375E"  # 示范县润禾种植专业合作社 (FGJ: fgj_chen, fgj_liu); zhou_min is not bound
CALLBACKS = 24
CALLBACK = "/wecom/callback"
STOP_GRACE = 60.0  # seconds: a worker still loading the app (a loaded CI machine) delays the stop


def scrape(e2e: E2E) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """One scrape of the web process: {(sample, labels): value}."""
    response = requests.get(f"{e2e.web_url}/metrics", timeout=10)
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def answered(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], outcome: str = "answered"
) -> float:
    labels = frozenset({"endpoint": CALLBACK, "outcome": outcome, "reason": ""}.items())
    return samples.get(("ztc_callbacks_total", labels), 0.0)


def web_workers(e2e: E2E) -> set[int]:
    """The pids of the gunicorn workers (children of the `ztc web` process, its master)."""
    master = e2e.stack.children["web"].pid
    workers = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == master:  # ppid
            workers.add(int(stat.parent.name))
    return workers


def _counts(worker: int) -> bool:
    """Whether a worker has counted anything yet (and so mapped its metric files)."""
    return "/ztc-metrics-" in Path(f"/proc/{worker}/maps").read_text()


def metrics_dir(worker: int) -> Path:
    """The directory a worker writes its metric files to: the one it has memory-mapped."""
    for line in Path(f"/proc/{worker}/maps").read_text().splitlines():
        path = line.split()[-1]
        if "/ztc-metrics-" in path and path.endswith(".db"):
            return Path(path).parent
    raise AssertionError(f"worker {worker} maps no metric file")


def counted_by(worker: int, directory: Path, tmp_path: Path) -> float:
    """The callbacks one worker counted: its counter file alone, read as a scrape would read it."""
    alone = tmp_path / str(worker)
    alone.mkdir()
    shutil.copy(directory / f"counter_{worker}.db", alone)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(alone))
    return sum(
        s.value
        for family in registry.collect()
        if family.name == "ztc_callbacks"
        for s in family.samples
        if s.name == "ztc_callbacks_total" and s.labels["endpoint"] == CALLBACK
    )


def test_the_web_is_ready_with_both_dependencies(e2e: E2E) -> None:
    response = requests.get(f"{e2e.web_url}/readyz", timeout=5)
    assert response.status_code == 200 and response.text == "database: ok\nredis: ok\n"


def test_every_scrape_reports_the_callbacks_of_both_workers(e2e: E2E, tmp_path: Path) -> None:
    def whoami(n: int) -> int:
        return e2e.platform().send_text("zhang_wei", "我是谁", msg_id=f"6600{n}").status

    with ThreadPoolExecutor(max_workers=8) as pool:  # concurrent, so both sync workers take some
        assert set(pool.map(whoami, range(CALLBACKS))) == {200}
    assert e2e.platform().send_text("zhang_wei", "我是谁", msg_id="66000").status == 200  # a retry

    for _ in range(6):  # each scrape may reach either worker: all agree on the total
        samples = scrape(e2e)
        assert answered(samples) == CALLBACKS
        assert answered(samples, "duplicate") == 1
        count = frozenset({"endpoint": CALLBACK}.items())
        assert samples[("ztc_callback_duration_seconds_count", count)] == CALLBACKS + 1

    workers = web_workers(e2e)
    assert len(workers) == 2
    directory = metrics_dir(next(iter(workers)))
    shares = {worker: counted_by(worker, directory, tmp_path) for worker in workers}
    assert all(shares.values()), shares  # both answered some…
    assert sum(shares.values()) == CALLBACKS + 1  # …and the scrape is their sum


def test_a_replaced_worker_takes_none_of_the_counts_with_it(e2e: E2E) -> None:
    before = answered(scrape(e2e))
    assert before >= CALLBACKS
    workers = web_workers(e2e)
    victim = min(workers)
    os.kill(victim, signal.SIGTERM)  # gunicorn starts another in its place
    wait_until(
        lambda: len(web_workers(e2e) - workers) == 1 and victim not in web_workers(e2e),
        "gunicorn to replace the worker", timeout=START_TIMEOUT, check=e2e.check,
    )  # fmt: skip
    wait_until(lambda: requests.get(f"{e2e.web_url}/healthz", timeout=5).ok, "the web", timeout=START_TIMEOUT)
    for _ in range(4):
        assert answered(scrape(e2e)) == before


def test_the_rq_workers_sends_are_reported_by_the_web(e2e: E2E) -> None:
    delivery = e2e.platform().send_text("zhou_min", f"绑定 {RUNHE} 周敏")
    assert delivery.status == 200  # the worker then sends a card to each official of 县发改局
    wait_until(
        lambda: e2e.standin.messages("fgj_chen") and e2e.standin.messages("fgj_liu"),
        "the approval cards", timeout=15, check=e2e.check,
    )  # fmt: skip
    sent = frozenset({"endpoint": "message/send", "errcode": "0"}.items())
    assert scrape(e2e)[("ztc_wecom_api_results_total", sent)] >= 2
    samples = scrape(e2e)
    assert samples[("ztc_up", frozenset({"dependency": "redis"}.items()))] == 1
    assert samples[("ztc_up", frozenset({"dependency": "database"}.items()))] == 1
    assert ("ztc_queue_jobs", frozenset({"queue": "outbox"}.items())) in samples


def test_the_metrics_directory_is_removed_when_the_web_stops(e2e: E2E) -> None:
    # A worker maps its file at its first count; one that gunicorn just started may have none yet.
    assert e2e.platform().send_text("zhang_wei", "我是谁").status == 200
    directory = next(metrics_dir(w) for w in web_workers(e2e) if _counts(w))
    assert directory.is_dir()
    master = e2e.stack.children["web"]
    master.send_signal(signal.SIGTERM)  # a graceful stop, waited for however long a busy machine takes
    assert master.wait(timeout=STOP_GRACE) == 0
    e2e.stack.stop("web")  # (already gone: only marks it as stopped on purpose)
    assert not directory.exists()

"""The bot as separate processes, as production runs it, seen from the people who use it.

WeCom is played by `WeComPlatform` (encrypted callbacks into `ztc web`) and by `ztc standin`
(the API the worker sends through, which records what each person received). The demo county
(bot/demo/*.csv) is the cast: zhang_wei is a bound enterprise contact, zhou_min is not yet bound
to her co-op, fgj_chen and fgj_liu are officials of its 包联部门 (县发改局).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring
from rq.cron import CronScheduler, get_cron_job_ids
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from bot.models import EnterpriseMember, InboundMessage, OutboxMessage, Person
from bot.standin.platform import Delivery
from jobs.schedule import SCHEDULE
from tests.e2e.conftest import CRONS, E2E, wait_until

pytestmark = pytest.mark.e2e

RUNHE = "93371526MA37GY375E"  # 示范县润禾种植专业合作社 (FGJ); members.csv does not bind zhou_min
DERUN = "91371526084194550G"  # 示范县德润热电有限公司 (FGJ)
LVYUAN = "91371526MA3NUQCUX7"  # 示范县绿源环保科技有限公司 (FGJ)
TONGXIN = "91371526654208345B"  # 示范县同心纸业有限公司 (GXJ: gxj_zhou, gxj_wu)
HUATAI = "913715263881078585"  # 示范县华泰机械制造有限公司 (KFQ: kfq_deng, kfq_xu)
FGJ = ("fgj_chen", "fgj_liu")

DELIVERY_TIMEOUT = 15.0  # seconds for the worker to get a message out
SETTLE = 1.0  # after the expected message arrived: time for a duplicate to show up
CRON_WINDOW = 25.0  # how long the two cron processes run before their work is checked


# ---------------------------------------------------------------- what people see


def reply_text(delivery: Delivery) -> str:
    """The passive text reply of one callback (decrypted: the web process encrypted it)."""
    assert delivery.status == 200, delivery.body[:300]
    assert delivery.reply is not None, "expected a passive reply, got an empty 200"
    root = fromstring(delivery.reply)
    assert root.findtext("MsgType") == "text", delivery.reply
    return root.findtext("Content") or ""


def member_id_in(answer: str) -> int:
    """The binding request number in 「已提交绑定申请（编号 B12）…」."""
    found = re.search(r"编号 B(\d+)", answer)
    assert found, answer
    return int(found.group(1))


def binding_cards(e2e: E2E, user: str, member_id: int) -> list[dict[str, Any]]:
    """The approval cards for one binding request that reached `user`."""
    key = f"bind:ok:{member_id}"
    return [
        m
        for m in e2e.standin.messages(user)
        if m["msgtype"] == "template_card"
        and any(b["key"] == key for b in m["body"]["template_card"].get("button_list", []))
    ]


def texts(e2e: E2E, user: str) -> list[str]:
    """The text messages pushed to `user`."""
    return [m["body"]["text"]["content"] for m in e2e.standin.messages(user) if m["msgtype"] == "text"]


def button(card: dict[str, Any], label: str) -> dict[str, Any]:
    return next(b for b in card["body"]["template_card"]["button_list"] if b["text"] == label)


def click(e2e: E2E, user: str, card: dict[str, Any], label: str) -> str:
    """`user` presses a button of a card he received; the passive answer."""
    key, task_id, code = button(card, label)["key"], card["task_id"], card["response_code"]
    delivery = e2e.platform().click(user, event_key=key, task_id=task_id, response_code=code)
    return reply_text(delivery)


def each_exactly_once(
    e2e: E2E, expected: Iterable[tuple[str, int]], what: Callable[[E2E, str, int], list[dict[str, Any]]]
) -> dict[tuple[str, int], dict[str, Any]]:
    """Wait until every (user, member) got its message, then check none came twice."""
    expected = list(expected)
    wait_until(
        lambda: all(what(e2e, user, member) for user, member in expected),
        f"messages for {expected}", timeout=DELIVERY_TIMEOUT, check=e2e.check,
    )  # fmt: skip
    time.sleep(SETTLE)
    got = {(user, member): what(e2e, user, member) for user, member in expected}
    assert {k: len(v) for k, v in got.items()} == dict.fromkeys(expected, 1)
    return {k: v[0] for k, v in got.items()}


def count(e2e: E2E, query: Any) -> int:
    with e2e.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


# ---------------------------------------------------------------- 1. passive answers


def test_help_and_whoami_are_answered_passively_and_encrypted(e2e: E2E) -> None:
    platform = e2e.platform()
    started = time.monotonic()
    help_text = reply_text(platform.send_text("zhang_wei", "帮助"))
    assert time.monotonic() - started < 3.0  # well inside WeCom's 5 s
    assert "政企直通车 · 可用命令" in help_text and "我是谁" in help_text

    who = reply_text(platform.send_text("zhang_wei", "我是谁"))
    assert "姓名：张伟" in who
    assert "企业：示范县鑫源食品有限公司（已确认）" in who
    assert e2e.standin.messages("zhang_wei") == []  # all of it passive: nothing through the API


# ---------------------------------------------------------------- 2. a binding, approved by card


def test_a_binding_request_is_approved_on_a_card_through_the_worker(e2e: E2E) -> None:
    platform = e2e.platform()
    answer = reply_text(platform.send_text("zhou_min", f"绑定 {RUNHE} 周敏"))
    assert "已提交绑定申请" in answer and "示范县润禾种植专业合作社" in answer and "县发改局" in answer
    member = member_id_in(answer)

    # The real worker pushes one approval card to each official of the 包联部门.
    cards = each_exactly_once(e2e, [(user, member) for user in FGJ], binding_cards)
    chen, liu = cards["fgj_chen", member], cards["fgj_liu", member]
    assert chen["body"]["template_card"]["main_title"]["title"] == "企业绑定申请"

    decided = click(e2e, "fgj_chen", chen, "同意")
    assert decided == f"已同意绑定申请 B{member}：周敏 — 示范县润禾种植专业合作社。"

    approved = lambda e2e, user, _: [t for t in texts(e2e, user) if "申请已通过" in t]  # noqa: E731
    notice = each_exactly_once(e2e, [("zhou_min", member)], approved)["zhou_min", member]
    assert "「示范县润禾种植专业合作社」" in notice and "陈国强" in notice

    # fgj_chen's card now shows 已同意 instead of the buttons.
    updates = [u for u in e2e.standin.updates() if u["body"]["response_code"] == chen["response_code"]]
    assert [u["body"]["button"] for u in updates] == [{"replace_name": "已同意"}]

    # fgj_liu presses 同意 on his (stale) card afterwards: told, his card retired, nothing twice.
    late = click(e2e, "fgj_liu", liu, "同意")
    assert "已被处理" in late
    time.sleep(SETTLE)
    assert len(approved(e2e, "zhou_min", member)) == 1
    retired = [u for u in e2e.standin.updates() if u["body"]["response_code"] == liu["response_code"]]
    assert [u["body"]["button"] for u in retired] == [{"replace_name": "已处理"}]

    who = reply_text(platform.send_text("zhou_min", "我是谁"))
    assert "企业：示范县润禾种植专业合作社（已确认）" in who


# ---------------------------------------------------------------- 3. WeCom's retries


def test_a_callback_delivered_four_times_at_once_acts_once(e2e: E2E) -> None:
    msg_id = f"e2e{time.time_ns()}"

    def deliver(_: int) -> Delivery:
        # Each retry on its own connection, all at once: gunicorn's two workers race for it.
        return e2e.platform().send_text("e2e_dup_boss", f"绑定 {DERUN} 刘总", msg_id=msg_id)

    with ThreadPoolExecutor(max_workers=4) as pool:
        deliveries = list(pool.map(deliver, range(4)))
    assert [d.status for d in deliveries] == [200] * 4
    # A retry that arrives while the first is still being handled gets an empty 200.
    answers = {reply_text(d) for d in deliveries if d.reply is not None}
    assert len(answers) == 1, answers
    member = member_id_in(answers.pop())

    each_exactly_once(e2e, [(user, member) for user in FGJ], binding_cards)
    assert count(e2e, select(func.count()).where(InboundMessage.dedup_key == f"wecom:msg:{msg_id}")) == 1
    bindings = (
        select(func.count())
        .select_from(EnterpriseMember)
        .join(Person, EnterpriseMember.person_id == Person.id)
        .where(Person.wecom_userid == "e2e_dup_boss")
    )
    assert count(e2e, bindings) == 1


# ---------------------------------------------------------------- 4. a worker that dies


def test_messages_queued_while_the_worker_is_down_arrive_once_after_it_restarts(e2e: E2E) -> None:
    e2e.stack.kill("worker")
    platform = e2e.platform()
    # People keep writing: the web process answers them without a worker.
    first = member_id_in(reply_text(platform.send_text("e2e_late_a", f"绑定 {LVYUAN} 钱总")))
    second = member_id_in(reply_text(platform.send_text("e2e_late_b", f"绑定 {TONGXIN} 孙总")))
    expected = [("fgj_chen", first), ("fgj_liu", first), ("gxj_zhou", second), ("gxj_wu", second)]

    time.sleep(SETTLE)
    assert not any(binding_cards(e2e, user, member) for user, member in expected)

    e2e.start_worker()
    each_exactly_once(e2e, expected, binding_cards)


def test_a_worker_killed_in_the_middle_of_a_send_does_not_send_twice(e2e: E2E) -> None:
    # The next message/send answers after 3 s: the worker is killed while waiting for it.
    sends_before = e2e.standin.calls("message/send")
    e2e.standin.inject("message/send", [{"sleep": 3}])
    member = member_id_in(reply_text(e2e.platform().send_text("e2e_kill_boss", f"绑定 {HUATAI} 吴总")))
    wait_until(lambda: e2e.standin.calls("message/send") > sends_before, "the worker to start sending",
               timeout=DELIVERY_TIMEOUT, check=e2e.check)  # fmt: skip
    e2e.stack.kill("worker")
    e2e.start_worker()  # as a supervisor would

    # The interrupted send still reached WeCom; the restarted worker sends the other card.
    each_exactly_once(e2e, [("kfq_deng", member), ("kfq_xu", member)], binding_cards)
    rows = select(OutboxMessage.status).where(OutboxMessage.idempotency_key.like(f"bind:{member}:%"))
    with e2e.engine.connect() as conn:
        statuses = sorted(conn.scalars(rows))
    # The killed send's row keeps its 2-minute lease; then the sweeper resends it and WeCom's
    # duplicate check drops the repeat (not waited for here).
    assert statuses == ["sending", "sent"]


# ---------------------------------------------------------------- 5. two cron processes


@pytest.mark.skipif(os.environ.get("ZTC_FAST") == "1", reason="ZTC_FAST=1: skip the 25 s two-cron run")
def test_two_cron_processes_start_each_periodic_run_once(e2e: E2E) -> None:
    remaining = CRON_WINDOW - (time.monotonic() - e2e.crons_started)
    if remaining > 0:
        time.sleep(remaining)
    assert len(CronScheduler.all(e2e.redis)) == len(CRONS)

    # Both crons enqueue `tick` at start and every 20 s: at least four ticks in 25 s.
    tick_ids = wait_until(
        lambda: (ids := get_cron_job_ids("jobs.schedule.tick", e2e.redis)) and len(ids) >= 4 and ids,
        "four ticks from two cron processes", timeout=5, check=e2e.check,
    )  # fmt: skip
    ticks = wait_until(lambda: _finished(e2e, tick_ids), "the ticks to run", timeout=10, check=e2e.check)
    started = Counter(run_id for job in ticks for run_id in job.return_value() or [])

    assert started and set(started.values()) == {1}, started  # each run started by one tick only
    claims = {key.decode().removeprefix("ztc:") for key in e2e.redis.scan_iter("ztc:cron-*")}
    assert claims == set(started)

    zone = e2e.settings.zone
    now = datetime.now(zone).replace(second=0, microsecond=0, tzinfo=None)
    for periodic in (p for p in SCHEDULE if p.cron == "* * * * *"):  # the ones due in any 25 s
        prefix = f"cron-{periodic.name}-"
        stamps = [run_id.removeprefix(prefix) for run_id in started if run_id.startswith(prefix)]
        minutes = sorted(datetime.strptime(stamp, "%Y%m%dT%H%M") for stamp in stamps)  # noqa: DTZ007 - local
        assert len(minutes) >= 2, minutes  # the first tick catches up the previous minute
        assert minutes == [minutes[0] + timedelta(minutes=i) for i in range(len(minutes))]  # no gaps
        assert now - timedelta(minutes=1) <= minutes[-1] <= now  # stamped in local time (TZ)

    runs = wait_until(lambda: _finished(e2e, list(started)), "the periodic runs", timeout=10, check=e2e.check)
    assert [len(job.results()) for job in runs] == [1] * len(runs)  # each ran once


def _finished(e2e: E2E, job_ids: list[str]) -> list[Job] | None:
    jobs = Job.fetch_many(job_ids, connection=e2e.redis)
    if all(job is not None and job.get_status() == JobStatus.FINISHED for job in jobs):
        return [job for job in jobs if job is not None]
    return None


# ---------------------------------------------------------------- over the whole run


def test_nobody_received_anything_twice(e2e: E2E) -> None:
    messages = e2e.standin.messages()
    if not messages:
        pytest.skip("checks what the scenarios above sent; run them too")
    seen = Counter((m["touser"], json.dumps(m["body"], sort_keys=True)) for m in messages)
    assert [k for k, n in seen.items() if n > 1] == []
    assert e2e.standin.suppressed() == []  # not even a repeat the platform had to drop

"""The issue's acceptance story, end to end through the encrypted webhook on a fixed clock.

张伟 files a 用地 request; 县工信局 (the 包联部门) hands it on by 转办; 县自然资源局 picks it up,
misses the 24-hour solve deadline and is warned, pressed, escalated to its head and to the
overseeing leader; it resolves, the enterprise is 不满意, the order comes back for 返工, is picked
up and resolved again, and 满意 closes it. Each person must read exactly their messages, once,
and the register's figures must say what happened.

The second test tells the same story with a real worker process SIGKILLed in the middle of a send,
then "restarted" the way production recovers (lease, sweepers): nothing is lost, nothing is seen
twice. The third checks that a card whose button asks a question first (转办, 退回) is relabelled
once the answer succeeds, as every other clicked card is.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from bot.clock import FixedClock
from bot.models import OutboxMessage, Oversight, Person, Role
from bot.outbox import LEASE, SWEEP_GRACE
from bot.runtime import Runtime
from bot.standin.platform import WeComPlatform
from bot.standin.server import StandinServer
from handlers.complaints import queries
from handlers.complaints.figures import DepartmentFigures, Rate, department_figures
from handlers.complaints.models import Action
from jobs import inbound as inbound_jobs
from jobs import orders as order_jobs
from jobs import outbox as outbox_jobs
from jobs import runtime as job_runtime
from tests import builders
from tests.complaints.conftest import County
from tests.conftest import T0, run_jobs
from tests.stories import passive_text, reads, summary

H = timedelta(hours=1)
NUMBER = "S2611-0001"
FIRM = "示范县鑫源食品有限公司"
SLOW_SEND = 2.0  # seconds the stand-in holds a message/send while the worker is to be killed


# ---------------------------------------------------------------- the stage


@pytest.fixture
def cast(county: County, session) -> County:
    """The County, plus a head for 县自然资源局, a second leader, and leader_wang's 分管 of 自然资源局."""
    builders.person(session, "zrzyj_zhao", Role.OFFICIAL, "赵永强", department=county.zrzyj, is_head=True)
    builders.person(session, "leader_li", Role.LEADER, "李县长")  # oversees nothing here
    session.add(Oversight(leader_id=county.leader.id, department_id=county.zrzyj.id))
    session.commit()
    return county


@dataclass
class Story:
    """The people's side of the story: what they type and click, and what they read back."""

    platform: WeComPlatform
    runtime: Runtime
    standin: StandinServer
    seen: int = 0  # the stand-in's last delivery already looked at

    def at(self, hours: float) -> None:
        """Let time pass until T0 + `hours` (the fixed clock only moves forward)."""
        clock = self.runtime.clock
        assert isinstance(clock, FixedClock)
        ahead = T0 + hours * H - clock.now()
        assert ahead >= timedelta(0), f"the story cannot go back to T0+{hours}h"
        clock.advance(seconds=ahead.total_seconds())

    def news(self) -> dict[str, list[str]]:
        """What each person received since the last look: 'card: <title>' or 'text: <content>'."""
        fresh = [m for m in self.standin.messages() if m["seq"] > self.seen]
        self.seen = max((m["seq"] for m in fresh), default=self.seen)
        received: dict[str, list[str]] = {}
        for message in fresh:
            received.setdefault(message["touser"], []).append(summary(message))
        return received


# ---------------------------------------------------------------- what people do


def types(story: Story, user: str, text: str) -> str:
    """`user` types `text` in the app's chat; the bot's immediate answer."""
    return passive_text(story.platform.send_text(user, text))


def enterprise_files(story: Story, user: str, text: str) -> str:
    """The enterprise files a request in one line; the bot's immediate answer."""
    return types(story, user, text)


def clicks(story: Story, user: str, button: str, *, on: str) -> str:
    """`user` clicks `button` on the latest card titled with `on` he received; the immediate answer."""
    cards = [
        m
        for m in story.standin.messages(user)
        if m["msgtype"] == "template_card" and on in m["body"]["template_card"]["main_title"]["title"]
    ]
    assert cards, f"{user} has no card「{on}」"
    card = cards[-1]
    key = next(b["key"] for b in card["body"]["template_card"]["button_list"] if b["text"] == button)
    delivery = story.platform.click(
        user, event_key=key, task_id=card["task_id"], response_code=card["response_code"]
    )
    return passive_text(delivery)


# ---------------------------------------------------------------- the story


def the_story(story: Story, deliver_after_transfer: Callable[[Story], None]) -> None:
    """Filing → 转办 → 接单 → 催办/督办 → 办结 → 不满意 → 返工 → 接单 → 办结 → 满意 (销号)."""
    rt = story.runtime
    late = f"诉求 {NUMBER}（{FIRM}）已超过办结时限（2026-11-25 11:30）"

    # T0 (11-24 09:30): 张伟 files; 县工信局, his 包联部门, gets the order.
    filed = enterprise_files(story, "zhang_wei", "诉求 用地 紧急 厂房扩建用地手续三个月未批")
    assert filed.startswith(f"诉求已受理，单号 {NUMBER}。\n已派至县工信局，将于 2026-11-25 09:30 前接单。"), (
        filed
    )
    run_jobs(rt)
    reads(
        story.news(),
        {
            "zhang_wei": ["card: 诉求已受理"],
            "gxj_zhou": ["card: 新诉求待接单"],
            "gxj_wu": ["card: 新诉求待接单"],
        },
    )

    # T0+1h: 吴晓燕 clicks 转办 and names 自然资源局; the clocks keep running.
    story.at(1)
    assert "「用地」类诉求一般由县自然资源局办理" in clicks(story, "gxj_wu", "转办", on="新诉求待接单")
    assert (
        types(story, "gxj_wu", "县自然资源局 用地归口")
        == f"已将诉求 {NUMBER} 转办至县自然资源局，原时限不变。"
    )
    deliver_after_transfer(story)
    reads(
        story.news(),
        {
            "zrzyj_ma": ["card: 县工信局转办诉求待接单", "text: 转办理由：用地归口"],
            "zrzyj_zhao": ["card: 县工信局转办诉求待接单", "text: 转办理由：用地归口"],
            "zhang_wei": ["text: 您的诉求 S2611-0001 已由县工信局转至县自然资源局办理，办理时限不变。"],
        },
    )

    # T0+2h: 马建国 picks it up on his card: 24 h to solve it, until 11-25 11:30.
    story.at(2)
    taken = clicks(story, "zrzyj_ma", "接单", on="转办诉求待接单")
    assert taken == f"已接单：诉求 {NUMBER}（{FIRM}）。请于 2026-11-25 11:30 前办结。"
    run_jobs(rt)
    reads(
        story.news(), {"zhang_wei": ["text: 已由县自然资源局（马建国）接单，承诺于 2026-11-25 11:30 前办结"]}
    )

    # T0+24h: 2 h before the solve deadline the holders are warned (催办).
    story.at(24)
    run_jobs(rt)
    warning = f"text: ⏰ 诉求 {NUMBER}（{FIRM}）将于 2026-11-25 11:30 到达办结时限"
    reads(story.news(), {"zrzyj_ma": [warning], "zrzyj_zhao": [warning]})

    # T0+26h, +28h, +30h: the deadline passes; the holders, then the head, then the leader hear it.
    story.at(26)
    run_jobs(rt)
    reads(
        story.news(),
        {"zrzyj_ma": [f"text: ⚠️ {late}，请抓紧办理"], "zrzyj_zhao": [f"text: ⚠️ {late}，请抓紧办理"]},
    )
    story.at(28)
    run_jobs(rt)
    reads(story.news(), {"zrzyj_zhao": [f"text: ⚠️ {late}，已超时2小时，县自然资源局尚未办结，请督促办理。"]})
    story.at(30)
    run_jobs(rt)
    reads(story.news(), {"leader_wang": ["card: 诉求超时未办结，请督办"]})  # his 分管; 李县长 is not told

    # T0+31h: 办结, late; 张伟 is asked to sign it off.
    story.at(31)
    assert types(story, "zrzyj_ma", f"办结 {NUMBER} 已完成用地预审，材料已报省厅") == (
        f"诉求 {NUMBER} 已办结，已请企业签单评价。"
    )
    run_jobs(rt)
    reads(story.news(), {"zhang_wei": ["card: 诉求已办结，请评价"]})

    # T0+32h: 张伟 is not satisfied and says why: 返工, with fresh clocks, to the same department.
    story.at(32)
    assert "请简要说明原因" in clicks(story, "zhang_wei", "不满意", on="请评价")
    assert types(story, "zhang_wei", "只是报上去了，指标还没批下来") == (
        f"已收到您的评价（不满意）。诉求 {NUMBER} 已退回县自然资源局重新办理。"
    )
    run_jobs(rt)
    rework = "card: 企业不满意，诉求返工（第1次）"
    reads(story.news(), {"zrzyj_ma": [rework], "zrzyj_zhao": [rework]})

    # T0+33h: 马建国 picks up the 返工 card; T0+40h 办结; T0+41h 张伟: 满意, and it is closed.
    story.at(33)
    taken = clicks(story, "zrzyj_ma", "接单", on="返工")
    assert taken == f"已接单：诉求 {NUMBER}（{FIRM}）。请于 2026-11-26 18:30 前办结。"
    run_jobs(rt)
    reads(
        story.news(), {"zhang_wei": ["text: 已由县自然资源局（马建国）接单，承诺于 2026-11-26 18:30 前办结"]}
    )
    story.at(40)
    types(story, "zrzyj_ma", f"办结 {NUMBER} 用地指标已批复，批文已送达企业")
    run_jobs(rt)
    reads(story.news(), {"zhang_wei": ["card: 诉求已办结，请评价"]})
    story.at(41)
    assert clicks(story, "zhang_wei", "满意", on="请评价") == f"感谢您的评价（满意）！诉求 {NUMBER} 已销号。"
    run_jobs(rt)
    closed = f"text: 企业已评价诉求 {NUMBER}：满意。诉求已销号。"
    reads(story.news(), {"zrzyj_ma": [closed], "zrzyj_zhao": [closed]})

    # A week later: a closed order nags nobody (stale alarm jobs and the sweeper find nothing to send).
    story.at(7 * 24)
    order_jobs.sweep()
    run_jobs(rt)
    reads(story.news(), {})


# What each person has read at the end of the story, in order: each message once.
EVERYONE_READ = {
    "zhang_wei": [
        "card: 诉求已受理",
        "text: 您的诉求 S2611-0001 已由县工信局转至县自然资源局办理",
        "text: 您的诉求 S2611-0001 已由县自然资源局（马建国）接单，承诺于 2026-11-25 11:30 前办结",
        "card: 诉求已办结，请评价",
        "text: 您的诉求 S2611-0001 已由县自然资源局（马建国）接单，承诺于 2026-11-26 18:30 前办结",
        "card: 诉求已办结，请评价",
    ],
    "gxj_zhou": ["card: 新诉求待接单"],
    "gxj_wu": ["card: 新诉求待接单"],
    "zrzyj_ma": [
        "card: 县工信局转办诉求待接单",
        "text: 诉求 S2611-0001 转办理由：用地归口",
        "text: ⏰",
        "text: ⚠️ 诉求 S2611-0001（示范县鑫源食品有限公司）已超过办结时限（2026-11-25 11:30），请抓紧办理",
        "card: 企业不满意，诉求返工（第1次）",
        "text: 企业已评价诉求 S2611-0001：满意",
    ],
    "zrzyj_zhao": [
        "card: 县工信局转办诉求待接单",
        "text: 诉求 S2611-0001 转办理由：用地归口",
        "text: ⏰",
        "text: ⚠️ 诉求 S2611-0001（示范县鑫源食品有限公司）已超过办结时限（2026-11-25 11:30），请抓紧办理",
        "text: ⚠️ 诉求 S2611-0001（示范县鑫源食品有限公司）已超过办结时限（2026-11-25 11:30），已超时2小时",
        "card: 企业不满意，诉求返工（第1次）",
        "text: 企业已评价诉求 S2611-0001：满意",
    ],
    "leader_wang": ["card: 诉求超时未办结，请督办"],
}
# The card buttons clicked, relabelled once each (转办 and 不满意 once their question is answered).
CARD_LABELS = ["已转办", "已接单", "已评价：不满意", "已接单", "已评价：满意"]


def everyone_read_each_message_once(standin: StandinServer) -> None:
    """The whole story's deliveries, person by person, plus the relabelled cards."""
    got: dict[str, list[str]] = {}
    for message in standin.messages():
        got.setdefault(message["touser"], []).append(summary(message))
    reads(got, EVERYONE_READ)  # wang_fang, li_na, 周敏, 李明, admin and 李县长 read nothing
    assert card_labels(standin) == CARD_LABELS
    rework_cards = [m for m in standin.messages("zrzyj_ma") if "返工" in summary(m)]
    fields = {
        f["keyname"]: f["value"] for f in rework_cards[0]["body"]["template_card"]["horizontal_content_list"]
    }
    assert fields["返工次数"] == "1" and fields["接单时限"] == "2026-11-26 17:30"


def card_labels(standin: StandinServer) -> list[str]:
    """The new labels of the cards relabelled after a click, in order."""
    return [u["body"]["button"]["replace_name"] for u in standin.updates()]


def nothing_left_in_the_outbox(session_factory) -> None:
    """Every outbound row was sent: none pending, sending or dead-lettered."""
    with session_factory() as s:
        assert set(s.scalars(select(OutboxMessage.status))) == {"sent"}


def the_register_shows_the_ladder(session_factory, county: County) -> None:
    """The 催办 and the three 督办 rungs are in the order's history, with who was told."""
    with session_factory() as s:
        leader = s.get(Person, county.leader.id)
        _, events = queries.history(s, leader, NUMBER)
        alarms = [
            (e.action, e.data["rung"], e.data["to"], e.at - T0)
            for e in events
            if e.action in (Action.REMIND, Action.ESCALATE)
        ]
    assert alarms == [
        ("remind", "solve.warn", ["zrzyj_ma", "zrzyj_zhao"], 24 * H),
        ("escalate", "solve.overdue", ["zrzyj_ma", "zrzyj_zhao"], 26 * H),
        ("escalate", "solve.head", ["zrzyj_zhao"], 28 * H),
        ("escalate", "solve.leader", ["leader_wang"], 30 * H),
    ]


def the_figures_say_what_happened(session_factory, county: County) -> None:
    """The register's rates for the two days of the story (a period that has ended)."""
    with session_factory() as s:
        figures = {f.department: f for f in department_figures(s, T0, T0 + 48 * H)}
    assert sorted(figures) == ["县工信局", "县自然资源局"]

    def rates(f: DepartmentFigures) -> dict[str, Rate]:
        return {
            "响应率": f.response_rate,
            "解决率": f.solve_rate,
            "满意率": f.satisfaction_rate,
            "退回率": f.return_rate,
            "返工率": f.rework_rate,
        }

    # 自然资源局: two arrivals (the 转办, the 返工), both picked up in time; of two pickups the first
    # was solved 5 h late, the second in time; one 不满意 and one 满意 for its two 办结.
    assert rates(figures["县自然资源局"]) == {
        "响应率": Rate(2, 2),
        "解决率": Rate(1, 2),
        "满意率": Rate(1, 2),
        "退回率": Rate(0, 2),
        "返工率": Rate(1, 2),
    }
    # 工信局 answered its one arrival in time by 转办 (a legitimate response, not a 退回), and is
    # charged with nothing it did not hold: no pickup to solve, no rating, no 返工.
    assert rates(figures["县工信局"]) == {
        "响应率": Rate(1, 1),
        "解决率": Rate(0, 0),
        "满意率": Rate(0, 0),
        "退回率": Rate(0, 1),
        "返工率": Rate(0, 0),
    }
    assert figures["县自然资源局"].response_rate.percent == "100.0%"
    assert figures["县工信局"].solve_rate.percent == "—"


# ---------------------------------------------------------------- 1. the story


def test_the_whole_story_through_the_webhook_each_person_reads_each_message_once(
    platform, runtime, standin, session_factory, cast
):
    """Every step reaches exactly the right people once, and the figures come out as the story says."""
    story = Story(platform, runtime, standin)
    the_story(story, run_jobs_now)

    everyone_read_each_message_once(standin)
    assert standin.suppressed() == []  # not even a repeat that WeCom had to drop
    nothing_left_in_the_outbox(session_factory)
    the_register_shows_the_ladder(session_factory, cast)
    the_figures_say_what_happened(session_factory, cast)


def run_jobs_now(story: Story) -> None:
    """A healthy worker: the queued jobs run at once."""
    run_jobs(story.runtime)


# ---------------------------------------------------------------- 2. a worker killed mid-send


def start_worker_process(runtime: Runtime) -> int:
    """Fork a real RQ worker (burst) on the same settings, database, Redis and clock; its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child: its own connections, never the parent's
        runtime.engine.dispose(close=False)
        child = Runtime.build(runtime.settings, clock=runtime.clock, engine=runtime.engine)
        job_runtime.install(child)
        SimpleWorker(child.queues.all(), connection=child.redis).work(burst=True, with_scheduler=False)
        code = 0
    finally:
        os._exit(code)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll until `condition` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def statuses(runtime: Runtime) -> list[str]:
    """The outbox rows' statuses, in id order."""
    with runtime.session_factory() as s:
        return list(s.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


def worker_killed_mid_send_then_restarted(story: Story) -> None:
    """The 转办's five messages and relabel: a worker sends one, is SIGKILLed during the next, restarts."""
    rt, standin = story.runtime, story.standin
    sends, delivered = standin.calls("message/send"), len(standin.messages())
    standin.inject("message/send", [{"sleep": 0}, {"sleep": SLOW_SEND}])  # the second send hangs
    pid = start_worker_process(rt)
    try:
        # The second send reaching WeCom means the first was delivered and recorded as sent.
        wait_until(lambda: standin.calls("message/send") >= sends + 2, "the worker's second send")
    finally:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    # The killed request had reached WeCom, which delivers it all the same.
    wait_until(lambda: len(standin.messages()) == delivered + 2, "the interrupted send to land")
    assert statuses(rt)[-6:] == ["sent", "sending", "pending", "pending", "pending", "pending"]

    # The restart, as production recovers: the lease runs out, the sweepers queue what was lost.
    story.at(1 + (LEASE + SWEEP_GRACE).total_seconds() / 3600)
    for queue in rt.queues.all():  # RQ gives up on the dead worker's job (retried later: skipped)
        queue.started_job_registry.cleanup(time.time() + 86400)
        assert queue.started_job_registry.count == 0
    assert outbox_jobs.sweep() == 5  # the leased row, and the four never tried
    assert inbound_jobs.sweep() == 0 and order_jobs.sweep() == 0
    run_jobs(rt)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork:DeprecationWarning")
def test_a_worker_killed_mid_send_loses_nothing_and_shows_nothing_twice(
    platform, runtime, standin, session_factory, cast
):
    """With the worker SIGKILLed mid-send and restarted, every message still arrives, each once."""
    started = time.monotonic()
    story = Story(platform, runtime, standin)
    the_story(story, worker_killed_mid_send_then_restarted)

    everyone_read_each_message_once(standin)
    # The interrupted message was sent again after the lease; WeCom's duplicate check dropped it.
    delivered = {(m["touser"], m["msgid"]) for m in standin.messages()}
    repeats = [(r["touser"], r["msgid"]) for r in standin.suppressed()]
    assert len(repeats) == 1 and repeats[0] in delivered
    nothing_left_in_the_outbox(session_factory)
    the_register_shows_the_ladder(session_factory, cast)
    the_figures_say_what_happened(session_factory, cast)
    assert time.monotonic() - started < 60


# ---------------------------------------------------------------- 3. cards answered after a question


def test_a_card_action_that_asks_a_question_relabels_the_card_once_answered(platform, runtime, standin, cast):
    """转办 and 退回 clicked on a card: the card is relabelled when the answer succeeds, not before."""
    story = Story(platform, runtime, standin)
    enterprise_files(story, "zhang_wei", "诉求 用地 厂房扩建用地手续三个月未批")
    enterprise_files(story, "zhang_wei", "诉求 其他 厂区门前路灯坏了")
    run_jobs(runtime)

    clicks(story, "gxj_wu", "转办", on="新诉求待接单")  # the latest card: the 路灯 order
    assert "没有找到部门" in types(story, "gxj_wu", "县水利局 不归我们")  # asked again; card unchanged
    assert "取消" in types(story, "gxj_wu", "取消")
    run_jobs(runtime)
    assert card_labels(standin) == []  # given up: the card keeps its buttons

    assert "请选择退回理由" in clicks(story, "gxj_wu", "退回", on="新诉求待接单")
    assert "已退回诉求 S2611-0002（非本部门职责）" in types(story, "gxj_wu", "1 应由住建局办理")
    run_jobs(runtime)
    assert card_labels(standin) == ["已退回"]

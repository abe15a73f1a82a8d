"""Soak: a county's working day replayed at 20× through the real processes (issue 9 §5, "Load held").

    .venv/bin/python -m bench.soak [--enterprises 2000] [--officials 300] [--orders 500] [--messages 5000]
                                   [--speed 20] [--hours 0-24] [--seed 1] [--workers 2] [--grace 120]
                                   [--database-url URL] [--redis-url URL] [--keep DIR]

**The promises:** every callback answered within 5 s (HTTP 200 with an encrypted reply; a card
click may get an empty 200, and a text whose handler overran the 3 s passive window is answered
through the API instead), never a 5xx, never the handler's apology; every callback stored once
(inbound rows = callbacks sent); every order the replay filed or worked on left in the state its
steps put it in (the work done, not only answered); every outbound message delivered once (the
stand-in's log against the outbox, per msgid and recipient, card update and robot; none suppressed
as a repeat); every 盯单 reminder or escalation due in the replayed hours sent once; the queues and
the outbox drained within `--grace` seconds of the last callback; no Traceback or ERROR line in any
process's log. tests/e2e/test_soak.py runs a CI-sized slice (its docstring says which and why).

**What runs.** Production's processes, each `python -m bot.cli …` with its own log: `ztc web`
(gunicorn, 2 sync workers), two `ztc worker`s, one `ztc cron`, and `ztc standin` as the WeCom API.
WeCom itself is played by this process: every message is encrypted, signed and posted to
/wecom/callback as WeCom does (bot/standin/platform.py), and card clicks carry the task_id and
response_code of a card the stand-in really delivered. Loopback only. The database is a temporary
SQLite file and Redis an embedded redis-server, unless --database-url (an EMPTY database: migrated,
and emptied again afterwards) and --redis-url (a Redis database of its own: flushed before and
after) name others.

**The county.** The demo county (`ztc seed-demo`: 16 departments, routing rules, 34 policies, 200
enterprise profiles) grown to `--enterprises` enterprises and `--officials` officials with Core
executemany: seven 乡镇/园区 as 包联部门 (each overseen by a leader), officials spread over the
departments (包联 ones larger, every department with a head), every enterprise with a confirmed
contact, 95% of them with a 包联部门 (the others go by the routing rules).

**The day.** Traffic follows an office day (HOURLY: a 09:00–11:00 peak, lunch, a 14:00–17:00 peak,
little at night; 09:00–10:00 carries 13% of the day). `--hours` picks the slice replayed, e.g.
`9-10` or `09:00-09:40`; it is compressed `--speed` times (one replayed hour = 3 real minutes at
20×). Per day, `--orders` 诉求 and `--messages` callbacks in all:

- the orders' lifecycle, about 4 callbacks per order: the enterprise files (`诉求 [类别] [紧急]
  内容`; dispatch cards go to every official of the holding department); an official who got the
  card presses 接单 on it (median 50 min later; 5% of the time a colleague presses his own card
  afterwards and is told it was handled); 办结 with a result (median 3 h after); the enterprise
  presses 满意 (80%) / 基本满意 (16%) / 不满意 (4%, then types the reason: 返工) on the sign-off
  card (85% of orders; the others are reminded and closed by the ladder). Steps that fall inside
  the slice are replayed; the day's other steps are done on orders of previous days still open
  (seeded, below) by command: `接单 单号`, `办结 单号 结果`, `评价 单号 满意`, so that each step
  runs at its daily rate whatever the slice;
- the rest are everyday questions (QUERY_MIX): 我的诉求, 诉求 单号 (enterprises and officials),
  查看进度 on the status card, 待办, 帮助, 我是谁, 政策 (the 明白卡), 政策 编号, 企业信息 (shown and
  changed, which re-matches 免申即享), 日报 and 排名 (slow: answered by a worker), and wrong input
  (greetings, typos, missing numbers, commands of another role).

**Time.** The processes run on the real clock. A scaled clock (a test-only ZTC_CLOCK at 20×) was
considered and left out: RQ's scheduler (`enqueue_at`), the outbox's 2-minute lease, the per-member
send window, Redis TTLs and the cron's own ticks count real time, so a process clock running 20×
faster would mix two time bases (a lease of 2 "minutes" would lapse in 6 real seconds and a healthy
send would be taken over) and judge artefacts rather than the product. Instead the day's reminders
are compressed like its traffic: the 盯单 rungs a day brings (RUNGS_PER_ORDER, from bench/digest.py's
lifecycles: about 0.8 per order) that fall in the slice are given to orders of previous days, filed,
picked up and resolved through the services (handlers/complaints) with past times chosen so that
the rung falls at its compressed moment in the replay, armed with alarms.arm() and scheduled with
Runtime.enqueue_deferred exactly as a transition does. RQ's scheduler then fires them at that real
moment, and each must be sent once (one register event per rung, its messages delivered once).
Orders filed during the replay get real 24-hour clocks: their rungs fall after the run, like those
of the previous days' orders the replay works on (chosen so).

The cron runs as in production: what it starts depends on the real time of day (digests at 08:30
on working days, project prompts on Fridays); the checks hold whatever it sends. The 免申即享 pushes
of the demo profiles (about 300 cards) are delivered before the replay, as the day before would
have, so that the cron's 09:30 run finds nothing new whenever the replay runs.

Redis must be the run's own (the embedded redis-server by default): RQ job ids are not namespaced by
ZTC_QUEUE_PREFIX, so two deployments sharing a Redis database run each other's jobs.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import itertools
import math
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import redis
import requests
from defusedxml.ElementTree import fromstring
from rq import Worker
from rq.cron import CronScheduler
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.orm import Session

from bench.common import Report, Row, positive
from bench.digest import CATEGORY_WEIGHTS, GIVEN, REQUESTS, RESULTS, SURNAMES, TRADES
from bot.db import Base, make_engine, session_scope
from bot.demo import demo_environment, queue_policy_pushes, seed
from bot.embedded_redis import socket_url, start_embedded_redis, stop_embedded_redis
from bot.intake import SORRY
from bot.migrations import upgrade
from bot.models import (
    BindingStatus,
    Department,
    DepartmentKind,
    Enterprise,
    EnterpriseMember,
    InboundMessage,
    InboundStatus,
    OutboxMessage,
    OutboxStatus,
    Oversight,
    Person,
    Role,
)
from bot.runtime import Runtime
from bot.settings import Settings
from bot.standin.platform import Delivery, WeComPlatform, card_click_xml
from bot.uscc import make_uscc
from handlers.complaints import closing, service
from handlers.complaints.alarms import arm
from handlers.complaints.models import Action as OrderAction
from handlers.complaints.models import ClockMode, OrderEvent, RoutingRule, WorkOrder
from handlers.complaints.rules import OrderRules, rules_from
from handlers.policies.models import Policy

ROOT = Path(__file__).resolve().parent.parent
ANSWER_GOAL = 5.0  # seconds: WeCom gives up on a callback after 5 s
CARD_WAIT = 20.0  # real seconds a click waits for its card to reach the stand-in before it gives up
START_TIMEOUT = 60.0
POOL = 32  # threads posting callbacks: enough that a click waiting for its card delays nothing else
DRAIN_POLL = 0.5  # seconds between two looks at what is left to do
LEAD = 5.0  # real seconds between the end of the seeding and the first replayed moment

# A county government's office day: the share (%) of the day's callbacks in each local hour.
HOURLY = (0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 2.0, 6.0, 13.0, 12.5, 9.5,
          3.5, 4.0, 9.0, 11.5, 10.5, 8.0, 3.5, 2.0, 1.5, 1.0, 0.6, 0.3)  # fmt: skip

# The everyday callbacks besides the orders' lifecycle, by weight (%).
QUERY_MIX = {
    "我的诉求": 18, "诉求 单号（企业）": 10, "查看进度（卡片）": 7, "诉求 单号（干部）": 6, "待办": 14,
    "帮助": 8, "我是谁": 5, "政策": 10, "政策 编号": 5, "企业信息": 4, "企业信息 修改": 2, "日报": 1,
    "排名": 1, "错误输入": 9,
}  # fmt: skip
WRONG_INPUT = (
    "你好", "在吗", "谢谢", "诉球 厂区路灯坏了", "办结", "评价 满意", "接单 S9912-9999", "查询进度", "？？",
    "绑定 123", "政策 XX-0000-99", "help me", "1", "待办事项有哪些", "我要投诉", "评价 S2611-0001 很好",
)  # fmt: skip

# The orders' lifecycle (domain minutes: lognormal median and spread) and its shares.
PICKUP_DELAY = (50.0, 1.0)  # dispatch → 接单
RESOLVE_DELAY = (180.0, 1.0)  # 接单 → 办结
SIGNOFF_DELAY = (60.0, 1.2)  # 办结 → the enterprise's 评价
MIN_DELAY = 3.0  # minutes: nobody acts on a card within seconds of its arrival
STALE_SHARE = 0.05  # a colleague presses 接单 on his own card after it was taken
SIGNED_SHARE = 0.85  # orders the enterprise signs off itself (the others: reminded, auto-closed)
RATINGS = {"满意": 80, "基本满意": 16, "不满意": 4}
UNHAPPY_REASONS = ("问题没有解决，路面仍有积水", "只答复了电话，没有到现场", "资金还没有到账")

# The 盯单 rungs a day of orders brings, per order filed (bench/digest.py's lifecycles: 签单 72%
# within a day, 15% after the 24 h reminder, the rest closed at 72 h; most clocks kept).
RUNGS_PER_ORDER = {
    "pickup.warn": 0.08, "pickup.overdue": 0.04, "pickup.head": 0.02, "pickup.leader": 0.01,
    "solve.warn": 0.12, "solve.overdue": 0.06, "solve.head": 0.03, "solve.leader": 0.015,
    "signoff.remind": 0.28, "signoff.close": 0.13,
}  # fmt: skip

# 乡镇 and 园区 added to the demo county as 包联部门 of the generated enterprises.
TOWNSHIPS = (
    ("CGZ", "城关镇"), ("QHZ", "清河镇"), ("HGY", "化工园区管委会"), ("LLZ", "柳林镇"), ("GHZ", "固河镇"),
    ("MZZ", "马庄镇"), ("SQX", "石桥乡"),
)  # fmt: skip
STAFFING = {  # relative size of a department's staff by kind
    DepartmentKind.CONTACT.value: 3.0, DepartmentKind.BOTH.value: 3.0,
    DepartmentKind.FUNCTIONAL.value: 2.0, DepartmentKind.OFFICE.value: 1.5,
}  # fmt: skip
NUMBER = re.compile(r"S\d{4}-\d{4,}")
ALARM_ACTIONS = (OrderAction.REMIND.value, OrderAction.ESCALATE.value, OrderAction.AUTO_CLOSE.value)

# Rows of the table the test reads.
ANSWER_ROW = "callback answered, p50 / p99 / max"
STORED_ROW = "inbound rows = distinct callbacks sent"
DELIVERED_ROW = "outbox rows delivered exactly once"
STATES_ROW = "orders left as their steps put them"
DROPPED_ROW = "messages WeCom dropped: same content as an earlier one"
REMINDER_ROW = "reminders due in the slice, sent once each"
DRAIN_ROW = "queues and outbox drained after the last callback"
LOG_ROW = "Traceback / ERROR lines in process logs"


# --- the day --------------------------------------------------------------------------------------


def parse_hours(value: str) -> tuple[float, float]:
    """「9-10」「09:00-09:40」「0-24」 → (start, end) in hours of the day."""

    def hours(part: str) -> float:
        hh, _, mm = part.strip().partition(":")
        return int(hh) + int(mm or 0) / 60

    try:
        start, end = (hours(p) for p in value.split("-", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"「{value}」: expected START-END, e.g. 9-10 or 09:00-09:40"
        ) from None
    if not 0 <= start < end <= 24:
        raise argparse.ArgumentTypeError(f"「{value}」: a slice of one day, start before end")
    return start, end


def share(start: float, end: float) -> float:
    """The share of a day's traffic between two hours of the day (HOURLY is constant within an hour)."""
    total = 0.0
    for hour, weight in enumerate(HOURLY):
        overlap = max(0.0, min(end, hour + 1) - max(start, hour))
        total += weight * overlap
    return total / sum(HOURLY)


def moments(rng: random.Random, count: int, start: float, end: float) -> list[float]:
    """`count` moments of the slice drawn from HOURLY, as seconds from its start, sorted."""
    pieces = [
        (max(start, h), min(end, h + 1), w) for h, w in enumerate(HOURLY) if min(end, h + 1) > max(start, h)
    ]
    masses = list(itertools.accumulate((b - a) * w for a, b, w in pieces))
    found = []
    for _ in range(count):
        u = rng.random() * masses[-1]
        i = bisect.bisect_right(masses, u)
        a, b, _ = pieces[min(i, len(pieces) - 1)]
        found.append((a + rng.random() * (b - a) - start) * 3600)
    return sorted(found)


def delay(rng: random.Random, spec: tuple[float, float]) -> float:
    """A lognormal delay in domain seconds (median, sigma in minutes), never under MIN_DELAY."""
    median, sigma = spec
    return max(MIN_DELAY, rng.lognormvariate(math.log(median), sigma)) * 60


def lifecycle_per_order() -> float:
    """Callbacks one order brings: file, 接单 (+ a stale 接单), 办结, 评价 (+ the 不满意 reason)."""
    unhappy = RATINGS["不满意"] / sum(RATINGS.values())
    return 3 + STALE_SHARE + SIGNED_SHARE * (1 + unhappy)


def split(rng: random.Random, total: int, weights: Mapping[Any, float]) -> Counter[Any]:
    """`total` callbacks over the kinds, in proportion (largest remainders; the seed breaks ties)."""
    exact = {k: total * w / sum(weights.values()) for k, w in weights.items()}
    counts = Counter({k: int(v) for k, v in exact.items()})
    rest = sorted(exact, key=lambda k: (exact[k] - counts[k], rng.random()), reverse=True)
    for kind in rest[: total - sum(counts.values())]:
        counts[kind] += 1
    return counts


# --- the county -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Firm:
    """An enterprise and the contact who speaks for it."""

    id: int
    name: str
    contact: str
    department_id: int | None  # 包联部门


@dataclass
class County:
    """Who is who, as the replay needs it."""

    officials: dict[int, list[str]]  # department id → its officials' userids
    firms: list[Firm]
    routing: dict[str, int]  # category → department id
    leaders: list[str]
    policies: list[str]
    departments: dict[int, str]  # id → code

    def holder(self, firm: Firm, category: str) -> int:
        """Where an order goes: the 包联部门, else the category's 职能部门 (service.dispatch_target)."""
        return firm.department_id if firm.department_id is not None else self.routing[category]

    @property
    def all_officials(self) -> list[str]:
        return [u for users in self.officials.values() for u in users]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))


def grow_county(engine: Engine, options: argparse.Namespace, rng: random.Random) -> None:
    """Add 乡镇, officials, enterprises and their contacts to the demo county (Core executemany)."""
    created = datetime.now(UTC) - timedelta(days=365)
    with engine.begin() as conn:
        leaders = list(
            conn.scalars(select(Person.id).where(Person.role == Role.LEADER.value).order_by(Person.id))
        )
        for index, (code, name) in enumerate(TOWNSHIPS):
            new = conn.execute(
                insert(Department).values(
                    code=code, name=name, kind=DepartmentKind.CONTACT.value, created_at=created
                )
            ).inserted_primary_key
            assert new is not None
            conn.execute(
                insert(Oversight).values(leader_id=leaders[index % len(leaders)], department_id=new[0])
            )
        departments = conn.execute(select(Department.id, Department.kind).order_by(Department.id)).all()
        _add_officials(conn, departments, options.officials, created, rng)
        _add_enterprises(conn, departments, options.enterprises, created, rng)
        _add_contacts(conn, created, rng)


def _add_officials(
    conn: Any, departments: Sequence[Any], total: int, created: datetime, rng: random.Random
) -> None:
    """Officials up to `total` in the county, spread by STAFFING; a head where a department has none."""
    staffed = Counter(dict(conn.execute(
        select(Person.department_id, func.count()).where(Person.role == Role.OFFICIAL.value)
        .group_by(Person.department_id)
    ).all()))  # fmt: skip
    headed = set(conn.scalars(select(Person.department_id).where(Person.is_head.is_(True))))
    missing = total - sum(staffed.values())
    weights = {d.id: STAFFING[d.kind] for d in departments}
    wanted = split(rng, total, weights)
    extra = Counter({d: max(0, wanted[d] - staffed[d]) for d in weights})
    while sum(extra.values()) > max(0, missing):  # the demo's staff already counts toward the total
        extra[max(extra, key=lambda d: extra[d])] -= 1
    rows, serial = [], itertools.count(1)
    for department_id, count in sorted(extra.items()):
        for k in range(count):
            head = department_id not in headed and k == 0
            n = next(serial)
            rows.append({
                "wecom_userid": f"gb{n:04d}", "name": _name(rng), "role": Role.OFFICIAL.value,
                "department_id": department_id, "title": "负责人" if head else "科员", "is_head": head,
                "active": True, "erased": False, "created_at": created,
            })  # fmt: skip
    if rows:
        conn.execute(insert(Person), rows)


def _add_enterprises(
    conn: Any, departments: Sequence[Any], total: int, created: datetime, rng: random.Random
) -> None:
    """Enterprises up to `total`: 95% with a 包联部门 (乡镇 twice as likely), the rest routed by category."""
    existing = set(conn.scalars(select(Enterprise.uscc)))
    contact_kinds = (DepartmentKind.CONTACT.value, DepartmentKind.BOTH.value)
    contacts = [d.id for d in departments if d.kind in contact_kinds]
    weights = [
        2.0 if d.kind == DepartmentKind.CONTACT.value else 1.0 for d in departments if d.kind in contact_kinds
    ]
    regions = [name for _, name in TOWNSHIPS]
    rows: list[dict[str, Any]] = []
    for i in itertools.count(1):
        if len(existing) + len(rows) >= total:
            break
        uscc = make_uscc(f"91371526MB{i:07d}")
        if uscc in existing:
            continue
        brand = "".join(rng.sample("鑫恒华金宏德瑞泰丰盛鼎元通达兴隆昌源润嘉祥宇新安永富康百佳亿", 2))
        department = rng.choices(contacts, weights)[0] if rng.random() < 0.95 else None
        rows.append({
            "uscc": uscc, "name": f"示范县{brand}{rng.choice(TRADES)}有限公司{i}", "created_at": created,
            "contact_department_id": department, "region": rng.choice(regions),
        })  # fmt: skip
    if rows:
        conn.execute(insert(Enterprise), rows)


def _add_contacts(conn: Any, created: datetime, rng: random.Random) -> None:
    """A confirmed contact for every enterprise that has none."""
    bound = select(EnterpriseMember.enterprise_id).where(
        EnterpriseMember.status == BindingStatus.CONFIRMED.value
    )
    firms = list(
        conn.scalars(select(Enterprise.id).where(Enterprise.id.not_in(bound)).order_by(Enterprise.id))
    )
    people = [
        {"wecom_userid": f"qy{n:05d}", "name": _name(rng), "role": Role.ENTERPRISE.value, "title": "联系人",
         "is_head": False, "active": True, "erased": False, "created_at": created}
        for n in range(1, len(firms) + 1)
    ]  # fmt: skip
    if not people:
        return
    conn.execute(insert(Person), people)
    ids = dict(
        conn.execute(select(Person.wecom_userid, Person.id).where(Person.wecom_userid.like("qy%"))).all()
    )
    conn.execute(insert(EnterpriseMember), [
        {"person_id": ids[p["wecom_userid"]], "enterprise_id": firm, "status": BindingStatus.CONFIRMED.value,
         "requested_at": created, "decided_at": created}
        for p, firm in zip(people, firms, strict=True)
    ])  # fmt: skip


def load_county(engine: Engine) -> County:
    """The county as it is in the database: officials by department, each enterprise's first contact."""
    with engine.connect() as conn:
        officials: dict[int, list[str]] = defaultdict(list)
        active_officials = (
            select(Person.department_id, Person.wecom_userid)
            .where(Person.role == Role.OFFICIAL.value, Person.active.is_(True))
            .order_by(Person.id)
        )
        for department_id, userid in conn.execute(active_officials):
            if department_id is not None:
                officials[department_id].append(userid)
        contacts = (
            select(Enterprise.id, Enterprise.name, Person.wecom_userid, Enterprise.contact_department_id)
            .join(EnterpriseMember, EnterpriseMember.enterprise_id == Enterprise.id)
            .join(Person, Person.id == EnterpriseMember.person_id)
            .where(EnterpriseMember.status == BindingStatus.CONFIRMED.value)
            .order_by(Enterprise.id, Person.id)
        )
        firms: dict[int, Firm] = {}
        for firm_id, name, userid, department_id in conn.execute(contacts):
            firms.setdefault(firm_id, Firm(firm_id, name, userid, department_id))
        # A contact speaking for two enterprises would be asked which one: the replay files by one line.
        speaks_for = Counter(f.contact for f in firms.values())
        routing = dict(conn.execute(select(RoutingRule.category, RoutingRule.department_id)).all())
        leaders = list(conn.scalars(select(Person.wecom_userid).where(Person.role == Role.LEADER.value)))
        policies = sorted(set(conn.scalars(select(Policy.code).where(Policy.current.is_(True)))))
        departments = dict(conn.execute(select(Department.id, Department.code)).all())
    alone = [f for f in firms.values() if speaks_for[f.contact] == 1]
    return County(dict(officials), alone, routing, leaders, policies, departments)


# --- the plan -------------------------------------------------------------------------------------


@dataclass(eq=False)
class Order:
    """One order the replay files or works on; its number is known once filed (or seeded)."""

    firm: Firm
    category: str
    urgent: bool
    description: str
    holder: int
    backlog: bool = False
    number: str | None = None
    picked_by: str | None = None
    filed_wall: float | None = None  # when the enterprise sent it (epoch seconds)
    expect: str | None = None  # the state the steps so far should have left it in
    known: threading.Event = field(default_factory=threading.Event)
    picked: threading.Event = field(default_factory=threading.Event)
    resolved: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Late:
    """An order of a previous day whose next 盯单 rung falls at `at` (domain seconds into the slice)."""

    order: Order
    rung: str
    at: float


@dataclass(order=True)
class Step:
    """One callback (or a short sequence by one person) at a moment of the slice."""

    at: float  # domain seconds from the slice's start
    seq: int
    kind: str = field(compare=False)
    run: Callable[[Driver], None] = field(compare=False)


@dataclass
class Plan:
    """The slice's steps, and the orders of previous days the seeding must create."""

    steps: list[Step]
    waiting: list[Order]  # DISPATCHED, picked up by command in the slice
    working: list[Order]  # PICKED_UP, resolved by command in the slice
    rating: list[Order]  # RESOLVED, signed off by command in the slice
    late: list[Late]
    fresh: list[Order]  # filed in the slice


class Planner:
    """Draws the slice's traffic: lifecycles, the previous days' work, reminders, everyday questions."""

    def __init__(self, county: County, options: argparse.Namespace, rng: random.Random) -> None:
        self.county, self.options, self.rng = county, options, rng
        self.start, self.end = options.hours
        self.span = (self.end - self.start) * 3600
        self.fraction = share(self.start, self.end)
        self.seq = itertools.count()
        self.steps: list[Step] = []
        self.descriptions: set[str] = set()

    def per_slice(self, per_day: float) -> int:
        return round(per_day * self.fraction)

    def add(self, at: float, kind: str, run: Callable[[Driver], None]) -> None:
        self.steps.append(Step(at, next(self.seq), kind, run))

    def new_order(self, backlog: bool = False) -> Order:
        firm = self.rng.choice(self.county.firms)
        category = self.rng.choices(list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values()))[0]
        description = self._description(category)
        urgent = self.rng.random() < 0.1
        return Order(firm, category, urgent, description, self.county.holder(firm, category), backlog)

    def _description(self, category: str) -> str:
        # Distinct texts: the same text from one enterprise within 10 minutes is refused as a repeat.
        while True:
            base = self.rng.choice(REQUESTS[category])
            detail = self.rng.choice(
                ("已影响生产{n}天", "涉及{n}号车间", "已电话反映{n}次", "涉及员工约{n}人")
            )
            text_ = f"{base}，{detail.format(n=self.rng.randint(2, 300))}"
            if text_ not in self.descriptions:
                self.descriptions.add(text_)
                return text_

    def plan(self) -> Plan:
        orders = self.options.orders
        fresh = self._fresh(self.per_slice(orders))
        done = Counter(s.kind for s in self.steps)
        waiting = self._backlog(
            "接单（命令）", self.per_slice(orders) - done["接单（卡片）"], take_by_command
        )
        working = self._backlog("办结（命令）", self.per_slice(orders) - done["办结"], resolve_step)
        signed = self.per_slice(orders * SIGNED_SHARE) - done["评价（卡片）"]
        rating = self._backlog("评价（命令）", signed, sign_by_command)
        late = self._late(orders)
        queries = max(0.0, self.options.messages - orders * lifecycle_per_order())
        self._queries(self.per_slice(queries))
        return Plan(sorted(self.steps), waiting, working, rating, late, fresh)

    def _fresh(self, count: int) -> list[Order]:
        """Orders filed in the slice, with the steps of their lifecycle that fall inside it."""
        fresh = []
        for at in moments(self.rng, count, self.start, self.end):
            order = self.new_order()
            fresh.append(order)
            self.add(at, "诉求", file_step(order))
            at += delay(self.rng, PICKUP_DELAY)
            if at >= self.span:
                continue
            self.add(at, "接单（卡片）", take_by_card(order))
            if self.rng.random() < STALE_SHARE:
                self.add(at + self.rng.uniform(60, 900), "接单（已被处理）", take_stale(order))
            at += delay(self.rng, RESOLVE_DELAY)
            if at >= self.span:
                continue
            self.add(at, "办结", resolve_step(order))
            at += delay(self.rng, SIGNOFF_DELAY)
            if at < self.span and self.rng.random() < SIGNED_SHARE:
                self.add(at, "评价（卡片）", sign_by_card(order, self._rating()))
        return fresh

    def _rating(self) -> str:
        return self.rng.choices(list(RATINGS), list(RATINGS.values()))[0]

    def _backlog(self, kind: str, count: int, make: Callable[..., Callable[[Driver], None]]) -> list[Order]:
        """Orders of previous days, worked on in the slice: the day's steps its own orders do not reach."""
        orders = [self.new_order(backlog=True) for _ in range(max(0, count))]
        for order, at in zip(orders, moments(self.rng, len(orders), self.start, self.end), strict=True):
            self.add(at, kind, make(order, self._rating()) if make is sign_by_command else make(order))
        return orders

    def _late(self, orders: int) -> list[Late]:
        """The rungs a day brings that fall in the slice, each on an order of a previous day."""
        late = []
        for rung, per_order in RUNGS_PER_ORDER.items():
            for at in moments(self.rng, self.per_slice(orders * per_order), self.start, self.end):
                late.append(Late(self.new_order(backlog=True), rung, at))
        return sorted(late, key=lambda x: x.at)

    def _queries(self, count: int) -> None:
        makers: dict[str, Callable[[random.Random], Callable[[Driver], None]]] = {
            "我的诉求": lambda rng: enterprise_says("我的诉求", lambda d: "我的诉求"),
            "诉求 单号（企业）": lambda rng: show_own_order,
            "查看进度（卡片）": lambda rng: show_by_status_card,
            "诉求 单号（干部）": lambda rng: show_department_order,
            "待办": lambda rng: official_says("待办"),
            "帮助": lambda rng: anyone_says("帮助"),
            "我是谁": lambda rng: anyone_says("我是谁"),
            "政策": lambda rng: enterprise_says("政策", lambda d: "政策"),
            "政策 编号": lambda rng: enterprise_says(
                "政策 编号", lambda d: f"政策 {d.rng.choice(d.county.policies)}"
            ),
            "企业信息": lambda rng: enterprise_says("企业信息", lambda d: "企业信息"),
            "企业信息 修改": lambda rng: enterprise_says(
                "企业信息 修改", lambda d: f"企业信息 从业人数 {d.rng.randint(5, 900)}"
            ),
            "日报": lambda rng: staff_says("日报"),
            "排名": lambda rng: staff_says("排名"),
            "错误输入": lambda rng: anyone_says(rng.choice(WRONG_INPUT), kind="错误输入"),
        }
        counts = split(self.rng, count, QUERY_MIX)
        for kind, n in sorted(counts.items()):
            for at in moments(self.rng, n, self.start, self.end):
                self.add(at, kind, makers[kind](self.rng))


# --- the steps (what people do; each runs in the driver's pool) -----------------------------------


def file_step(order: Order) -> Callable[[Driver], None]:
    """The enterprise files the order in one line; the answer carries its number."""

    def run(d: Driver) -> None:
        urgent = "紧急 " if order.urgent else ""
        call = d.text("诉求", order.firm.contact, f"诉求 {order.category} {urgent}{order.description}")
        found = NUMBER.search(call.reply or "")
        if found is None or "诉求已受理" not in (call.reply or ""):
            d.problem(f"filing not accepted: {(call.reply or call.status)!s:.80}")
            return
        order.number, order.filed_wall, order.expect = found.group(0), call.started, "dispatched"
        d.numbered(order)
        order.known.set()

    return run


def take_by_card(order: Order) -> Callable[[Driver], None]:
    """An official who received the dispatch card presses 接单 on it."""

    def run(d: Driver) -> None:
        if not d.wait(order.known, "the filing's number", order):
            return
        cards = d.mirror.wait_cards(f"take:{order.number}", CARD_WAIT)
        if not cards:
            d.problem(f"no dispatch card for {order.number} within {CARD_WAIT:.0f} s")
            return
        card = d.rng.choice(cards)
        d.click("接单（卡片）", card, f"order:take:{order.number}:")
        order.picked_by, order.expect = card["touser"], "picked_up"
        order.picked.set()

    return run


def take_stale(order: Order) -> Callable[[Driver], None]:
    """A colleague presses 接单 on his own card after the order was taken: told, nothing changes."""

    def run(d: Driver) -> None:
        if not d.wait(order.picked, "the 接单", order):
            return
        others = [c for c in d.mirror.cards(f"take:{order.number}") if c["touser"] != order.picked_by]
        if not others:  # a department of one: he asks for his 待办 instead
            d.text("待办", order.picked_by or "", "待办")
            return
        d.click("接单（已被处理）", d.rng.choice(others), f"order:take:{order.number}:")

    return run


def take_by_command(order: Order) -> Callable[[Driver], None]:
    """An official picks up an order of a previous day by typing its number."""

    def run(d: Driver) -> None:
        user = d.rng.choice(d.county.officials[order.holder])
        d.text("接单（命令）", user, f"接单 {order.number}")
        order.picked_by, order.expect = user, "picked_up"
        order.picked.set()

    return run


def resolve_step(order: Order) -> Callable[[Driver], None]:
    """The official who picked the order up resolves it with a result."""

    def run(d: Driver) -> None:
        if not d.wait(order.picked, "the 接单", order):
            return
        d.text("办结", order.picked_by or "", f"办结 {order.number} {d.rng.choice(RESULTS)}")
        order.expect = "resolved"
        order.resolved.set()

    return run


def sign_by_card(order: Order, rating: str) -> Callable[[Driver], None]:
    """The enterprise presses a rating on the sign-off card; 不满意 is followed by the reason."""

    def run(d: Driver) -> None:
        if not d.wait(order.resolved, "the 办结", order):
            return
        user = order.firm.contact
        cards = d.mirror.wait_cards(f"rate:{order.number}", CARD_WAIT, touser=user)
        if not cards:
            d.problem(f"no sign-off card for {order.number} within {CARD_WAIT:.0f} s")
            return
        with d.person(user):  # the reason must be his next message
            d.click("评价（卡片）", cards[-1], f"order:rate:{order.number}:", suffix=f":{rating}")
            if rating == "不满意":
                d.text("不满意的理由", user, d.rng.choice(UNHAPPY_REASONS))
        order.expect = after_rating(rating)

    return run


def after_rating(rating: str) -> str:
    """满意 and 基本满意 close the order (销号); 不满意 sends it back to the department (返工)."""
    return "dispatched" if rating == "不满意" else "closed"


def sign_by_command(order: Order, rating: str) -> Callable[[Driver], None]:
    """The enterprise signs off an order of a previous day by command."""

    def run(d: Driver) -> None:
        reason = f" {d.rng.choice(UNHAPPY_REASONS)}" if rating == "不满意" else ""
        d.text("评价（命令）", order.firm.contact, f"评价 {order.number} {rating}{reason}")
        order.expect = after_rating(rating)

    return run


def enterprise_says(kind: str, words: Callable[[Driver], str]) -> Callable[[Driver], None]:
    def run(d: Driver) -> None:
        d.text(kind, d.rng.choice(d.county.firms).contact, words(d))

    return run


def official_says(content: str) -> Callable[[Driver], None]:
    def run(d: Driver) -> None:
        d.text(content, d.rng.choice(d.county.all_officials), content)

    return run


def staff_says(content: str) -> Callable[[Driver], None]:
    """Leaders ask for their digest and ranking more than officials do."""

    def run(d: Driver) -> None:
        users = d.county.leaders if d.rng.random() < 0.6 else d.county.all_officials
        d.text(content, d.rng.choice(users), content)

    return run


def anyone_says(content: str, kind: str | None = None) -> Callable[[Driver], None]:
    def run(d: Driver) -> None:
        staff = d.rng.random() < 0.3
        user = d.rng.choice(d.county.all_officials) if staff else d.rng.choice(d.county.firms).contact
        d.text(kind or content, user, content)

    return run


def show_own_order(d: Driver) -> None:
    """An enterprise looks up one of its orders by number (我的诉求 when it has none yet)."""
    order = d.some_order()
    if order is None:
        d.text("我的诉求", d.rng.choice(d.county.firms).contact, "我的诉求")
        return
    d.text("诉求 单号（企业）", order.firm.contact, f"诉求 {order.number}")


def show_department_order(d: Driver) -> None:
    """An official looks up an order his department holds."""
    order = d.some_order()
    if order is None:
        d.text("待办", d.rng.choice(d.county.all_officials), "待办")
        return
    d.text("诉求 单号（干部）", d.rng.choice(d.county.officials[order.holder]), f"诉求 {order.number}")


def show_by_status_card(d: Driver) -> None:
    """An enterprise presses 查看进度 on the status card it got when it filed."""
    order = d.some_order(fresh=True)
    cards = d.mirror.cards(f"show:{order.number}", touser=order.firm.contact) if order else []
    if order is None or not cards:
        d.text("我的诉求", d.rng.choice(d.county.firms).contact, "我的诉求")
        return
    d.click("查看进度（卡片）", cards[-1], f"order:show:{order.number}:")


# --- the stand-in, mirrored -----------------------------------------------------------------------


class Mirror:
    """What the stand-in delivered, polled in the background; cards indexed by their buttons."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.seen = 0
        self.by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)  # "take:S2611-0001" → cards
        self.changed = threading.Condition()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, name="standin-mirror", daemon=True)

    def start(self) -> Mirror:
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def _poll(self) -> None:
        while not self.stop.wait(0.2):
            with contextlib.suppress(requests.RequestException, ValueError):
                self.poll_once()

    def poll_once(self) -> None:
        found = self.http.get(f"{self.url}/_standin/messages", params={"since": self.seen}, timeout=30).json()
        with self.changed:
            for message in found["messages"]:
                self.seen = max(self.seen, message["seq"])
                card = message["body"].get("template_card") if message.get("response_code") else None
                for button in (card or {}).get("button_list", []):
                    parts = str(button.get("key", "")).split(":")
                    if len(parts) >= 3 and parts[0] == "order":
                        self.by_key[f"{parts[1]}:{parts[2]}"].append(message)
            self.changed.notify_all()

    def cards(self, key: str, touser: str | None = None) -> list[dict[str, Any]]:
        with self.changed:
            return [m for m in self.by_key.get(key, []) if touser is None or m["touser"] == touser]

    def wait_cards(self, key: str, timeout: float, touser: str | None = None) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (found := self.cards(key, touser)) and time.monotonic() < deadline:
                self.changed.wait(timeout=0.5)
        return found

    def everything(self) -> dict[str, list[dict[str, Any]]]:
        """The stand-in's whole log: messages, card updates, robot messages, suppressed repeats."""
        got = {}
        for name in ("messages", "updates", "groups", "suppressed"):
            got[name] = self.http.get(f"{self.url}/_standin/{name}", timeout=120).json()[name]
        return got


# --- the driver (plays WeCom and the people) ------------------------------------------------------


@dataclass
class Call:
    """One callback posted and what the web process answered."""

    kind: str
    user: str
    event: bool
    scheduled: float  # epoch seconds
    started: float
    seconds: float
    status: int | None  # None: no HTTP answer at all
    reply: str | None  # the decrypted text answer, if any
    msg_id: str | None
    delivery: str  # what WeCom would count as one delivery: the MsgId, or the event's identity
    later: float | None = None  # past the passive window: seconds until its answer went out by the API

    @property
    def ok(self) -> bool:
        """200, and for a text an answer: passive, or (a handler that overran the 3 s passive window)
        sent through the API; a click may be answered with an empty 200."""
        return self.status == 200 and (self.event or bool(self.reply) or self.later is not None)


class Driver:
    """Runs the plan's steps at their compressed moments and records every callback."""

    def __init__(
        self,
        county: County,
        settings: Settings,
        web_url: str,
        mirror: Mirror,
        speed: float,
        seed: int,
    ) -> None:
        self.county, self.settings, self.mirror, self.speed = county, settings, mirror, speed
        self.callback_url = f"{web_url}/wecom/callback"
        self.seed = seed
        self.calls: list[Call] = []
        self.problems: list[str] = []
        self.orders: list[Order] = []  # numbered so far (seeded or filed)
        self.lock = threading.Lock()
        self.locks: dict[str, threading.RLock] = defaultdict(threading.RLock)
        self.local = threading.local()
        self.msg_ids = itertools.count(time.time_ns() // 1000)
        self.step_scheduled = threading.local()
        self.lag: list[float] = []

    # ------------------------------------------------------------ bookkeeping

    @property
    def rng(self) -> random.Random:
        """The running step's own generator: who does what is the same in every run of a seed,
        however the pool's threads interleave."""
        found: random.Random | None = getattr(self.local, "rng", None)
        if found is None:
            found = self.local.rng = random.Random(f"{self.seed}:{threading.get_ident()}")
        return found

    def problem(self, what: str) -> None:
        with self.lock:
            self.problems.append(what)

    def numbered(self, order: Order) -> None:
        with self.lock:
            self.orders.append(order)

    def some_order(self, fresh: bool = False) -> Order | None:
        with self.lock:
            pool = [o for o in self.orders if not (fresh and o.backlog)]
        return self.rng.choice(pool) if pool else None

    def wait(self, event: threading.Event, what: str, order: Order) -> bool:
        if event.wait(timeout=CARD_WAIT + 15):
            return True
        self.problem(f"gave up waiting for {what} of {order.number or order.description[:12]}")
        return False

    @contextlib.contextmanager
    def person(self, user: str) -> Iterator[None]:
        """One person's callbacks one at a time (WeCom delivers a chat in order)."""
        with self.lock:  # one lock per person, made once
            mine = self.locks[user]
        with mine:
            yield

    # ------------------------------------------------------------ callbacks

    @property
    def platform(self) -> WeComPlatform:
        found: WeComPlatform | None = getattr(self.local, "platform", None)
        if found is None:
            s = self.settings
            found = WeComPlatform(
                self.callback_url, s.wecom_corp_id, s.wecom_token, s.wecom_aes_key, s.wecom_agent_id
            )
            self.local.platform = found
        return found

    def text(self, kind: str, user: str, content: str) -> Call:
        msg_id = str(next(self.msg_ids))
        send = partial(self.platform.send_text, user, content, msg_id=msg_id)
        return self._post(kind, user, f"msg:{msg_id}", send, msg_id)

    def click(self, kind: str, card: dict[str, Any], prefix: str, suffix: str = "") -> Call:
        buttons = card["body"]["template_card"]["button_list"]
        key = next(b["key"] for b in buttons if b["key"].startswith(prefix) and b["key"].endswith(suffix))
        user, created, s = card["touser"], int(time.time()), self.settings
        xml = card_click_xml(
            corp_id=s.wecom_corp_id, user=user, agent_id=s.wecom_agent_id, create_time=created,
            event_key=key, task_id=card["task_id"], response_code=card["response_code"],
        )  # fmt: skip
        # WeCom identifies an event by user, second, key and card: a double click within one second
        # is one delivery (sent twice), stored once.
        delivery = f"evt:{user}:{created}:{key}:{card['task_id']}"
        return self._post(kind, user, delivery, partial(self.platform.post_plaintext, xml), None)

    def _post(
        self, kind: str, user: str, delivery_id: str, post: Callable[[], Delivery], msg_id: str | None
    ) -> Call:
        with self.person(user):
            started = time.time()
            perf = time.perf_counter()
            try:
                delivery: Delivery | None = post()
            except requests.RequestException:
                delivery = None
            seconds = time.perf_counter() - perf
        reply = _content(delivery.reply) if delivery is not None and delivery.reply else None
        scheduled = getattr(self.step_scheduled, "at", started)
        status = delivery.status if delivery else None
        event = msg_id is None
        call = Call(kind, user, event, scheduled, started, seconds, status, reply, msg_id, delivery_id)
        with self.lock:
            self.calls.append(call)
        return call

    # ------------------------------------------------------------ the replay

    def replay(self, steps: Sequence[Step], start: float) -> None:
        """Run each step at start + at / speed (epoch seconds), in a pool; wait for all of them."""
        futures: list[Future[None]] = []
        with ThreadPoolExecutor(max_workers=POOL, thread_name_prefix="wecom") as pool:
            for step in steps:
                due = start + step.at / self.speed
                time.sleep(max(0.0, due - time.time()))
                futures.append(pool.submit(self._run, step, due))
            for future in futures:
                future.result()

    def _run(self, step: Step, due: float) -> None:
        self.step_scheduled.at = due
        self.local.rng = random.Random(f"{self.seed}:{step.seq}")
        with self.lock:
            self.lag.append(time.time() - due)
        try:
            step.run(self)
        except Exception as exc:  # a bug in the replay itself: reported, never hidden
            self.problem(f"{step.kind}: {exc!r}")


def _content(xml: str) -> str:
    root = fromstring(xml)
    return root.findtext("Content") or root.findtext("MsgType") or ""


# --- seeding the previous days' orders ------------------------------------------------------------


@dataclass(frozen=True)
class Armed:
    """A rung the seeding armed: the order, the rung, its real moment."""

    order_id: int
    number: str
    rung: str
    at: datetime


def seed_worked(runtime: Runtime, plan: Plan, county: County, speed: float) -> float:
    """The previous days' orders the slice works on, through the services with past times, armed
    and scheduled; their next rungs fall after the run. Returns the seconds one order took."""
    began = time.perf_counter()
    rules = _natural_rules(runtime)
    now = datetime.now(UTC)
    window = timedelta(seconds=(plan.steps[-1].at if plan.steps else 0) / speed) + timedelta(minutes=30)
    rng = random.Random(7)
    with session_scope(runtime.session_factory) as session:
        people = dict(session.execute(select(Person.wecom_userid, Person)).all())
        rows = []
        for order in plan.waiting:
            rows.append(_seed(session, people, county, order, rng, filed=now - _before_window(rng, window)))
        for order in plan.working:
            picked = now - _before_window(rng, window)
            filed = picked - _hours(rng, 0.5, 6)
            rows.append(_seed(session, people, county, order, rng, filed=filed, picked=picked))
        for order in plan.rating:
            done = now - _before_window(rng, window, longest=23.5)
            picked = done - _hours(rng, 1, 10)
            filed = picked - _hours(rng, 0.5, 6)
            rows.append(_seed(session, people, county, order, rng, filed=filed, picked=picked, done=done))
        jobs = [job for row in rows if (job := arm(session, row, rules, now)) is not None]
    runtime.enqueue_deferred(jobs)
    return (time.perf_counter() - began) / max(1, len(rows))


def seed_late(runtime: Runtime, plan: Plan, county: County, start: float, speed: float) -> list[Armed]:
    """The previous days' orders whose next rung falls in the slice, created with the past times that
    put it at its compressed moment after `start`, armed and scheduled as a transition does."""
    rules = _natural_rules(runtime)
    now = datetime.now(UTC)
    rng = random.Random(8)
    origin = datetime.fromtimestamp(start, UTC)
    armed, jobs = [], []
    with session_scope(runtime.session_factory) as session:
        people = dict(session.execute(select(Person.wecom_userid, Person)).all())
        for late in plan.late:
            at = origin + timedelta(seconds=late.at / speed)
            row = _seed(session, people, county, late.order, rng, **_times_for(late.rung, at, rules, rng))
            if late.rung == "signoff.close":
                late.order.expect = "closed"  # 自动销号
            job = arm(session, row, rules, now)
            if job is None or (job.when, _rung_of(job.job_id)) != (at, late.rung):
                raise AssertionError(f"{row.number} armed as {job}, not {late.rung} at {at}")
            armed.append(Armed(row.id, row.number, late.rung, at))
            jobs.append(job)
    runtime.enqueue_deferred(jobs)
    return armed


def _natural_rules(runtime: Runtime) -> OrderRules:
    rules = rules_from(runtime.settings)
    if rules.clock_mode is not ClockMode.NATURAL:
        raise SystemExit("the soak seeds its past orders on natural-hour clocks: unset ZTC_ORDER_CLOCK")
    return rules


def _rung_of(job_id: str) -> str:
    """order-alarm-<id>-<clock>-<step>-<ts> → <clock>.<step>"""
    parts = job_id.split("-")
    return f"{parts[3]}.{parts[4]}"


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


def _before_window(rng: random.Random, window: timedelta, longest: float = 21.5) -> timedelta:
    """How long ago a worked-on order moved last: its next rung (≥ 22 h on) must fall after the run."""
    latest = max(1.5, longest - window.total_seconds() / 3600)
    return _hours(rng, 1.0, latest)


def _times_for(rung: str, at: datetime, rules: OrderRules, rng: random.Random) -> dict[str, datetime]:
    """Filed / picked up / resolved moments that put `rung` at `at` (natural hours: a 24 h clock)."""
    clock, _, step = rung.partition(".")
    day = timedelta(hours=24)
    if clock == "signoff":
        done = at - (rules.rate_remind_after if step == "remind" else rules.auto_close_after)
        picked = done - _hours(rng, 1, 10)
        return {"filed": picked - _hours(rng, 0.5, 6), "picked": picked, "done": done}
    offset = {"warn": rules.warn_before, "overdue": timedelta(0), "head": -rules.head_after,
              "leader": -rules.leader_after}[step]  # fmt: skip
    start = at + offset - day  # the moment the clock started: dispatch, or 接单
    if clock == "pickup":
        return {"filed": start}
    return {"filed": start - _hours(rng, 0.5, 6), "picked": start}


def _seed(
    session: Session,
    people: dict[str, Person],
    county: County,
    order: Order,
    rng: random.Random,
    *,
    filed: datetime,
    picked: datetime | None = None,
    done: datetime | None = None,
) -> WorkOrder:
    """One order of a previous day, through the services (events and audit rows as the chat writes them)."""
    contact = people[order.firm.contact]
    firm = session.get(Enterprise, order.firm.id)
    urgency = "紧急" if order.urgent else "普通"
    made = service.file_order(
        session, contact, order.description, order.category, urgency, filed, enterprise=firm
    )
    official_id = rng.choice(county.officials[order.holder])
    official = people[official_id]
    if picked is not None:
        service.pick_up(session, official, made.order.number, picked)
        order.picked_by = official_id
        order.picked.set()
    if done is not None:
        closing.resolve(session, official, made.order.number, rng.choice(RESULTS), done)
        order.resolved.set()
    order.number, order.expect = made.order.number, made.order.state
    order.known.set()
    return made.order


# --- the processes --------------------------------------------------------------------------------


class Stack:
    """`python -m bot.cli <role>` children, each in its own session, logging to <dir>/<name>.log."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir, self.env = workdir, env
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        with (self.workdir / f"{name}.log").open("ab") as log:
            self.children[name] = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *args], env=self.env, cwd=self.workdir, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def check(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with {child.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        content = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return "\n".join(content.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM every group together (RQ finishes the job in hand), then SIGKILL stragglers."""
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)

    def log_errors(self) -> list[str]:
        """Lines that show an error in any log: a Traceback, or a record at ERROR or CRITICAL."""
        found = []
        for path in sorted(self.workdir.glob("*.log")):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if "Traceback" in line or "level=ERROR" in line or "level=CRITICAL" in line:
                    found.append(f"{path.name}: {line[:200]}")
        return found


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def _until(predicate: Callable[[], bool], what: str, stack: Stack, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        stack.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def start_processes(
    stack: Stack, connection: redis.Redis, web_port: int, standin_port: int, workers: int
) -> None:
    """The stand-in, `ztc web`, the workers and one cron; back once each answers or has registered."""
    stack.start("standin", "standin", "--port", str(standin_port))
    stack.start("web", "web", "--port", str(web_port), "--workers", "2")
    for n in range(1, workers + 1):
        stack.start(f"worker-{n}", "worker")
    stack.start("cron", "cron")
    _until(lambda: _http_ok(f"http://127.0.0.1:{standin_port}/_standin/calls"), "the stand-in", stack)
    _until(lambda: _http_ok(f"http://127.0.0.1:{web_port}/healthz"), "ztc web", stack)
    _until(lambda: len(Worker.all(connection=connection)) >= workers, "the workers", stack)
    _until(lambda: len(CronScheduler.all(connection)) >= 1, "the cron", stack)


# --- draining and checking ------------------------------------------------------------------------


def backlog_of(runtime: Runtime, engine: Engine) -> dict[str, int]:
    """What is left: queued, running or due jobs, failed jobs, unsent outbox rows, unhandled messages."""
    now = time.time()
    left: Counter[str] = Counter()
    for queue in runtime.queues.all():
        left["queued jobs"] += queue.count
        left["running jobs"] += StartedJobRegistry(queue=queue).count
        left["failed jobs"] += FailedJobRegistry(queue=queue).count
        left["due scheduled jobs"] += int(runtime.redis.zcount(ScheduledJobRegistry(queue=queue).key, 0, now))
    with engine.connect() as conn:
        unsent = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
        left["unsent outbox rows"] = (
            conn.scalar(select(func.count()).where(OutboxMessage.status.in_(unsent))) or 0
        )
        waiting = InboundMessage.status == InboundStatus.RECEIVED.value
        left["unhandled messages"] = conn.scalar(select(func.count()).where(waiting)) or 0
    return {k: v for k, v in left.items() if v}


def drain(
    runtime: Runtime, engine: Engine, grace: float, after: float, stack: Stack
) -> tuple[float, dict[str, int]]:
    """Seconds from `after` until nothing is left to do (failed jobs aside), and what was left at the end."""
    deadline = time.time() + grace
    quiet = 0  # checks in a row that found nothing: a job between its queue and the running registry
    while True:  # (RQ moves it through an intermediate list) looks like nothing for a moment
        left = backlog_of(runtime, engine)
        quiet = quiet + 1 if not {k: v for k, v in left.items() if k != "failed jobs"} else 0
        if quiet == 3:
            return time.time() - after - 2 * DRAIN_POLL, left
        if time.time() > deadline:
            return math.inf, left
        stack.check()
        time.sleep(DRAIN_POLL)


@dataclass
class Delivered:
    """The outbox against the stand-in's log."""

    rows: int
    by_status: Counter[str]
    once: int  # sent rows whose message the stand-in recorded exactly once
    wrong: list[str]  # rows delivered never or more than once, sent again, and deliveries of no row
    dropped: list[str]  # distinct rows WeCom dropped as repeats of an earlier message's content
    suppressed: int  # sends the stand-in's duplicate check dropped, for whatever reason
    api_answers: list[float]  # seconds from a message's arrival to its answer sent through the API


def check_deliveries(engine: Engine, log: dict[str, list[dict[str, Any]]]) -> Delivered:
    """Each sent row once at the stand-in: messages by (msgid, recipient), card updates by response_code,
    robot messages counted per robot; and nothing at the stand-in that no row accounts for.

    WeCom's duplicate check answers a repeated send with the first send's msgid. Two rows sharing a
    msgid are therefore two distinct messages of the same content, the second never shown (dropped);
    a suppressed send that no such pair accounts for is one row sent twice (wrong)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.recipient, OutboxMessage.payload,
                   OutboxMessage.platform_msgid, OutboxMessage.idempotency_key, OutboxMessage.sent_at)
            .order_by(OutboxMessage.id)
        ).all()  # fmt: skip
        received = dict(conn.execute(select(InboundMessage.dedup_key, InboundMessage.received_at)).all())
    messages = Counter((m["msgid"], m["touser"].lower()) for m in log["messages"])
    updates = Counter(u["body"].get("response_code") for u in log["updates"])
    groups = Counter(g["key"] for g in log["groups"])
    sent = [r for r in rows if r.status == OutboxStatus.SENT.value]
    wrong: list[str] = []
    dropped: list[str] = []
    api: list[float] = []
    once = 0
    by_message: dict[tuple[str, str], list[Any]] = defaultdict(list)
    expected_updates: Counter[str] = Counter()
    expected_groups: Counter[str] = Counter()
    for r in sent:
        kind = r.payload.get("type")
        if r.recipient.startswith("group:"):
            expected_groups[r.recipient.removeprefix("group:")] += 1
            once += 1  # counted per robot below
        elif kind == "CardUpdate":
            expected_updates[r.payload.get("response_code")] += 1
            n = updates[r.payload.get("response_code")]
            once += n == 1
            if n != 1:
                wrong.append(f"outbox {r.id} (card update) recorded {n}×")
        else:
            by_message[(r.platform_msgid, r.recipient.lower())].append(r)
        inbound_key = r.idempotency_key.split(":reply:")[0] if ":reply:" in r.idempotency_key else None
        if inbound_key in received and r.sent_at is not None:
            api.append((r.sent_at - received[inbound_key]).total_seconds())
    for pair, (first, *repeats) in by_message.items():
        n = messages[pair]
        once += n == 1
        if n != 1:
            wrong.append(f"outbox {first.id} ({first.idempotency_key[:60]}) delivered {n}×")
        dropped += [
            f"outbox {r.id} ({r.idempotency_key[:50]}) to {r.recipient}: as outbox {first.id} said"
            for r in repeats
        ]
    for key, n in groups.items():
        if n != expected_groups[key]:
            wrong.append(f"robot {key}: {n} messages at the stand-in, {expected_groups[key]} outbox rows")
    wrong += [
        f"stand-in message {m} to {u} matches no outbox row" for m, u in set(messages) - set(by_message)
    ]
    wrong += [f"card update {c} matches no outbox row" for c in set(updates) - set(expected_updates)]
    if len(log["suppressed"]) > len(dropped):
        wrong += [f"sent again: to {x['touser']}: {_excerpt(x['body'])}" for x in log["suppressed"]]
    by_status = Counter(r.status for r in rows)
    return Delivered(len(rows), by_status, once, wrong, dropped, len(log["suppressed"]), api)


def _excerpt(body: dict[str, Any]) -> str:
    kind = body.get("msgtype", "")
    part = body.get(kind, {})
    content = part.get("content") or part.get("main_title", {}).get("title") or ""
    return f"{kind} 「{str(content)[:50]}」"


def check_states(engine: Engine, plan: Plan) -> tuple[int, list[str]]:
    """Every order the replay filed or worked on is in the state its steps should have left it in:
    the handlers did the work, not only answered. (How many were checked, and those that are not.)"""
    orders = [*plan.fresh, *plan.waiting, *plan.working, *plan.rating, *(x.order for x in plan.late)]
    with engine.connect() as conn:
        found = dict(conn.execute(select(WorkOrder.number, WorkOrder.state)).all())
    states = {o.number: o.expect for o in orders if o.number}
    wrong = [f"{n}: {found.get(n)}, not {expect}" for n, expect in states.items() if found.get(n) != expect]
    return len(states), wrong


@dataclass
class Reminders:
    """The rungs armed for the slice against the register's reminder events."""

    expected: int
    once: int
    wrong: list[str]
    lateness: list[float]  # seconds from the rung's moment to its register event
    unexpected: int  # reminder events of orders nobody armed for the slice


def check_reminders(engine: Engine, armed: list[Armed], since: datetime) -> Reminders:
    """Each armed rung: exactly one register event (remind/escalate with that rung, or the 自动销号),
    and a reminder or escalation queued its messages (check_deliveries sees each delivered once)."""
    with engine.connect() as conn:
        events = conn.execute(
            select(OrderEvent.order_id, OrderEvent.action, OrderEvent.data, OrderEvent.at)
            .where(OrderEvent.action.in_(ALARM_ACTIONS), OrderEvent.at >= since)
        ).all()  # fmt: skip
        keys = conn.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.like("order:%:alarm:%"))
        )
        # order:<id>:alarm:<rung>:<due>:<person>:<n> (handlers/complaints/alarms.py)
        messaged = Counter((int(k.split(":")[1]), k.split(":")[3]) for k in keys)
    fired: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for order_id, action, data, at in events:
        rung = "signoff.close" if action == OrderAction.AUTO_CLOSE.value else str((data or {}).get("rung"))
        if rung != "urge":  # a leader's 督办 click, not an alarm
            fired[(order_id, rung)].append(at)
    wrong, once, late = [], 0, []
    for a in armed:
        times = fired.pop((a.order_id, a.rung), [])
        once += len(times) == 1
        if len(times) != 1:
            wrong.append(f"{a.number} {a.rung} due {a.at:%H:%M:%S}: {len(times)} events")
        late += [(t - a.at).total_seconds() for t in times[:1]]
        if times and a.rung != "signoff.close" and not messaged[(a.order_id, a.rung)]:
            wrong.append(f"{a.number} {a.rung}: recorded, but nobody was told")
    return Reminders(len(armed), once, wrong, late, sum(len(v) for v in fired.values()))


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Result:
    """Everything the replay measured; `report()` judges it."""

    options: argparse.Namespace
    backend: str
    county: County
    plan: Plan
    calls: list[Call]
    problems: list[str]
    lag: list[float]
    inbound_rows: int
    missing_texts: int  # text callbacks with no stored row
    inbound_failed: int
    delivered: Delivered
    reminders: Reminders
    drained_after: float
    left: dict[str, int]
    log_errors: list[str]
    orders_checked: int
    wrong_states: list[str]
    dispatch: list[float]  # seconds from a filing's callback to its first dispatch card at the stand-in
    seconds: float  # the whole run
    replay_seconds: float
    phases: dict[str, float]

    @property
    def deliveries(self) -> int:
        """Callbacks WeCom would count as distinct deliveries (a double click in one second is one)."""
        return len({c.delivery for c in self.calls})

    @property
    def apologies(self) -> int:
        return sum(1 for c in self.calls if c.reply and SORRY.content in c.reply)

    def mix(self) -> Counter[str]:
        return Counter(c.kind for c in self.calls)


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else math.nan


def _s(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def report(r: Result) -> Report:
    """The table: what was replayed, then each promise measured against its goal."""
    o, calls = r.options, r.calls
    texts = sum(not c.event for c in calls)
    seconds = [c.seconds for c in calls]
    worst = max(seconds, default=math.nan)
    bad = [c for c in calls if not c.ok]
    later = [c.later for c in calls if c.later is not None]
    five = sum(1 for c in calls if c.status is not None and c.status >= 500)
    d, m = r.delivered, r.reminders
    slice_seconds = (o.hours[1] - o.hours[0]) * 3600 / o.speed
    left = ", ".join(f"{k} {v}" for k, v in r.left.items())
    rows = [
        Row("callbacks replayed (texts / card clicks)", f"{len(calls)} ({texts} / {len(calls) - texts})"),
        Row("replayed in", f"{r.replay_seconds:.0f} s (the slice compressed: {slice_seconds:.0f} s)"),
        Row("driver lag behind schedule, p99 / max", f"{_s(pct(r.lag, 99))} / {_s(max(r.lag, default=0.0))}"),
        Row(ANSWER_ROW, " / ".join(_s(pct(seconds, p)) for p in (50, 99)) + f" / {_s(worst)}",
            "max ≤ 5 s", bool(calls) and worst <= ANSWER_GOAL),
        Row("callbacks not answered (200, a text answered)", str(len(bad)), "0", not bad),
        Row("texts answered through the API (past the 3 s passive window), slowest",
            f"{len(later)}, {_s(max(later, default=math.nan))}"),
        Row("5xx answers", str(five), "0", five == 0),
        Row("handler errors (the apology sent)", str(r.apologies), "0", r.apologies == 0),
        Row("steps that could not run (no number, no card)", str(len(r.problems)), "0", not r.problems),
        Row(STORED_ROW, f"{r.inbound_rows} / {r.deliveries} ({r.missing_texts} texts missing; "
            f"{len(calls) - r.deliveries} double clicks within a second)", "equal",
            r.inbound_rows == r.deliveries and r.missing_texts == 0),
        Row("inbound messages failed", str(r.inbound_failed), "0", r.inbound_failed == 0),
        Row("诉求 sent → its dispatch card at the stand-in, p50 / max",
            f"{_s(pct(r.dispatch, 50))} / {_s(max(r.dispatch, default=math.nan))}"),
        Row("answers through the API (cards, slow commands), p50 / p99 / max",
            " / ".join(_s(pct(d.api_answers, p)) for p in (50, 99, 100))),
        Row(STATES_ROW, f"{r.orders_checked - len(r.wrong_states)} / {r.orders_checked}", "all",
            bool(r.orders_checked) and not r.wrong_states),
        Row(DELIVERED_ROW, f"{d.once} / {d.rows - len(d.dropped)} ({len(d.wrong)} wrong)", "all",
            d.once == d.rows - len(d.dropped) and not d.wrong),
        Row(DROPPED_ROW, str(len(d.dropped)), "0", not d.dropped),
        Row(REMINDER_ROW, f"{m.once} / {m.expected} ({m.unexpected} unplanned)", "all",
            m.once == m.expected and not m.wrong and m.unexpected == 0),
        Row("reminder lateness (register event − due), p50 / max",
            f"{_s(pct(m.lateness, 50))} / {_s(max(m.lateness, default=math.nan))}"),
        Row(DRAIN_ROW, f"not within grace: {left}" if math.isinf(r.drained_after)
            else f"{r.drained_after:.1f} s" + (f" ({left})" if r.left else ""),
            f"≤ {o.grace:.0f} s, no failed job", not math.isinf(r.drained_after) and not r.left),
        Row(LOG_ROW, str(len(r.log_errors)), "0", not r.log_errors),
    ]  # fmt: skip
    hours = f"{_clock(o.hours[0])}–{_clock(o.hours[1])}"
    title = (
        f"soak: {len(r.county.firms)} enterprises, {len(r.county.all_officials)} officials, "
        f"{o.orders} orders and "
        f"{o.messages} callbacks a day; {hours} replayed at {o.speed:g}× ({share(*o.hours):.0%} of the day); "
        f"{r.backend}; {platform.machine()} × {os.cpu_count()} cores; run {r.seconds:.0f} s"
    )
    return Report(title, rows)


def _clock(hours: float) -> str:
    return f"{int(hours):02d}:{round(hours % 1 * 60):02d}"


def details(r: Result) -> str:
    """The mix replayed, and the first few of anything that went wrong (printed under the table)."""
    lines = ["mix: " + ", ".join(f"{k} {n}" for k, n in r.mix().most_common())]
    lines.append(
        f"orders: {len(r.plan.fresh)} filed in the slice; "
        f"previous days' worked on: {len(r.plan.waiting)} 接单, "
        f"{len(r.plan.working)} 办结, {len(r.plan.rating)} 评价; reminders armed: "
        + ", ".join(f"{k} {n}" for k, n in sorted(Counter(x.rung for x in r.plan.late).items()))
    )
    lines.append("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in r.phases.items()))
    slow = sorted(r.calls, key=lambda c: c.seconds, reverse=True)[:3]
    lines.append("slowest callbacks: " + "; ".join(f"{c.kind} {c.seconds:.2f} s" for c in slow))
    for label, items in (
        (
            "not answered",
            [f"{c.kind} by {c.user}: HTTP {c.status}, {c.reply!r:.60}" for c in r.calls if not c.ok],
        ),
        ("problems", r.problems),
        ("orders", r.wrong_states),
        ("deliveries", r.delivered.wrong),
        ("dropped by WeCom", r.delivered.dropped),
        ("reminders", r.reminders.wrong),
        ("logs", r.log_errors),
    ):
        lines += [f"{label}: {item}" for item in items[:8]]
    return "\n".join(lines)


def run(options: argparse.Namespace, workdir: Path, database_url: str, redis_url: str) -> Result:
    """Seed, start the processes, replay the slice, drain, check; the processes are always stopped."""
    began = time.monotonic()
    rng = random.Random(options.seed)
    web_port, standin_port = _free_ports(2)
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "ZTC_VAR_DIR": str(workdir)}
    )
    env = demo_environment(settings, standin_port, redis_url)
    env.update(ZTC_VAR_DIR=str(workdir), ZTC_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for name in ("ZTC_ORDER_CLOCK", "ZTC_QUEUE_PREFIX"):  # the soak's clocks and keys are the defaults
        env.pop(name, None)
    settings = Settings.from_env(env)
    engine = make_engine(database_url)
    connection = redis.Redis.from_url(redis_url)
    runtime = Runtime.build(settings, connection=connection, engine=engine)
    stack = Stack(workdir, env)
    phases = Phases()
    mirror: Mirror | None = None
    try:
        upgrade(database_url)
        seed(runtime)
        grow_county(engine, options, rng)
        county = load_county(engine)
        plan = Planner(county, options, rng).plan()
        phases.mark("seed the county")
        start_processes(stack, connection, web_port, standin_port, options.workers)
        phases.mark("start the processes")
        # Yesterday's 免申即享 pushes go out first, as in a county in service: the cron's 09:30 run
        # then finds nothing new, whatever the real time of day the replay runs at.
        queue_policy_pushes(runtime)
        if math.isinf(drain(runtime, engine, options.grace, time.time(), stack)[0]):
            raise RuntimeError("the 免申即享 pushes before the replay did not drain")
        phases.mark("deliver the previous day's 免申即享 pushes")
        mirror = Mirror(f"http://127.0.0.1:{standin_port}").start()
        driver = Driver(county, settings, f"http://127.0.0.1:{web_port}", mirror, options.speed, options.seed)
        with engine.connect() as conn:
            inbound_before = conn.scalar(select(func.count()).select_from(InboundMessage)) or 0
        per_order = seed_worked(runtime, plan, county, options.speed)
        # The orders whose rung falls in the slice are made last, timed from the replay's start:
        # twice the time the others took each leaves room, on a busy machine too.
        lead = LEAD + 2 * per_order * len(plan.late)
        start = time.time() + lead
        armed = seed_late(runtime, plan, county, start, options.speed)
        if time.time() > start:
            raise RuntimeError(f"seeding the previous days' orders took longer than its {lead:.0f} s lead")
        for order in plan.waiting + plan.working + plan.rating:
            driver.numbered(order)
        phases.mark("seed the previous days' orders")
        driver.replay(plan.steps, start)
        replayed = time.time() - start
        phases.mark("replay")
        drained_after, left = drain(runtime, engine, options.grace, time.time(), stack)
        phases.mark("drain")
        mirror.close()
        log = mirror.everything()
        with engine.connect() as conn:
            keys = set(conn.scalars(select(InboundMessage.dedup_key)))
            inbound_rows = (
                conn.scalar(select(func.count()).select_from(InboundMessage)) or 0
            ) - inbound_before
            failed = conn.scalar(
                select(func.count()).where(InboundMessage.status == InboundStatus.FAILED.value)
            ) or 0  # fmt: skip
        missing = sum(1 for c in driver.calls if c.msg_id and f"wecom:msg:{c.msg_id}" not in keys)
        answered_later(engine, driver.calls)
        delivered = check_deliveries(engine, log)
        reminders = check_reminders(engine, armed, datetime.fromtimestamp(start, UTC) - timedelta(seconds=1))
        dispatch = _dispatch_times(plan.fresh, log["messages"])
        orders_checked, wrong_states = check_states(engine, plan)
        phases.mark("check")
    finally:
        if mirror is not None:
            mirror.close()
        stack.stop()
        connection.close()
        engine.dispose()
    phases.mark("stop the processes")
    return Result(
        options, _backend(database_url, options), county, plan, driver.calls, driver.problems, driver.lag,
        inbound_rows, missing, failed, delivered, reminders, drained_after, left, stack.log_errors(),
        orders_checked, wrong_states, dispatch, time.monotonic() - began, replayed, phases.seconds,
    )  # fmt: skip


class Phases:
    """Where the run's time went."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.last = time.monotonic()

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = now - self.last
        self.last = now


def answered_later(engine: Engine, calls: list[Call]) -> None:
    """Note, for each text not answered passively, when its answer went out through the API."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(OutboxMessage.idempotency_key, OutboxMessage.sent_at).where(
                OutboxMessage.idempotency_key.like("wecom:msg:%:reply:%"),
                OutboxMessage.status == OutboxStatus.SENT.value,
            )
        ).all()
    first: dict[str, float] = {}
    for key, sent_at in rows:
        if sent_at is not None:
            inbound = key.split(":reply:")[0]
            first[inbound] = min(first.get(inbound, math.inf), sent_at.timestamp())
    for call in calls:
        sent = first.get(f"wecom:msg:{call.msg_id}")
        if not call.event and not call.reply and sent is not None:
            call.later = sent - call.started


def _dispatch_times(orders: list[Order], messages: list[dict[str, Any]]) -> list[float]:
    """Seconds from each filing's callback to the first dispatch card of it at the stand-in."""
    first: dict[str, float] = {}
    for m in messages:
        if m["msgtype"] != "template_card":
            continue
        for button in m["body"]["template_card"].get("button_list", []):
            if button["key"].startswith("order:take:"):
                number = button["key"].split(":")[2]
                at = datetime.fromisoformat(m["at"]).timestamp()
                first[number] = min(first.get(number, at), at)
    return [first[o.number] - o.filed_wall for o in orders if o.number in first and o.filed_wall]


def _backend(database_url: str, options: argparse.Namespace) -> str:
    database = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    return f"{database} + {'Redis' if options.redis_url else 'embedded Redis'}"


# --- the command ----------------------------------------------------------------------------------


def options_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=positive, default=2000, help="enterprises in the county")
    parser.add_argument("--officials", type=positive, default=300, help="officials in the county")
    parser.add_argument("--orders", type=positive, default=500, help="诉求 filed per day")
    parser.add_argument("--messages", type=positive, default=5000, help="callbacks per day, all kinds")
    parser.add_argument("--speed", type=float, default=20.0, help="how many times faster than the day")
    parser.add_argument(
        "--hours", type=parse_hours, default=(0.0, 24.0), help="the slice replayed, e.g. 9-10"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=positive, default=2, help="`ztc worker` processes")
    parser.add_argument("--grace", type=float, default=120.0, help="seconds allowed for draining at the end")
    parser.add_argument("--database-url", help="an EMPTY database (default: a temporary SQLite file)")
    parser.add_argument(
        "--redis-url", help="a Redis database of the run's own, flushed before and after (default: embedded)"
    )
    parser.add_argument("--keep", type=Path, help="keep the processes' logs in this directory")
    return parser


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parsed = options_parser().parse_args(argv)
    if parsed.speed <= 0:
        raise SystemExit("--speed must be positive")
    return parsed


@contextlib.contextmanager
def backends(args: argparse.Namespace, work: Path) -> Iterator[tuple[str, str]]:
    """(database url, redis url): the given ones (checked empty; emptied after), or temporary ones."""
    database_url = args.database_url or f"sqlite:///{work / 'soak.sqlite3'}"
    engine = make_engine(database_url)
    if inspect(engine).get_table_names():
        raise SystemExit("the database is not empty: give the soak an empty database")
    embedded = None
    redis_url = args.redis_url
    if not redis_url:
        embedded = start_embedded_redis(work, daemonize=False)
        redis_url = socket_url(work)
    connection = redis.Redis.from_url(redis_url)
    try:
        _wait_for_redis(connection)
        connection.flushdb()
        yield database_url, redis_url
    finally:
        with contextlib.suppress(redis.RedisError, OSError):
            connection.flushdb()
        connection.close()
        if args.database_url:
            Base.metadata.drop_all(engine)
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
        if embedded is not None:
            stop_embedded_redis(work)
            embedded.wait(10)


def _wait_for_redis(connection: redis.Redis) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError):
            if connection.ping():
                return
        time.sleep(0.05)
    raise RuntimeError("Redis did not answer")


def main(argv: Sequence[str] | None = None) -> int:
    args = options(argv)
    with tempfile.TemporaryDirectory(prefix="ztc-soak-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        with backends(args, work) as (database_url, redis_url):
            result = run(args, work, database_url, redis_url)
    table = report(result)
    print(table.table())
    print(details(result))
    return 1 if table.failed else 0


if __name__ == "__main__":
    sys.exit(main())

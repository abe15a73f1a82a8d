"""Benchmark: the weekly county digest over one year of work orders (issue 10, benchmark 5).

Goal (issue 10): **the weekly county digest over one year of data (50,000 orders) under 10 s.**

    .venv/bin/python -m bench.digest [--orders 50000 --departments 20 --leaders 5 --rounds 3 --seed 1]
                                     [--database-url URL]

Synthetic, deterministic data (the seed decides everything) for one county year: departments with
their officials, leaders with their 分管 (Oversight), enterprises with a bound contact each, and
work orders filed from 2026-01-01 until the moment of the digest, Monday 2026-12-28 08:30 (when the
周报 of week 52 goes out). Each order lives the services' lifecycle, its OrderEvent rows shaped as
handlers/complaints/service.py and closing.py write them (挂号+派单, 接单, 转办, 退回 and the
coordinator's decision, 延期, 办结, 签单 or 自动销号, 返工), with late pickups and solutions per
department, the 盯单 reminders and escalations the alarms would have registered, an audit row per
event, and the orders still open at that moment. Key projects with their weekly reports and
督办卡/批示卡 (and their audit rows), inspections and 免申即享 pushes are added at a modest scale,
since the digest reads them too. Rows are inserted with SQLAlchemy Core executemany.

The database is a temporary SQLite file, unless --database-url names another (PostgreSQL): that
database must be empty; the benchmark creates its tables and drops them afterwards.

Measured, each as the median over the rounds after one warm-up, each call in a fresh session:
- the county's weekly digest for week 52 (delivery.make_digest with figures.county_scope(): the
  figures and the 6-week trend), judged against the goal; its two parts are shown separately;
- the same for each leader's scope (figures.leader_scope), per leader;
- the chart (charts.render) of the county digest, when a CJK font is installed;
- the monthly 排名 (figures.compute for 本月, cut at the same moment), as the 「排名」 command does;
- the process's peak RSS and tracemalloc's peak for one county digest (shown, not judged).
"""

from __future__ import annotations

import argparse
import gc
import heapq
import itertools
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, Table, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from bench.common import Report, Row, backend_options, duration, finish, parser_for, positive
from bench.policy_matching import REGIONS, _peak_rss_mb, _timed
from bot.clock import LOCAL_ZONE, as_utc, local
from bot.db import Base, make_engine, make_session_factory
from bot.models import (
    AuditEvent,
    BindingStatus,
    Department,
    DepartmentKind,
    Enterprise,
    EnterpriseMember,
    Oversight,
    Person,
    Role,
)
from bot.settings import Settings
from bot.uscc import make_uscc
from bot.workdays import is_working_day
from handlers.complaints.models import CATEGORIES, Action, OrderEvent, OrderState, RoutingRule, WorkOrder
from handlers.digests import charts
from handlers.digests.delivery import make_digest
from handlers.digests.figures import compute, county_scope, leader_scope, trend
from handlers.digests.model import Digest, Scope, month_period, week_period
from handlers.inspections.models import Inspection, InspectionStatus, Outcome, QuietPolicy
from handlers.inspections.rules import DEFAULT_RULES, decide
from handlers.policies.models import Policy, PolicyPush, PushStatus
from handlers.projects.cycle import cycle_of
from handlers.projects.models import (
    CardKind,
    CardStatus,
    Colour,
    Project,
    ProjectMember,
    Stage,
    SupervisionCard,
    WeeklyReport,
)
from handlers.projects.rules import ProjectRules, rules_from
from handlers.projects.supervision import DUE_WORKING_DAYS, working_days_after

NOW = as_utc(datetime(2026, 12, 28, 8, 30, tzinfo=LOCAL_ZONE))  # Monday: the 周报 of week 52 goes out
START = as_utc(datetime(2026, 1, 1, tzinfo=LOCAL_ZONE))  # the county year's first order
WEEK = week_period(local(NOW).date()).previous()  # 第52周, 12月21日—12月27日
MONTH = month_period(local(NOW).date())  # 排名 本月 (the command's default), cut at NOW
GOAL_SECONDS = 10.0
MB = 1024 * 1024
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)  # both 24 h clocks, natural mode (the default ZTC_ORDER_CLOCK)
CHUNK = 5_000  # rows per executemany

COUNTY_ROW = "county weekly digest (make_digest), median"

# --- the cast -------------------------------------------------------------------------------------

OFFICE, CONTACT, FUNCTIONAL, BOTH = (
    DepartmentKind.OFFICE.value,
    DepartmentKind.CONTACT.value,
    DepartmentKind.FUNCTIONAL.value,
    DepartmentKind.BOTH.value,
)
# A county's departments, in the order they are taken: the first four already give an office (the
# coordinators of 退回), a 包联 department, a 职能 department and one that is both.
DEPARTMENTS = (
    ("YSHJ", "县营商环境服务中心", OFFICE), ("GXJ", "县工信局", BOTH), ("ZRZYJ", "县自然资源局", FUNCTIONAL),
    ("KFQ", "开发区管委会", CONTACT), ("SCJGJ", "县市场监管局", BOTH), ("FGJ", "县发改局", BOTH),
    ("XZSPJ", "县行政审批局", FUNCTIONAL), ("RSJ", "县人社局", FUNCTIONAL), ("DCS", "县委督查室", OFFICE),
    ("STHJ", "县生态环境分局", FUNCTIONAL), ("ZJJ", "县住建局", BOTH), ("CZJ", "县财政局", FUNCTIONAL),
    ("SWJ", "县商务局", BOTH), ("SWUJ", "县税务局", FUNCTIONAL), ("YJJ", "县应急管理局", FUNCTIONAL),
    ("CGZ", "城关镇", CONTACT), ("QHZ", "清河镇", CONTACT), ("HGY", "化工园区管委会", CONTACT),
    ("NYJ", "县农业农村局", BOTH), ("ZFB", "县政府办公室", OFFICE), ("JRB", "县金融服务中心", FUNCTIONAL),
    ("JTJ", "县交通运输局", BOTH), ("SLJ", "县水利局", FUNCTIONAL), ("LLZ", "柳林镇", CONTACT),
    ("GHZ", "固河镇", CONTACT), ("MZZ", "马庄镇", CONTACT), ("SQX", "石桥乡", CONTACT),
    ("KJJ", "县科技局", BOTH), ("WLJ", "县文化和旅游局", BOTH), ("WJJ", "县卫生健康局", FUNCTIONAL),
)  # fmt: skip
ROUTING = {  # the 职能部门 each category goes to, first present wins (执法检查: the supervising office)
    "审批": ("XZSPJ",), "用地": ("ZRZYJ",), "融资": ("JRB", "CZJ"), "用工": ("RSJ",), "环评": ("STHJ",),
    "水电气": ("ZJJ", "FGJ"), "政策兑现": ("CZJ", "GXJ"), "执法检查": ("DCS", "SCJGJ"), "其他": ("YSHJ",),
}  # fmt: skip
ENFORCEMENT = set(DEFAULT_RULES.enforcement_departments)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "建国明华志刚晓燕伟强磊军洋勇艳杰娟涛超秀英霞平红鹏辉玲丽敏静芳海波宇浩凯文斌"
BRANDS = "鑫恒华金宏德瑞泰丰盛鼎元通达兴隆昌源润嘉祥宇新安永富康百佳亿"
TRADES = (
    "食品", "纺织", "机械制造", "农业科技", "建材", "化工", "电子科技", "物流", "包装", "新材料", "医药",
    "汽车零部件", "家具", "商贸", "餐饮管理",
)  # fmt: skip
LEADER_TITLES = ("县长", "常务副县长", "副县长（分管工业）", "副县长（分管农业）", "副县长（分管城建）")
CATEGORY_WEIGHTS = {  # CATEGORIES, as a county's 诉求 spread over them
    "审批": 15, "用地": 8, "融资": 10, "用工": 10, "环评": 6, "水电气": 15, "政策兑现": 12, "执法检查": 4,
    "其他": 20,
}  # fmt: skip
REQUESTS = {
    "审批": ("新建厂房施工许可办理进度慢，请协调加快", "食品生产许可证延续材料已提交两周未受理"),
    "用地": ("扩建项目用地指标迟迟未落实", "厂区边角地块权属不清，影响办证"),
    "融资": ("流动资金贷款到期，续贷需要协调银行", "申请创业担保贷款，不清楚办理流程"),
    "用工": ("旺季缺普工约50人，请帮助对接劳务", "新招员工社保登记系统报错"),
    "环评": ("技改项目环评批复等待时间过长", "排污许可证变更需要指导"),
    "水电气": (
        "厂区门前道路破损，货车进出困难",
        "新增生产线需要增容，供电报装进度慢",
        "天然气管道未通到园区",
    ),
    "政策兑现": ("去年技改奖补资金尚未拨付", "稳岗返还没有到账"),
    "执法检查": ("同一周内三个部门先后入企检查，影响生产", "检查人员未出示执法证件"),
    "其他": ("园区公交站点设置不合理，员工通勤不便", "希望协调解决员工子女入学", "厂区周边路灯损坏"),
}
RESULTS = (
    "已现场对接，问题已解决。", "已协调相关单位办理完毕，企业已确认。", "已完成审批，证照已送达。",
    "已纳入计划，本周完成施工。", "已联系银行，授信已批复。", "资金已拨付到企业账户。",
)  # fmt: skip
RETURN_NOTES = ("应由自然资源局办理", "诉求内容不完整，请补充", "属企业间经济纠纷", "")
RETURN_CODES = ("非本部门职责", "非本部门职责", "诉求不明确", "不属政府职能", "重复诉求", "其他")


@dataclass
class Dept:
    """A department as the generator uses it."""

    id: int
    code: str
    name: str
    kind: str
    diligence: float  # the chance of answering a clock in time
    officials: list[int] = field(default_factory=list)  # person ids, the head first
    overseers: list[int] = field(default_factory=list)


@dataclass
class Firm:
    """An enterprise and its bound contact."""

    id: int
    name: str
    contact: int  # person id
    department: int | None  # 包联部门


class Event(NamedTuple):
    """An OrderEvent row before its id is known (ids follow time, as a real register's do)."""

    at: datetime
    order_id: int
    seq: int
    actor_id: int | None
    action: str
    from_state: str | None
    to_state: str | None
    department_id: int | None
    data: dict[str, Any]
    channel: str


def _iso(at: datetime) -> str:
    """A moment as write_event stores it in an event's data."""
    return as_utc(at).isoformat()


def _at_local(day: date, hours: float) -> datetime:
    """`hours` after local midnight of `day`, as aware UTC."""
    return as_utc(datetime.combine(day, clock_time(0), tzinfo=LOCAL_ZONE) + timedelta(hours=hours))


def _number(letter: str, at: datetime, counters: dict[str, int]) -> str:
    """S2611-0042: the letter, the local year and month, the month's sequence (as insert_numbered)."""
    prefix = f"{letter}{local(at):%y%m}-"
    counters[prefix] = counters.get(prefix, 0) + 1
    return f"{prefix}{counters[prefix]:04d}"


@dataclass
class Rows:
    """Every row to insert, by table (inserted in the metadata's dependency order)."""

    tables: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    audits: list[dict[str, Any]] = field(default_factory=list)  # cards and inspections; by time later

    def add(self, table: Any, row: dict[str, Any]) -> None:
        self.tables.setdefault(table.__table__, []).append(row)


class County:
    """The generator: departments, people, enterprises, orders and the rest, from one seed."""

    def __init__(self, rng: random.Random, options: argparse.Namespace) -> None:
        self.rng = rng
        self.options = options
        self.rows = Rows()
        self.people = 0
        self.userids: dict[int, str] = {}
        self.departments: list[Dept] = []
        self.leaders: list[int] = []
        self.admin = 0
        self.firms: list[Firm] = []
        self.routing: dict[str, Dept] = {}
        self.events: list[Event] = []
        self.numbers: list[str] = [""]  # order number by id (ids from 1)
        self.state_counts: dict[str, int] = defaultdict(int)

    # --- people and departments --------------------------------------------------------------

    def _name(self) -> str:
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given

    def person(self, userid: str, role: Role, department: int | None = None, **extra: Any) -> int:
        self.people += 1
        created = as_utc(datetime(2025, 12, 1, 9, tzinfo=LOCAL_ZONE)) + timedelta(minutes=self.people)
        row = {
            "id": self.people, "wecom_userid": userid, "name": extra.pop("name", None) or self._name(),
            "role": role.value, "department_id": department, "title": extra.pop("title", None),
            "is_head": extra.pop("is_head", False), "mobile": f"139{self.people:08d}", "active": True,
            "erased": False, "created_at": created,
        }  # fmt: skip
        self.rows.add(Person, row)
        self.userids[self.people] = userid
        return self.people

    def build_cast(self) -> None:
        rng, created = self.rng, as_utc(datetime(2025, 11, 1, tzinfo=LOCAL_ZONE))
        for number in range(1, self.options.departments + 1):
            if number <= len(DEPARTMENTS):
                code, name, kind = DEPARTMENTS[number - 1]
            else:
                code, name, kind = f"PQ{number}", f"第{number - len(DEPARTMENTS)}片区服务中心", CONTACT
            diligence = 0.97 if kind == OFFICE else rng.uniform(0.8, 0.99)
            self.departments.append(Dept(number, code, name, kind, diligence))
            self.rows.add(Department, {
                "id": number, "code": code, "name": name, "kind": kind,
                "group_webhook_key": f"bench-{code.lower()}-robot" if rng.random() < 0.6 else None,
                "created_at": created,
            })  # fmt: skip
        for index in range(self.options.leaders):
            title = LEADER_TITLES[index] if index < len(LEADER_TITLES) else "副县长"
            self.leaders.append(self.person(f"leader_{index + 1}", Role.LEADER, title=title))
        for dept in self.departments:
            head = self.person(f"{dept.code.lower()}_1", Role.OFFICIAL, dept.id, is_head=True, title="局长")
            dept.officials.append(head)
            for k in range(rng.randint(2, 4)):
                dept.officials.append(self.person(f"{dept.code.lower()}_{k + 2}", Role.OFFICIAL, dept.id))
        self.admin = self.person("admin", Role.ADMIN, self.departments[0].id, title="系统管理员")
        self._oversight()
        self._routing()
        self._firms()

    def _oversight(self) -> None:
        """The first leader (县长) oversees the offices; the others share the rest round-robin."""
        others, turn = self.leaders[1:] or self.leaders, 0
        for dept in self.departments:
            if dept.kind == OFFICE:
                leader = self.leaders[0]
            else:
                leader, turn = others[turn % len(others)], turn + 1
            dept.overseers.append(leader)
            self.rows.add(Oversight, {"id": dept.id, "leader_id": leader, "department_id": dept.id})

    def _routing(self) -> None:
        by_code = {d.code: d for d in self.departments}
        functional = [d for d in self.departments if d.kind in (FUNCTIONAL, BOTH)]
        for number, category in enumerate(CATEGORIES):
            chosen = next((by_code[c] for c in ROUTING[category] if c in by_code), None)
            dept = chosen or functional[number % len(functional)]
            self.routing[category] = dept
            self.rows.add(RoutingRule, {"id": number + 1, "category": category, "department_id": dept.id})

    def _firms(self) -> None:
        rng = self.rng
        contacts = [d for d in self.departments if d.kind in (CONTACT, BOTH)]
        for number in range(1, max(20, self.options.orders // 10) + 1):
            name = f"示范县{''.join(rng.sample(BRANDS, 2))}{rng.choice(TRADES)}有限公司"
            department = rng.choice(contacts).id if rng.random() < 0.95 else None
            created = START - timedelta(days=rng.randint(30, 3000))
            self.rows.add(Enterprise, {
                "id": number, "uscc": make_uscc(f"91371526{number:09d}"), "name": name,
                "contact_department_id": department, "region": rng.choice(REGIONS), "created_at": created,
            })  # fmt: skip
            contact = self.person(f"ent_{number}", Role.ENTERPRISE, name=None)
            self.rows.add(EnterpriseMember, {
                "id": number, "person_id": contact, "enterprise_id": number,
                "status": BindingStatus.CONFIRMED.value, "requested_at": created + HOUR,
                "decided_at": created + 5 * HOUR, "decided_by_id": self.admin,
            })  # fmt: skip
            self.firms.append(Firm(number, name, contact, department))

    def dept(self, dept_id: int) -> Dept:
        return self.departments[dept_id - 1]

    def coordinator(self) -> int:
        """Who decides a 退回: an office's official, or the admin."""
        offices = [p for d in self.departments if d.kind == OFFICE for p in d.officials]
        return self.rng.choice(offices or [self.admin])

    def elsewhere(self, category: str, holder: int) -> Dept:
        """Where a 转办 or an accepted 退回 sends an order: the category's 职能部门, else elsewhere."""
        routed = self.routing[category]
        if routed.id != holder and routed.kind != OFFICE:
            return routed
        return self.rng.choice([d for d in self.departments if d.id != holder and d.kind != OFFICE])

    # --- work orders ---------------------------------------------------------------------------

    def build_orders(self) -> None:
        rng = self.rng
        days, weights = [], []
        day = local(START).date()
        while day <= local(NOW).date():
            season = 1.0 + 0.15 * math.sin((day.timetuple().tm_yday - 60) / 365 * 2 * math.pi)
            days.append(day)
            weights.append(season * (1.0 if is_working_day(day) else 0.3))
            day += timedelta(days=1)
        hours = [0.2] * 7 + [1.5, 4, 6, 6, 5, 2.5, 3, 5, 5.5, 5, 3.5, 1.5, 1, 0.8, 0.6, 0.4, 0.2]
        filed: list[datetime] = []
        while len(filed) < self.options.orders:  # the last day ends at NOW: a few draws fall after it
            wanted = self.options.orders - len(filed)
            drawn = zip(
                rng.choices(days, weights, k=wanted), rng.choices(range(24), hours, k=wanted), strict=True
            )
            moments = (_at_local(day, hour + rng.random()) for day, hour in drawn)
            filed += [moment for moment in moments if moment < NOW]
        filed.sort()
        activity = [rng.paretovariate(1.2) for _ in self.firms]  # a few enterprises file most
        firms = rng.choices(self.firms, activity, k=len(filed))
        counters: dict[str, int] = {}
        for order_id, (moment, firm) in enumerate(zip(filed, firms, strict=True), start=1):
            number = _number("S", moment, counters)
            self.numbers.append(number)
            life = Life(self, order_id, number, firm, moment)
            life.live()
            self.events.extend(life.events)
            self.rows.add(WorkOrder, life.row())
            self.state_counts[str(life.state)] += 1


def _lognormal(rng: random.Random, median_hours: float, sigma: float) -> timedelta:
    return timedelta(hours=median_hours * math.exp(rng.gauss(0, sigma)))


class Life:
    """One order lived through from 挂号 until NOW: its events, as the services write them, and its row."""

    def __init__(self, county: County, order_id: int, number: str, firm: Firm, filed: datetime) -> None:
        self.county, self.rng = county, county.rng
        self.id, self.number, self.firm, self.filed = order_id, number, firm, filed
        self.category = self.rng.choices(list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values()))[0]
        self.urgency = "紧急" if self.rng.random() < 0.1 else "普通"
        self.holder = firm.department or county.routing[self.category].id
        self.state: str | None = None
        self.dispatched_at = self.held_since = self.armed = filed
        self.pickup_due = filed + DAY
        self.picked_up_at: datetime | None = None
        self.solve_due: datetime | None = None  # the 24 h promise, never moved
        self.requested_until: datetime | None = None
        self.extended_until: datetime | None = None
        self.resolved_at: datetime | None = None
        self.result: str | None = None
        self.closed_at: datetime | None = None
        self.rating: str | None = None
        self.reworks = 0
        self.auto_closed = False
        self.version = 1
        self.events: list[Event] = []

    # --- writing events ------------------------------------------------------------------------

    def event(
        self,
        at: datetime,
        action: Action,
        actor: int | None,
        to_state: str,
        data: dict[str, Any],
        *,
        before: str | None = None,
        moved: bool = True,
    ) -> None:
        """One register row, as write_event writes it (None values left out); a move bumps the version."""
        from_state = self.state if moved else before
        channel = "job" if actor is None else "wecom"
        clean = {k: v for k, v in data.items() if v is not None}
        self.events.append(
            Event(
                at,
                self.id,
                len(self.events),
                actor,
                action.value,
                from_state,
                to_state,
                self.holder,
                clean,
                channel,
            )
        )
        self.state = to_state
        self.version += moved
        self.armed = at

    def reached(self, at: datetime) -> bool:
        """Whether `at` comes before NOW; the 盯单 rungs due before it (and NOW) are registered first."""
        until = min(at, NOW)
        for rung, when, due in self.ladder():
            fired = when + timedelta(seconds=self.rng.uniform(1, 30))  # the alarm job's small delay
            if self.armed < when and fired < until:
                self.note(fired, rung, due)
        return at < NOW

    def ladder(self) -> list[tuple[str, datetime, datetime]]:
        """The alarms of the current state (alarms.ladder with the default rules): (rung, when, due)."""
        solve_due = self.extended_until or self.solve_due
        if self.state in (OrderState.PICKED_UP, OrderState.DISPATCHED) and solve_due is not None:
            return self._deadline("solve", solve_due)
        if self.state in (OrderState.DISPATCHED, OrderState.RETURNED):
            return self._deadline("pickup", self.pickup_due)
        if self.state == OrderState.RESOLVED and self.resolved_at is not None:
            close = self.resolved_at + 3 * DAY
            return [("signoff.remind", self.resolved_at + DAY, close), ("signoff.close", close, close)]
        return []

    def _deadline(self, clock: str, due: datetime) -> list[tuple[str, datetime, datetime]]:
        late = max(due, self.held_since)
        steps = [
            (f"{clock}.warn", due - 2 * HOUR, due),
            (f"{clock}.overdue", late, due),
            (f"{clock}.head", late + 2 * HOUR, due),
            (f"{clock}.leader", late + 4 * HOUR, due),
        ]
        return sorted(steps, key=lambda step: step[1])

    def note(self, at: datetime, rung: str, due: datetime) -> None:
        """A 催办 or 督办 sent (closing.note_reminder): the order does not change, nor its alarm base."""
        if rung == "signoff.close":
            return  # not a reminder: the sign-off phase closes the order itself (AUTO_CLOSE)
        dept = self.county.dept(self.holder)
        if rung.startswith("signoff"):
            to = [self.county.userids[self.firm.contact]]
        elif self.state == OrderState.RETURNED:
            to = [self.county.userids[self.county.coordinator()]]
        elif rung.endswith(".head"):
            to = [self.county.userids[dept.officials[0]]]
        elif rung.endswith(".leader"):
            to = [self.county.userids[p] for p in dept.overseers]
        else:
            to = [self.county.userids[p] for p in dept.officials[1:]]
        action = Action.REMIND if rung.endswith((".warn", ".remind")) else Action.ESCALATE
        armed = self.armed
        data = {"rung": rung, "due": _iso(due), "to": to}
        self.event(at, action, None, str(self.state), data, before=self.state, moved=False)
        self.armed = armed

    def official(self) -> int:
        return self.rng.choice(self.county.dept(self.holder).officials)

    # --- the lifecycle -------------------------------------------------------------------------

    def live(self) -> None:
        """挂号 and 派单, then rounds of pickup, solving and sign-off until closed or NOW."""
        contact, rng = self.firm.contact, self.rng
        filed_data = {"category": self.category, "urgency": self.urgency, "enterprise_id": self.firm.id}
        self.event(self.filed, Action.FILE, contact, OrderState.DISPATCHED.value, filed_data, moved=False)
        due = {"pickup_due": _iso(self.pickup_due)}
        self.event(self.filed, Action.DISPATCH, contact, OrderState.DISPATCHED.value, due, moved=False)
        returns = transfers = 0
        while True:
            draw = rng.random()
            if returns == 0 and self.solve_due is None and draw < 0.04:
                returns += 1
                if not self._send_back():
                    return
                continue
            if transfers < 2 and 0.04 <= draw < 0.10:
                transfers += 1
                if not self._transfer(_lognormal(rng, 2, 1.0)):
                    return
                continue
            if not self._pick_up():
                return
            if transfers < 2 and rng.random() < 0.02:  # 转办 after 接单: the solve clock keeps running
                transfers += 1
                if not self._transfer(_lognormal(rng, 3, 0.8)):
                    return
                continue
            if not self._solve() or not self._sign_off():
                return
            if self.state == OrderState.CLOSED:
                return

    def _in_time(self, due: datetime, median_hours: float) -> datetime:
        """A moment before `due` (if it is still ahead) that an answer in time takes."""
        spent = _lognormal(self.rng, median_hours, 1.0)
        room = due - self.armed
        if room <= timedelta(minutes=5):
            return self.armed + spent  # handed over already late: in time is no longer possible
        return self.armed + min(spent, room * self.rng.uniform(0.5, 0.99))

    def _late(self, due: datetime, median_hours: float) -> datetime:
        if self.rng.random() < 0.01:  # forgotten: it waits for days, and shows in the digests
            return self.armed + timedelta(days=self.rng.uniform(4, 30))
        return max(due, self.armed) + _lognormal(self.rng, median_hours, 1.0)

    def _send_back(self) -> bool:
        """退回 before pickup, then a coordinator's decision (to another department or back)."""
        rng = self.rng
        at = self.armed + _lognormal(rng, 3, 1.0)
        if not self.reached(at):
            return False
        code = rng.choice(RETURN_CODES)
        note = rng.choice(RETURN_NOTES) or ("请补充说明" if code == "其他" else None)
        self.held_since = at
        self.event(
            at, Action.RETURN, self.official(), OrderState.RETURNED.value, {"reason": code, "note": note}
        )
        wait = timedelta(days=rng.uniform(3, 20)) if rng.random() < 0.01 else _lognormal(rng, 5, 1.1)
        at += wait
        if not self.reached(at):
            return False
        accepted = rng.random() < 0.7
        target = (
            self.county.elsewhere(self.category, self.holder) if accepted else self.county.dept(self.holder)
        )
        self.holder, self.held_since = target.id, at
        data = {"accepted": accepted, "to_department": target.name, "pickup_due": _iso(self.pickup_due)}
        self.event(at, Action.RETURN_DECIDED, self.county.coordinator(), OrderState.DISPATCHED.value, data)
        return True

    def _transfer(self, after: timedelta) -> bool:
        """转办 to another department with a reason; the clocks keep running."""
        at = self.armed + after
        if not self.reached(at):
            return False
        actor, source = self.official(), self.county.dept(self.holder)
        target = self.county.elsewhere(self.category, self.holder)
        self.holder, self.held_since = target.id, at
        data = {
            "reason": f"涉及{target.name}职责，转其办理", "from_department": source.name,
            "to_department": target.name, "pickup_due": _iso(self.pickup_due),
        }  # fmt: skip
        self.event(at, Action.TRANSFER, actor, OrderState.DISPATCHED.value, data)
        return True

    def _pick_up(self) -> bool:
        """接单, in time as the department usually is, or late; the first starts the solve clock."""
        dept = self.county.dept(self.holder)
        on_time = self.rng.random() < dept.diligence
        at = self._in_time(self.pickup_due, 1.5) if on_time else self._late(self.pickup_due, 5)
        if not self.reached(at):
            return False
        if self.picked_up_at is None:
            self.picked_up_at, self.solve_due = at, at + DAY
        assert self.solve_due is not None
        data = {"pickup_due": _iso(self.pickup_due), "solve_due": _iso(self.solve_due)}
        self.event(at, Action.PICKUP, self.official(), OrderState.PICKED_UP.value, data)
        return True

    def _solve(self) -> bool:
        """办结, sometimes after a 延期 request that a leader approves or refuses."""
        rng, dept = self.rng, self.county.dept(self.holder)
        assert self.solve_due is not None
        promise = self.solve_due
        until = None
        if self.extended_until is None and rng.random() < 0.04:
            until = self._extension(promise)
            if until is None:
                return False
        if until is not None and self.extended_until is not None:  # approved: mostly done by the new date
            room = max(self.extended_until - self.armed, HOUR)
            at = self.armed + room * rng.uniform(0.2, 1.1)
        elif rng.random() < 0.015:  # a complex request: weeks of work, visibly late meanwhile
            at = self.armed + timedelta(days=rng.uniform(3, 45))
        elif rng.random() < dept.diligence * 0.97:
            at = self._in_time(promise, 5)
        else:
            at = self._late(promise, 10)
        if not self.reached(at):
            return False
        self.resolved_at, self.result, self.requested_until = at, rng.choice(RESULTS), None
        data = {
            "result": self.result,
            "solve_due": _iso(promise),
            "extended_until": _iso(self.extended_until) if self.extended_until else None,
        }
        self.event(at, Action.RESOLVE, self.official(), OrderState.RESOLVED.value, data)
        return True

    def _extension(self, promise: datetime) -> datetime | None:
        """延期 requested by the holder and decided by the overseeing leader; the date asked for."""
        rng = self.rng
        at = self.armed + min(_lognormal(rng, 8, 0.6), max(promise - self.armed, HOUR) * 0.9)
        if not self.reached(at):
            return None
        day = local(promise).date() + timedelta(days=rng.randint(2, 30))
        until = _at_local(day, 18)
        self.requested_until = until
        reason = "需协调省级部门，办理周期较长"
        self.event(
            at,
            Action.EXTEND_REQUESTED,
            self.official(),
            OrderState.PICKED_UP.value,
            {"until": _iso(until), "reason": reason},
        )
        at += _lognormal(rng, 4, 1.0)
        if not self.reached(at):
            return None
        approved = rng.random() < 0.8
        self.requested_until = None
        if approved:
            self.extended_until = until
        action = Action.EXTEND_APPROVED if approved else Action.EXTEND_REJECTED
        leader = rng.choice(self.county.dept(self.holder).overseers)
        self.event(at, action, leader, OrderState.PICKED_UP.value, {"until": _iso(until)})
        return until

    def _sign_off(self) -> bool:
        """签单 by the enterprise (满意/基本满意 close it, 不满意 is 返工), or 自动销号 after 72 h."""
        rng = self.rng
        assert self.resolved_at is not None
        draw = rng.random()
        if draw < 0.72:
            at = self.resolved_at + min(_lognormal(rng, 2.5, 1.1), 23.5 * HOUR)
        elif draw < 0.87:
            at = self.resolved_at + timedelta(hours=rng.uniform(24.2, 71.5))  # after the reminder
        else:
            at = self.resolved_at + 3 * DAY + timedelta(seconds=rng.uniform(5, 300))
            if not self.reached(at):
                return False
            self.closed_at, self.auto_closed = at, True
            self.event(at, Action.AUTO_CLOSE, None, OrderState.CLOSED.value, {"after_hours": 72.0})
            return True
        if not self.reached(at):
            return False
        dept = self.county.dept(self.holder)
        comment = rng.choice(("", "", "", "办理及时，感谢！", "问题基本解决"))
        if self.reworks < 2 and rng.random() < 0.02 + (1 - dept.diligence) * 0.2:
            self._rework(at, rng.choice(("问题没有解决", "只答复没落实", "")))
            return True
        self.rating = "满意" if rng.random() < 0.85 else "基本满意"
        self.closed_at = at
        data = {"rating": self.rating, "comment": comment or None}
        self.event(at, Action.RATE, self.firm.contact, OrderState.CLOSED.value, data)
        return True

    def _rework(self, at: datetime, comment: str) -> None:
        """不满意: the rating (no move of its own) and 返工 at the same department with fresh clocks."""
        resolved = OrderState.RESOLVED.value
        rated = {"rating": "不满意", "comment": comment or None}
        self.event(at, Action.RATE, self.firm.contact, resolved, rated, before=resolved, moved=False)
        self.reworks += 1
        self.dispatched_at = self.held_since = at
        self.pickup_due = at + DAY
        self.picked_up_at = self.solve_due = self.extended_until = self.resolved_at = self.result = None
        data = {"rework_count": self.reworks, "pickup_due": _iso(self.pickup_due)}
        self.event(at, Action.REOPEN, self.firm.contact, OrderState.DISPATCHED.value, data)

    def row(self) -> dict[str, Any]:
        """The work_orders row as the order stands at NOW, with its next 盯单 alarm."""
        upcoming = [(rung, when) for rung, when, _ in self.ladder() if when > max(NOW, self.armed)]
        alarm = min(upcoming, key=lambda step: step[1]) if upcoming else None
        return {
            "id": self.id, "number": self.number, "enterprise_id": self.firm.id,
            "filed_by_id": self.firm.contact, "category": self.category,
            "description": self.rng.choice(REQUESTS[self.category]), "urgency": self.urgency,
            "clock_mode": "natural", "holding_department_id": self.holder, "state": self.state,
            "filed_at": self.filed, "dispatched_at": self.dispatched_at, "pickup_due_at": self.pickup_due,
            "picked_up_at": self.picked_up_at, "solve_due_at": self.solve_due,
            "extension_requested_until": self.requested_until, "extended_until": self.extended_until,
            "resolved_at": self.resolved_at, "result": self.result, "closed_at": self.closed_at,
            "rating": self.rating, "rework_count": self.reworks, "auto_closed": self.auto_closed,
            "photos": [{"media_id": f"bench-{self.id}", "pic_url": ""}] if self.id % 9 == 0 else [],
            "alarm_at": alarm[1] if alarm else None, "alarm_rung": alarm[0] if alarm else None,
            "held_since": self.held_since, "version": self.version,
        }  # fmt: skip


# --- projects, inspections, pushes -----------------------------------------------------------------


class Extras:
    """Key projects (weekly reports, 督办卡/批示卡), inspections and 免申即享 pushes, at a modest scale."""

    def __init__(self, county: County) -> None:
        self.county, self.rng, self.rows = county, county.rng, county.rows
        self.rules = ProjectRules()
        self.projects: list[tuple[int, Dept, int | None, datetime, list[int]]] = []
        self.cards: list[dict[str, Any]] = []
        self.card_audits: list[list[tuple[datetime, str, int | None, dict[str, Any]]]] = []

    def build(self) -> None:
        self._projects()
        self._cards()
        self._inspections()
        self._pushes()

    def _projects(self) -> None:
        rng, county = self.rng, self.county
        owners = [d for d in county.departments if d.kind != OFFICE]
        report_id = member_id = 0
        stage_weights = (10, 15, 20, 40, 8, 7)  # Stage order: mostly 在建; 竣工/投产 report no more
        for number in range(1, 3 * len(county.departments) + 1):
            dept = rng.choice(owners)
            leader = rng.choice(dept.overseers) if rng.random() < 0.75 else None
            stage = rng.choices(list(Stage), stage_weights)[0]
            if rng.random() < 0.7:  # registered before the year; the rest during it
                created = START - timedelta(days=rng.randint(5, 200))
            else:
                created = START + timedelta(days=rng.randint(0, 330), hours=rng.uniform(8, 18))
            total = rng.randint(5, 200) * 10_000_000
            self.rows.add(Project, {
                "id": number, "code": f"XM2026-{number:03d}",
                "name": f"{rng.choice(TRADES)}产业园项目（{number}期）",
                "enterprise_id": rng.choice(county.firms).id, "leader_id": leader, "department_id": dept.id,
                "stage": stage.value, "total_investment_yuan": total, "annual_plan_yuan": total // 3,
                "plan_year": 2026, "invested_before_yuan": total // 10, "starts_on": date(2025, 9, 1),
                "due_on": date(2027, 6, 30), "active": rng.random() < 0.95, "created_at": created,
            })  # fmt: skip
            members = rng.sample(dept.officials, min(len(dept.officials), rng.randint(1, 3)))
            for index, person in enumerate(members):
                member_id += 1
                self.rows.add(ProjectMember, {
                    "id": member_id, "project_id": number, "person_id": person, "is_lead": index == 0,
                })  # fmt: skip
            marks = []
            if stage in (Stage.COMPLETED, Stage.OPERATING):
                self.projects.append((number, dept, leader, created, members))
                continue
            colour = rng.choice([Colour.GREEN, Colour.WHITE, Colour.WHITE])
            week = local(START).date() - timedelta(days=local(START).date().weekday())
            while True:
                cycle = cycle_of(week, self.rules)
                if cycle.deadline_at > NOW:
                    break
                if as_utc(created) <= cycle.prompt_at:
                    colour = self._drift(colour)
                    reported = rng.random() < 0.92
                    if reported:
                        report_id = self._report(report_id, number, week, colour, cycle, members)
                    marks.append((week, colour if reported else None, cycle.escalate_at))
                week += timedelta(days=7)
            self.projects.append((number, dept, leader, created, members))
            self._streak_cards(number, dept, leader, members, marks)

    def _drift(self, colour: Colour) -> Colour:
        """Next week's colour: mostly the same; else drawn anew, so that 黄 and 红 stay the exception."""
        if self.rng.random() < 0.8:
            return colour
        return self.rng.choices(list(Colour), (35, 45, 13, 7))[0]

    def _report(
        self, report_id: int, project: int, week: date, colour: Colour, cycle: Any, members: list[int]
    ) -> int:
        rng = self.rng
        on_time = rng.random() < 0.85
        window = (cycle.deadline_at - cycle.prompt_at) if on_time else (cycle.escalate_at - cycle.deadline_at)
        at = (cycle.prompt_at if on_time else cycle.deadline_at) + window * rng.uniform(0.05, 0.95)
        objective = rng.choices([colour, list(Colour)[min(3, colour.rank + 1)], None], (70, 20, 10))[0]
        problems = ""
        if colour.rank >= 2:  # 黄 or 红: what holds it up
            problems = rng.choice(("征地拆迁尚未完成", "施工许可待办", "资金未及时到位", "设备到货延迟"))
        reason = "序时进度落后" if objective and objective.rank > colour.rank else None
        replaced = rng.random() < 0.04 and at + HOUR < NOW
        for version in range(2 if replaced else 1):
            report_id += 1
            reported_at = at + HOUR * version
            self.rows.add(WeeklyReport, {
                "id": report_id, "project_id": project, "week": week, "colour": colour.value,
                "invested_yuan": rng.randint(0, 500) * 10_000, "progress": "主体施工，按计划推进",
                "problems": problems, "help_needed": "请协调解决" + problems if problems else "",
                "objective_colour": objective.value if objective else None, "objective_reason": reason,
                "reporter_id": rng.choice(members), "channel": "wecom", "reported_at": reported_at,
                "replaced_at": reported_at + HOUR if replaced and version == 0 else None,
            })  # fmt: skip
        return report_id

    def _streak_cards(
        self, project: int, dept: Dept, leader: int | None, members: list[int], marks: list[Any]
    ) -> None:
        """A 督办卡 drafted after the escalation of the second lagging week in a row (none running)."""
        busy_until: datetime | None = None
        last_week: date | None = None
        for previous, current in itertools.pairwise(marks):
            lagging = all(colour is None or colour.rank >= 2 for _, colour, _ in (previous, current))
            week, _, escalate_at = current
            drafted = escalate_at + timedelta(minutes=self.rng.uniform(1, 10))
            if not lagging or drafted >= NOW or (busy_until is not None and busy_until > drafted):
                continue
            if last_week is not None and week <= last_week + timedelta(days=7):
                continue
            problem = f"项目连续2周{'未报送进展' if current[1] is None else '进度滞后'}"
            card = self._card(
                CardKind.SUPERVISE,
                project,
                dept,
                leader or dept.overseers[0],
                members[0],
                drafted,
                f"streak:{week.isoformat()}",
                problem,
            )
            last_week = week
            busy_until = card["cleared_at"] or card.get("_ends") or NOW

    def _card(
        self,
        kind: CardKind,
        project: int | None,
        dept: Dept,
        leader: int,
        assignee: int,
        drafted: datetime,
        trigger: str,
        problem: str,
    ) -> dict[str, Any]:
        """A card and its audit rows, as supervision.py moves it, truncated at NOW."""
        rng = self.rng
        if kind is CardKind.INSTRUCT:  # the leader's 期限
            due = local(drafted).date() + timedelta(days=rng.randint(3, 15))
        else:  # drafting's, pushed on by 签发 to at least DUE_WORKING_DAYS after it
            due = working_days_after(local(drafted).date(), DUE_WORKING_DAYS)
        card: dict[str, Any] = {
            "kind": kind.value, "status": CardStatus.DRAFT.value, "project_id": project, "trigger": trigger,
            "problem": problem, "action": f"请于{due.month}月{due.day}日前办理并反馈。", "leader_id": leader,
            "assignee_id": assignee, "department_id": dept.id, "due_on": due, "version": 1,
            "drafted_at": drafted, "issued_at": None, "answer": None, "answered_at": None,
            "answered_by_id": None, "cleared_at": None, "note": None,
        }  # fmt: skip
        audits: list[tuple[datetime, str, int | None, dict[str, Any]]] = []

        def move(at: datetime, action: str, actor: int | None, status: CardStatus, **data: Any) -> bool:
            if at >= NOW:
                return False
            card["status"] = status.value
            card["version"] += action not in ("draft", "instruct")
            audits.append((at, action, actor, {"status": status.value, **data}))
            return True

        if kind is CardKind.INSTRUCT:
            card.update(status=CardStatus.ISSUED.value, issued_at=drafted)
            move(drafted, "instruct", leader, CardStatus.ISSUED, target=dept.name, due_on=due.isoformat())
            at = drafted
        else:
            move(drafted, "draft", None, CardStatus.DRAFT, trigger=trigger)
            at = drafted + timedelta(hours=rng.uniform(1, 72))
            draw = rng.random()
            if draw < 0.1:
                move(at, "dismiss", leader, CardStatus.DISMISSED)
                card["_ends"] = at
                return self._keep(card, audits)
            due = max(due, working_days_after(local(at).date(), DUE_WORKING_DAYS))
            if draw < 0.2 or not move(at, "issue", leader, CardStatus.ISSUED, due_on=due.isoformat()):
                return self._keep(card, audits)
            card.update(issued_at=at, due_on=due, action=f"请于{due.month}月{due.day}日前办理并反馈。")
        for _ in range(3):  # answered, then cleared or sent back (at most twice)
            if rng.random() < 0.06:
                return self._keep(card, audits)  # never answered: overdue in the digests
            at += timedelta(days=rng.uniform(1, 9))
            late = local(at).date() > due
            if not move(at, "answer", assignee, CardStatus.ANSWERED, late=late):
                return self._keep(card, audits)
            card.update(answer="已协调解决，项目恢复正常推进。", answered_at=at, answered_by_id=assignee)
            at += timedelta(days=rng.uniform(0.5, 5))
            if rng.random() < 0.88:
                if move(at, "clear", leader, CardStatus.CLEARED):
                    card["cleared_at"] = at
                return self._keep(card, audits)
            if not move(at, "send_back", leader, CardStatus.ISSUED, note="反馈不具体，请补充"):
                return self._keep(card, audits)
        return self._keep(card, audits)

    def audit(
        self, at: datetime, actor: int | None, action: str, entity: str, key: str, data: dict[str, Any]
    ) -> None:
        """An audit row, as bot.audit.record writes it."""
        userid = self.county.userids[actor] if actor else None
        channel = "job" if actor is None else "wecom"
        self.rows.audits.append({
            "at": at, "actor_id": actor, "actor_userid": userid, "channel": channel, "action": action,
            "entity": entity, "entity_id": key, "data": data,
        })  # fmt: skip

    def _keep(self, card: dict[str, Any], audits: list[Any]) -> dict[str, Any]:
        self.cards.append(card)
        self.card_audits.append(audits)
        return card

    def _cards(self) -> None:
        """批示卡 from leaders' 交办 (about 1.5 a week), then every card numbered in drafting order."""
        rng, county = self.rng, self.county
        at = START + timedelta(days=rng.uniform(0, 5))
        while at < NOW:
            dept = rng.choice([d for d in county.departments if d.kind != OFFICE])
            own = [p for p in self.projects if p[1] is dept]
            project = rng.choice(own)[0] if own and rng.random() < 0.5 else None
            self._card(
                CardKind.INSTRUCT,
                project,
                dept,
                rng.choice(dept.overseers),
                dept.officials[0],
                at,
                f"instruct:{rng.getrandbits(64):016x}",
                "协调解决企业反映的问题，按期报结果",
            )
            at += timedelta(days=rng.expovariate(1.5 / 7))
        order = sorted(range(len(self.cards)), key=lambda i: self.cards[i]["drafted_at"])
        counters: dict[str, int] = {}
        for card_id, index in enumerate(order, start=1):
            card = self.cards[index]
            card.pop("_ends", None)
            card.update(id=card_id, number=_number("D", card["drafted_at"], counters))
            self.rows.add(SupervisionCard, card)
            for at, action, actor, data in self.card_audits[index]:
                data = {"kind": card["kind"], **data}  # supervision.audit
                self.audit(at, actor, f"supervision.{action}", "supervision_card", card["number"], data)

    def _inspections(self) -> None:
        """企业宁静日 registrations by the enforcement departments, decided by DEFAULT_RULES."""
        rng, county = self.rng, self.county
        policy_created = as_utc(datetime(2025, 12, 20, 10, tzinfo=LOCAL_ZONE))
        self.rows.add(QuietPolicy, {
            "id": 1, "effective_from": date(2026, 1, 1), "rules": DEFAULT_RULES.to_dict(),
            "source": "bench", "created_at": policy_created, "created_by_id": county.admin,
        })  # fmt: skip
        inspectors = [d for d in county.departments if d.code in ENFORCEMENT] or [
            d for d in county.departments if d.kind != OFFICE
        ]
        span = (NOW - START).total_seconds()
        made = sorted(
            START + timedelta(seconds=rng.uniform(0, span)) for _ in range(len(county.firms) * 2 // 5)
        )
        counted: dict[tuple[int, int, int], int] = defaultdict(int)
        counters: dict[str, int] = {}
        by_firm: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for number, created in enumerate(made, start=1):
            dept, firm = rng.choice(inspectors), rng.choice(county.firms)
            day = local(created).date() + timedelta(days=rng.randint(1, 14))
            if rng.random() < 0.8 and day.day <= 20:  # officials plan around the quiet days
                day = day.replace(day=rng.randint(21, 28))
            category = rng.choice(DEFAULT_RULES.categories)
            key = (dept.id, firm.id, day.year)
            decision = decide(DEFAULT_RULES, day, category, dept.code, counted[key])
            row: dict[str, Any] = {
                "id": number, "number": _number("J", created, counters), "enterprise_id": firm.id,
                "department_id": dept.id, "registered_by_id": rng.choice(dept.officials), "planned_on": day,
                "category": category, "reason": "年度双随机抽查", "outcome": decision.outcome.value,
                "rule_text": decision.rule_text, "next_allowed_on": decision.next_allowed, "policy_id": 1,
                "status": InspectionStatus.BLOCKED.value, "decided_by_id": None, "decided_at": None,
                "joint_key": None, "result": None, "lenient_codes": [], "rating": None,
                "rating_comment": None, "created_at": created, "version": 1,
            }  # fmt: skip
            audit: list[tuple[datetime, str, int, dict[str, Any]]] = [
                (created, "register", row["registered_by_id"], {"outcome": decision.outcome.value})
            ]
            if decision.outcome is not Outcome.BLOCKED:
                counted[key] += 1
                row["status"] = InspectionStatus.PENDING.value
                decided = created + timedelta(hours=rng.uniform(0.5, 40))
                if decided < NOW:
                    approved = rng.random() < 0.95
                    row.update(
                        status=(InspectionStatus.APPROVED if approved else InspectionStatus.REJECTED).value,
                        decided_by_id=dept.officials[0],
                        decided_at=decided,
                        version=2,
                    )
                    audit.append((decided, "approve" if approved else "reject", dept.officials[0], {}))
                    visited = _at_local(day, 17)
                    if approved and visited < NOW and rng.random() < 0.85:
                        row.update(status=InspectionStatus.DONE.value, result="未发现问题", version=3)
                        audit.append((visited, "result", row["registered_by_id"], {"lenient": []}))
                by_firm[firm.id].append(row)
            self.rows.add(Inspection, row)
            for at, action, actor, data in audit:
                self.audit(at, actor, f"inspection.{action}", "inspection", row["number"], data)
        for visits in by_firm.values():  # 综合查一次: other departments' visits within the window
            visits.sort(key=lambda r: (r["planned_on"], r["id"]))
            for first, second in itertools.pairwise(visits):
                near = (second["planned_on"] - first["planned_on"]).days <= DEFAULT_RULES.joint_window_days
                if near and first["department_id"] != second["department_id"]:
                    joint = first["joint_key"] or f"JT-{first['number']}"
                    first["joint_key"] = second["joint_key"] = joint

    def _pushes(self) -> None:
        """A dozen 免申即享 policies, each pushed to the few percent of enterprises that qualify."""
        rng, county = self.rng, self.county
        push_id = 0
        for number in range(1, 13):
            published = START + timedelta(days=rng.uniform(-60, 300))
            self.rows.add(Policy, {
                "id": number, "code": f"BENCH-{number:03d}", "version": 1, "current": True,
                "title": f"示范县惠企政策第{number}号", "issuer": "示范县人民政府",
                "doc_number": f"示政发〔2026〕{number}号", "level": "县", "valid_from": date(2026, 1, 1),
                "valid_to": None, "benefit": "一次性奖补", "amount_wan": float(rng.randint(1, 50)),
                "mode": "免申即享", "how_to": "无需申请，确认后兑现", "deadline": None,
                "contact": "县工信局 0000-0000000", "link": None,
                "conditions": [{"attr": "size", "in": ["小型", "微型"], "clause": "第3条"}], "examples": [],
                "published_at": published, "source": "bench",
            })  # fmt: skip
            for firm in rng.sample(county.firms, max(1, len(county.firms) * rng.randint(2, 8) // 100)):
                pushed = max(published, START) + timedelta(
                    days=rng.expovariate(1 / 20), hours=rng.uniform(8, 10)
                )
                if pushed >= NOW:
                    continue
                push_id += 1
                status, confirmed, delivered, by = PushStatus.PUSHED, None, None, None
                answered = pushed + timedelta(days=rng.uniform(0.05, 7))
                if answered < NOW and rng.random() < 0.65:
                    status, confirmed = (
                        rng.choices([PushStatus.CONFIRMED, PushStatus.DECLINED], (88, 12))[0],
                        answered,
                    )
                    paid = answered + timedelta(days=rng.uniform(3, 40))
                    if status is PushStatus.CONFIRMED and paid < NOW and rng.random() < 0.7:
                        status, delivered = PushStatus.DELIVERED, paid
                        by = rng.choice(county.departments[1].officials)
                self.rows.add(PolicyPush, {
                    "id": push_id, "policy_id": number, "enterprise_id": firm.id, "status": status.value,
                    "inputs": {"size": rng.choice(("小型", "微型")), "region": rng.choice(REGIONS)},
                    "pushed_at": pushed, "confirmed_at": confirmed, "delivered_at": delivered,
                    "delivered_by_id": by,
                })  # fmt: skip


# --- building the database -------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """What was generated, for the table's title and sanity rows."""

    orders: int
    events: int
    rows: int
    seconds: float
    leaders: list[int]
    open_orders: int


def _chunks(rows: Iterable[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _event_rows(events: Sequence[Event]) -> Iterator[dict[str, Any]]:
    for event_id, e in enumerate(events, start=1):
        yield {
            "id": event_id, "order_id": e.order_id, "at": e.at, "actor_id": e.actor_id, "action": e.action,
            "from_state": e.from_state, "to_state": e.to_state, "department_id": e.department_id,
            "data": e.data,
        }  # fmt: skip


def _order_audits(
    events: Sequence[Event], numbers: list[str], userids: dict[int, str]
) -> Iterator[dict[str, Any]]:
    """The audit row each register row comes with (write_event → bot.audit.record)."""
    for e in events:
        yield {
            "at": e.at, "actor_id": e.actor_id, "actor_userid": userids[e.actor_id] if e.actor_id else None,
            "channel": e.channel, "action": f"order.{e.action}", "entity": "work_order",
            "entity_id": numbers[e.order_id], "data": e.data,
        }  # fmt: skip


def build(engine: Engine, options: argparse.Namespace) -> Built:
    """Generate the county year and insert it (Core executemany, one transaction)."""
    start = time.perf_counter()
    rng = random.Random(options.seed)
    county = County(rng, options)
    county.build_cast()
    county.build_orders()
    Extras(county).build()
    events = sorted(county.events, key=lambda e: (e.at, e.order_id, e.seq))
    county.events = []
    others = sorted(county.rows.audits, key=lambda row: row["at"])
    audits = heapq.merge(_order_audits(events, county.numbers, county.userids), others, key=lambda r: r["at"])
    inserted = 0
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if table is OrderEvent.__table__:
                source: Iterable[dict[str, Any]] = _event_rows(events)
            elif table is AuditEvent.__table__:
                source = ({"id": n, **row} for n, row in enumerate(audits, start=1))
            else:
                source = county.rows.tables.get(table, [])
            for batch in _chunks(source):
                conn.execute(table.insert(), batch)
                inserted += len(batch)
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))  # what autovacuum does soon after a bulk load
    open_orders = sum(n for s, n in county.state_counts.items() if s != OrderState.CLOSED.value)
    return Built(
        options.orders, len(events), inserted, time.perf_counter() - start, county.leaders, open_orders
    )


# --- measuring -------------------------------------------------------------------------------------


def _county_digest(factory: sessionmaker[Session], settings: Settings) -> Digest:
    with factory() as session:
        return make_digest(session, county_scope(), WEEK, NOW, settings)


def _county_compute(factory: sessionmaker[Session], settings: Settings) -> Digest:
    with factory() as session:
        return compute(session, county_scope(), WEEK, now=NOW, rules=rules_from(settings))


def _county_trend(factory: sessionmaker[Session]) -> Any:
    with factory() as session:
        return trend(session, county_scope(), WEEK, now=NOW)


def _leader_digest(factory: sessionmaker[Session], settings: Settings, leader_id: int) -> Digest:
    with factory() as session:
        leader = session.get_one(Person, leader_id)
        return make_digest(session, leader_scope(session, leader), WEEK, NOW, settings)


def _ranking(factory: sessionmaker[Session], settings: Settings) -> Digest:
    with factory() as session:
        return compute(session, county_scope(), MONTH, now=NOW, rules=rules_from(settings))


def _rounds(action: Callable[[], Any], rounds: int) -> tuple[list[float], Any]:
    """One warm-up, then `rounds` timed calls; the times and the last result."""
    action()
    times, result = [], None
    for _ in range(rounds):
        seconds, result = _timed(action)
        times.append(seconds)
    return times, result


def _median(times: Sequence[float]) -> str:
    return f"{duration(statistics.median(times))} (min {duration(min(times))})"


def _scope_size(scope: Scope) -> str:
    """A leader's scope in brief: departments/projects, or the county."""
    if scope.department_ids is None:
        return "county"
    return f"{len(scope.department_ids)}/{len(scope.project_ids or ())}"


def measure(factory: sessionmaker[Session], settings: Settings, built: Built, rounds: int) -> list[Row]:
    """Every measure of the table, with the digest's own figures as a sanity check."""
    county_times, digest = _rounds(partial(_county_digest, factory, settings), rounds)
    compute_times, _ = _rounds(partial(_county_compute, factory, settings), rounds)
    trend_times, _ = _rounds(partial(_county_trend, factory), rounds)
    leader_medians, scopes = [], []
    for leader in built.leaders:
        times, leader_digest = _rounds(partial(_leader_digest, factory, settings, leader), rounds)
        leader_medians.append(statistics.median(times))
        scopes.append(_scope_size(leader_digest.scope))
    ranking_times, ranking = _rounds(partial(_ranking, factory, settings), rounds)
    font = charts.find_chart_font(settings.chart_font)
    if font is None:
        chart = Row("chart render (charts.render), median", "skipped: no CJK font installed")
    else:
        chart_times, png = _rounds(partial(charts.render, digest, settings.chart_font), rounds)
        size = f"{len(png) / 1024:.0f} KB PNG" if png else "no PNG"
        chart = Row("chart render (charts.render), median", f"{_median(chart_times)}; {size}")
    rss = _peak_rss_mb()
    tracemalloc.start()
    _county_digest(factory, settings)
    traced = tracemalloc.get_traced_memory()[1] / MB
    tracemalloc.stop()

    median = statistics.median(county_times)
    orders, rates = digest.orders, digest.orders.rates
    ranked = ranking.orders.departments
    return [
        Row("build the data (generate + insert)", f"{built.seconds:.1f} s ({built.rows:,} rows)"),
        Row(COUNTY_ROW, _median(county_times), f"< {GOAL_SECONDS:g} s", median < GOAL_SECONDS),
        Row("  compute (the week's figures), median", _median(compute_times)),
        Row("  trend (6 weeks), median", _median(trend_times)),
        Row(
            "each leader's weekly digest, median per leader",
            f"{duration(statistics.median(leader_medians))} (max {duration(max(leader_medians))}, "
            f"all {len(leader_medians)}: {duration(sum(leader_medians))})",
        ),
        Row("  leaders' scopes (departments/projects)", ", ".join(scopes)),
        chart,
        Row(f"monthly ranking (compute, {MONTH.start:%Y-%m} to date), median", _median(ranking_times)),
        Row("peak RSS of the process (ru_maxrss)", f"{rss:.0f} MB (includes generating the data)"),
        Row("  tracemalloc peak of one county digest", f"{traced:.1f} MB"),
        Row(
            "county week: new / open / late / returned",
            f"{orders.new:,} / {orders.open:,} / {orders.late:,} / {orders.returned:,}",
        ),
        Row(
            "county week: response / solve / satisfaction",
            " / ".join(rates[name].percent for name in ("响应率", "解决率", "满意率")),
        ),
        Row(
            "county week: departments ranked / trend points",
            f"{len(orders.departments)} / {sum(1 for p in digest.trend if p.response is not None)}",
        ),
        Row("monthly ranking: departments ranked", f"{len(ranked)}"),
    ]


# --- running ---------------------------------------------------------------------------------------


def _settings(database_url: str, var_dir: Path) -> Settings:
    env = {"DATABASE_URL": database_url, "ZTC_VAR_DIR": str(var_dir)}
    if os.environ.get("ZTC_CHART_FONT"):
        env["ZTC_CHART_FONT"] = os.environ["ZTC_CHART_FONT"]
    return Settings.from_env(env)


def run(options: argparse.Namespace) -> Report:
    """Build the county year in an empty database, measure, and judge the county digest."""
    with tempfile.TemporaryDirectory(prefix="bench-digest-") as folder:
        url = options.database_url or f"sqlite:///{Path(folder) / 'digest.sqlite3'}"
        engine = make_engine(url)
        try:
            if inspect(engine).get_table_names():
                raise SystemExit(f"bench.digest needs an empty database; {engine.url!r} has tables")
            Base.metadata.create_all(engine)
            try:
                built = build(engine, options)
                gc.collect()
                rows = measure(
                    make_session_factory(engine), _settings(url, Path(folder)), built, options.rounds
                )
            finally:
                Base.metadata.drop_all(engine)
        finally:
            engine.dispose()
    backend = "SQLite (temp file)" if not options.database_url else engine.dialect.name
    title = (
        f"digest: {built.orders:,} orders ({built.events:,} events, {built.open_orders:,} not closed at the "
        f"end), {options.departments} departments, {options.leaders} leaders; {WEEK.label} at "
        f"{local(NOW):%Y-%m-%d %H:%M}; {backend}; seed {options.seed}, {options.rounds} round(s); "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}"
    )
    return Report(title, rows)


def _departments(raw: str) -> int:
    value = int(raw)
    if value < 4:
        raise argparse.ArgumentTypeError(
            f"must be at least 4 (an office, 包联 and 职能 departments), not {value}"
        )
    return value


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = parser_for("bench.digest", __doc__)
    parser.add_argument("--orders", type=positive, default=50_000)
    parser.add_argument("--departments", type=_departments, default=20)
    parser.add_argument("--leaders", type=positive, default=5)
    parser.add_argument("--rounds", type=positive, default=3)
    parser.add_argument("--seed", type=int, default=1)
    backend_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table; 1 if the goal was missed."""
    return finish(run(options(argv)))


if __name__ == "__main__":
    sys.exit(main())

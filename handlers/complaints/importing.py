"""`ztc import routing FILE`: which 职能部门 handles each category of 诉求 (RoutingRule).

The file has two columns, 类别/category and 承办部门/department (code or name), and follows the
rules of every import (bot.importing): all rows or none, errors by line, upsert by 类别, one audit
event per change. A category must be one of the county's (ZTC_ORDER_CATEGORIES, or the default
list); a rule of a category the file leaves out is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import Invalid
from bot.importing import Column, ImportReport, Table, read_table
from bot.importing.columns import KIND_LABELS_ZH, _Departments, _parse_rows
from bot.importing.writing import _existing, _Target, _write
from bot.models import Department, DepartmentKind, Person
from bot.settings import Settings
from handlers.complaints.models import CATEGORIES, RoutingRule
from handlers.complaints.rules import rules_from

ROUTING_COLUMNS = (
    Column("category", "类别", ("类别", "诉求类别", "问题类别", "category"), required=True),
    Column(
        "department", "承办部门", ("承办部门", "承办单位", "职能部门", "部门", "department"), required=True
    ),
)
ROUTING = _Target("routing", RoutingRule, "routing_rule", "category", stamped=False)


def import_routing(
    session: Session,
    table: Table,
    *,
    clock: Clock,
    categories: Sequence[str] = CATEGORIES,
    actor: Person | None = None,
) -> ImportReport:
    """Upsert routing rules by 类别; the 承办部门 is found by code or name and may not be a pure 包联部门."""
    departments = _Departments(session)
    parsers = {"category": _category(categories), "department": _handler(departments)}
    records, errors = _parse_rows(table, ROUTING_COLUMNS, parsers, unique=("category",))
    existing = _existing(session, RoutingRule, "category")
    return _write(session, ROUTING, records, existing, errors, clock=clock, actor=actor)


def import_routing_file(
    session: Session, path: Path, *, clock: Clock, settings: Settings, actor: Person | None = None
) -> ImportReport:
    """Import a routing file against the categories `settings` configure."""
    categories = rules_from(settings).categories
    return import_routing(session, read_table(path), clock=clock, categories=categories, actor=actor)


def unrouted(session: Session, categories: Sequence[str]) -> list[str]:
    """The categories no rule routes: an enterprise without a 包联部门 cannot file them."""
    routed = set(session.scalars(select(RoutingRule.category)))
    return [c for c in categories if c not in routed]


def _category(categories: Sequence[str]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in categories:
            raise Invalid(f"「{raw}」不是诉求类别，可填：{'、'.join(categories)}")
        return raw

    return parse


def _handler(departments: _Departments) -> Callable[[str], Department]:
    # A 包联部门 looks after its enterprises; a category belongs to a department that handles one.
    def parse(raw: str) -> Department:
        found = departments.find(raw)
        if found is None:  # not reached: the column is required
            raise Invalid("必填，不能为空")
        if found.kind == DepartmentKind.CONTACT:
            label = KIND_LABELS_ZH[DepartmentKind.CONTACT]
            raise Invalid(f"「{found.name}」是{label}，不能承办类别诉求（部门类型须为职能部门、兼或办公室）")
        return found

    return parse

"""The county's settings for work orders, read once from Settings (env ZTC_ORDER_*)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from bot.settings import Settings
from handlers.complaints.models import CATEGORIES, ClockMode


@dataclass(frozen=True)
class OrderRules:
    """How orders are counted, reminded, escalated and closed in this county."""

    clock_mode: ClockMode = ClockMode.NATURAL
    warn_before: timedelta = timedelta(hours=2)  # 催办 before each deadline
    head_after: timedelta = timedelta(hours=2)  # past the deadline: the department head
    leader_after: timedelta = timedelta(hours=4)  # past the deadline: the overseeing leader
    rate_remind_after: timedelta = timedelta(hours=24)  # after 办结: remind the enterprise to sign off
    auto_close_after: timedelta = timedelta(hours=72)  # after 办结: 自动销号 if still unrated
    categories: tuple[str, ...] = CATEGORIES


@lru_cache(maxsize=8)
def rules_from(settings: Settings) -> OrderRules:
    """The rules configured in `settings` (cached: settings never change inside a process)."""
    return OrderRules(
        clock_mode=ClockMode(settings.order_clock),
        warn_before=timedelta(hours=settings.order_warn_hours),
        head_after=timedelta(hours=settings.order_head_after_hours),
        leader_after=timedelta(hours=settings.order_leader_after_hours),
        rate_remind_after=timedelta(hours=settings.order_rate_remind_hours),
        auto_close_after=timedelta(hours=settings.order_auto_close_hours),
        categories=settings.order_categories or CATEGORIES,
    )

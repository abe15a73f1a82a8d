"""The county's settings for key projects, read once from Settings (env ZTC_PROJECT_*)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from functools import lru_cache

from bot.settings import Settings


@dataclass(frozen=True)
class ProjectRules:
    """When the weekly prompt goes out and is due, how colours are computed, when cards are drafted."""

    prompt_day: int = 4  # Monday = 0
    prompt_time: time = time(9, 10)
    remind_time: time = time(15, 0)
    deadline_time: time = time(18, 0)
    yellow_points: float = 10.0  # 序时进度 points behind plan: 黄
    red_points: float = 30.0  # … 红
    stall_weeks: int = 3  # weeks without investment or progress: 红
    supervise_weeks: int = 2  # weeks 黄/红 or unreported in a row: a 督办卡 is drafted
    monthly_due_day: int = 20
    monthly_remind_days: tuple[int, ...] = (15, 19)


@lru_cache(maxsize=8)
def rules_from(settings: Settings) -> ProjectRules:
    """The rules configured in `settings` (cached: settings never change inside a process)."""
    return ProjectRules(
        prompt_day=settings.project_prompt_day,
        prompt_time=settings.project_prompt_time,
        remind_time=settings.project_remind_time,
        deadline_time=settings.project_deadline_time,
        yellow_points=settings.project_yellow_points,
        red_points=settings.project_red_points,
        stall_weeks=settings.project_stall_weeks,
        supervise_weeks=settings.project_supervise_weeks,
        monthly_due_day=settings.project_monthly_due_day,
        monthly_remind_days=settings.project_monthly_remind_days,
    )

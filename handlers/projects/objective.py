"""The colour the numbers give, beside the one an official reports.

序时进度 ("时间过半、任务过半"): by a given day, the share of the year's planned investment that
should be done is the share of the year that has passed. Points behind that share make 黄 or 红
(ZTC_PROJECT_YELLOW_POINTS / _RED_POINTS); as many points ahead make 绿. A project with no
investment and no new 形象进度 for ZTC_PROJECT_STALL_WEEKS weeks in a row is 红 (停滞) whatever
its plan says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from handlers.projects.models import Colour
from handlers.projects.parsing import format_wan
from handlers.projects.rules import ProjectRules


@dataclass(frozen=True)
class WeekFigures:
    """What one week's report said, as far as the numbers go."""

    week: date
    invested_yuan: int
    progress: str


@dataclass(frozen=True)
class Objective:
    """The computed colour and why."""

    colour: Colour
    reason: str


def year_share(day: date) -> float:
    """The share of `day`'s year that has passed by the end of `day` (0 < share ≤ 1)."""
    start, end = date(day.year, 1, 1), date(day.year, 12, 31)
    return ((day - start).days + 1) / ((end - start).days + 1)


def objective_colour(
    *,
    day: date,
    annual_plan_yuan: int,
    done_this_year_yuan: int,
    recent: Sequence[WeekFigures],
    rules: ProjectRules,
) -> Objective | None:
    """The colour from the numbers on `day`; None when there is nothing to judge by (no plan, no history).

    `recent` is the project's reports, newest first, the current one included.
    """
    stalled = _stalled(recent, rules.stall_weeks)
    if stalled:
        return Objective(Colour.RED, f"连续{rules.stall_weeks}周无投资、形象进度无变化")
    if annual_plan_yuan <= 0:
        return None
    expected = year_share(day) * 100
    actual = done_this_year_yuan / annual_plan_yuan * 100
    gap = expected - actual
    reason = (
        f"年度计划{format_wan(annual_plan_yuan)}，已完成{format_wan(done_this_year_yuan)}（{actual:.0f}%），"
        f"序时进度{expected:.0f}%"
    )
    if gap >= rules.red_points:
        return Objective(Colour.RED, f"{reason}，落后{gap:.0f}个百分点")
    if gap >= rules.yellow_points:
        return Objective(Colour.YELLOW, f"{reason}，落后{gap:.0f}个百分点")
    if -gap >= rules.yellow_points:
        return Objective(Colour.GREEN, f"{reason}，超前{-gap:.0f}个百分点")
    return Objective(Colour.WHITE, reason)


def _stalled(recent: Sequence[WeekFigures], weeks: int) -> bool:
    """The last `weeks` consecutive weeks brought no investment and the same 形象进度."""
    window = list(recent[:weeks])
    if len(window) < weeks or any(f.invested_yuan > 0 for f in window):
        return False
    consecutive = all((a.week - b.week).days == 7 for a, b in pairwise(window))
    return consecutive and len({f.progress.strip() for f in window}) == 1


def disagrees(reported: Colour, objective: Objective | None) -> bool:
    """Whether the reported colour is rosier than the numbers (the leader is told)."""
    return objective is not None and reported.rank < objective.colour.rank

"""The weekly reporting cycle in local time: prompt, reminder, deadline, late reminder, escalation.

A week is named by its Monday. The prompt goes out on the configured weekday (default Friday
09:10); when that day is a holiday it moves to the previous working day of the same week, or,
if the whole week is off (国庆), to the next working day. Reports are due the same day at the
deadline; the next working day brings one late reminder at the prompt time and, at the deadline
time, the list of those still missing goes to their leader.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.clock import LOCAL_ZONE, as_utc, local
from bot.workdays import is_working_day, next_working_day
from handlers.projects.rules import ProjectRules


def monday_of(day: date) -> date:
    """The Monday of `day`'s week: the name of the reporting period."""
    return day - timedelta(days=day.weekday())


def prompt_day(week: date, rules: ProjectRules) -> date:
    """The day the week's prompt goes out, moved off holidays."""
    wanted = week + timedelta(days=rules.prompt_day)
    if is_working_day(wanted):
        return wanted
    earlier = [
        week + timedelta(days=n) for n in range(rules.prompt_day) if is_working_day(week + timedelta(days=n))
    ]
    return earlier[-1] if earlier else next_working_day(wanted)


def day_label(day: date) -> str:
    """「11月23日」."""
    return f"{day.month}月{day.day}日"


@dataclass(frozen=True)
class Cycle:
    """One week's moments, as aware UTC datetimes."""

    week: date
    prompt_at: datetime
    remind_at: datetime
    deadline_at: datetime
    late_at: datetime  # the next working day: one reminder to those still missing
    escalate_at: datetime  # … and later that day their leader gets the list

    @property
    def label(self) -> str:
        """「第48周（11月23日—11月29日）」."""
        iso_week = self.week.isocalendar().week
        return f"第{iso_week}周（{day_label(self.week)}—{day_label(self.week + timedelta(days=6))}）"


def cycle_of(week: date, rules: ProjectRules) -> Cycle:
    """The moments of the week whose Monday is `week`."""
    day = prompt_day(week, rules)
    after = next_working_day(day)
    return Cycle(
        week=week,
        prompt_at=_at(day, rules.prompt_time),
        remind_at=_at(day, rules.remind_time),
        deadline_at=_at(day, rules.deadline_time),
        late_at=_at(after, rules.prompt_time),
        escalate_at=_at(after, rules.deadline_time),
    )


def _at(day: date, moment: time) -> datetime:
    return as_utc(datetime.combine(day, moment, tzinfo=LOCAL_ZONE))


EARLIER_WEEKS = 3  # a late reminder or escalation falls at most this many weeks after its week


def current_cycles(now: datetime, rules: ProjectRules) -> list[Cycle]:
    """The cycles with a step possibly due around `now`, oldest first: this week's and the 3 before.

    Normally only last week's late reminder and escalation fall in this week; after a long holiday
    (春节) they can fall two weeks later. Each step is still bounded by its own window, so an old
    week's steps are not sent again.
    """
    this_week = monday_of(local(as_utc(now)).date())
    return [cycle_of(this_week - timedelta(days=7 * n), rules) for n in range(EARLIER_WEEKS, -1, -1)]


def applies_to(cycle: Cycle, registered_at: datetime | None) -> bool:
    """Whether the week is a reporting week for a project registered at `registered_at`.

    It is when the project existed at the week's prompt: a project registered later owes nothing
    for that week (no 补报, no 未报).
    """
    return registered_at is None or as_utc(registered_at) <= cycle.prompt_at


def is_open(cycle: Cycle, now: datetime, registered_at: datetime | None) -> bool:
    """An earlier week can still be reported (补报) until its escalation, if it applies to the project."""
    return as_utc(now) <= cycle.escalate_at and applies_to(cycle, registered_at)


def reporting_week(
    now: datetime,
    rules: ProjectRules,
    *,
    reported: Collection[date] = (),
    registered_at: datetime | None = None,
) -> date:
    """Which week a report typed at `now` is for, given the weeks already `reported`.

    Normally the current week; but an earlier week not yet reported is reported late (补报) until
    its escalation (the late reminder asks for exactly that), the oldest first, unless the project
    was registered after that week's prompt.
    """
    *earlier, this = current_cycles(now, rules)
    for cycle in earlier:
        if cycle.week not in reported and is_open(cycle, now, registered_at):
            return cycle.week
    return this.week


def month_of_week(week: date) -> date:
    """The month (its first day) a week named by its Monday belongs to: the month of its Thursday.

    As in ISO 8601, so no week counts in two months (or two years).
    """
    return (week + timedelta(days=3)).replace(day=1)

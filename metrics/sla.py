"""The follow-up SLA: does an unhappy customer hear from a person within the window?

One query reads the period's cases; the figures are worked out in Python, per ISO week
(Monday start, the local date the case was opened) and per survey or per assignee.
Each week ends with a totals row (`is_total`) over all of that week's cases, which is
also what the weekly chart draws.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median
from typing import NamedTuple

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from metrics.charts import LineChart, line_chart
from metrics.models import FollowUp
from metrics.periods import Period

BY_SURVEY = "survey"
BY_AGENT = "agent"


class Case(NamedTuple):
    """The columns of one case that the report needs."""

    created_at: datetime
    due_at: datetime
    first_contact_at: datetime | None
    resolved_at: datetime | None
    status: str
    survey_id: int
    survey_name: str
    assignee_id: int | None
    username: str | None
    first_name: str | None
    last_name: str | None


@dataclass(frozen=True)
class SlaRow:
    week: date  # the Monday of the ISO week the cases were opened in (local time)
    key: int | None  # survey or assignee pk; None for unassigned cases and for totals
    name: str  # survey name or agent name; empty for unassigned cases and for totals
    opened: int
    contacted_within: int  # first contact at or before the case was due
    # Cases whose outcome is known: contacted, or due and past. A case still inside its
    # window has neither met nor missed it, so it does not count against the team yet.
    decided: int
    median_first_contact: timedelta | None  # None when no case had a first contact yet
    median_resolve: timedelta | None  # None when no case was resolved yet
    open_now: int
    overdue_now: int
    is_total: bool = False

    @property
    def within_window_percent(self) -> float | None:
        """Share of the decided cases contacted within the window, in percent (1 decimal)."""
        if not self.decided:
            return None
        return round(100 * self.contacted_within / self.decided, 1)

    @property
    def first_contact_text(self) -> str:
        return human_duration(self.median_first_contact)

    @property
    def resolve_text(self) -> str:
        return human_duration(self.median_resolve)


def human_duration(value: timedelta | None) -> str:
    """A duration as people say it: "45 min", "3 h 20 min", "1 d 2 h"; a dash when None."""
    if value is None:
        return "\u2013"
    seconds = value.total_seconds()
    sign = "\u2212" if seconds < 0 else ""
    minutes = round(abs(seconds) / 60)
    if minutes < 60:
        return sign + gettext("%(minutes)d min") % {"minutes": minutes}
    if minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        if not minutes:
            return sign + gettext("%(hours)d h") % {"hours": hours}
        return sign + gettext("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    days, hours = divmod(round(abs(seconds) / 3600), 24)
    if not hours:
        return sign + gettext("%(days)d d") % {"days": days}
    return sign + gettext("%(days)d d %(hours)d h") % {"days": days, "hours": hours}


def week_of(moment: datetime) -> date:
    """The Monday of the ISO week of the moment's local date."""
    day = timezone.localtime(moment).date()
    return day - timedelta(days=day.weekday())


def weeks(period: Period) -> list[date]:
    """The Monday of every week the period touches."""
    first = period.start - timedelta(days=period.start.weekday())
    return [first + timedelta(weeks=i) for i in range((period.end - first).days // 7 + 1)]


def cases(period: Period) -> list[Case]:
    """The cases opened within the period, with survey and assignee names: one query."""
    start, end = period.bounds()
    rows = (
        FollowUp.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .values_list(
            "created_at",
            "due_at",
            "first_contact_at",
            "resolved_at",
            "status",
            "survey_id",
            "survey__name",
            "assignee_id",
            "assignee__username",
            "assignee__first_name",
            "assignee__last_name",
        )
    )
    return [Case(*row) for row in rows]


def _group(case: Case, by: str) -> tuple[int | None, str]:
    if by == BY_AGENT:
        if case.assignee_id is None:
            return None, ""
        full = f"{case.first_name or ''} {case.last_name or ''}".strip()
        return case.assignee_id, full or case.username or ""
    return case.survey_id, case.survey_name


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=median(v.total_seconds() for v in values))


def summarise(
    week: date, key: int | None, name: str, group: Sequence[Case], now: datetime, total: bool
) -> SlaRow:
    """One row's figures over its cases."""
    is_open = [c.status != FollowUp.Status.RESOLVED for c in group]
    return SlaRow(
        week=week,
        key=key,
        name=name,
        opened=len(group),
        contacted_within=sum(
            1 for c in group if c.first_contact_at is not None and c.first_contact_at <= c.due_at
        ),
        decided=sum(1 for c in group if c.first_contact_at is not None or c.due_at < now),
        median_first_contact=_median(
            [c.first_contact_at - c.created_at for c in group if c.first_contact_at is not None]
        ),
        median_resolve=_median(
            [c.resolved_at - c.created_at for c in group if c.resolved_at is not None]
        ),
        open_now=sum(is_open),
        overdue_now=sum(1 for c, o in zip(group, is_open, strict=True) if o and c.due_at < now),
        is_total=total,
    )


def _sort_key(item: tuple[tuple[int | None, str], list[Case]]) -> tuple[bool, str, int]:
    (key, name), _ = item
    return key is None, name.casefold(), key or 0


def sla_rows(period: Period, by: str, *, now: datetime | None = None) -> list[SlaRow]:
    """Per week (oldest first): a row per survey or agent by name, unassigned last, then
    the week's totals row. `by` is "survey" or "agent"; anything else counts as "survey".
    """
    now = now or timezone.now()
    per_week: dict[date, dict[tuple[int | None, str], list[Case]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for case in cases(period):
        per_week[week_of(case.created_at)][_group(case, by)].append(case)
    rows: list[SlaRow] = []
    for week in sorted(per_week):
        groups = sorted(per_week[week].items(), key=_sort_key)
        rows += [summarise(week, key, name, group, now, False) for (key, name), group in groups]
        everything = [case for _, group in groups for case in group]
        rows.append(summarise(week, None, "", everything, now, True))
    return rows


def share_chart(period: Period, rows: Sequence[SlaRow]) -> LineChart:
    """Percent contacted within the window per week of the period; gaps for empty weeks."""
    totals = {row.week: row.within_window_percent for row in rows if row.is_total}
    return line_chart(
        [(date_format(week, "j M"), totals.get(week)) for week in weeks(period)], 0, 100, 25
    )

"""The follow-up SLA: does an unhappy customer hear from a person within the window?

The database aggregates the period's cases per ISO week (Monday start, the local date
the case was opened) and per survey or per assignee: counts with filters, and medians
(metrics.aggregates). Each week ends with a totals row (`is_total`) over all of that
week's cases, which is also what the weekly chart draws.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    F,
    Field,
    IntegerField,
    Q,
    Value,
    When,
)
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext

from metrics.aggregates import Median
from metrics.charts import LineChart, line_chart
from metrics.models import FollowUp
from metrics.periods import Period

BY_SURVEY = "survey"
BY_AGENT = "agent"


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
    def within_window_text(self) -> str:
        """The share as people read it, "66.7%" ("66,7%" in Dutch); a dash when no case
        was decided yet."""
        percent = self.within_window_percent
        if percent is None:
            return "\u2013"
        return f"{number_format(percent, 1)}%"

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


def weeks(period: Period) -> list[date]:
    """The Monday of every week the period touches."""
    first = period.start - timedelta(days=period.start.weekday())
    return [first + timedelta(weeks=i) for i in range((period.end - first).days // 7 + 1)]


def week_opened(mondays: Sequence[date]) -> "Case | Value":
    """The Monday of the week a case was opened in, of those given (oldest first): a
    binary search over the weeks' starts at local midnight, so that SQL compares a few
    instants per case instead of converting every case's time to the local time zone."""
    if len(mondays) == 1:
        return Value(mondays[0], output_field=DateField())
    middle = len(mondays) // 2
    zone = timezone.get_current_timezone()
    starts = datetime.combine(mondays[middle], time.min, tzinfo=zone)
    return Case(
        When(created_at__lt=starts, then=week_opened(mondays[:middle])),
        default=week_opened(mondays[middle:]),
        output_field=DateField(),
    )


GROUPS = {
    BY_SURVEY: ("survey_id", "survey__name"),
    BY_AGENT: ("assignee_id", "assignee__username", "assignee__first_name", "assignee__last_name"),
}


def _figures(now: datetime) -> dict[str, Any]:
    """The aggregates of one row, named as SlaRow's fields."""
    is_open = ~Q(status=FollowUp.Status.RESOLVED)
    return {
        "opened": Count("pk"),
        "contacted_within": Count("pk", filter=Q(first_contact_at__lte=F("due_at"))),
        "decided": Count("pk", filter=Q(first_contact_at__isnull=False) | Q(due_at__lt=now)),
        "median_first_contact": Median(F("first_contact_at") - F("created_at")),
        "median_resolve": Median(F("resolved_at") - F("created_at")),
        "open_now": Count("pk", filter=is_open),
        "overdue_now": Count("pk", filter=is_open & Q(due_at__lt=now)),
    }


def _name(values: dict[str, Any], by: str) -> tuple[int | None, str]:
    if by == BY_AGENT:
        if values["assignee_id"] is None:
            return None, ""
        first, last = values["assignee__first_name"], values["assignee__last_name"]
        full = f"{first or ''} {last or ''}".strip()
        return values["assignee_id"], full or values["assignee__username"]
    return values["survey_id"], values["survey__name"]


def sla_rows(period: Period, by: str, *, now: datetime | None = None) -> list[SlaRow]:
    """Per week (oldest first): a row per survey or agent by name, unassigned last, then
    the week's totals row. `by` is "survey" or "agent"; anything else counts as "survey".
    One query: the rows per week and group, and below them (UNION ALL) those per week.
    """
    now = now or timezone.now()
    group = GROUPS[by if by == BY_AGENT else BY_SURVEY]
    start, end = period.bounds()
    cases = (
        FollowUp.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(week=week_opened(weeks(period)))
        .order_by()
    )
    figures = _figures(now)
    columns = ["week", *group, "is_total", *figures]
    per_group = cases.values("week", *group).annotate(is_total=Value(False), **figures)
    per_week = cases.values("week").annotate(
        **{column: Value(None, output_field=_field(column)) for column in group},
        is_total=Value(True),
        **figures,
    )
    rows = [
        _row(dict(zip(columns, values, strict=True)), by, figures)
        for values in per_group.values_list(*columns).union(
            per_week.values_list(*columns), all=True
        )
    ]
    return sorted(rows, key=_order)


def _field(column: str) -> "Field[Any, Any]":
    """The type of a group column, for the NULL that stands in for it in the totals."""
    return IntegerField() if column.endswith("_id") else CharField()


def _row(values: dict[str, Any], by: str, figures: dict[str, Any]) -> SlaRow:
    key, name = (None, "") if values["is_total"] else _name(values, by)
    return SlaRow(
        week=values["week"],
        key=key,
        name=name,
        is_total=values["is_total"],
        **{figure: values[figure] for figure in figures},
    )


def _order(row: SlaRow) -> tuple[date, bool, bool, str, int]:
    return row.week, row.is_total, row.key is None, row.name.casefold(), row.key or 0


def share_chart(period: Period, rows: Sequence[SlaRow]) -> LineChart:
    """Percent contacted within the window per week of the period; gaps for empty weeks."""
    totals = {row.week: row.within_window_percent for row in rows if row.is_total}
    return line_chart(
        [(date_format(week, "j M"), totals.get(week)) for week in weeks(period)], 0, 100, 25
    )

"""The follow-up SLA: does an unhappy customer hear from a person within the window?

The database aggregates the period's cases per ISO week (Monday start, the local date
the case was opened) and per survey or per assignee, in one query: counts with filters,
and medians (metrics.aggregates); only the rows of the report reach Python. Each week
ends with a totals row (`is_total`) over all of that week's cases, which is also what
the weekly chart draws.

On PostgreSQL the cases come out of an index that holds them by week and group already
(FollowUp's `followup_sla_by_*` indexes), with every column the figures need: the
database reads them in order, with no sort and no table lookups, so a year of 100,000
cases costs a few times what 1,000 do rather than a hundred times.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext

from metrics.aggregates import Median
from metrics.charts import LineChart, line_chart
from metrics.models import FollowUp
from metrics.periods import Period
from surveys.models import Survey

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


class GroupName(Subquery):
    """A group's name, looked up once per row of the result rather than joined to every
    case: the column it refers to is grouped already, so it adds nothing to GROUP BY."""

    def get_group_by_cols(self) -> list[Any]:
        return []


def _group(by: str) -> tuple[str, dict[str, GroupName]]:
    """The column a report's rows are grouped by, and the names shown for each group."""
    if by == BY_AGENT:
        user = get_user_model().objects.filter(pk=OuterRef("assignee_id"))
        names = ("username", "first_name", "last_name")
        return "assignee_id", {f"assignee_{name}": GroupName(user.values(name)) for name in names}
    survey = Survey.objects.filter(pk=OuterRef("survey_id")).order_by()
    return "survey_id", {"survey_name": GroupName(survey.values("name"))}


def _figures(now: datetime) -> dict[str, Any]:
    """The aggregates of one row, named as SlaRow's fields."""
    is_open = ~Q(status=FollowUp.Status.RESOLVED)
    # Counted by a column that is never NULL and that the SLA indexes hold (the key is not
    # in them, and COUNT(*) takes no filter in Django).
    return {
        "opened": Count("created_at"),
        "contacted_within": Count("created_at", filter=Q(first_contact_at__lte=F("due_at"))),
        "decided": Count(
            "created_at", filter=Q(first_contact_at__isnull=False) | Q(due_at__lt=now)
        ),
        "median_first_contact": Median(F("first_contact_at") - F("created_at")),
        "median_resolve": Median(F("resolved_at") - F("created_at")),
        "open_now": Count("created_at", filter=is_open),
        "overdue_now": Count("created_at", filter=is_open & Q(due_at__lt=now)),
    }


def _name(values: dict[str, Any], by: str) -> tuple[int | None, str]:
    if by == BY_AGENT:
        if values["assignee_id"] is None:
            return None, ""
        first, last = values["assignee_first_name"], values["assignee_last_name"]
        full = f"{first or ''} {last or ''}".strip()
        return values["assignee_id"], full or values["assignee_username"]
    return values["survey_id"], values["survey_name"]


def sla_rows(period: Period, by: str, *, now: datetime | None = None) -> list[SlaRow]:
    """Per week (oldest first): a row per survey or agent by name, unassigned last, then
    the week's totals row. `by` is "survey" or "agent"; anything else counts as "survey".
    One query.
    """
    now = now or timezone.now()
    key, names = _group(by)
    start, end = period.bounds()
    mondays = weeks(period)
    cases = (
        FollowUp.objects.annotate(week=FollowUp.week_opened())
        # The weeks narrow the index's range; the instants cut its first and last week.
        .filter(week__gte=mondays[0], week__lte=mondays[-1])
        .filter(created_at__gte=start, created_at__lt=end)
        # A burst excluded from the scores is no one to call back (followups.set_aside).
        .filter(set_aside=False)
        .order_by()
    )
    figures = _figures(now)
    found = _per_week_and_group(cases, key, names, figures)
    rows = [_row(values, by, figures) for values in found]
    return sorted(rows, key=_order)


def _per_week_and_group(
    cases: "QuerySet[Any]", key: str, names: dict[str, GroupName], figures: dict[str, Any]
) -> Iterable[dict[str, Any]]:
    """The figures per week and group, and per week (`is_total`): PostgreSQL works both
    out in one pass over the cases (GROUPING SETS), other databases in two (UNION ALL)."""
    columns = ["week", key, *names, "is_total", *figures]
    if connection.vendor == "postgresql":
        is_total = Func(F(key), function="GROUPING", output_field=BooleanField())
        per_group = cases.values("week", key).annotate(**names, is_total=is_total, **figures)
        return _with_week_totals(per_group.values_list(*columns), key)
    per_group = cases.values("week", key).annotate(**names, is_total=Value(False), **figures)
    per_week = cases.values("week").annotate(
        **{key: Value(None, output_field=IntegerField())},
        **{name: Value(None, output_field=CharField()) for name in names},
        is_total=Value(True),
        **figures,
    )
    both = per_group.values_list(*columns).union(per_week.values_list(*columns), all=True)
    return (dict(zip(columns, values, strict=True)) for values in both)


class _WeekTotalsCompiler(SQLCompiler):
    """GROUP BY the week, ROLLUP(the group): the rows per week and group and, where
    GROUPING(group) is 1, the week's totals."""

    group = ""

    def get_group_by(self, select: Any, order_by: Any) -> Any:
        position = {alias: index for index, (_, _, alias) in enumerate(select, start=1)}
        return [(f"{position['week']}, ROLLUP({position[self.group]})", [])]


def _with_week_totals(queryset: "QuerySet[Any]", group: str) -> list[dict[str, Any]]:
    """The rows of `queryset` (the week and the group its first two columns) with the
    week's totals among them."""
    compiler = _WeekTotalsCompiler(queryset.query, connection, queryset.db)
    compiler.group = group
    rows = list(compiler.results_iter())
    aliases = [alias for _, _, alias in compiler.select]
    return [dict(zip(aliases, row, strict=True)) for row in rows]


def _row(values: dict[str, Any], by: str, figures: dict[str, Any]) -> SlaRow:
    key, name = (None, "") if values["is_total"] else _name(values, by)
    return SlaRow(
        week=values["week"],
        key=key,
        name=name,
        is_total=bool(values["is_total"]),
        **{figure: values[figure] for figure in figures},
    )


def _order(row: SlaRow) -> tuple[date, bool, bool, str, int]:
    return row.week, row.is_total, row.key is None, row.name.casefold(), row.key or 0


def share_chart(period: Period, rows: Sequence[SlaRow]) -> LineChart:
    """Percent contacted within the window per week of the period; gaps for empty weeks."""
    totals = {row.week: row.within_window_percent for row in rows if row.is_total}
    points = [(date_format(week, "MONTH_DAY_FORMAT"), totals.get(week)) for week in weeks(period)]
    return line_chart(points, 0, 100, 25)

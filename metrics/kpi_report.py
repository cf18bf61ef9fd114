"""What the KPI page and its CSV export show: a month, quarter or year with the periods
before it, each KPI with its change against the previous period, the trend of one KPI as
a chart, and the NPS groups side by side. The numbers come from metrics.kpis."""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from metrics import kpis, retention
from metrics.charts import LineChart, line_chart
from metrics.models import Order
from metrics.periods import EARLIEST, LATEST, Period, calendar_period, calendar_periods
from surveys.models import Customer
from surveys.text import CheckedTextField

UNITS = {"month": _("Month"), "quarter": _("Quarter"), "year": _("Year")}
# How many periods the trend shows, the chosen one last.
TREND = {"month": 12, "quarter": 8, "year": 5}
LABELS = {
    "retention_rate": _("Retention rate"),
    "churn_rate": _("Churn rate"),
    "repeat_customer_rate": _("Repeat customer rate"),
    "purchase_frequency": _("Purchase frequency"),
    "average_order_value": _("Average order value"),
    "customer_value": _("Customer value"),
    "upsell_rate": _("Upsell rate"),
}
GROUP_LABELS = {
    "promoters": _("Promoters"),
    "passives": _("Passives"),
    "detractors": _("Detractors"),
}
# The KPIs of the orders table; the customers' are retention and churn.
ORDER_KPIS = [name for name in retention.NAMES if name not in ("retention_rate", "churn_rate")]
# Lower is better for these.
LOWER_IS_BETTER = {"churn_rate"}


@dataclass(frozen=True)
class Choice:
    unit: str
    period: Period
    segment: str
    chart: str

    def query(self, **changes: str) -> str:
        """The page's query string for this choice with some parameters changed."""
        values = {
            "unit": self.unit,
            "start": self.period.start.isoformat(),
            "segment": self.segment,
            "chart": self.chart,
        }
        values.update(changes)
        return urlencode({name: value for name, value in values.items() if value})


def last_complete(unit: str, today: date) -> Period:
    return calendar_period(unit, calendar_period(unit, today).start - timedelta(days=1))


class KpiForm(forms.Form):
    unit = forms.ChoiceField(label=_("Per"), choices=list(UNITS.items()), required=False)
    start = forms.DateField(label=_("Period starting"), required=False)
    segment = CheckedTextField(label=_("Segment"), max_length=100, required=False)
    chart = forms.ChoiceField(label=_("Chart"), choices=list(LABELS.items()), required=False)

    def clean_start(self) -> date | None:
        start = self.cleaned_data["start"]
        if start and not EARLIEST <= start <= LATEST:
            raise forms.ValidationError(
                _("Choose a date between %(earliest)s and %(latest)s."),
                params={"earliest": EARLIEST.year, "latest": LATEST.year},
            )
        return start

    @property
    def choice(self) -> Choice:
        """What to show; the last complete month for whatever is missing or wrong."""
        cleaned: dict[str, Any] = self.cleaned_data if self.is_valid() else {}
        unit = cleaned.get("unit") or "month"
        start = cleaned.get("start")
        period = (
            calendar_period(unit, start) if start else last_complete(unit, timezone.localdate())
        )
        return Choice(
            unit=unit,
            period=period,
            segment=cleaned.get("segment", ""),
            chart=cleaned.get("chart") or "retention_rate",
        )


def period_label(unit: str, period: Period) -> str:
    """ "June 2025", "Q2 2025" or "2025", in the active language."""
    if unit == "month":
        return date_format(period.start, "F Y")
    if unit == "quarter":
        quarter = (period.start.month - 1) // 3 + 1
        return gettext("Q%(quarter)d %(year)d") % {"quarter": quarter, "year": period.start.year}
    return str(period.start.year)


@dataclass(frozen=True)
class Card:
    name: str
    now: float | Decimal | None
    before: float | Decimal | None

    @property
    def label(self) -> str:
        return str(LABELS[self.name])

    @property
    def change(self) -> float | Decimal | None:
        return retention.change(self.now, self.before)

    @property
    def improved(self) -> bool | None:
        change = self.change
        if not change:
            return None
        return (change < 0) if self.name in LOWER_IS_BETTER else (change > 0)


@dataclass(frozen=True)
class Report:
    choice: Choice
    trend: list[kpis.PeriodKpis]  # oldest first: the chosen period is the last
    groups: list[kpis.GroupKpis]
    chart: LineChart
    segments: list[str]
    has_customers: bool
    has_orders: bool

    @property
    def current(self) -> kpis.PeriodKpis:
        return self.trend[-1]

    @property
    def previous(self) -> kpis.PeriodKpis:
        return self.trend[-2]

    @property
    def cards(self) -> list[Card]:
        now, before = self.current.kpis, self.previous.kpis
        return [Card(name, now.value(name), before.value(name)) for name in retention.NAMES]

    @property
    def next_period(self) -> Period | None:
        """The period after this one, unless it has not begun."""
        start = self.current.period.end + timedelta(days=1)
        return calendar_period(self.choice.unit, start) if start <= timezone.localdate() else None

    @property
    def previous_query(self) -> str:
        return self.choice.query(start=self.previous.period.start.isoformat())

    @property
    def next_query(self) -> str | None:
        period = self.next_period
        return None if period is None else self.choice.query(start=period.start.isoformat())

    @property
    def chart_links(self) -> list[tuple[str, str]]:
        """Each KPI with the query string that charts it."""
        return [(name, self.choice.query(chart=name)) for name in retention.NAMES]

    @property
    def has_nps_groups(self) -> bool:
        return any(group.customers for group in self.groups)

    @property
    def has_small_group(self) -> bool:
        return any(group.customers and group.small_sample for group in self.groups)


def _scale(values: list[float], percentages: bool) -> tuple[float, float, float]:
    """The chart's (low, high, step): round numbers around the values, in four or five
    steps of 1, 2, 2.5 or 5 times a power of ten; percentages within 0..100."""
    if not values:
        return (0, 100, 25) if percentages else (0, 1, 0.25)
    least, most = min(values), max(values)
    spread = (most - least) or abs(most) or 1
    power = 10 ** math.floor(math.log10(spread / 4))
    step = next(f * power for f in (1, 2, 2.5, 5, 10) if f * power * 4 >= spread)
    first = math.floor(least / step)
    low = round(first * step, 10)
    # The chart adds the ticks up from low: high is added up the same way, so that float
    # rounding (1.3 + 0.1 + ...) cannot leave out the top tick.
    high = low
    for _tick in range(max(math.ceil(most / step) - first, 1)):
        high += step
    if percentages and high > 100:
        high, low = 100, min(low, 100 - step)
    return max(low, 0) if percentages else low, high, step


def trend_chart(unit: str, trend: list[kpis.PeriodKpis], name: str) -> LineChart:
    values = [row.kpis.value(name) for row in trend]
    points = [
        (period_label(unit, row.period), None if value is None else float(value))
        for row, value in zip(trend, values, strict=True)
    ]
    low, high, step = _scale(
        [value for _, value in points if value is not None], name in retention.PERCENTAGES
    )
    return line_chart(points, low, high, step)


def trend(choice: Choice) -> list[kpis.PeriodKpis]:
    """The KPIs of the chosen period and those before it, oldest first."""
    periods = calendar_periods(choice.unit, choice.period.start, TREND[choice.unit])
    return kpis.period_kpis(periods, segment=choice.segment)


def report(choice: Choice) -> Report:
    rows = trend(choice)
    segments = (
        Customer.objects.exclude(segment="")
        .order_by("segment")
        .values_list("segment", flat=True)
        .distinct()
    )
    return Report(
        choice=choice,
        trend=rows,
        groups=kpis.nps_groups(choice.period, segment=choice.segment),
        chart=trend_chart(choice.unit, rows, choice.chart),
        segments=list(segments),
        has_customers=Customer.objects.exists(),
        has_orders=Order.objects.exists(),
    )


def _plain(value: float | Decimal | None) -> str:
    """A KPI or amount for CSV: never localised, to two decimals."""
    return "" if value is None else f"{value:.2f}"


def csv_rows(choice: Choice, trend: list[kpis.PeriodKpis]) -> Iterator[list[object]]:
    """The header, then one row per period of the trend, oldest first."""
    yield [
        gettext("Period"),
        gettext("Start date"),
        gettext("End date (not included)"),
        gettext("Segment"),
        "S",
        "E",
        "N",
        "L",
        gettext("Joined and left"),
        "B",
        gettext("Customers with 2 or more orders"),
        gettext("Upsell customers"),
        gettext("Orders"),
        gettext("Revenue"),
        *(str(LABELS[name]) for name in retention.NAMES),
    ]
    for row in trend:
        who, bought = row.customers, row.orders
        yield [
            period_label(choice.unit, row.period),
            row.period.start.isoformat(),
            (row.period.end + timedelta(days=1)).isoformat(),
            choice.segment,
            who.active_before,
            who.active_at_end,
            who.joined,
            who.left,
            who.joined_and_left,
            bought.buyers,
            bought.repeat_buyers,
            bought.upsell_buyers,
            bought.orders,
            _plain(bought.revenue),
            *(_plain(row.kpis.value(name)) for name in retention.NAMES),
        ]

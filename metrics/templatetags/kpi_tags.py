"""How the loyalty KPIs read on a page: formatting only, in the active language."""

from decimal import Decimal

from django import template
from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext

from metrics import kpi_report, kpis
from metrics.periods import Period
from metrics.retention import AMOUNTS, PERCENTAGES, Kpis

register = template.Library()

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
DASH = "\u2013"  # an en dash: no value
MINUS = "\u2212"


def _decimals(value: float | Decimal, places: int) -> str:
    # number_format cuts off decimals: round first. Adding 0 turns -0.0 into 0.0.
    return number_format(round(Decimal(value), places) + 0, places, force_grouping=True)


@register.filter
def money(value: Decimal) -> str:
    symbol = CURRENCY_SYMBOLS.get(settings.CURRENCY, settings.CURRENCY)
    sign = MINUS if value < 0 else ""
    return f"{sign}{symbol}\u00a0{_decimals(abs(value), 2)}"


@register.filter
def count(value: int) -> str:
    return number_format(value, force_grouping=True)


@register.filter
def kpi(value: float | Decimal | None, name: str) -> str:
    """A KPI as people read it: "81.3%", "1.52", "€ 45.10"; a dash when it has no value."""
    if value is None:
        return DASH
    if name in PERCENTAGES:
        return f"{_decimals(value, 1)}%"
    if name in AMOUNTS:
        return money(Decimal(value))
    return _decimals(value, 2)


@register.filter
def kpi_of(kpis: Kpis, name: str) -> str:
    """The KPI `name` of a period, as `kpi` writes it."""
    return kpi(kpis.value(name), name)


@register.filter
def kpi_change(change: float | Decimal | None, name: str) -> str:
    """A change against the previous period with its sign: percentage points for rates."""
    if change is None:
        return ""
    sign = "+" if change >= 0 else MINUS
    size = -change if change < 0 else change
    if name in PERCENTAGES:
        return sign + gettext("%(points)s pp") % {"points": _decimals(size, 1)}
    if name in AMOUNTS:
        return sign + money(Decimal(size))
    return sign + _decimals(size, 2)


def _operand(value: kpis.Operand) -> str:
    if value is None:
        return DASH
    if isinstance(value, int):
        return count(value)
    return money(value) if isinstance(value, Decimal) else _decimals(value, 2)


@register.filter
def how(row: kpis.PeriodKpis, name: str) -> str:
    """How the KPI is computed, with the period's counts."""
    return kpis.explain(row, name, _operand)


@register.filter
def period_label(period: Period, unit: str) -> str:
    return kpi_report.period_label(unit, period)


@register.filter
def kpi_label(name: str) -> str:
    return str(kpi_report.LABELS[name])


@register.filter
def group_label(group: str) -> str:
    return str(kpi_report.GROUP_LABELS[group])

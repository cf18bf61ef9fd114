"""The loyalty KPIs of periods, from SQL aggregates over customers and orders.

Per call, one query counts the customers of every period (S, E, N, L), and one query
counts the orders of every period, reading only those periods' orders, from an index that
holds what the counts need: the facts about each order's history (does it follow an order
from before the period, is it an upsell) are written with it when it is imported
(metrics.orders). The formulas are in metrics/retention.py.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, Window
from django.db.models.functions import Coalesce, FirstValue, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from metrics import retention, scoring
from metrics.models import Order
from metrics.periods import Period
from metrics.retention import CustomerCounts, Kpis, OrderCounts
from surveys.models import Answer, Customer, Question

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# What the NPS groups are compared on, besides B.
GROUP_KPIS = ("repeat_customer_rate", "churn_rate", "average_order_value", "customer_value")
NPS_GROUPS = {
    "promoters": scoring.PROMOTERS,
    "passives": scoring.PASSIVES,
    "detractors": scoring.DETRACTORS,
}


@dataclass(frozen=True)
class PeriodKpis:
    period: Period  # its days, from period.start up to and including period.end
    customers: CustomerCounts
    orders: OrderCounts
    kpis: Kpis


def _scoped(
    segment: str, among: QuerySet[Answer, Any] | None
) -> tuple[QuerySet[Customer], QuerySet[Order]]:
    """The customers, and their orders, of a segment ("" for all) and among the customer
    ids `among` selects."""
    customers, placed = Customer.objects.all(), Order.objects.all()
    if segment:
        customers, placed = (
            customers.filter(segment=segment),
            placed.filter(customer__segment=segment),
        )
    if among is not None:
        customers, placed = customers.filter(pk__in=among), placed.filter(customer__in=among)
    return customers, placed


def customer_counts(
    periods: Sequence[Period], customers: QuerySet[Customer]
) -> list[CustomerCounts]:
    """S, E, N, L and those who joined and left, for each period: one query."""
    zone = timezone.get_default_timezone()
    first_order = (
        Order.objects.filter(customer=OuterRef("pk"), amount__gte=0)
        .order_by("ordered_at")
        .values("ordered_at")[:1]
    )
    # Without customer_since, a customer counts from the day of their first order.
    since = Coalesce("customer_since", TruncDate(Subquery(first_order), tzinfo=zone))
    inner, params = (
        customers.annotate(since=since)
        .values("since", "customer_until")
        .order_by()
        .query.sql_with_params()
    )
    day = connection.ops.adapt_datefield_value
    active_on = "since <= %s AND (customer_until IS NULL OR customer_until > %s)"
    columns: list[str] = []
    values: list[Any] = []
    for period in periods:
        before, last = day(period.start - timedelta(days=1)), day(period.end)
        start = day(period.start)
        conditions = [
            (active_on, [before, before]),
            (active_on, [last, last]),
            ("since >= %s AND since <= %s", [start, last]),
            (f"{active_on} AND customer_until <= %s", [before, before, last]),
            ("since >= %s AND since <= %s AND customer_until <= %s", [start, last, last]),
        ]
        for condition, arguments in conditions:
            columns.append(f"COALESCE(SUM(customers) FILTER (WHERE {condition}), 0)")
            values += arguments
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # PostgreSQL would compile this plan (its estimate is high, for the first
            # orders it looks up), which takes several times longer than running it.
            cursor.execute("SET LOCAL jit = off")
        # Customers with the same dates counted together, a few thousand kinds of them:
        # materialised, so each customer's first order is looked up once.
        cursor.execute(
            f"WITH dated AS MATERIALIZED ({inner}), "  # noqa: S608 - no input in it
            "kinds AS (SELECT since, customer_until, COUNT(*) AS customers FROM dated "
            "GROUP BY since, customer_until) "
            f"SELECT {', '.join(columns)} FROM kinds",
            [*params, *values],
        )
        row = cursor.fetchone()
    # int(): PostgreSQL sums counts as numeric.
    counts = [int(value) for value in row]
    return [CustomerCounts(*counts[i : i + 5]) for i in range(0, len(counts), 5)]


def _order_totals(
    number: int, period: Period, placed: QuerySet[Order]
) -> QuerySet[Order, dict[str, Any]]:
    """One row of the period's B, repeat and upsell customers, orders and revenue, with its
    `number`."""
    since, until = period.bounds()
    counted = Q(amount__gte=0)  # refunds are no orders
    # A customer's first order in the period follows one from before it, or none at all;
    # their second follows the first (a refund follows none).
    first = counted & (Q(previous_ordered_at__isnull=True) | Q(previous_ordered_at__lt=since))
    second = Q(previous_ordered_at__gte=since) & (
        Q(second_previous_ordered_at__isnull=True) | Q(second_previous_ordered_at__lt=since)
    )
    first_upsell = Q(is_upsell=True) & (
        Q(previous_upsell_at__isnull=True) | Q(previous_upsell_at__lt=since)
    )
    # No GROUP BY: the number is a constant. Counting ordered_at (never null) rather than
    # the id keeps to the columns that the index order_period_facts holds.
    return (
        placed.filter(ordered_at__gte=since, ordered_at__lt=until)
        .order_by()
        .values(period=Value(number))
        .annotate(
            buyers=Count("ordered_at", filter=first),
            repeat_buyers=Count("ordered_at", filter=second),
            upsell_buyers=Count("ordered_at", filter=first_upsell),
            orders=Count("ordered_at", filter=counted),
            revenue=Coalesce(Sum("amount"), Value(Decimal(0))),
        )
    )


def order_counts(periods: Sequence[Period], placed: QuerySet[Order]) -> list[OrderCounts]:
    """B, those with two or more orders, the upsell customers, orders and revenue, for
    each period: one query, reading only the periods' orders, from an index alone."""
    first, *others = [_order_totals(n, period, placed) for n, period in enumerate(periods)]
    totals = {row.pop("period"): row for row in first.union(*others, all=True)}
    return [OrderCounts(**totals[number]) for number in range(len(periods))]


def period_kpis(
    periods: Sequence[Period], *, segment: str = "", among: QuerySet[Answer, Any] | None = None
) -> list[PeriodKpis]:
    """The KPIs of each period, of a segment's customers ("" for all) and of those `among`
    selects."""
    customers, placed = _scoped(segment, among)
    counted = customer_counts(periods, customers)
    bought = order_counts(periods, placed)
    return [
        PeriodKpis(period, who, what, Kpis.of(who, what))
        for period, who, what in zip(periods, counted, bought, strict=True)
    ]


def latest_nps_in(before: datetime, values: range) -> QuerySet[Answer, Any]:
    """The ids of the customers whose latest NPS answer (through their invitation) given
    before `before` is one of `values`."""
    return (
        Answer.objects.filter(
            question__role=Question.Role.NPS,
            value__isnull=False,
            response__customer__isnull=False,
            response__submitted_at__lt=before,
            response__excluded_at__isnull=True,
        )
        .annotate(
            latest=Window(
                FirstValue("value"),
                partition_by=[F("response__customer")],
                order_by=[F("response__submitted_at").desc(), F("response_id").desc()],
            )
        )
        .filter(latest__in=values)
        .values("response__customer")
    )


@dataclass(frozen=True)
class GroupKpis:
    group: str  # "promoters", "passives" or "detractors"
    customers: int  # customers whose latest NPS answer before the period is in the group
    row: PeriodKpis

    @property
    def small_sample(self) -> bool:
        return scoring.is_small_sample(self.customers)


def nps_groups(period: Period, *, segment: str = "") -> list[GroupKpis]:
    """The KPIs of the period for the customers whose latest NPS answer before it was a
    promoter's, a passive's or a detractor's."""
    since = period.bounds()[0]
    groups = []
    for group, values in NPS_GROUPS.items():
        among = latest_nps_in(since, values)
        customers = _scoped(segment, among)[0]
        (row,) = period_kpis([period], segment=segment, among=among)
        groups.append(GroupKpis(group, customers.count(), row))
    return groups


def _number(value: float | Decimal | None) -> float | None:
    """A KPI or amount for JSON: a plain number to two decimals, or None."""
    return None if value is None else round(float(value), 2)


def counts_json(row: PeriodKpis) -> dict[str, object]:
    who, bought = row.customers, row.orders
    return {
        "S": who.active_before,
        "E": who.active_at_end,
        "N": who.joined,
        "L": who.left,
        "joined_and_left": who.joined_and_left,
        "B": bought.buyers,
        "repeat_customers": bought.repeat_buyers,
        "upsell_customers": bought.upsell_buyers,
        "orders": bought.orders,
        "revenue": _number(bought.revenue),
    }


def of_days(start: date, end: date, *, segment: str = "") -> tuple[PeriodKpis, list[GroupKpis]]:
    """The KPIs of the days from `start` up to (not including) `end`, and the NPS groups'."""
    period = Period(start=start, end=end - timedelta(days=1))
    (row,) = period_kpis([period], segment=segment)
    return row, nps_groups(period, segment=segment)


def as_json(row: PeriodKpis, groups: Sequence[GroupKpis], segment: str) -> dict[str, object]:
    """The period's KPIs, their counts and the NPS groups' as plain data (`kpis --json`)."""
    return {
        "start": row.period.start.isoformat(),
        "end": (row.period.end + timedelta(days=1)).isoformat(),
        "segment": segment or None,
        "currency": settings.CURRENCY,
        **{name: _number(row.kpis.value(name)) for name in retention.NAMES},
        "counts": counts_json(row),
        "by_nps_group": {
            group.group: {
                "customers": group.customers,
                "small_sample": group.small_sample,
                "B": group.row.orders.buyers,
                **{name: _number(group.row.kpis.value(name)) for name in GROUP_KPIS},
            }
            for group in groups
        },
    }


Operand = int | float | Decimal | None
# How each KPI is computed, with the counts put in: its formula's text (the counts as
# placeholders) and those counts.
FORMULAS: dict[str, tuple["StrOrPromise", Callable[[PeriodKpis], dict[str, Operand]]]] = {
    "retention_rate": (
        _("retention = (E - N) / S: (%(E)s - %(N)s) / %(S)s"),
        lambda r: {
            "E": r.customers.active_at_end,
            "N": r.customers.joined,
            "S": r.customers.active_before,
        },
    ),
    "churn_rate": (
        _("churn = L / S: %(L)s / %(S)s"),
        lambda r: {"L": r.customers.left, "S": r.customers.active_before},
    ),
    "repeat_customer_rate": (
        _("repeat customer rate = customers with 2 or more orders / B: %(repeat)s / %(B)s"),
        lambda r: {"repeat": r.orders.repeat_buyers, "B": r.orders.buyers},
    ),
    "purchase_frequency": (
        _("purchase frequency = orders / B: %(orders)s / %(B)s"),
        lambda r: {"orders": r.orders.orders, "B": r.orders.buyers},
    ),
    "average_order_value": (
        _("average order value = revenue / orders: %(revenue)s / %(orders)s"),
        lambda r: {"revenue": r.orders.revenue, "orders": r.orders.orders},
    ),
    "customer_value": (
        _(
            "customer value = purchase frequency × average order value: "  # noqa: RUF001
            "%(frequency)s × %(value)s"  # noqa: RUF001
        ),
        lambda r: {"frequency": r.kpis.purchase_frequency, "value": r.kpis.average_order_value},
    ),
    "upsell_rate": (
        _("upsell rate = customers who ordered a product new to them / B: %(upsell)s / %(B)s"),
        lambda r: {"upsell": r.orders.upsell_buyers, "B": r.orders.buyers},
    ),
}


def explain(row: PeriodKpis, name: str, number: Callable[[Operand], str]) -> str:
    """How the KPI `name` of the period is computed, its counts written by `number`."""
    text, operands = FORMULAS[name]
    return str(text) % {key: number(value) for key, value in operands(row).items()}

"""Loyalty KPIs (retention, churn, repeat rate, frequency, AOV, customer value, upsell)
computed from the counts of one period.

Pure, as metrics/scoring.py is for answers: the counts come from SQL aggregates over the
period (metrics/kpis.py), so a KPI costs the same for ten orders as for a million. A
period is a half-open range of days [start, end); a KPI whose denominator is 0 is None,
never 0. Refunds (negative amounts) count in revenue and nowhere else.
"""

from dataclasses import dataclass, fields
from decimal import Decimal

# The KPIs in the order they are shown and exported; `Kpis` has a field of each name.
NAMES = (
    "retention_rate",
    "churn_rate",
    "repeat_customer_rate",
    "purchase_frequency",
    "average_order_value",
    "customer_value",
    "upsell_rate",
)
PERCENTAGES = ("retention_rate", "churn_rate", "repeat_customer_rate", "upsell_rate")
AMOUNTS = ("average_order_value", "customer_value")


@dataclass(frozen=True)
class CustomerCounts:
    """Who was a customer when. Active on day d: customer_since <= d and (customer_until
    empty or > d); without customer_since, from the day of the first order."""

    active_before: int  # S: active on the day before the period (the previous period's E)
    active_at_end: int  # E: active on the period's last day
    joined: int  # N: customer_since in the period
    left: int  # L: counted in S, customer_until in the period
    # Counted in N, and no longer a customer on the last day: E = S - L + N - this.
    joined_and_left: int

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 0:
                raise ValueError(f"negative count {field.name}={getattr(self, field.name)}")


@dataclass(frozen=True)
class OrderCounts:
    buyers: int  # B: customers with at least one order in the period
    repeat_buyers: int  # of B, those with two or more orders
    upsell_buyers: int  # of B, those who ordered a product new to them, having ordered before
    orders: int  # orders in the period; refunds are no orders
    revenue: Decimal  # the amounts of the period's orders and refunds

    def __post_init__(self) -> None:
        for name in ("buyers", "repeat_buyers", "upsell_buyers", "orders"):
            if getattr(self, name) < 0:
                raise ValueError(f"negative count {name}={getattr(self, name)}")
        if not self.repeat_buyers <= self.buyers or not self.upsell_buyers <= self.buyers:
            raise ValueError("repeat and upsell buyers are a part of the buyers")
        if not self.buyers <= self.orders:
            raise ValueError("every buyer has at least one order")


def _percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def retention_rate(counts: CustomerCounts) -> float | None:
    """(E - N) / S * 100: the customers at the start who are still customers at the end."""
    return _percent(counts.active_at_end - counts.joined, counts.active_before)


def churn_rate(counts: CustomerCounts) -> float | None:
    """L / S * 100: the customers at the start who left during the period."""
    return _percent(counts.left, counts.active_before)


def repeat_customer_rate(counts: OrderCounts) -> float | None:
    """Customers with two or more orders / B * 100."""
    return _percent(counts.repeat_buyers, counts.buyers)


def purchase_frequency(counts: OrderCounts) -> float | None:
    """Orders per buying customer: orders / B."""
    return counts.orders / counts.buyers if counts.buyers else None


def average_order_value(counts: OrderCounts) -> Decimal | None:
    """Revenue / orders, in the currency of the amounts (refunds lower it)."""
    return counts.revenue / counts.orders if counts.orders else None


def customer_value(counts: OrderCounts) -> Decimal | None:
    """Purchase frequency * average order value, which is revenue / B."""
    value = average_order_value(counts)
    if value is None or not counts.buyers:
        return None
    # The frequency as the exact fraction orders / B, so no float enters the amount.
    return value * counts.orders / counts.buyers


def upsell_rate(counts: OrderCounts) -> float | None:
    """Customers who ordered a product they never had before, having ordered before, / B * 100.

    A customer's first order is never an upsell.
    """
    return _percent(counts.upsell_buyers, counts.buyers)


@dataclass(frozen=True)
class Kpis:
    retention_rate: float | None
    churn_rate: float | None
    repeat_customer_rate: float | None
    purchase_frequency: float | None
    average_order_value: Decimal | None
    customer_value: Decimal | None
    upsell_rate: float | None

    @classmethod
    def of(cls, customers: CustomerCounts, orders: OrderCounts) -> "Kpis":
        return cls(
            retention_rate=retention_rate(customers),
            churn_rate=churn_rate(customers),
            repeat_customer_rate=repeat_customer_rate(orders),
            purchase_frequency=purchase_frequency(orders),
            average_order_value=average_order_value(orders),
            customer_value=customer_value(orders),
            upsell_rate=upsell_rate(orders),
        )

    def value(self, name: str) -> float | Decimal | None:
        return getattr(self, name)


def change(
    current: float | Decimal | None, previous: float | Decimal | None
) -> float | Decimal | None:
    """How far a KPI moved since the previous period, in its own units (percentage points
    for rates); None when either period has no value."""
    if current is None or previous is None:
        return None
    if isinstance(current, Decimal) or isinstance(previous, Decimal):
        return Decimal(current) - Decimal(previous)
    return current - previous

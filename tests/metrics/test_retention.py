"""The loyalty KPI formulas over counts (metrics/retention.py): pure, no database."""

from decimal import Decimal

import pytest

from metrics import retention
from metrics.retention import CustomerCounts, Kpis, OrderCounts


def customers(s=0, e=0, n=0, left=0, joined_and_left=0):
    return CustomerCounts(
        active_before=s, active_at_end=e, joined=n, left=left, joined_and_left=joined_and_left
    )


def orders(b=0, repeat=0, upsell=0, count=0, revenue="0"):
    return OrderCounts(
        buyers=b, repeat_buyers=repeat, upsell_buyers=upsell, orders=count, revenue=Decimal(revenue)
    )


def test_retention_and_churn_follow_the_definitions():
    # The example: 790 at the start, 95 joined, 812 at the end.
    counts = customers(s=790, e=812, n=95, left=73)

    assert retention.retention_rate(counts) == pytest.approx(100 * (812 - 95) / 790)
    assert retention.churn_rate(counts) == pytest.approx(100 * 73 / 790)


def test_retention_counts_those_who_joined_and_left_against_it():
    # 10 at the start, none left; 4 joined and 1 of them left again: E = 10 - 0 + 4 - 1.
    counts = customers(s=10, e=13, n=4, left=0, joined_and_left=1)

    assert retention.retention_rate(counts) == pytest.approx(90.0)
    assert retention.churn_rate(counts) == 0.0


def test_order_kpis_follow_the_definitions():
    # 4 buyers, 2 of them twice or more, 1 upsell; 7 orders; revenue after a refund 180.
    counts = orders(b=4, repeat=2, upsell=1, count=7, revenue="180.00")

    assert retention.repeat_customer_rate(counts) == 50.0
    assert retention.purchase_frequency(counts) == pytest.approx(7 / 4)
    assert retention.average_order_value(counts) == Decimal("180.00") / 7
    assert retention.upsell_rate(counts) == 25.0
    # Frequency times AOV, exactly revenue / B.
    assert retention.customer_value(counts) == Decimal("45.00")


def test_an_empty_denominator_gives_none_never_zero():
    kpis = Kpis.of(customers(s=0, e=3, n=3), orders(b=0, count=0, revenue="-20.00"))

    assert kpis == Kpis(None, None, None, None, None, None, None)


def test_refund_only_revenue_without_orders_has_no_average():
    counts = orders(b=0, count=0, revenue="-15.00")

    assert retention.average_order_value(counts) is None
    assert retention.customer_value(counts) is None


def test_values_are_listed_by_name():
    kpis = Kpis.of(customers(s=2, e=2, n=1, left=1), orders(b=2, repeat=1, count=3, revenue="60"))

    assert [kpis.value(name) for name in retention.NAMES] == [
        50.0,
        50.0,
        50.0,
        1.5,
        Decimal(20),
        Decimal(30),
        0.0,
    ]


def test_change_is_in_the_kpis_own_units_and_none_without_both():
    assert retention.change(62.5, 50.0) == 12.5
    assert retention.change(Decimal("21.50"), Decimal("25.00")) == Decimal("-3.50")
    assert retention.change(None, 50.0) is None
    assert retention.change(50.0, None) is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: customers(s=-1),
        lambda: orders(b=-1),
        lambda: orders(b=1, repeat=2, count=3),
        lambda: orders(b=2, count=1),
    ],
)
def test_impossible_counts_are_refused(make):
    # The database cannot give these: one here is a bug upstream, not a KPI.
    with pytest.raises(ValueError):
        make()

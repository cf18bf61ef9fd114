"""The loyalty KPIs from the database (metrics/kpis.py) against numbers worked out by hand,
and against a plain Python computation on random data."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics import kpis
from metrics.models import Order
from metrics.periods import Period, calendar_period, calendar_periods
from metrics.retention import CustomerCounts, Kpis, OrderCounts
from surveys.models import Customer, Response
from tests.factories import CustomerFactory, SurveyFactory, answer, import_orders

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def month(year: int, number: int) -> Period:
    return calendar_period("month", date(year, number, 1))


def one(period: Period, **scope) -> kpis.PeriodKpis:
    (row,) = kpis.period_kpis([period], **scope)
    return row


def test_january_a_customer_leaves_one_joins_and_a_refund_is_revenue_only(shop):
    row = one(month(2025, 1))

    # S: ann, dee. E: ann, bob. N: bob. L: dee (until 1 January).
    assert row.customers == CustomerCounts(
        active_before=2, active_at_end=2, joined=1, left=1, joined_and_left=0
    )
    # B: ann (2 orders), bob (1); cas has only a refund. Revenue 40 + 10 + 30 - 15.
    assert row.orders == OrderCounts(
        buyers=2, repeat_buyers=1, upsell_buyers=1, orders=3, revenue=Decimal("65.00")
    )
    assert row.kpis == Kpis(
        retention_rate=50.0,  # (2 - 1) / 2
        churn_rate=50.0,  # 1 / 2
        repeat_customer_rate=50.0,  # 1 / 2
        purchase_frequency=1.5,  # 3 / 2
        average_order_value=Decimal("65.00") / 3,
        customer_value=Decimal("32.50"),  # 65 / 2
        upsell_rate=50.0,  # ann's socks; bob's first order is none
    )


def test_february_counts_a_customer_without_customer_since_from_her_first_order(shop):
    row = one(month(2025, 2))

    # S: ann, bob. E: ann, cas (from 3 Feb). N: cas. L: bob (until 15 Feb).
    assert row.customers == CustomerCounts(
        active_before=2, active_at_end=2, joined=1, left=1, joined_and_left=0
    )
    # B: ann (1 and a refund), bob (2), cas (2). Revenue 12.50 + 30 + 25 + 50 + 20 - 12.50.
    assert row.orders == OrderCounts(
        buyers=3, repeat_buyers=2, upsell_buyers=2, orders=5, revenue=Decimal("125.00")
    )
    assert row.kpis.retention_rate == 50.0
    assert row.kpis.repeat_customer_rate == pytest.approx(200 / 3)
    assert row.kpis.purchase_frequency == pytest.approx(5 / 3)
    assert row.kpis.average_order_value == Decimal("25.00")
    assert row.kpis.customer_value == Decimal("125.00") / 3
    # bob's hat and cas's shoes, which she had only had refunded before.
    assert row.kpis.upsell_rate == pytest.approx(200 / 3)


def test_march_across_the_dst_change_and_a_customer_who_joined_and_left(shop):
    march, april = month(2025, 3), month(2025, 4)
    row, after = kpis.period_kpis([march, april])

    # S: ann, cas. N: eve, who left on the 20th. E = S - L + N - (joined and left).
    assert row.customers == CustomerCounts(
        active_before=2, active_at_end=2, joined=1, left=0, joined_and_left=1
    )
    assert row.customers.active_at_end == 2 - 0 + 1 - 1
    assert row.kpis.retention_rate == 50.0  # (E - N) / S = (2 - 1) / 2, as defined
    assert row.kpis.churn_rate == 0.0
    # eve's order at 23:30 on 31 March is March's; ann's at 00:30 on 1 April is April's.
    assert row.orders == OrderCounts(
        buyers=2, repeat_buyers=0, upsell_buyers=1, orders=2, revenue=Decimal("35.00")
    )
    assert after.orders.orders == 1 and after.orders.revenue == Decimal("40.00")


def test_october_ends_at_midnight_in_amsterdam_after_the_clocks_went_back():
    CustomerFactory(ref="oli", customer_since=date(2025, 1, 1))
    import_orders(
        "o1,oli,2025-10-26T02:30:00,10.00,hat",  # the hour that came twice
        "o2,oli,2025-10-31T23:59:59,10.00,hat",  # 22:59:59 UTC
        "n1,oli,2025-10-31T23:30:00Z,10.00,hat",  # 00:30 on 1 November in Amsterdam
        "n2,oli,2025-11-01T00:00:00,10.00,hat",
    )

    october, november = kpis.period_kpis([month(2025, 10), month(2025, 11)])

    assert (october.orders.orders, november.orders.orders) == (2, 2)
    assert october.orders.repeat_buyers == november.orders.repeat_buyers == 1


def test_a_period_before_anyone_was_a_customer_has_no_retention_or_churn(shop):
    row = one(month(2024, 1))  # dee joined on 1 January 2024: S = 0

    assert row.customers == CustomerCounts(
        active_before=0, active_at_end=1, joined=1, left=0, joined_and_left=0
    )
    assert row.kpis == Kpis(None, None, None, None, None, None, None)


def test_a_quarter_and_a_year(shop):
    quarter = one(calendar_period("quarter", date(2025, 2, 1)))
    year = one(calendar_period("year", date(2025, 2, 1)))

    # Q1 2025: S ann, dee; E ann, cas; N bob, cas, eve; L dee; joined and left bob, eve.
    assert quarter.customers == CustomerCounts(
        active_before=2, active_at_end=2, joined=3, left=1, joined_and_left=2
    )
    # Q1: ann 4 orders, bob 3, cas 2, eve 1; upsells by ann, bob and cas.
    assert quarter.orders == OrderCounts(
        buyers=4, repeat_buyers=3, upsell_buyers=3, orders=10, revenue=Decimal("225.00")
    )
    assert year.orders.orders == 11 and year.orders.revenue == Decimal("265.00")


def test_periods_asked_together_count_as_each_one_alone_even_overlapping(shop):
    periods = [
        calendar_period("year", date(2025, 1, 1)),
        month(2025, 2),
        calendar_period("quarter", date(2025, 1, 1)),
        month(2025, 2),
    ]

    together = kpis.period_kpis(periods)

    assert together == [one(period) for period in periods]


def test_a_segment_counts_only_its_customers_and_their_orders(shop):
    row = one(month(2025, 1), segment="wholesale")  # dee alone, who left on 1 January

    assert row.customers == CustomerCounts(
        active_before=1, active_at_end=0, joined=0, left=1, joined_and_left=0
    )
    assert row.orders.orders == 0 and row.kpis.churn_rate == 100.0
    assert one(month(2025, 1), segment="retail").customers.active_before == 1


def test_an_order_moved_to_another_customer_counts_for_the_new_one_only(shop):
    import_orders("f1,bob,2025-02-01T00:30:00+01:00,12.50,socks")  # was ann's

    row = one(month(2025, 2))
    # ann has only a refund left in February; the socks are bob's third order, new to him.
    assert row.orders == OrderCounts(
        buyers=2, repeat_buyers=2, upsell_buyers=2, orders=5, revenue=Decimal("125.00")
    )
    assert Order.objects.get(ref="f1").customer.ref == "bob"


def _reads(queries):
    # PostgreSQL's parts of a UNION come in parentheses.
    return [q["sql"] for q in queries if q["sql"].lstrip("(").startswith(("SELECT", "WITH"))]


def test_kpis_take_one_query_for_the_customers_and_one_for_the_orders(shop):
    periods = calendar_periods("month", date(2025, 4, 1), 6)
    with CaptureQueriesContext(connection) as few:
        kpis.period_kpis(periods)
    assert len(_reads(few)) == 2

    Order.objects.bulk_create(
        Order(
            ref=f"more{i}",
            customer=Customer.objects.get(ref="ann"),
            ordered_at=datetime(2025, 2, 1, 12, tzinfo=AMSTERDAM) + timedelta(hours=i),
            amount=Decimal(5),
            product="socks",
        )
        for i in range(50)
    )
    with CaptureQueriesContext(connection) as many:
        kpis.period_kpis(periods)
    assert len(many) == len(few)


def _answer_nps(survey, customer, value, at):
    response = answer(survey, value, customer=customer)
    Response.objects.filter(pk=response.pk).update(submitted_at=at)


def test_nps_groups_compare_the_customers_by_their_latest_answer_before_the_period():
    survey = SurveyFactory(template="nps")
    people = {ref: CustomerFactory(ref=ref, customer_since=date(2024, 1, 1)) for ref in "pqrdx"}
    before = datetime(2025, 1, 15, 12, tzinfo=AMSTERDAM)
    _answer_nps(survey, people["p"], 10, before)
    _answer_nps(survey, people["q"], 9, before)
    _answer_nps(survey, people["r"], 8, before)
    _answer_nps(survey, people["d"], 10, before - timedelta(days=30))
    _answer_nps(survey, people["d"], 3, before)  # d's latest: a detractor now
    _answer_nps(survey, people["x"], 10, datetime(2025, 2, 2, tzinfo=AMSTERDAM))  # too late
    Customer.objects.filter(ref="d").update(customer_until=date(2025, 2, 20))
    import_orders(
        "1,p,2025-02-03T10:00:00,30.00,shoes",
        "2,p,2025-02-10T10:00:00,50.00,hat",
        "3,q,2025-02-05T10:00:00,40.00,shoes",
        "4,r,2025-02-06T10:00:00,25.00,socks",
        "5,d,2025-02-07T10:00:00,10.00,socks",
        "6,x,2025-02-07T10:00:00,99.00,socks",
    )

    groups = {group.group: group for group in kpis.nps_groups(month(2025, 2))}

    promoters, passives, detractors = groups["promoters"], groups["passives"], groups["detractors"]
    assert (promoters.customers, passives.customers, detractors.customers) == (2, 1, 1)
    assert promoters.small_sample and passives.small_sample
    assert promoters.row.orders == OrderCounts(
        buyers=2, repeat_buyers=1, upsell_buyers=1, orders=3, revenue=Decimal("120.00")
    )
    assert promoters.row.kpis.repeat_customer_rate == 50.0
    assert promoters.row.kpis.average_order_value == Decimal("40.00")
    assert promoters.row.kpis.customer_value == Decimal("60.00")
    assert promoters.row.kpis.churn_rate == 0.0
    assert passives.row.kpis.customer_value == Decimal("25.00")
    assert detractors.row.orders.buyers == 1
    assert detractors.row.kpis.churn_rate == 100.0  # d left on the 20th


def test_nps_groups_ignore_answers_without_a_customer():
    survey = SurveyFactory(template="nps")
    answer(survey, 10)  # from the public link: nobody's
    Response.objects.update(submitted_at=datetime(2025, 1, 1, tzinfo=AMSTERDAM))

    assert [group.customers for group in kpis.nps_groups(month(2025, 2))] == [0, 0, 0]


# A plain computation of the same KPIs, straight from the definitions, for the random test.


def _expected(period: Period, people: dict, placed: dict) -> tuple[CustomerCounts, OrderCounts]:
    since, until = period.bounds()
    counted = sorted(
        (at, ref, who, product) for ref, (who, at, amount, product) in placed.items() if amount >= 0
    )
    first = {}
    for at, _, who, _ in counted:
        first.setdefault(who, at)

    def start_of(who):
        joined, _ = people[who]
        return joined or (first[who].astimezone(AMSTERDAM).date() if who in first else None)

    def active(who, day):
        start, (_, left) = start_of(who), people[who]
        return start is not None and start <= day and (left is None or left > day)

    before = period.start - timedelta(days=1)
    joined = [w for w in people if start_of(w) and period.start <= start_of(w) <= period.end]
    left_in = [w for w in people if people[w][1] and period.start <= people[w][1] <= period.end]
    who = CustomerCounts(
        active_before=sum(active(w, before) for w in people),
        active_at_end=sum(active(w, period.end) for w in people),
        joined=len(joined),
        left=sum(active(w, before) for w in left_in),
        # Of N, those no longer customers at the end (a customer dated from a first order
        # after their customer_until too).
        joined_and_left=sum(
            people[w][1] is not None and people[w][1] <= period.end for w in joined
        ),
    )
    inside = [(at, who, product) for at, _, who, product in counted if since <= at < until]
    per = {w: sum(1 for _, x, _ in inside if x == w) for w in people}
    upsell = {
        w
        for at, w, product in inside
        if not any(x == w and p == product and a < at for a, _, x, p in counted)
        and any(x == w and a < at for a, _, x, _ in counted)
    }
    revenue = sum((a for w, at, a, _ in placed.values() if since <= at < until), Decimal(0))
    bought = OrderCounts(
        buyers=sum(n >= 1 for n in per.values()),
        repeat_buyers=sum(n >= 2 for n in per.values()),
        upsell_buyers=len(upsell),
        orders=len(inside),
        revenue=revenue,
    )
    return who, bought


ORDER = st.tuples(
    st.integers(0, 11),  # ref: some rows come again, as updates
    st.sampled_from("abc"),
    st.integers(0, 20),  # day of February or March, two to a day at most
    st.sampled_from([0, 12]),
    st.sampled_from(["-5.00", "0.00", "10.00", "25.50"]),
    st.sampled_from(["hat", "socks"]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    files=st.lists(st.lists(ORDER, max_size=8), min_size=1, max_size=3),
    since=st.lists(st.sampled_from([None, 0, 20, 40]), min_size=3, max_size=3),
    until=st.lists(st.sampled_from([None, 10, 30, 45]), min_size=3, max_size=3),
)
def test_the_kpis_equal_a_plain_computation_whatever_the_order_of_imports(files, since, until):
    """Files imported one after the other, out of time order, rows coming again for other
    customers or times: the facts each import writes give the definitions' numbers."""
    Order.objects.all().delete()
    Customer.objects.all().delete()
    start = date(2025, 2, 1)
    people = {}
    for ref, joined, left in zip("abc", since, until, strict=True):
        joined_on = None if joined is None else start + timedelta(days=joined)
        left_on = None if left is None else start + timedelta(days=left)
        if joined_on and left_on and left_on < joined_on:
            left_on = joined_on
        CustomerFactory(ref=ref, customer_since=joined_on, customer_until=left_on)
        people[ref] = (joined_on, left_on)
    placed = {}
    for rows in files:
        unique = {}
        for ref, who, day, hour, amount, product in rows:
            at = datetime(2025, 2, 10, hour, tzinfo=AMSTERDAM) + timedelta(days=day)
            unique[f"o{ref}"] = (who, at, Decimal(amount), product)
        import_orders(
            *(f"{ref},{w},{at.isoformat()},{a},{p}" for ref, (w, at, a, p) in unique.items())
        )
        placed.update(unique)
    periods = [month(2025, 2), month(2025, 3), calendar_period("quarter", start)]
    for period, row in zip(periods, kpis.period_kpis(periods), strict=True):
        assert (row.customers, row.orders) == _expected(period, people, placed), period
        c = row.customers
        assert c.active_at_end == c.active_before - c.left + c.joined - c.joined_and_left

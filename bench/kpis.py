"""Orders in, loyalty KPIs out: the import against COPY, and the KPIs of 12 months from SQL
aggregates against a Python loop over the same orders.

1,000,000 orders of 100,000 customers over one year. See bench/README.md.
"""

import bisect
import csv
import io
import random
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from _common import median_time, migrate_and_flush, ms, verdict
from django.db import connection
from django.utils import timezone

from metrics import kpis, orders
from metrics.models import Order
from metrics.periods import Period, calendar_periods
from metrics.retention import CustomerCounts, Kpis, OrderCounts
from surveys.models import Customer

CUSTOMERS = 100_000
ORDERS = 1_000_000
YEAR_START = date(2025, 1, 1)
PRODUCTS = [f"product {i}" for i in range(12)]
PRICES = [Decimal(p) for p in ("9.95", "14.50", "19.99", "24.00", "29.95", "35.00", "42.50")]


def create_customers(rng: random.Random) -> list[str]:
    """Customers since up to three years before the year (a tenth without a date), a
    sixth of them leaving during it; returns their references."""
    people = []
    for i in range(CUSTOMERS):
        since = None if i % 10 == 0 else YEAR_START + timedelta(days=rng.randint(-1000, 330))
        until = None
        if rng.random() < 0.15:
            until = max(since or YEAR_START, YEAR_START) + timedelta(days=rng.randint(1, 360))
        people.append(
            Customer(
                ref=f"C{i:06d}",
                segment=rng.choice(["consumer", "small business", "enterprise"]),
                customer_since=since,
                customer_until=until,
            )
        )
    Customer.objects.bulk_create(people, batch_size=10_000)
    return [person.ref for person in people]


def orders_csv(rng: random.Random, refs: list[str]) -> str:
    """The year's orders in time order, numbered as a shop numbers them; each customer
    mostly reorders a favourite product; one in fifty rows is a refund."""
    zone = timezone.get_default_timezone()
    start = datetime.combine(YEAR_START, datetime.min.time(), tzinfo=zone)
    step = 365 * 86400 / ORDERS
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ref", "customer_ref", "ordered_at", "amount", "product", "channel"])
    for i in range(ORDERS):
        who = int(CUSTOMERS * rng.random() ** 1.3)
        when = start + timedelta(seconds=int(i * step))
        product = PRODUCTS[who % 12] if rng.random() < 0.7 else rng.choice(PRODUCTS)
        amount = rng.choice(PRICES) * rng.randint(1, 3)
        if rng.random() < 0.02:
            amount = -amount
        writer.writerow(
            [f"O{i:08d}", refs[who], when.isoformat(), amount, product, rng.choice(["web", "app"])]
        )
    return out.getvalue()


def copy_baseline(text: str) -> float:
    """COPY of the same rows, customer ids resolved, into the emptied orders table."""
    ids = dict(Customer.objects.values_list("ref", "pk"))
    rows = csv.reader(io.StringIO(text))
    next(rows)
    lines = io.StringIO()
    writer = csv.writer(lines)
    for ref, customer, ordered_at, amount, product, channel in rows:
        writer.writerow([ref, ids[customer], ordered_at, amount, product, channel])
    data = lines.getvalue()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE metrics_order")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        copy = (
            "COPY metrics_order (ref, customer_id, ordered_at, amount, product, channel) "
            "FROM STDIN (FORMAT csv)"
        )
        with cursor.cursor.copy(copy) as pipe:
            pipe.write(data)
    took = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE metrics_order")
    return took


def python_kpis(periods: list[Period]) -> list[Kpis]:
    """The same KPIs by a loop over every order (the history matters: first orders and
    upsells) and every customer."""
    bounds = [period.bounds() for period in periods]
    starts = [since for since, _ in bounds]
    first: dict[int, datetime] = {}  # each customer's first order
    first_of_product: dict[tuple[int, str], datetime] = {}
    counts: list[dict[int, int]] = [defaultdict(int) for _ in periods]
    upsellers: list[set[int]] = [set() for _ in periods]
    revenue = [Decimal(0) for _ in periods]
    for order in Order.objects.order_by("ordered_at", "pk").iterator(chunk_size=5000):
        at = order.ordered_at
        index = bisect.bisect_right(starts, at) - 1
        inside = index >= 0 and at < bounds[index][1]
        if inside:
            revenue[index] += order.amount
        if order.amount < 0:
            continue  # a refund: revenue only
        customer = order.customer_id
        first.setdefault(customer, at)
        new_product = first_of_product.setdefault((customer, order.product), at) == at
        if inside:
            counts[index][customer] += 1
            if new_product and first[customer] < at:
                upsellers[index].add(customer)
    zone = timezone.get_default_timezone()
    people = [
        (since or (first[pk].astimezone(zone).date() if pk in first else None), until)
        for pk, since, until in Customer.objects.values_list(
            "pk", "customer_since", "customer_until"
        ).iterator(chunk_size=5000)
    ]
    results = []
    for period, bought, upsold, money in zip(periods, counts, upsellers, revenue, strict=True):
        before = period.start - timedelta(days=1)

        def active(since: date | None, until: date | None, day: date) -> bool:
            return since is not None and since <= day and (until is None or until > day)

        joined = [(s, u) for s, u in people if s is not None and period.start <= s <= period.end]
        who = CustomerCounts(
            active_before=sum(active(s, u, before) for s, u in people),
            active_at_end=sum(active(s, u, period.end) for s, u in people),
            joined=len(joined),
            left=sum(active(s, u, before) and u is not None and u <= period.end for s, u in people),
            joined_and_left=sum(u is not None and u <= period.end for _, u in joined),
        )
        what = OrderCounts(
            buyers=len(bought),
            repeat_buyers=sum(n >= 2 for n in bought.values()),
            upsell_buyers=len(upsold),
            orders=sum(bought.values()),
            revenue=money,
        )
        results.append(Kpis.of(who, what))
    return results


def main() -> None:
    migrate_and_flush()
    rng = random.Random(1)
    refs = create_customers(rng)
    text = orders_csv(rng, refs)
    print(f"{CUSTOMERS:,} customers; {ORDERS:,} orders over {YEAR_START.year}, as CSV")

    copied = copy_baseline(text)
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as file:
        file.write(text)
        file.seek(0)
        started = time.perf_counter()
        result = orders.import_orders(lines=file)
        imported = time.perf_counter() - started
    print(f"import_orders: {result.summary()} in {imported:.1f} s")
    print(f"COPY of the same rows into the orders table: {copied:.1f} s")
    verdict("import rows per second", ORDERS / imported, 50_000)
    print(f"ratio import/COPY: {imported / copied:.2f}")
    with connection.cursor() as cursor:  # what autovacuum does after a large insert
        cursor.execute("VACUUM ANALYZE metrics_order")

    periods = calendar_periods("month", date(YEAR_START.year, 12, 1), 12)
    sql = median_time(lambda: kpis.period_kpis(periods), runs=5)
    print(f"\nKPIs of 12 months from SQL aggregates, median of 5: {ms(sql)}")
    from_sql = [row.kpis for row in kpis.period_kpis(periods)]
    started = time.perf_counter()
    from_loop = python_kpis(periods)
    loop = time.perf_counter() - started
    print(f"the same by a Python loop over the orders and customers: {loop:.1f} s")
    verdict("ratio loop/SQL", loop / sql, 50)
    same = from_sql == from_loop
    print(f"equal results: {'yes' if same else 'NO'}")
    print(f"e.g. {periods[5].start:%B}: {from_sql[5]}")


if __name__ == "__main__":
    main()

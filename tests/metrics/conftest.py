"""Fixtures of the metrics tests."""

from datetime import date

import pytest

from surveys.models import Customer
from tests.factories import CustomerFactory, import_orders


@pytest.fixture
def shop(db):
    """Five customers and their orders; the KPIs of each month are worked out in the tests.

    ann  since 2024-06-01
    bob  since 2025-01-10, until 2025-02-15 (the first day he is no longer a customer)
    cas  no customer_since: a customer from her first order (3 Feb; a refund on 20 Jan
         is no order)
    dee  since 2024-01-01, until 2025-01-01
    eve  since 2025-03-05, until 2025-03-20: joined and left in March
    """
    people = {
        "ann": (date(2024, 6, 1), None),
        "bob": (date(2025, 1, 10), date(2025, 2, 15)),
        "cas": (None, None),
        "dee": (date(2024, 1, 1), date(2025, 1, 1)),
        "eve": (date(2025, 3, 5), date(2025, 3, 20)),
    }
    for ref, (since, until) in people.items():
        CustomerFactory(ref=ref, customer_since=since, customer_until=until, segment="retail")
    Customer.objects.filter(ref="dee").update(segment="wholesale")
    import_orders(
        # January
        "j1,ann,2025-01-05T10:00:00,40.00,shoes",
        "j2,ann,2025-01-20T10:00:00,10.00,socks",  # an upsell: new to ann, who had ordered
        "j3,bob,2025-01-12T09:00:00,30.00,shoes",  # bob's first order: never an upsell
        "j4,cas,2025-01-20T12:00:00,-15.00,shoes",  # a refund: revenue only
        # February; 00:30 in Amsterdam is still 31 January in UTC
        'f1,ann,2025-02-01T00:30:00+01:00,"12,50",socks',
        "f2,bob,2025-02-10T10:00:00,30.00,shoes",
        "f3,bob,2025-02-11T10:00:00,25.00,hat",  # an upsell
        "f4,cas,2025-02-03T10:00:00,50.00,hat",  # cas's first order
        "f5,cas,2025-02-04T10:00:00,20.00,shoes",  # an upsell: before, only refunded
        "f6,ann,2025-02-20T10:00:00,-12.50,socks",
        # March, which has 23 hours on the 30th; April starts at 22:00 UTC on 31 March
        "m1,ann,2025-03-10T10:00:00,15.00,hat",  # an upsell
        "m2,eve,2025-03-31T23:30:00,20.00,hat",  # 21:30 UTC: still March
        "a1,ann,2025-04-01T00:30:00,40.00,shoes",  # 22:30 UTC on 31 March: April
    )

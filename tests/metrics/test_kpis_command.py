"""`manage.py kpis`: the KPIs of a period, as text or JSON."""

import json
from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from surveys.models import Customer, Response
from tests.factories import answer

pytestmark = pytest.mark.django_db


def kpis(*args):
    out = StringIO()
    call_command("kpis", *args, stdout=out)
    return out.getvalue().splitlines()


def test_json_gives_every_kpi_its_counts_and_the_nps_groups(shop, nps_survey):
    response = answer(nps_survey, 9, customer=Customer.objects.get(ref="bob"))
    Response.objects.filter(pk=response.pk).update(
        submitted_at=datetime(2025, 1, 31, 23, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    )

    (line,) = kpis("--start", "2025-02-01", "--end", "2025-03-01", "--json")

    assert json.loads(line) == {
        "start": "2025-02-01",
        "end": "2025-03-01",
        "segment": None,
        "currency": "EUR",
        "retention_rate": 50.0,
        "churn_rate": 50.0,
        "repeat_customer_rate": 66.67,
        "purchase_frequency": 1.67,
        "average_order_value": 25.0,
        "customer_value": 41.67,
        "upsell_rate": 66.67,
        "counts": {
            "S": 2,
            "E": 2,
            "N": 1,
            "L": 1,
            "joined_and_left": 0,
            "B": 3,
            "repeat_customers": 2,
            "upsell_customers": 2,
            "orders": 5,
            "revenue": 125.0,
        },
        "by_nps_group": {
            # bob, a promoter since 31 January, ordered twice and left on the 15th.
            "promoters": {
                "customers": 1,
                "small_sample": True,
                "B": 1,
                "repeat_customer_rate": 100.0,
                "churn_rate": 100.0,
                "average_order_value": 27.5,
                "customer_value": 55.0,
            },
            "passives": {
                "customers": 0,
                "small_sample": True,
                "B": 0,
                "repeat_customer_rate": None,
                "churn_rate": None,
                "average_order_value": None,
                "customer_value": None,
            },
            "detractors": {
                "customers": 0,
                "small_sample": True,
                "B": 0,
                "repeat_customer_rate": None,
                "churn_rate": None,
                "average_order_value": None,
                "customer_value": None,
            },
        },
    }


def test_json_of_a_segment_and_of_a_period_without_customers(shop):
    (line,) = kpis(
        "--start", "2025-01-01", "--end", "2025-02-01", "--segment", "wholesale", "--json"
    )
    data = json.loads(line)
    assert data["segment"] == "wholesale"
    assert (data["counts"]["S"], data["counts"]["L"], data["churn_rate"]) == (1, 1, 100.0)

    (line,) = kpis("--start", "2024-01-01", "--end", "2024-02-01", "--json")
    data = json.loads(line)
    assert data["counts"]["S"] == 0
    assert data["retention_rate"] is None and data["churn_rate"] is None
    assert data["average_order_value"] is None


def test_text_explains_each_kpi_and_ends_with_all_of_them(shop):
    lines = kpis("--start", "2025-01-01", "--end", "2025-02-01")

    assert lines[0] == "2025-01-01 up to 2025-02-01:"
    assert "  50.0%: retention = (E - N) / S: (2 - 1) / 2" in lines
    assert "  21.67: average order value = revenue / orders: 65.00 / 3" in lines
    assert lines[-1] == (
        "retention_rate 50.0%, churn_rate 50.0%, repeat_customer_rate 50.0%, "
        "purchase_frequency 1.50, average_order_value 21.67, customer_value 32.50, "
        "upsell_rate 50.0%"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--start", "2025-02-01", "--end", "2025-02-01"],
        ["--start", "2025-02-30", "--end", "2025-03-01"],
    ],
)
def test_a_period_that_is_not_one_is_refused(db, args):
    with pytest.raises(CommandError):
        kpis(*args)

"""The KPI page and its CSV export (metrics.views.kpi_page, kpi_export)."""

import csv
import io
import re
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics.models import Order
from surveys.models import Customer
from tests.factories import import_orders

pytestmark = pytest.mark.django_db

FEBRUARY = {"unit": "month", "start": "2025-02-01"}


def page(client, user, **query):
    client.force_login(user)
    response = client.get(reverse("metrics:kpis"), query)
    assert response.status_code == 200
    return response.content.decode()


def text(html):
    """What a person reads: the tags gone, the spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_only_managers_and_agents_see_the_kpis(client, outsider, agent):
    for name in ("metrics:kpis", "metrics:kpis_csv"):
        assert client.get(reverse(name)).status_code == 302
        client.force_login(outsider)
        assert client.get(reverse(name)).status_code == 403
        client.force_login(agent)
        assert client.get(reverse(name)).status_code == 200
        client.logout()


def test_without_orders_the_page_says_what_to_import(client, manager):
    shown = text(page(client, manager))

    assert "No orders yet." in shown
    assert "ref, customer_ref, ordered_at, amount and product" in shown
    assert "manage.py import_orders orders.csv" in shown
    assert "There are no customers yet either" in shown
    assert reverse("admin:metrics_orderimport_add") in page(client, manager)
    assert "nothing to compare yet" in shown


def test_a_month_shows_each_kpi_with_its_change_and_how_it_is_computed(client, manager, shop):
    shown = text(page(client, manager, **FEBRUARY))

    assert "February 2025" in shown and "January 2025" in shown and "March 2025" in shown
    assert "No orders yet." not in shown
    # Retention (2 - 1) / 2 in February as in January; repeat customers 2 of 3 against 1 of 2.
    assert "retention = (E - N) / S: (2 - 1) / 2" in shown
    assert "+0.0 pp against January 2025" in shown
    assert "repeat customer rate = customers with 2 or more orders / B: 2 / 3" in shown
    assert "66.7%" in shown and "+16.7 pp against January 2025" in shown
    # Average order value 125 / 5 against 65 / 3; customer value 125 / 3 against 32.50.
    assert "average order value = revenue / orders: € 125.00 / 5" in shown
    assert "€ 25.00" in shown and "+€ 3.33 against January 2025" in shown
    formula = "customer value = purchase frequency × average order value: 1.67 × € 25.00"  # noqa: RUF001
    assert formula in shown
    assert "€ 41.67" in shown


def test_the_dutch_page_reads_in_dutch_with_the_charts_numbers_plain(client, manager, shop):
    client.cookies["django_language"] = "nl"
    html = page(client, manager, **FEBRUARY, chart="average_order_value")
    shown = text(html)

    assert "februari 2025" in shown and "Klantbehoud" in shown
    assert "66,7%" in shown and "+16,7 procentpunt ten opzichte van januari 2025" in shown
    assert "€ 25,00" in shown
    svg = ElementTree.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0))  # noqa: S314
    numbers = [
        value
        for element in svg.iter()
        for name, value in element.attrib.items()
        if name in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r")
    ]
    assert numbers and all(float(value) >= 0 for value in numbers)
    points = [element.attrib["points"] for element in svg.iter("polyline")]
    assert points and all(
        float(n) >= 0 for line in points for p in line.split() for n in p.split(",")
    )


def test_a_segment_shows_its_customers_only(client, manager, shop):
    shown = text(page(client, manager, unit="month", start="2025-01-01", segment="wholesale"))

    # dee alone, who left on 1 January: churn 1 / 1.
    assert "churn = L / S: 1 / 1" in shown and "100.0%" in shown
    assert '<option value="wholesale" selected>' in page(
        client, manager, unit="month", start="2025-01-01", segment="wholesale"
    )


def test_quarters_and_years(client, manager, shop):
    assert "Q1 2025" in text(page(client, manager, unit="quarter", start="2025-02-14"))
    shown = text(page(client, manager, unit="year", start="2025-02-14"))
    assert "2025" in shown and "2024" in shown
    assert "purchase frequency = orders / B: 11 / 4" in shown


def test_the_trend_chart_draws_the_chosen_kpi(client, manager, shop):
    html = page(client, manager, **FEBRUARY, chart="churn_rate")

    assert (
        'aria-current="true" href="?unit=month&amp;start=2025-02-01&amp;chart=churn_rate"' in html
    )
    assert "Churn rate per period" in html


def test_bad_choices_fall_back_to_the_last_complete_month(client, manager, shop):
    shown = text(page(client, manager, unit="decade", start="31-31-31"))

    assert "Showing the last complete month." in shown


def test_the_nps_groups_are_compared_side_by_side(client, manager, shop, nps_survey):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from surveys.models import Response
    from tests.factories import answer

    for ref, value in (("ann", 10), ("bob", 3)):
        response = answer(nps_survey, value, customer=Customer.objects.get(ref=ref))
        Response.objects.filter(pk=response.pk).update(
            submitted_at=datetime(2025, 1, 25, tzinfo=ZoneInfo("Europe/Amsterdam"))
        )

    shown = text(page(client, manager, **FEBRUARY))

    assert "Do promoters buy more?" in shown
    assert "Customers in the group 1 small sample 0 1 small sample" in shown
    assert "Customers who ordered (B) 1 0 1" in shown
    assert "Small sample:" in shown


def test_the_page_takes_the_same_queries_for_more_orders(client, manager, shop):
    client.force_login(manager)
    url = reverse("metrics:kpis")
    client.get(url, FEBRUARY)
    with CaptureQueriesContext(connection) as few:
        client.get(url, FEBRUARY)
    import_orders(*(f"x{i},ann,2025-02-{i + 1:02d}T10:00:00,5.00,socks" for i in range(20)))
    with CaptureQueriesContext(connection) as many:
        client.get(url, FEBRUARY)
    assert len(many) == len(few)
    assert Order.objects.count() > 30


def _csv(client, user, **query):
    client.force_login(user)
    response = client.get(reverse("metrics:kpis_csv"), query)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return response, list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_csv_export_has_a_row_per_period_with_plain_numbers(client, manager, shop):
    client.cookies["django_language"] = "nl"
    response, rows = _csv(client, manager, **FEBRUARY)

    assert response["Content-Disposition"] == 'attachment; filename="kpis-month-2025-02-01.csv"'
    header, *periods = rows
    assert header[:5] == ["Periode", "Begindatum", "Einddatum (niet inbegrepen)", "Segment", "S"]
    assert len(periods) == 12
    january, february = (dict(zip(header, row, strict=True)) for row in periods[-2:])
    assert february["Periode"] == "februari 2025" and february["Begindatum"] == "2025-02-01"
    assert february["Einddatum (niet inbegrepen)"] == "2025-03-01"
    assert (february["S"], february["E"], february["N"], february["L"], february["B"]) == (
        "2",
        "2",
        "1",
        "1",
        "3",
    )
    assert february["Omzet"] == "125.00" and february["Gemiddelde orderwaarde"] == "25.00"
    assert february["Herhaalaankopen"] == "66.67" and january["Klantwaarde"] == "32.50"
    # March 2024 had no orders: no average, an empty cell rather than 0.
    assert dict(zip(header, periods[0], strict=True))["Gemiddelde orderwaarde"] == ""


def test_a_segment_that_looks_like_a_formula_is_exported_as_text(client, manager, shop):
    Customer.objects.filter(ref="dee").update(segment="=cmd")

    _, rows = _csv(client, manager, **FEBRUARY, segment="=cmd")

    assert {row[3] for row in rows[1:]} == {"'=cmd"}


def test_a_bad_export_request_is_refused_with_a_message(client, manager):
    client.force_login(manager)
    response = client.get(reverse("metrics:kpis_csv"), {"start": "2999-01-01"})

    assert response.status_code == 400
    assert "Choose a date between 2000 and 2100." in response.content.decode()

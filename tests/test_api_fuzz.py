"""Generated input against every REST endpoint: JSON of any shape, bodies that are not
JSON, query strings with NUL and non-characters. None gives a server error, and a body
that is refused stores nothing. Settings as in tests/test_fuzz.py."""

import json
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from metrics.models import FollowUp, Order, SurveyRequest
from surveys.api_keys import create_api_key
from surveys.models import Customer
from surveys.text import has_control_characters
from tests.factories import CustomerFactory, SurveyFactory, answer
from tests.test_fuzz import BODY, TEXT, assert_no_server_error, fuzz

pytestmark = pytest.mark.django_db

CUSTOMER_FIELDS = ["ref", "email", "name", "language", "segment"]
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=False), TEXT
)
# Any JSON, nested a little.
JSON = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Mostly the shape a customer has, with any values.
CUSTOMER = st.dictionaries(
    st.one_of(st.sampled_from(CUSTOMER_FIELDS), st.text(max_size=10)), JSON, max_size=7
)


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.API_REQUESTS_PER_MINUTE = 10**9


@pytest.fixture
def api():
    _api_key, key = create_api_key(name="Fuzz", scopes=["read", "write", "send"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def _stored_customers_are_valid() -> None:
    for customer in Customer.objects.all():
        for name in CUSTOMER_FIELDS:
            assert not has_control_characters(getattr(customer, name))
        assert customer.ref and len(customer.ref) <= 100


def test_customer_bodies(api):
    @fuzz
    @given(body=st.one_of(CUSTOMER, st.lists(CUSTOMER, max_size=3), JSON))
    def check(body):
        before = Customer.objects.count()
        page = api.post("/api/v1/customers/", json.dumps(body), content_type="application/json")
        assert_no_server_error(page)
        if page.status_code >= 400:
            assert Customer.objects.count() == before

    check()
    _stored_customers_are_valid()


def test_survey_request_bodies(api):
    SurveyFactory(slug="s1")
    request = st.fixed_dictionaries(
        {},
        optional={
            "survey": st.one_of(st.just("s1"), JSON),
            "customer": st.one_of(CUSTOMER, JSON),
            "delay": st.one_of(st.integers(-10, 10**8), JSON),
            "metadata": st.one_of(
                st.dictionaries(st.sampled_from(["touchpoint", "channel", "ref"]), JSON), JSON
            ),
        },
    )

    @fuzz
    @given(body=st.one_of(request, JSON))
    def check(body):
        before = (Customer.objects.count(), SurveyRequest.objects.count())
        page = api.post(
            "/api/v1/survey-requests/", json.dumps(body), content_type="application/json"
        )
        assert_no_server_error(page)
        if page.status_code >= 400:
            assert (Customer.objects.count(), SurveyRequest.objects.count()) == before

    check()
    _stored_customers_are_valid()


def test_case_changes_and_notes(api, agent):
    survey = SurveyFactory()
    answer(survey, 1, "Bad", customer=CustomerFactory(ref="C9"))
    case = FollowUp.objects.get()
    change = st.dictionaries(
        st.sampled_from(["status", "assignee", "resolution", "text"]),
        st.one_of(JSON, st.sampled_from(["in_progress", "resolved", "agent", "new"])),
    )

    @fuzz
    @given(body=st.one_of(change, JSON), method=st.sampled_from(["patch", "notes"]))
    def check(body, method):
        if method == "patch":
            page = api.patch(
                f"/api/v1/followups/{case.pk}/", json.dumps(body), content_type="application/json"
            )
        else:
            page = api.post(
                f"/api/v1/followups/{case.pk}/notes/",
                json.dumps(body),
                content_type="application/json",
            )
        assert_no_server_error(page)

    check()
    for note in case.notes.all():
        assert not has_control_characters(note.text)


ORDER_FIELDS = ["ref", "customer_ref", "ordered_at", "amount", "product", "channel"]
ORDER = st.dictionaries(
    st.one_of(st.sampled_from(ORDER_FIELDS), st.text(max_size=10)),
    st.one_of(JSON, st.sampled_from(["C1", "2025-02-03", "2025-02-03T10:00:00+01:00", "9.95"])),
    max_size=8,
)


def test_order_bodies(api):
    CustomerFactory(ref="C1")

    @fuzz
    @given(body=st.one_of(st.lists(ORDER, max_size=3), JSON))
    def check(body):
        before = Order.objects.count()
        page = api.post("/api/v1/orders/", json.dumps(body), content_type="application/json")
        assert_no_server_error(page)
        if page.status_code >= 400:
            assert Order.objects.count() == before

    check()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/",
        "/api/v1/customers/C1/opt-out/",
        "/api/v1/survey-requests/",
        "/api/v1/orders/",
    ],
)
def test_bodies_that_are_not_json(api, path):
    customer = CustomerFactory(ref="C1")

    @fuzz
    @given(body=BODY, content_type=st.sampled_from(["application/json", "text/plain", ""]))
    def check(body, content_type):
        before = Customer.objects.count()
        page = api.generic("POST", path, body, content_type=content_type)
        assert_no_server_error(page)
        if page.status_code >= 400:
            assert Customer.objects.count() == before

    check()
    customer.refresh_from_db()
    assert customer.ref == "C1"


@pytest.mark.parametrize(
    "path, names",
    [
        ("/api/v1/customers/", ["ref", "email", "segment", "cursor", "page_size"]),
        ("/api/v1/responses/", ["survey", "since", "until", "customer", "cursor", "page_size"]),
        ("/api/v1/scores/", ["survey", "start", "end"]),
        ("/api/v1/kpis/", ["start", "end", "segment"]),
        ("/api/v1/followups/", ["status", "survey", "cursor", "page_size"]),
        ("/api/v1/survey-requests/", ["survey", "status", "cursor", "page_size"]),
    ],
)
def test_query_strings(api, path, names):
    survey = SurveyFactory(slug="s1")
    answer(survey, 3, "Slow")

    @fuzz
    @given(query=st.dictionaries(st.one_of(st.sampled_from(names), TEXT), TEXT, max_size=4))
    def check(query):
        encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
        page = api.get(f"{path}?{encoded}"[:8000])
        assert_no_server_error(page)

    check()


def test_opt_out_paths(api):
    @fuzz
    @given(ref=TEXT)
    def check(ref):
        page = api.post(f"/api/v1/customers/{quote(ref, safe='')[:4000]}/opt-out/")
        assert_no_server_error(page)

    check()
    assert not Customer.objects.filter(opted_out_at__isnull=False).exists()

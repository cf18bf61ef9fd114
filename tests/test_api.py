"""The REST API: keys, scopes, survey restriction, rate limit, customers, responses,
scores and the OpenAPI document."""

import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.utils import timezone
from drf_spectacular.validation import validate_schema

from metrics import followups
from metrics.models import FollowUp, FollowUpNote, Order
from metrics.privacy import erase_customer
from surveys.api_keys import create_api_key, revoke
from surveys.models import ApiKey, Customer, Response
from surveys.services import exclude_burst, include_burst
from tests.factories import CustomerFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db

ALL = ["read", "write", "send"]


def _client(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def reader():
    return _client(create_api_key(name="CRM", scopes=["read"])[1])


@pytest.fixture
def writer():
    return _client(create_api_key(name="Shop", scopes=ALL)[1])


def _post(client: Client, path: str, body: object):
    return client.post(path, json.dumps(body), content_type="application/json")


# Keys


def test_the_command_prints_a_working_key_on_its_last_line():
    survey = SurveyFactory()
    out = StringIO()

    call_command(
        "create_api_key", "--name", "Shop", "--scopes", "read,send", "--survey", survey.slug,
        stdout=out,
    )  # fmt: skip

    key = out.getvalue().splitlines()[-1]
    stored = ApiKey.objects.get()
    assert (stored.name, stored.scopes, stored.survey) == ("Shop", ["read", "send"], survey)
    assert key not in stored.secret_hash and key.startswith(f"lk_{stored.prefix}_")
    assert _client(key).get(f"/api/v1/scores/?survey={survey.slug}").status_code == 200


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--scopes", "read,admin"], "Scopes must be some of read, write, send"),
        (["--scopes", ""], "Scopes must be some of"),
        (["--scopes", "read", "--survey", "nope"], "No survey with slug 'nope'"),
    ],
)
def test_the_command_refuses_bad_arguments_and_makes_no_key(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", "--name", "Shop", *arguments)
    assert not ApiKey.objects.exists()


def test_staff_make_a_key_in_the_admin_and_see_it_once(admin_client):
    page = admin_client.post("/admin/surveys/apikey/add/", {"name": "CRM", "scopes": ["read"]})

    assert page.status_code == 200
    stored = ApiKey.objects.get()
    (key,) = re.findall(r"lk_[0-9a-f]{8}_[A-Za-z0-9_-]+", page.content.decode())
    assert key.startswith(f"lk_{stored.prefix}_")
    # Shown on this page alone: not kept in a message cookie for the next one.
    assert key not in str(page.cookies)
    assert _client(key).get("/api/v1/customers/").status_code == 200
    for path in ["/admin/surveys/apikey/", f"/admin/surveys/apikey/{stored.pk}/change/"]:
        assert key not in admin_client.get(path).content.decode()


def test_a_revoked_key_is_refused(admin_client):
    api_key, key = create_api_key(name="Old", scopes=["read"])
    assert _client(key).get("/api/v1/customers/").status_code == 200

    admin_client.post(
        "/admin/surveys/apikey/", {"action": "revoke_keys", "_selected_action": [api_key.pk]}
    )

    page = _client(key).get("/api/v1/customers/")
    assert page.status_code == 401
    assert page.json() == {"message": "This API key is unknown or revoked.", "field": None}


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer lk_00000000_" + "x" * 40, "Basic dXNlcjpwYXNz", "Bearer lk_\x00"],
)
def test_no_key_or_a_bad_one_is_401_with_a_json_message(header):
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()

    page = client.get("/api/v1/responses/")

    assert page.status_code == 401
    assert page["WWW-Authenticate"] == 'Bearer realm="api"'
    assert page.json()["message"]


def test_a_key_records_when_it_was_last_used(reader):
    assert ApiKey.objects.get().last_used_at is None
    reader.get("/api/v1/customers/")
    assert ApiKey.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/api/v1/customers/", {"ref": "C1"}),
        ("post", "/api/v1/customers/C1/opt-out/", {}),
    ],
)
def test_writing_needs_the_write_scope(reader, method, path, body):
    CustomerFactory(ref="C1")

    page = _post(reader, path, body)

    assert page.status_code == 403
    assert page.json()["message"] == "This API key lacks the write scope."
    assert Customer.objects.get().opted_out_at is None


def test_reading_needs_the_read_scope():
    client = _client(create_api_key(name="Writer", scopes=["write"])[1])

    for path in ["/api/v1/customers/", "/api/v1/responses/", "/api/v1/scores/?survey=x"]:
        assert client.get(path).status_code == 403


def test_a_key_for_one_survey_sees_that_survey_only():
    mine, other = SurveyFactory(), SurveyFactory()
    answer(mine, 9)
    answer(other, 2)
    client = _client(create_api_key(name="One", scopes=ALL, survey=mine)[1])

    listed = client.get("/api/v1/responses/").json()["results"]
    assert [r["survey"] for r in listed] == [mine.slug]
    assert client.get(f"/api/v1/responses/?survey={other.slug}").status_code == 403
    assert client.get(f"/api/v1/scores/?survey={other.slug}").status_code == 403
    assert client.get(f"/api/v1/scores/?survey={mine.slug}").status_code == 200
    # Customers are not any one survey's.
    assert client.get("/api/v1/customers/").status_code == 403
    assert _post(client, "/api/v1/customers/", {"ref": "C9"}).status_code == 403
    assert not Customer.objects.filter(ref="C9").exists()


@override_settings(API_REQUESTS_PER_MINUTE=3)
def test_a_key_over_its_rate_is_answered_429_with_retry_after(reader):
    other = _client(create_api_key(name="Other", scopes=["read"])[1])

    statuses = [reader.get("/api/v1/customers/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    refused = reader.get("/api/v1/customers/")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["message"].startswith("Request was throttled")
    # Counted per key.
    assert other.get("/api/v1/customers/").status_code == 200


# Customers


def test_one_customer_is_created_then_updated_by_ref(writer):
    created = _post(
        writer,
        "/api/v1/customers/",
        {"ref": "C1", "email": "ann@example.com", "name": "Ann", "language": "nl"},
    )
    assert created.status_code == 201
    assert created.json()["email"] == "ann@example.com"

    updated = _post(writer, "/api/v1/customers/", {"ref": "C1", "segment": "gold"})

    assert updated.status_code == 200
    customer = Customer.objects.get()
    # A field left out keeps its value.
    assert (customer.name, customer.email, customer.segment) == ("Ann", "ann@example.com", "gold")
    listed = writer.get("/api/v1/customers/?ref=C1").json()
    assert [c["name"] for c in listed["results"]] == ["Ann"]


def test_a_thousand_customers_in_one_request(writer):
    CustomerFactory(ref="R0000", name="Old name")
    rows = [{"ref": f"R{n:04d}", "name": f"Customer {n}"} for n in range(1000)]

    page = _post(writer, "/api/v1/customers/", rows)

    assert page.status_code == 201
    assert (page.json()["created"], page.json()["updated"]) == (999, 1)
    assert Customer.objects.count() == 1000
    assert Customer.objects.get(ref="R0000").name == "Customer 0"


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"email": "a@example.com"}, "ref", "This field is required."),
        ({"ref": "C1", "email": "not an address"}, "email", "Enter a valid email address."),
        ({"ref": "C1", "language": "de"}, "language", '"de" is not a valid choice.'),
        ({"ref": "x" * 101}, "ref", "Ensure this field has no more than 100 characters."),
        ({"ref": "C1", "name": "A\x00B"}, "name", "Null characters are not allowed."),
        ({"ref": "C1", "name": "A\x07B"}, "name", "Contains a control character"),
        ([{"ref": "C1"}, {"ref": "C2", "email": "x"}], "1.email", "Enter a valid email"),
        ([{"ref": "C1"}, {"ref": "C1"}], None, "Each reference once per request: C1"),
        ([], None, "This list may not be empty."),
        ([{"ref": f"C{n}"} for n in range(1001)], None, "no more than 1000 elements"),
        ("just text", None, "Invalid data."),
    ],
)
def test_a_bad_customer_is_a_400_naming_the_field_and_saves_nothing(writer, body, field, message):
    page = _post(writer, "/api/v1/customers/", body)

    assert page.status_code == 400
    assert page.json()["field"] == field
    assert message in page.json()["message"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize("body", ['{"ref": ', "\x00", '{"ref": "C1"'])
def test_a_malformed_body_is_a_400(writer, body):
    page = writer.post("/api/v1/customers/", body, content_type="application/json")

    assert page.status_code == 400
    assert page.json()["message"].startswith("JSON parse error")


def test_a_customer_opts_out(writer):
    CustomerFactory(ref="C1")

    page = _post(writer, "/api/v1/customers/C1/opt-out/", {})

    assert page.status_code == 200
    assert page.json()["opted_out_at"] is not None
    assert Customer.objects.get().opted_out_at is not None
    assert _post(writer, "/api/v1/customers/C404/opt-out/", {}).status_code == 404


# Responses


def test_responses_carry_answers_metadata_and_their_case(reader):
    survey = SurveyFactory(template="nps")
    customer = CustomerFactory(ref="C7")
    unhappy = answer(survey, 2, "Too slow", customer=customer, touchpoint="shop")
    answer(survey, 10)

    body = reader.get(f"/api/v1/responses/?survey={survey.slug}").json()

    first, second = body["results"]
    assert first["id"] == unhappy.pk
    assert first["customer"] == "C7"
    assert first["metadata"] == {"touchpoint": "shop"}
    assert first["answers"] == [
        {"role": "nps", "value": 2, "text": ""},
        {"role": "comment", "value": None, "text": "Too slow"},
    ]
    assert first["followup"]["status"] == "new"
    assert second["followup"] is None
    assert body["next"] is None


def test_responses_since_and_until(reader):
    survey = SurveyFactory()
    old = answer(survey, 9, days_ago=3)
    new = answer(survey, 8)

    since = reader.get("/api/v1/responses/", {"since": new.submitted_at.isoformat()}).json()
    until = reader.get("/api/v1/responses/", {"until": new.submitted_at.isoformat()}).json()

    assert [r["id"] for r in since["results"]] == [new.pk]
    assert [r["id"] for r in until["results"]] == [old.pk]


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "until=2026-05-01",
        "since=2026-13-01T00:00Z",
        "updated_since=2026-05-01T00:00:00",
        "updated_since=2026-02-30T00:00Z",
    ],
)
def test_a_bad_time_is_a_400_naming_it(reader, query):
    page = reader.get(f"/api/v1/responses/?{query}")

    assert page.status_code == 400
    assert page.json()["field"] == query.split("=")[0]


def test_paging_by_cursor_misses_and_repeats_nothing_while_answers_arrive(reader):
    survey = SurveyFactory()
    first = [answer(survey, n % 11).pk for n in range(5)]

    page = reader.get("/api/v1/responses/", {"page_size": 2}).json()
    seen = [r["id"] for r in page["results"]]
    arriving = [answer(survey, 7).pk for _ in range(3)]
    while page["next"]:
        page = reader.get(page["next"]).json()
        seen += [r["id"] for r in page["results"]]

    assert seen == first + arriving


def test_an_unknown_survey_is_a_404(reader):
    page = reader.get("/api/v1/responses/?survey=nope")

    assert page.status_code == 404
    assert page.json() == {"message": "There is no survey nope.", "field": None}


def _untouched_since(response: Response, days: int = 30) -> None:
    """All that happened to the response and its case so far, as if `days` ago."""
    then = timezone.now() - timedelta(days=days)
    Response.objects.filter(pk=response.pk).update(submitted_at=then, processed_at=then)
    Response.objects.filter(pk=response.pk).exclude(excluded_at=None).update(excluded_at=then)
    cases = FollowUp.objects.filter(response=response)
    cases.update(created_at=then)
    cases.exclude(first_contact_at=None).update(first_contact_at=then)
    cases.exclude(resolved_at=None).update(resolved_at=then)
    FollowUpNote.objects.filter(followup__response=response).update(created_at=then)


def _updated_since(client: Client, days: int = 1, **query: object) -> list[int]:
    """The ids the responses list gives, every page of it, updated since `days` ago."""
    moment = timezone.now() - timedelta(days=days)
    page = client.get("/api/v1/responses/", {"updated_since": moment.isoformat(), **query})
    assert page.status_code == 200, page.json()
    ids = [r["id"] for r in page.json()["results"]]
    while page.json()["next"]:
        page = client.get(page.json()["next"])
        ids += [r["id"] for r in page.json()["results"]]
    return ids


def test_updated_since_lists_an_old_answer_whose_case_was_resolved_since(reader):
    survey = SurveyFactory(template="nps")
    old = answer(survey, 2, days_ago=30)
    _untouched_since(old)
    assert _updated_since(reader) == []

    followups.resolve(followup=old.followup, by=None, resolution="Called back")

    assert _updated_since(reader) == [old.pk]
    listed = reader.get("/api/v1/responses/", {"survey": survey.slug}).json()["results"]
    assert listed[0]["followup"]["status"] == "resolved"


def test_updated_since_leaves_out_an_answer_untouched_since(reader):
    survey = SurveyFactory(template="nps")
    untouched = answer(survey, 2, "Too slow", days_ago=30)
    followups.log_contact(followup=untouched.followup, by=None, kind="phone", text="Called")
    followups.resolve(followup=untouched.followup, by=None, resolution="Refunded")
    _untouched_since(untouched)
    new = answer(survey, 9)

    assert _updated_since(reader) == [new.pk]


def test_updated_since_lists_an_old_answer_processed_since(reader):
    survey = SurveyFactory(template="nps")
    # Submitted a month ago, processed only now (as the sweeper does after an outage);
    # a promoter's answer, so no case opens.
    late = answer(survey, 9, days_ago=30)
    early = answer(survey, 9, days_ago=30)
    _untouched_since(early)

    assert not FollowUp.objects.exists()
    assert _updated_since(reader) == [late.pk]


def test_updated_since_with_a_survey_lists_that_surveys_answers_only(reader):
    mine, other = SurveyFactory(template="nps"), SurveyFactory(template="nps")
    old = {survey: answer(survey, 2, days_ago=30) for survey in (mine, other)}
    for response in old.values():
        _untouched_since(response)
        followups.resolve(followup=response.followup, by=None, resolution="Called back")
    new_elsewhere = answer(other, 9)

    assert _updated_since(reader, survey=mine.slug) == [old[mine].pk]
    assert _updated_since(reader) == [old[mine].pk, old[other].pk, new_elsewhere.pk]


def _started(response: Response) -> None:
    followups.start(followup=response.followup, by=None)


def _contacted_again(response: Response) -> None:
    followups.log_contact(followup=response.followup, by=None, kind="phone", text="Called")
    followups.resolve(followup=response.followup, by=None, resolution="")
    followups.reopen(followup=response.followup, by=None, note="Not solved after all")
    _untouched_since(response)
    followups.log_contact(followup=response.followup, by=None, kind="email", text="Mailed")


def _reopened(response: Response) -> None:
    followups.resolve(followup=response.followup, by=None, resolution="")
    _untouched_since(response)
    followups.reopen(followup=response.followup, by=None, note="Not solved after all")


def _exclude(response: Response) -> None:
    Response.objects.filter(pk=response.pk).update(fingerprint="f" * 64)
    exclude_burst(survey=response.survey, fingerprint="f" * 64)


def _excluded(response: Response) -> None:
    # Its case resolved already: the exclusion leaves it as it is.
    followups.resolve(followup=response.followup, by=None, resolution="")
    _untouched_since(response)
    _exclude(response)


def _counted_again(response: Response) -> None:
    _exclude(response)
    _untouched_since(response)
    include_burst(survey=response.survey, fingerprint="f" * 64)


def _erased(response: Response) -> None:
    assert response.customer is not None
    erase_customer(customer=response.customer)


def _assigned(response: Response) -> None:
    agent = User.objects.create_user("agent")
    followups.assign(followup=response.followup, to=agent, by=None)


def _noted(response: Response) -> None:
    followups.log_contact(followup=response.followup, by=None, kind="note", text="Ask Bob")


@pytest.mark.parametrize(
    "step, listed",
    [
        (_started, True),
        (_contacted_again, True),
        (_reopened, True),
        (_excluded, True),
        (_counted_again, True),
        (_erased, True),
        # Neither shows in the list.
        (_assigned, False),
        (_noted, False),
    ],
)
def test_updated_since_lists_the_steps_that_change_what_the_list_shows(
    reader, step: Callable[[Response], None], listed: bool
):
    survey = SurveyFactory(template="nps")
    response = answer(survey, 2, customer=CustomerFactory(), days_ago=30)
    _untouched_since(response)
    before = reader.get("/api/v1/responses/").json()["results"]

    step(response)

    assert _updated_since(reader) == ([response.pk] if listed else [])
    after = reader.get("/api/v1/responses/").json()["results"]
    assert (after != before) == listed


def test_updated_since_pages_by_cursor_each_answer_once(reader):
    survey = SurveyFactory(template="nps")
    responses = [answer(survey, 2, days_ago=30) for _ in range(5)]
    for response in responses:
        _untouched_since(response)
    # Several steps on one case: one row still.
    for response in responses[::2]:
        _started(response)
        followups.log_contact(followup=response.followup, by=None, kind="phone", text="")
        followups.resolve(followup=response.followup, by=None, resolution="")

    ids = _updated_since(reader, page_size=1)

    assert ids == [r.pk for r in responses[::2]]


# Scores


def test_scores_are_the_numbers_of_the_scores_command(reader):
    survey = SurveyFactory(template="nps")
    for value in [10, 9, 9, 7, 3, 0]:
        answer(survey, value)
    out = StringIO()
    call_command("scores", survey.slug, "--json", stdout=out)

    page = reader.get(f"/api/v1/scores/?survey={survey.slug}")

    assert page.status_code == 200
    assert page.json() == json.loads(out.getvalue())
    assert (page.json()["value"], page.json()["n"]) == (16.67, 6)


def test_scores_of_a_period(reader):
    survey = SurveyFactory(template="nps")
    answer(survey, 10, days_ago=40)
    answer(survey, 0)

    body = reader.get(f"/api/v1/scores/?survey={survey.slug}&start={_days_ago(60)}").json()
    recent = reader.get(f"/api/v1/scores/?survey={survey.slug}&start={_days_ago(7)}").json()

    assert (body["value"], body["n"]) == (0.0, 2)
    assert (recent["value"], recent["n"]) == (-100.0, 1)


def _days_ago(days: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.localdate() - timedelta(days=days)).isoformat()


@pytest.mark.parametrize("query, field", [("", "survey"), ("survey=x&start=tomorrow", "start")])
def test_bad_score_questions_are_400s(reader, query, field):
    if "survey=x" in query:
        SurveyFactory(slug="x")

    page = reader.get(f"/api/v1/scores/?{query}")

    assert page.status_code == 400
    assert page.json()["field"] == field


# The description


def test_the_openapi_document_is_public_and_valid():
    page = Client().get("/api/v1/schema/?format=json")

    assert page.status_code == 200
    document = json.loads(page.content)
    validate_schema(document)
    assert {"/api/v1/customers/", "/api/v1/responses/", "/api/v1/scores/"} <= set(document["paths"])


def test_the_docs_page_loads_its_scripts_from_this_site():
    page = Client().get("/api/v1/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn." not in html
    assert "<script>" not in html  # the policy allows no inline script
    assert "Content-Security-Policy" in page.headers


def test_revoking_twice_is_harmless():
    api_key, _key = create_api_key(name="Twice", scopes=["read"])
    revoke(api_key)
    first = ApiKey.objects.get().revoked_at
    revoke(api_key)
    assert ApiKey.objects.get().revoked_at == first


# KPIs


@pytest.mark.parametrize("segment", [[], ["--segment", "retail"]])
def test_kpis_are_the_numbers_of_the_kpis_command(reader, shop, nps_survey, segment):
    answer(nps_survey, 9, customer=Customer.objects.get(ref="bob"))
    out = StringIO()
    call_command(
        "kpis", "--start", "2025-02-01", "--end", "2025-03-01", *segment, "--json", stdout=out
    )
    query = {"start": "2025-02-01", "end": "2025-03-01"}
    if segment:
        query["segment"] = "retail"

    page = reader.get("/api/v1/kpis/", query)

    assert page.status_code == 200
    assert page.json() == json.loads(out.getvalue())
    assert page.json()["retention_rate"] is not None


@pytest.mark.parametrize(
    "query, field",
    [
        ({"start": "2025-02-01"}, "end"),
        ({"start": "2025-02-01", "end": "2025-02-01"}, "end"),
        ({"start": "1 Feb", "end": "2025-03-01"}, "start"),
        ({"start": "2025-02-01", "end": "9999-12-31"}, "end"),
    ],
)
def test_bad_kpi_periods_are_400s(reader, query, field):
    page = reader.get("/api/v1/kpis/", query)

    assert page.status_code == 400
    assert page.json()["field"] == field


def test_kpis_need_a_key_for_all_surveys():
    client = _client(create_api_key(name="One", scopes=["read"], survey=SurveyFactory())[1])

    assert client.get("/api/v1/kpis/?start=2025-02-01&end=2025-03-01").status_code == 403


# Orders


def _orders(client, rows):
    return _post(client, "/api/v1/orders/", rows)


def test_orders_are_created_then_updated_by_ref_and_feed_the_kpis(writer):
    CustomerFactory(ref="ann", customer_since=date(2024, 1, 1))
    rows = [
        {"ref": "o1", "customer_ref": "ann", "ordered_at": "2025-02-03T10:00:00", "amount": 40,
         "product": "shoes"},
        {"ref": "o2", "customer_ref": "ann", "ordered_at": "2025-02-10T10:00:00+01:00",
         "amount": "10.50", "product": "socks", "channel": "web"},
    ]  # fmt: skip

    created = _orders(writer, rows)
    rows[0]["amount"] = 45
    updated = _orders(writer, rows)

    assert created.status_code == 201
    assert created.json() == {"created": 2, "updated": 0}
    assert updated.status_code == 200
    assert updated.json() == {"created": 0, "updated": 2}
    assert sorted(Order.objects.values_list("ref", "amount")) == [
        ("o1", Decimal("45.00")),
        ("o2", Decimal("10.50")),
    ]
    kpis = writer.get("/api/v1/kpis/", {"start": "2025-02-01", "end": "2025-03-01"}).json()
    assert kpis["average_order_value"] == 27.75


def _order(**given):
    return {"ref": "o1", "customer_ref": "ann", "ordered_at": "2025-02-03", "amount": 1,
            "product": "p", **given}  # fmt: skip


@pytest.mark.parametrize(
    "rows, field, message",
    [
        ([_order(customer_ref="nobody")], "0.customer_ref", "nobody"),
        ([_order(ordered_at="yesterday")], "0.ordered_at", "not an ISO 8601 time"),
        ([_order(amount="1,2,3")], "0.amount", "not an amount"),
        ([{k: v for k, v in _order().items() if k != "amount"}], "0.amount", "required"),
        ([_order(), _order(ordered_at="2025-02-04")], None, "Each reference once per request: o1"),
        ({"ref": "o1"}, None, "Expected a list of items"),
    ],
)
def test_one_refused_order_and_none_is_written(writer, rows, field, message):
    CustomerFactory(ref="ann")
    good = {"ref": "ok", "customer_ref": "ann", "ordered_at": "2025-02-01", "amount": 5,
            "product": "p"}  # fmt: skip
    body = [good, *rows] if isinstance(rows, list) else rows
    if isinstance(rows, list) and field:
        index, column = field.split(".")
        field = f"{int(index) + 1}.{column}"

    page = _orders(writer, body)

    assert page.status_code == 400
    assert page.json()["field"] == field
    assert message in page.json()["message"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "query, field",
    [
        ({"start": "0001-01-01", "end": "0001-01-02"}, "start"),
        ({"start": "2000-01-01", "end": "2100-01-01"}, "end"),
    ],
)
def test_kpi_periods_are_held_to_the_dashboards_limits(reader, query, field):
    page = reader.get("/api/v1/kpis/", query)

    assert page.status_code == 400
    assert page.json()["field"] == field


def test_an_order_on_two_lines_is_refused_naming_it(writer):
    CustomerFactory(ref="ann")

    page = _orders(writer, [_order(ref="o0"), _order(product="two\nlines"), _order(ref="o2")])

    assert page.status_code == 400
    assert page.json()["field"] == "1.product"
    assert not Order.objects.exists()


def test_a_customer_whose_ref_has_a_slash_opts_out(writer):
    CustomerFactory(ref="shop/42")

    page = _post(writer, "/api/v1/customers/shop/42/opt-out/", {})

    assert page.status_code == 200
    assert Customer.objects.get().opted_out_at is not None


@pytest.mark.parametrize("path", ["/api/v1/nothing/", "/api/v1/customers", "/api/v1/"])
def test_an_unknown_path_is_a_json_404(reader, path):
    for page in [reader.get(path), reader.post(path, "{}", content_type="application/json")]:
        assert page.status_code == 404
        assert page.json()["message"].startswith("There is no such endpoint")

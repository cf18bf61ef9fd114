"""Survey requests through the REST API: "send survey S to customer C after a delay"."""

import json
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from metrics import requests
from metrics.models import Notification, SurveyRequest
from surveys.api_keys import create_api_key
from surveys.models import Customer, Invitation, Response
from tests.factories import CustomerFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    _api_key, key = create_api_key(name="Shop", scopes=["send", "read"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def survey():
    return SurveyFactory(template="nps")


def _ask(client, body):
    return client.post(
        "/api/v1/survey-requests/", json.dumps(body), content_type="application/json"
    )


def _body(survey, delay=0, **customer):
    return {
        "survey": survey.slug,
        "customer": {"ref": "C1", "email": "ann@example.com", "name": "Ann", **customer},
        "delay": delay,
        "metadata": {"touchpoint": "delivery", "ref": "ORDER-77"},
    }


def _send_at(page):
    return timezone.datetime.fromisoformat(page.json()["send_at"])


def test_a_delayed_request_is_sent_once_it_is_due_and_not_before(
    shop, survey, eager_celery, django_capture_on_commit_callbacks
):
    asked = timezone.now()
    page = _ask(shop, _body(survey, delay=2 * 24 * 3600, language="nl"))

    assert page.status_code == 201
    assert page.json()["status"] == "scheduled"
    assert abs(_send_at(page) - (asked + timedelta(days=2))) < timedelta(seconds=5)
    customer = Customer.objects.get(ref="C1")
    assert (customer.email, customer.language) == ("ann@example.com", "nl")

    assert requests.send_due(asked + timedelta(days=1)) == 0
    assert not Invitation.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert requests.send_due(asked + timedelta(days=2, minutes=1)) == 1

    request = SurveyRequest.objects.get()
    assert request.status == "sent"
    assert request.invitation.customer == customer
    assert Notification.objects.get(kind="survey").recipient == "ann@example.com"
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert requests.send_due(asked + timedelta(days=3)) == 0


def test_the_answer_keeps_what_the_request_said(shop, survey):
    _ask(shop, _body(survey))
    requests.send_due()
    invitation = Invitation.objects.get()

    Client().post(reverse("surveys:respond_invitation", args=[invitation.token]), {"q1": "9"})

    response = Response.objects.get()
    assert response.metadata == {"touchpoint": "delivery", "ref": "ORDER-77"}
    assert response.customer.ref == "C1"


@pytest.mark.parametrize(
    "customer, reason",
    [
        ({"opted_out_at": timezone.now()}, "opted_out"),
        ({"email": ""}, "no_email"),
        ({"bouncing_since": timezone.now()}, "bouncing"),
    ],
)
def test_the_rules_of_every_send_answer_at_once(shop, survey, customer, reason):
    CustomerFactory(ref="C1", **customer)
    body = _body(survey)
    body["customer"] = {"ref": "C1"}

    page = _ask(shop, body)

    assert page.status_code == 200
    assert page.json() == {"status": "skipped", "reason": reason}
    assert not SurveyRequest.objects.exists()


def test_a_customer_surveyed_recently_is_skipped(shop, survey):
    customer = CustomerFactory(ref="C1")
    answer(SurveyFactory(), 9, customer=customer)

    page = _ask(shop, _body(survey))

    assert page.json() == {"status": "skipped", "reason": "surveyed_recently"}


def test_a_customer_who_opts_out_before_it_is_due_gets_nothing(shop, survey):
    _ask(shop, _body(survey, delay=3600))
    Customer.objects.update(opted_out_at=timezone.now())

    assert requests.send_due(timezone.now() + timedelta(hours=2)) == 0

    request = SurveyRequest.objects.get()
    assert (request.status, request.reason) == ("skipped", "opted_out")
    assert not Invitation.objects.exists()


def test_a_survey_closed_before_it_is_due_sends_nothing(shop, survey):
    _ask(shop, _body(survey, delay=60))
    survey.status = survey.Status.CLOSED
    survey.save()

    requests.send_due(timezone.now() + timedelta(minutes=2))

    assert SurveyRequest.objects.get().reason == "survey_not_live"
    assert not Invitation.objects.exists()


def test_a_send_that_fails_midway_is_sent_by_the_next_run(shop, survey):
    """A worker that dies while sending leaves nothing half done: the next run sends it,
    once."""
    _ask(shop, _body(survey))
    with mock.patch("metrics.requests.write_emails", side_effect=RuntimeError("killed")):
        assert requests.send_due() == 0
    assert SurveyRequest.objects.get().status == "scheduled"
    assert not Invitation.objects.exists()

    assert requests.send_due() == 1
    assert requests.send_due() == 0
    assert Notification.objects.filter(kind="survey").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_send_each_request_once(shop, survey):
    for n in range(20):
        body = _body(survey)
        body["customer"] = {"ref": f"C{n}", "email": f"c{n}@example.com"}
        _ask(shop, body)
    sent = []

    def run():
        try:
            sent.append(requests.send_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(sent) == 20
    assert Invitation.objects.count() == 20
    assert Notification.objects.filter(kind="survey").count() == 20


def test_a_scheduled_request_can_be_cancelled_once(shop, survey):
    made = _ask(shop, _body(survey, delay=600)).json()
    url = f"/api/v1/survey-requests/{made['id']}/"

    page = shop.delete(url)

    assert page.status_code == 200
    assert page.json()["status"] == "cancelled"
    assert requests.send_due(timezone.now() + timedelta(hours=1)) == 0
    again = shop.delete(url)
    assert again.status_code == 409
    assert "only a scheduled one can be cancelled" in again.json()["message"]


def test_pending_requests_are_listed(shop, survey):
    _ask(shop, _body(survey, delay=600))
    done = _body(survey)
    done["customer"] = {"ref": "C2", "email": "bob@example.com"}
    _ask(shop, done)
    requests.send_due()

    listed = shop.get("/api/v1/survey-requests/?status=scheduled").json()["results"]

    assert [(r["customer"], r["status"]) for r in listed] == [("C1", "scheduled")]


def test_the_scheduler_runs_it_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["send-survey-requests"]
    assert (entry["task"], entry["schedule"]) == ("metrics.tasks.send_survey_requests", 60.0)


def test_sending_needs_the_send_scope(survey):
    _api_key, key = create_api_key(name="CRM", scopes=["read", "write"])

    page = _ask(Client(HTTP_AUTHORIZATION=f"Bearer {key}"), _body(survey))

    assert page.status_code == 403
    assert not Customer.objects.exists()


def test_a_key_for_another_survey_may_not_send_this_one(survey):
    _api_key, key = create_api_key(name="One", scopes=["send"], survey=SurveyFactory())

    page = _ask(Client(HTTP_AUTHORIZATION=f"Bearer {key}"), _body(survey))

    assert page.status_code == 403
    assert not SurveyRequest.objects.exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"delay": -1}, "delay"),
        ({"delay": 30 * 24 * 3600 + 1}, "delay"),
        ({"delay": "soon"}, "delay"),
        ({"customer": {"email": "ann@example.com"}}, "customer.ref"),
        ({"customer": {"ref": "C1", "email": "nope"}}, "customer.email"),
        ({"metadata": {"touchpoint": "x" * 101}}, "metadata.touchpoint"),
    ],
)
def test_a_bad_request_is_a_400_and_changes_nothing(shop, survey, change, field):
    page = _ask(shop, {**_body(survey), **change})

    assert page.status_code == 400
    assert page.json()["field"] == field
    assert not SurveyRequest.objects.exists()
    assert not Customer.objects.exists()


def test_a_survey_that_is_not_live_is_refused(shop):
    draft = SurveyFactory(status="draft")

    page = _ask(shop, _body(draft))

    assert page.status_code == 400
    assert page.json() == {
        "message": "This survey is not live.",
        "field": "survey",
        "errors": {"survey": ["This survey is not live."]},
    }


@pytest.mark.parametrize("scopes, restricted", [(["send"], False), (["send", "write"], True)])
def test_a_key_that_may_not_change_customers_leaves_an_existing_one_as_it_is(
    survey, scopes, restricted
):
    CustomerFactory(ref="C1", email="ann@example.com", name="Ann")
    _api_key, key = create_api_key(
        name="Sender", scopes=scopes, survey=survey if restricted else None
    )

    page = _ask(Client(HTTP_AUTHORIZATION=f"Bearer {key}"), _body(survey, email="eve@evil.test"))

    assert page.status_code == 201
    assert Customer.objects.get().email == "ann@example.com"
    # A customer it names that does not exist yet is added.
    other = _body(survey)
    other["customer"] = {"ref": "C2", "email": "bob@example.com"}
    assert _ask(Client(HTTP_AUTHORIZATION=f"Bearer {key}"), other).status_code == 201
    assert Customer.objects.get(ref="C2").email == "bob@example.com"


def test_a_key_with_write_for_all_surveys_updates_the_customer(survey):
    CustomerFactory(ref="C1", email="old@example.com")
    _api_key, key = create_api_key(name="Shop", scopes=["send", "write"])

    _ask(Client(HTTP_AUTHORIZATION=f"Bearer {key}"), _body(survey))

    assert Customer.objects.get().email == "ann@example.com"


def test_one_request_that_cannot_be_sent_holds_back_no_other(shop, survey):
    for ref in ["C1", "C2"]:
        body = _body(survey)
        body["customer"] = {"ref": ref, "email": f"{ref}@example.com"}
        _ask(shop, body)
    first = SurveyRequest.objects.order_by("pk").first()
    real = requests.write_emails

    def fails_for_the_first(invitations, kind):
        if invitations[0].customer_id == first.customer_id:
            raise RuntimeError("cannot render")
        return real(invitations, kind)

    with mock.patch("metrics.requests.write_emails", side_effect=fails_for_the_first):
        assert requests.send_due() == 1

    assert dict(SurveyRequest.objects.values_list("customer__ref", "status")) == {
        "C1": "scheduled",
        "C2": "sent",
    }

"""Outgoing webhooks: each event once to each webhook that chose it, delivered by the
outbox, signed as Standard Webhooks say (checked with the specification's reference
implementation), with the data the REST API gives."""

import json
from datetime import timedelta

import pytest
import standardwebhooks
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from metrics import followups, notifications, privacy
from metrics.models import AlertChannel, FollowUp, Notification, new_secret
from metrics.processing import process_response
from surveys.api_keys import create_api_key
from surveys.models import Response
from surveys.services import submit_response
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory
from tests.metrics.test_notifications import Receiver

pytestmark = pytest.mark.django_db

EVERY_EVENT = [
    "response.created",
    "followup.opened",
    "followup.escalated",
    "followup.resolved",
    "customer.unsubscribed",
]


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


@pytest.fixture
def receiver():
    made = Receiver([])
    yield made
    made.close()


def _hook(url="https://hooks.example.com/x", events=EVERY_EVENT, **fields):
    return AlertChannel.objects.create(
        name="CRM", kind="webhook", target=url, events=events, **fields
    )


def _answer(survey, score, customer=None):
    question = survey.questions.get(role="nps")
    invitation = InvitationFactory(survey=survey, customer=customer) if customer else None
    response = submit_response(
        survey=survey, answers={question: score}, invitation=invitation, language="en"
    )
    process_response(response_id=response.pk)
    return response


def _events(channel):
    return list(
        Notification.objects.filter(channel=channel).order_by("pk").values_list("kind", flat=True)
    )


def _deliver_all(channel):
    for notification in Notification.objects.filter(channel=channel, status="pending"):
        assert notifications.attempt(notification.pk) is None


def test_each_event_once_to_the_webhooks_that_chose_it():
    survey = SurveyFactory(template="nps")
    everything = _hook()
    responses_only = _hook(events=["response.created"])
    elsewhere = _hook()
    elsewhere.surveys.add(SurveyFactory(template="nps"))
    slack = AlertChannel.objects.create(name="Team", kind="slack", target="https://x.example")

    happy = _answer(survey, 10)
    unhappy = _answer(survey, 2)
    process_response(response_id=unhappy.pk)  # a second run processes nothing again
    case = FollowUp.objects.get(response=unhappy)
    followups.escalate_overdue(now=case.due_at + timedelta(minutes=1))
    followups.resolve(followup=case, by=None, resolution="Called back")

    assert _events(everything) == [
        "response.created",
        "response.created",
        "followup.opened",
        "followup.escalated",
        "followup.resolved",
    ]
    assert _events(responses_only) == ["response.created", "response.created"]
    assert _events(elsewhere) == []
    # People's channels get their alerts as before, not events.
    assert _events(slack) == ["new_case", "escalation"]
    created = Notification.objects.filter(channel=everything, kind="response.created")
    assert {n.response_id for n in created} == {happy.pk, unhappy.pk}


def test_an_unsubscribe_is_told_once_to_the_webhooks_of_the_customers_surveys(client):
    survey = SurveyFactory(template="nps")
    every_survey, this_survey, another_survey = _hook(), _hook(), _hook()
    this_survey.surveys.add(survey)
    # A webhook for another survey (a partner's CRM) learns nothing of this customer.
    another_survey.surveys.add(SurveyFactory(template="nps"))
    invitation = InvitationFactory(survey=survey)
    url = reverse("surveys:unsubscribe", args=[invitation.token])

    client.post(url)
    client.post(url)  # already out: nothing new to tell

    for channel in (every_survey, this_survey):
        (event,) = Notification.objects.filter(channel=channel)
        assert (event.kind, event.customer_id) == ("customer.unsubscribed", invitation.customer_id)
    assert not Notification.objects.filter(channel=another_survey).exists()


def test_an_unsubscribe_through_the_api_is_told_too():
    hook = _hook(events=["customer.unsubscribed"])
    _hook(events=["customer.unsubscribed"]).surveys.add(SurveyFactory(template="nps"))
    customer = CustomerFactory(ref="C1")  # never invited: for webhooks of every survey
    key = create_api_key(name="Shop", scopes=["write"])[1]

    page = Client(HTTP_AUTHORIZATION=f"Bearer {key}").post("/api/v1/customers/C1/opt-out/")

    assert page.status_code == 200
    assert Notification.objects.get().channel == hook
    assert Notification.objects.get().customer == customer


def test_a_delivered_event_verifies_with_the_reference_and_matches_the_api(receiver):
    survey = SurveyFactory(template="nps")
    channel = _hook(url=receiver.url, events=["response.created"])
    response = _answer(survey, 3, customer=CustomerFactory(ref="C7"))

    _deliver_all(channel)

    ((headers, body),) = receiver.requests
    payload = standardwebhooks.Webhook(channel.secret).verify(body, headers)
    assert payload["type"] == "response.created"
    assert headers["webhook-id"] == f"msg_{Notification.objects.get(channel=channel).pk}"
    key = create_api_key(name="CRM", scopes=["read"])[1]
    listed = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/responses/").json()
    assert payload["data"] == listed["results"][0]
    assert payload["data"]["id"] == response.pk
    assert payload["data"]["customer"] == "C7"
    assert payload["data"]["followup"]["status"] == "new"


def test_a_changed_body_or_another_secret_does_not_verify(receiver):
    channel = _hook(url=receiver.url, events=["response.created"])
    _answer(SurveyFactory(template="nps"), 9)
    _deliver_all(channel)
    ((headers, body),) = receiver.requests

    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(channel.secret).verify(body.replace(b"9", b"0"), headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_secret()).verify(body, headers)


def test_a_failed_delivery_is_retried_with_the_same_id(receiver):
    receiver.statuses = [503]
    channel = _hook(url=receiver.url, events=["response.created"])
    _answer(SurveyFactory(template="nps"), 9)
    event = Notification.objects.get(channel=channel)

    assert notifications.attempt(event.pk) is not None
    Notification.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    assert notifications.attempt(event.pk) is None

    first, second = receiver.requests
    assert first[0]["webhook-id"] == second[0]["webhook-id"]
    assert json.loads(first[1]) == json.loads(second[1])
    for headers, body in receiver.requests:
        standardwebhooks.Webhook(channel.secret).verify(body, headers)
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("sent", 2)


def test_erasure_cancels_the_events_about_the_customer_not_yet_sent():
    channel = _hook()
    customer = CustomerFactory(ref="C9", email="erase@example.com")
    _answer(SurveyFactory(template="nps"), 2, customer=customer)
    other = _answer(SurveyFactory(template="nps"), 9)
    assert Notification.objects.filter(channel=channel, status="pending").count() == 3

    privacy.erase_customer(customer=customer)

    left = Notification.objects.filter(channel=channel, status="pending")
    assert [(n.kind, n.response_id) for n in left] == [("response.created", other.pk)]


def test_the_admin_makes_a_webhook_with_events_and_a_standard_secret(admin_client, settings):
    page = admin_client.get("/admin/metrics/alertchannel/add/", headers={"accept-language": "nl"})
    html = page.content.decode()
    assert "Gebeurtenis: klant uitgeschreven" in html
    form = page.context["adminform"].form
    suggested = form.initial.get("secret") or form.fields["secret"].initial()
    assert suggested.startswith("whsec_")

    fields = {"name": "CRM", "kind": "webhook", "target": "http://127.0.0.1:9/hook"}
    fields |= {"secret": suggested, "enabled": "on"}
    refused = admin_client.post(
        "/admin/metrics/alertchannel/add/", fields, headers={"accept-language": "nl"}
    )
    assert "Kies ten minste één gebeurtenis om te versturen." in refused.content.decode()
    bad_secret = admin_client.post(
        "/admin/metrics/alertchannel/add/",
        fields | {"secret": "s" * 64, "events": ["response.created"]},
    )
    assert "Enter whsec_ followed by a key of at least 24 bytes" in bad_secret.content.decode()
    assert not AlertChannel.objects.exists()

    admin_client.post(
        "/admin/metrics/alertchannel/add/",
        fields | {"events": ["response.created", "followup.resolved"]},
    )
    channel = AlertChannel.objects.get()
    assert channel.events == ["response.created", "followup.resolved"]


def test_a_response_excluded_before_it_was_processed_is_no_event():
    channel = _hook(events=["response.created"])
    survey = SurveyFactory(template="nps")
    question = survey.questions.get(role="nps")
    response = submit_response(survey=survey, answers={question: 9}, language="en")
    Response.objects.filter(pk=response.pk).update(excluded_at=timezone.now())

    process_response(response_id=response.pk)

    assert _events(channel) == []


@pytest.mark.parametrize("change", ["deleted", "disabled", "event dropped", "made email"])
def test_an_event_waiting_for_a_webhook_changed_since_is_not_sent(receiver, change):
    channel = _hook(url=receiver.url, events=["response.created"])
    _answer(SurveyFactory(template="nps"), 9)
    event = Notification.objects.get(channel=channel)
    if change == "deleted":
        channel.delete()
    elif change == "disabled":
        AlertChannel.objects.filter(pk=channel.pk).update(enabled=False)
    elif change == "event dropped":
        AlertChannel.objects.filter(pk=channel.pk).update(events=["followup.opened"])
    else:
        AlertChannel.objects.filter(pk=channel.pk).update(kind="email", target="a@example.com")

    assert notifications.attempt(event.pk) is None

    event.refresh_from_db()
    assert event.status == "failed" and event.last_error.startswith("Not sent")
    assert receiver.requests == []
    assert len(mail.outbox) == 0


def test_an_event_about_a_deleted_response_fails_and_stays_in_the_log(receiver):
    channel = _hook(url=receiver.url, events=["response.created"])
    response = _answer(SurveyFactory(template="nps"), 9)
    event = Notification.objects.get(channel=channel)
    Response.objects.filter(pk=response.pk).delete()

    assert notifications.attempt(event.pk) is None

    event.refresh_from_db()
    assert (event.status, event.last_error) == ("failed", "Not sent: its response was deleted")
    assert receiver.requests == []


def test_erasure_cancels_a_waiting_unsubscribe(client):
    channel = _hook(events=["customer.unsubscribed"])
    invitation = InvitationFactory(survey=SurveyFactory(template="nps"))
    client.post(reverse("surveys:unsubscribe", args=[invitation.token]))

    privacy.erase_customer(customer=invitation.customer)

    event = Notification.objects.get(channel=channel)
    assert event.status == "cancelled"


def test_an_existing_webhook_moves_onto_events_with_a_new_secret():
    migration = "metrics.migrations.0020_webhook_events"
    move = __import__(migration, fromlist=["move_webhooks_onto_events"]).move_webhooks_onto_events
    # The models as that migration left them.
    state = MigrationExecutor(connection).loader.project_state(("metrics", "0020_webhook_events"))
    old = AlertChannel.objects.create(
        name="Old", kind="webhook", target="https://x.example", secret="ab" * 32
    )
    AlertChannel.objects.filter(pk=old.pk).update(on_escalation=False)
    waiting = Notification.objects.create(kind="new_case", channel=old)
    burst = Notification.objects.create(kind="case_burst", channel=old)

    move(state.apps, None)

    old.refresh_from_db()
    assert old.events == ["followup.opened"]
    assert old.secret.startswith("whsec_") and old.secret != "ab" * 32
    waiting.refresh_from_db()
    burst.refresh_from_db()
    assert (waiting.kind, waiting.status) == ("followup.opened", "pending")
    assert burst.status == "cancelled"

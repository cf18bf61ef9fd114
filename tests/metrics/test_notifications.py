"""Delivery: a row before a message, retries for temporary failures, none for permanent."""

import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import standardwebhooks
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from metrics import followups, notifications
from metrics.models import AlertChannel, FollowUp, Notification
from metrics.processing import process_response
from surveys.services import submit_response
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    # The receivers here listen on 127.0.0.1, an address webhooks may not reach by default
    # (tests/metrics/test_webhook_targets.py).
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


class Receiver:
    """A local webhook receiver that answers with the statuses it is given, in turn."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made = []

    def make(statuses):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def _pause_over(notification):
    """The retry's countdown has run out, as when Celery hands the retry to a worker."""
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())


def _case(channel):
    survey = SurveyFactory(template="nps")
    question = survey.questions.get(role="nps")
    response = submit_response(survey=survey, answers={question: 2}, language="en")
    process_response(response_id=response.pk)
    case = FollowUp.objects.get(response=response)
    return case, Notification.objects.get(channel=channel, followup=case)


def test_webhook_failing_three_times_then_delivered_with_one_key(receiver_factory):
    receiver = receiver_factory([500, 503, 429])
    channel = AlertChannel.objects.create(
        name="Hook", kind="webhook", events=["followup.opened"], target=receiver.url
    )
    case, notification = _case(channel)

    pauses = []
    for _ in range(4):
        pauses.append(notifications.attempt(notification.pk))
        if pauses[-1] is not None:
            assert notifications.attempt(notification.pk) is None  # its retry is not due yet
            _pause_over(notification)

    assert all(pause is not None and 0 < pause <= 3600 for pause in pauses[:3])
    assert pauses[3] is None
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 4)
    assert notification.sent_at is not None
    assert "HTTP 429" in notification.last_error
    # One event, four tries: the same id each time, each signed afresh.
    assert {headers["webhook-id"] for headers, _ in receiver.requests} == {f"msg_{notification.pk}"}
    headers, body = receiver.requests[-1]
    payload = standardwebhooks.Webhook(channel.secret).verify(body, headers)
    assert payload["type"] == "followup.opened"
    assert payload["data"]["id"] == case.pk and payload["data"]["score"] == 2


def test_webhook_answering_400_fails_at_once_and_says_why(receiver_factory):
    receiver = receiver_factory([400])
    channel = AlertChannel.objects.create(
        name="Hook", kind="webhook", events=["followup.opened"], target=receiver.url
    )
    _, notification = _case(channel)

    assert notifications.attempt(notification.pk) is None

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert "HTTP 400" in notification.last_error
    assert notifications.attempt(notification.pk) is None
    assert len(receiver.requests) == 1


def test_an_unreachable_webhook_is_retried_until_a_day_has_passed():
    # The second pause (at least 30 s) would end more than a day after the first try.
    channel = AlertChannel.objects.create(
        name="Gone", kind="webhook", events=["followup.opened"], target="http://127.0.0.1:9/"
    )
    _, notification = _case(channel)

    assert notifications.attempt(notification.pk) is not None
    Notification.objects.filter(pk=notification.pk).update(
        created_at=timezone.now() - timedelta(hours=24) + timedelta(seconds=10)
    )
    _pause_over(notification)
    assert notifications.attempt(notification.pk) is None

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 2)
    assert "Could not reach" in notification.last_error


def test_slack_gets_the_text(receiver_factory):
    receiver = receiver_factory([200])
    channel = AlertChannel.objects.create(name="Slack", kind="slack", target=receiver.url)
    _, notification = _case(channel)

    notifications.attempt(notification.pk)

    assert json.loads(receiver.requests[0][1])["text"].startswith("*New follow-up")


def test_email_channel_sends_text_and_escaped_html():
    channel = AlertChannel.objects.create(
        name="Team", kind="email", target="a@example.com, b@example.com"
    )
    survey = SurveyFactory(template="nps")
    nps, comment = survey.questions.order_by("position")
    response = submit_response(
        survey=survey, answers={nps: 1, comment: "<script>alert(1)</script>"}, language="en"
    )
    process_response(response_id=response.pk)
    notification = Notification.objects.get(channel=channel)

    assert notifications.attempt(notification.pk) is None

    message = mail.outbox[0]
    assert message.to == ["a@example.com", "b@example.com"]
    assert "<script>alert(1)</script>" in message.body
    html = message.alternatives[0][0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html


def test_backoff_grows_with_jitter_and_stays_under_an_hour():
    pauses = [notifications.retry_pause(attempt) for attempt in range(1, 12)]
    assert 15 <= pauses[0] <= 45
    assert 30 <= pauses[1] <= 90
    assert all(pause <= 3600 for pause in pauses)


def test_notifications_never_tried_are_enqueued_again(
    eager_celery, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([200])
    channel = AlertChannel.objects.create(
        name="Hook", kind="webhook", events=["followup.opened"], target=receiver.url
    )
    _, notification = _case(channel)
    assert notifications.resend_stuck() == 0  # too recent: its own task may still come
    Notification.objects.filter(pk=notification.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.resend_stuck() == 1

    notification.refresh_from_db()
    assert notification.status == "sent"
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("target", ["http://x:abc/", "http://[::1/"])
def test_an_unusable_address_fails_at_once_and_says_why(target):
    channel = AlertChannel.objects.create(
        name="Broken", kind="webhook", events=["followup.opened"], target=target
    )
    _, notification = _case(channel)

    assert notifications.attempt(notification.pk) is None

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert "Not a usable address" in notification.last_error


def test_a_second_copy_of_the_task_does_not_deliver_again(receiver_factory, monkeypatch):
    receiver = receiver_factory([200, 200, 200])
    channel = AlertChannel.objects.create(
        name="Hook", kind="webhook", events=["followup.opened"], target=receiver.url
    )
    _, notification = _case(channel)
    real_deliver = notifications.deliver
    during: list[float | None] = []

    def deliver_while_a_copy_arrives(message):
        # A second copy of the task (the sweeper's, a redelivery) runs mid-delivery.
        during.append(notifications.attempt(message.pk))
        real_deliver(message)

    monkeypatch.setattr(notifications, "deliver", deliver_while_a_copy_arrives)
    assert notifications.attempt(notification.pk) is None

    assert during == [None]
    assert len(receiver.requests) == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 1)
    assert notifications.attempt(notification.pk) is None  # a late copy: already sent
    assert len(receiver.requests) == 1


def test_slack_mentions_and_links_in_a_comment_stay_text(receiver_factory):
    receiver = receiver_factory([200])
    channel = AlertChannel.objects.create(name="Slack", kind="slack", target=receiver.url)
    survey = SurveyFactory(template="nps")
    nps, comment = survey.questions.order_by("position")
    response = submit_response(
        survey=survey, answers={nps: 0, comment: "<!channel> <https://evil|Open>"}, language="en"
    )
    process_response(response_id=response.pk)

    notifications.attempt(Notification.objects.get(channel=channel).pk)

    text = json.loads(receiver.requests[0][1])["text"]
    assert "&lt;!channel&gt; &lt;https://evil|Open&gt;" in text and "<!channel>" not in text


@pytest.mark.parametrize(
    ("kind", "target", "valid"),
    [
        ("email", "a@example.com, b@example.com", True),
        ("email", "a@example.com, not-an-address", False),
        ("email", " , ", False),
        ("webhook", "https://hooks.example.com/x", True),
        ("webhook", "ftp://example.com", False),
        ("slack", "hooks.slack.com/services/x", False),
    ],
)
def test_channel_addresses_are_checked(kind, target, valid, monkeypatch):
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: public)
    events = ["followup.opened"] if kind == "webhook" else []
    channel = AlertChannel(name="x", kind=kind, target=target, events=events)
    if valid:
        channel.full_clean()
    else:
        with pytest.raises(ValidationError):
            channel.full_clean()


def test_a_retry_long_overdue_is_sent_again(
    eager_celery, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([503, 200])
    channel = AlertChannel.objects.create(
        name="Hook", kind="webhook", events=["followup.opened"], target=receiver.url
    )
    _, notification = _case(channel)
    pause = notifications.attempt(notification.pk)
    notification.refresh_from_db()
    assert pause is not None and notification.next_attempt_at is not None
    assert notifications.resend_stuck() == 0  # its retry is still to come

    # The retry's message was lost: well after it was due, the sweeper sends it again.
    Notification.objects.filter(pk=notification.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.resend_stuck() == 1

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 2)
    assert notification.next_attempt_at is None
    assert len(receiver.requests) == 2


# --- what the emails say --------------------------------------------------------------

ALERT_WORDS = {
    "en": {
        "anonymous": "An unhappy answer: Detractor (NPS), score 2 on Shop NPS.",
        "customer": "An unhappy customer needs a call back: Detractor (NPS), score 2 on Shop NPS.",
        "touchpoint": "Touchpoint: checkout",
        "ref": "Reference given with the answer: C-123",
        "subject": "New follow-up #{id}: score 2 on Shop NPS",
        "no": "New follow-up #{id}: No on Shop CSAT",
        "no_body": "Dissatisfied (CSAT), No on Shop CSAT.",
    },
    "nl": {
        "anonymous": "Een ontevreden antwoord: Criticaster (NPS), score 2 bij Shop NPS.",
        "customer": (
            "Een ontevreden klant moet worden teruggebeld: Criticaster (NPS), score 2 bij Shop NPS."
        ),
        "touchpoint": "Contactmoment: checkout",
        "ref": "Referentie bij het antwoord: C-123",
        "subject": "Nieuwe opvolging #{id}: score 2 bij Shop NPS",
        "no": "Nieuwe opvolging #{id}: Nee bij Shop CSAT",
        "no_body": "Ontevreden (CSAT), Nee bij Shop CSAT.",
    },
}


def _alert(survey, value, *, customer=None, **metadata):
    """The new-case notification of an unhappy answer, as the team's email channel gets it."""
    channel = AlertChannel.objects.get_or_create(
        name="Team", kind="email", target="team@example.com"
    )[0]
    key = survey.questions.get(role=survey.kind)
    invitation = InvitationFactory(survey=survey, customer=customer) if customer else None
    response = submit_response(
        survey=survey, answers={key: value}, invitation=invitation, metadata=metadata, language="en"
    )
    process_response(response_id=response.pk)
    return Notification.objects.get(channel=channel, followup__response=response)


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_alert_for_an_anonymous_answer_says_where_it_came_from(settings, language):
    settings.LANGUAGE_CODE = language
    words = ALERT_WORDS[language]
    survey = SurveyFactory(template="nps", name="Shop NPS")

    alert = _alert(survey, 2, touchpoint="checkout", ref="C-123")

    assert alert.subject == words["subject"].format(id=alert.followup_id)
    assert alert.body.startswith(words["anonymous"])
    assert words["touchpoint"] in alert.body and words["ref"] in alert.body


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_alert_for_a_known_customer_asks_for_a_call_back(settings, language):
    settings.LANGUAGE_CODE = language
    words = ALERT_WORDS[language]
    survey = SurveyFactory(template="nps", name="Shop NPS")

    alert = _alert(survey, 2, customer=CustomerFactory(ref="C-9"))

    assert alert.body.startswith(words["customer"])
    assert words["ref"].split(":")[0] not in alert.body  # the customer is known by name


@pytest.mark.parametrize("language", ["en", "nl"])
def test_a_yes_no_case_says_no_rather_than_score_0(settings, language):
    settings.LANGUAGE_CODE = language
    words = ALERT_WORDS[language]
    survey = SurveyFactory(template="csat-yes-no", name="Shop CSAT")

    alert = _alert(survey, 0)

    assert alert.subject == words["no"].format(id=alert.followup_id)
    assert words["no_body"] in alert.body
    assert "score 0" not in alert.subject + alert.body


def test_the_html_part_links_the_case_and_only_the_case(settings):
    settings.SITE_URL = "http://127.0.0.1:8731"
    survey = SurveyFactory(template="nps", name="Shop NPS")
    nps, comment = survey.questions.order_by("position")
    response = submit_response(
        survey=survey,
        answers={nps: 1, comment: 'See https://evil.example/x"><b>and</b> <a href="y">'},
        language="en",
    )
    process_response(response_id=response.pk)
    channel = AlertChannel.objects.create(name="Team", kind="email", target="team@example.com")
    notification = notifications.notify_channels(response.followup, "new_case")[0]

    notifications.attempt(notification.pk)

    html = mail.outbox[0].alternatives[0][0]
    url = f"http://127.0.0.1:8731/followups/{response.followup.pk}/"
    assert f'<a href="{url}">{url}</a>' in html
    assert html.count("<a ") == 1  # the comment's address and markup stay text
    assert "https://evil.example/x&quot;&gt;&lt;b&gt;and&lt;/b&gt;" in html
    assert channel.notifications.count() == 1


@pytest.mark.parametrize(("language", "greeting"), [("en", "Dear Ann,"), ("nl", "Beste Ann,")])
def test_a_reply_reaches_the_agent_when_the_customer_answers(settings, agent, language, greeting):
    settings.SUPPORT_REPLY_TO = ""
    agent.email = "ann.agent@example.com"
    agent.save()
    customer = CustomerFactory(name="Ann", email="ann@example.com")
    case = answer(SurveyFactory(template="nps"), 3, customer=customer, language=language).followup
    subject, body = followups.reply_draft(case)

    notification = followups.reply(followup=case, by=agent, subject=subject, body=body)
    notifications.attempt(notification.pk)

    (message,) = mail.outbox
    assert message.to == ["ann@example.com"] and message.body.startswith(greeting)
    assert message.reply_to == ["ann.agent@example.com"]
    assert "Reply-To: ann.agent@example.com" in message.message().as_string()


def test_a_reply_goes_back_to_the_support_address_when_one_is_set(settings, agent):
    settings.SUPPORT_REPLY_TO = "support@example.com"
    customer = CustomerFactory(email="bo@example.com")
    case = answer(SurveyFactory(template="nps"), 3, customer=customer).followup

    notification = followups.reply(followup=case, by=agent, subject="Sorry", body="Call us")
    notifications.attempt(notification.pk)

    assert mail.outbox[0].reply_to == ["support@example.com"]
    assert mail.outbox[0].from_email == settings.DEFAULT_FROM_EMAIL


def test_alerts_to_the_team_have_no_reply_to():
    _, notification = _case(AlertChannel.objects.create(name="T", kind="email", target="t@x.org"))
    notifications.attempt(notification.pk)
    assert mail.outbox[0].reply_to == []

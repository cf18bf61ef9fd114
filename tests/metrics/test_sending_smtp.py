"""Survey emails through a real SMTP server on localhost (aiosmtpd, started here)."""

import email
import email.policy
import socket
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from metrics import sending
from metrics.models import Notification
from surveys.models import Customer, Invitation
from tests.factories import CustomerFactory, SurveyFactory

pytestmark = pytest.mark.django_db


class Sink:
    """Keeps every message with the connection it came on; refuses listed recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[tuple, list[str], bytes]] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((session.peer, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    @property
    def connections(self) -> int:
        return len({peer for peer, _to, _content in self.messages})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
    settings.EMAIL_USE_TLS, settings.EMAIL_TIMEOUT = False, 5
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield sink
    controller.stop()


def _send_all(survey):
    sending.send_survey(survey=survey, customers=Customer.objects.all())
    claims = [[n.pk, n.attempts] for n in Notification.objects.filter(status="pending")]
    return sending.send_batch(claims)


def test_a_batch_goes_over_one_connection_as_multipart_with_its_headers(smtp, settings):
    settings.SITE_URL = "https://surveys.example.com"
    survey = SurveyFactory(language="nl")
    CustomerFactory.create_batch(5, language="nl")

    assert _send_all(survey) == 5

    assert len(smtp.messages) == 5
    assert smtp.connections == 1
    _peer, to, content = smtp.messages[0]
    message = email.message_from_bytes(content, policy=email.policy.default)
    invitation = Invitation.objects.get(customer__email=to[0])
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"{invitation.url}?score=10" in text
    assert f'href="{invitation.url}?score=0"' in html
    assert message["Subject"] == "Een korte vraag van Acme"
    # A long header is folded onto a second line, as RFC 5322 allows.
    assert message["List-Unsubscribe"].strip() == f"<{invitation.unsubscribe_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in invitation.unsubscribe_url
    assert Invitation.objects.filter(sent_at__isnull=False).count() == 5


def test_a_permanently_refused_address_bounces_and_is_skipped_from_then_on(smtp):
    survey = SurveyFactory()
    good = CustomerFactory(email="good@example.com")
    bad = CustomerFactory(email="gone@example.com")
    smtp.refuse["gone@example.com"] = "550 5.1.1 No such user"

    assert _send_all(survey) == 1

    assert [to for _peer, to, _content in smtp.messages] == [["good@example.com"]]
    bad.refresh_from_db()
    assert bad.bouncing_since is not None
    failed = Notification.objects.get(invitation__customer=bad)
    assert failed.status == "failed"
    assert "550" in failed.last_error
    assert Invitation.objects.get(customer=bad).sent_at is None
    assert Invitation.objects.get(customer=good).sent_at is not None

    plan = sending.preview(survey=SurveyFactory(), customers=Customer.objects.all())
    assert plan.skipped == Counter({"bouncing": 1, "surveyed_recently": 1})


def test_a_temporary_refusal_is_tried_again_later(smtp):
    survey = SurveyFactory()
    customer = CustomerFactory(email="busy@example.com")
    smtp.refuse["busy@example.com"] = "450 4.2.1 Try again later"

    assert _send_all(survey) == 0

    notification = Notification.objects.get()
    assert notification.status == "pending"
    assert notification.next_attempt_at > timezone.now()
    customer.refresh_from_db()
    assert customer.bouncing_since is None

    del smtp.refuse["busy@example.com"]
    Notification.objects.update(next_attempt_at=timezone.now())
    assert sending.send_batch([[notification.pk, notification.attempts]]) == 1
    assert len(smtp.messages) == 1


def test_a_server_that_is_down_leaves_the_batch_for_later(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port()
    settings.EMAIL_USE_TLS, settings.EMAIL_TIMEOUT = False, 2
    CustomerFactory.create_batch(2)

    assert _send_all(SurveyFactory()) == 0

    assert {n.status for n in Notification.objects.all()} == {"pending"}
    assert not Invitation.objects.filter(sent_at__isnull=False).exists()


def test_an_email_written_days_before_its_window_is_still_retried(smtp):
    from datetime import timedelta

    CustomerFactory(email="busy@example.com")
    smtp.refuse["busy@example.com"] = "451 4.3.0 Busy"
    sending.send_survey(survey=SurveyFactory(), customers=Customer.objects.all())
    Notification.objects.update(created_at=timezone.now() - timedelta(days=3))
    notification = Notification.objects.get()

    sending.send_batch([[notification.pk, notification.attempts]])

    notification.refresh_from_db()
    assert notification.status == "pending"
    Notification.objects.update(attempts=sending.GIVE_UP_ATTEMPTS - 1)
    sending.send_batch([[notification.pk, sending.GIVE_UP_ATTEMPTS - 1]])
    notification.refresh_from_db()
    assert notification.status == "failed"

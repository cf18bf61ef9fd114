"""Sending surveys by email: who gets one, what it says, and what is never sent."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from metrics import sending
from metrics.models import Notification
from surveys.models import Customer, Invitation, Response
from surveys.services import InvitationThrottled, OptedOut, invite
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db

SITE = "http://surveys.example.com"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def send(eager_celery, django_capture_on_commit_callbacks):
    """Run send_survey as the command does, with the worker's tasks run at once."""

    def run(*args):
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("send_survey", *args, stdout=out)
        return out.getvalue().strip().splitlines()[-1]

    return run


def _mixed_customers(other_survey):
    """Two to email, and one for each reason to skip."""
    CustomerFactory(ref="ok-nl", language="nl", segment="b2b")
    CustomerFactory(ref="ok-en", language="en", segment="b2b")
    CustomerFactory(ref="gone", segment="b2b", opted_out_at=timezone.now())
    CustomerFactory(ref="no-mail", email="", segment="b2b")
    CustomerFactory(ref="bounce", segment="b2b", bouncing_since=timezone.now())
    invited = CustomerFactory(ref="invited", segment="b2b")
    InvitationFactory(survey=other_survey, customer=invited)
    answered = CustomerFactory(ref="answered", segment="b2b")
    answer(other_survey, 9, customer=answered, days_ago=10)
    Invitation.objects.filter(customer=answered).update(
        created_at=timezone.now() - timedelta(days=400)
    )
    CustomerFactory(ref="elsewhere", segment="b2c")


def test_dry_run_says_what_would_happen_and_changes_nothing(send):
    survey = SurveyFactory()
    _mixed_customers(SurveyFactory())
    before = Invitation.objects.count()

    line = send("--survey", survey.slug, "--segment", "b2b", "--dry-run")

    assert line == (
        "would send 2; skipped: 2 surveyed recently, 1 opted out, 1 without email, 1 bouncing"
    )
    assert Invitation.objects.count() == before
    assert not Notification.objects.exists()


def test_send_emails_the_segment_through_the_outbox_and_marks_them_sent(send):
    survey = SurveyFactory()
    _mixed_customers(SurveyFactory())

    line = send("--survey", survey.slug, "--segment", "b2b")

    assert line == "sent 2; skipped: 2 surveyed recently, 1 opted out, 1 without email, 1 bouncing"
    invitations = Invitation.objects.filter(survey=survey)
    assert {i.customer.ref for i in invitations} == {"ok-nl", "ok-en"}
    assert all(i.sent_at is not None for i in invitations)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(i.customer.email for i in invitations)
    notifications = Notification.objects.filter(kind="survey")
    assert {n.status for n in notifications} == {"sent"}
    # The next send skips them: surveyed recently.
    assert send("--survey", survey.slug, "--segment", "b2b").startswith(
        "sent 0; skipped: 4 surveyed recently"
    )


def test_send_by_reference(send):
    survey = SurveyFactory()
    CustomerFactory(ref="A1")
    CustomerFactory(ref="A2")

    assert send("--survey", survey.slug, "--customer-ref", "A2").startswith("sent 1;")
    assert Invitation.objects.get().customer.ref == "A2"


def test_a_survey_that_is_not_live_is_not_sent(send):
    survey = SurveyFactory(status="draft")
    CustomerFactory()

    with pytest.raises(CommandError, match="only a live survey"):
        send("--survey", survey.slug)


@pytest.mark.parametrize(
    ("language", "subject", "question", "unsubscribe"),
    [
        ("en", "A quick question from Acme", "How likely is it", "No more surveys by email"),
        ("nl", "Een korte vraag van Acme", "Hoe waarschijnlijk is het", "Geen enquêtes meer"),
    ],
)
def test_the_email_in_each_language_with_its_buttons_and_headers(
    send, language, subject, question, unsubscribe
):
    survey = SurveyFactory(language="en")
    customer = CustomerFactory(language=language)

    send("--survey", survey.slug)

    (message,) = mail.outbox
    token = Invitation.objects.get(customer=customer).token
    personal = f"{SITE}/i/{token}/"
    assert message.subject == subject
    assert question in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert question in html
    for score in range(11):
        link = f"{personal}?score={score}"
        assert f'href="{link}"' in html
        assert f"{score}: {link}\n" in message.body
    assert personal + "\n" in message.body
    unsubscribe_url = f"{SITE}/unsubscribe/{token}/"
    assert unsubscribe_url in message.body
    assert f'href="{unsubscribe_url}"' in html
    assert unsubscribe in html
    assert message.extra_headers["List-Unsubscribe"] == f"<{unsubscribe_url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(("template", "labels"), [("csat", "12345"), ("ces", "1234567")])
def test_csat_and_ces_emails_show_their_scale(send, template, labels):
    survey = SurveyFactory(template=template)
    CustomerFactory()

    send("--survey", survey.slug)

    html = mail.outbox[0].alternatives[0][0]
    shown = re.findall(r"\?score=(\d+)\"", html)
    assert "".join(shown) == labels


def test_a_loyalty_email_opens_the_form(send):
    survey = SurveyFactory(template="loyalty")
    CustomerFactory()

    send("--survey", survey.slug)

    html = mail.outbox[0].alternatives[0][0]
    assert "?score=" not in html
    assert f'href="{Invitation.objects.get().url}"' in html


def test_a_scanner_following_a_score_link_records_nothing(client):
    invitation = InvitationFactory(survey=SurveyFactory())
    url = reverse("surveys:respond_invitation", args=[invitation.token])

    page = client.get(f"{url}?score=9")

    assert page.status_code == 200
    assert re.search(r'value="9"\s+checked', page.content.decode())
    invitation.refresh_from_db()
    assert invitation.responded_at is None
    assert not Response.objects.exists()


def test_unsubscribe_get_changes_nothing_and_post_opts_out_for_good(client):
    invitation = InvitationFactory(survey=SurveyFactory(), customer__language="nl")
    url = reverse("surveys:unsubscribe", args=[invitation.token])

    page = client.get(url)

    assert page.status_code == 200
    assert "Afmelden voor enquêtes?" in page.content.decode()
    invitation.customer.refresh_from_db()
    assert invitation.customer.opted_out_at is None

    done = client.post(url)

    assert "U bent afgemeld" in done.content.decode()
    invitation.customer.refresh_from_db()
    assert invitation.customer.opted_out_at is not None


def test_one_click_unsubscribe_from_the_mailbox(client):
    invitation = InvitationFactory(survey=SurveyFactory())

    page = client.post(
        reverse("surveys:unsubscribe", args=[invitation.token]),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert page.status_code == 200
    assert Customer.objects.get().opted_out_at is not None


def test_opt_out_is_honoured_by_every_way_of_sending(send, admin_client):
    survey = SurveyFactory()
    customer = CustomerFactory(ref="R1", email="r1@example.com", opted_out_at=timezone.now())

    assert send("--survey", survey.slug).endswith("1 opted out, 0 without email, 0 bouncing")
    with pytest.raises(CommandError, match="opted out"):
        call_command("invite", "--survey", survey.slug, "--email", "r1@example.com")
    page = admin_client.post(
        reverse("admin:surveys_invitation_add"), {"survey": survey.pk, "customer": customer.pk}
    )
    assert "has opted out of surveys" in page.content.decode()
    with pytest.raises(OptedOut):
        invite(survey=survey, customer=customer)
    assert not Invitation.objects.exists()
    assert not mail.outbox


def test_an_email_waiting_in_the_outbox_is_not_sent_after_an_opt_out(
    eager_celery, django_capture_on_commit_callbacks
):
    survey = SurveyFactory()
    customer = CustomerFactory()
    sent = sending.send_survey(survey=survey, customers=Customer.objects.all())  # not dispatched
    Customer.objects.filter(pk=customer.pk).update(opted_out_at=timezone.now())

    sending.dispatch()

    assert not mail.outbox
    notification = Notification.objects.get(invitation=sent.invitations[0])
    assert notification.status == "cancelled"
    assert "opted out" in notification.last_error


def test_throttle_across_surveys_and_ways_of_sending(send, admin_client):
    first, second, third = SurveyFactory(), SurveyFactory(), SurveyFactory()
    by_admin = CustomerFactory(ref="admin")
    by_command = CustomerFactory(ref="command")
    admin_client.post(
        reverse("admin:surveys_invitation_add"), {"survey": first.pk, "customer": by_admin.pk}
    )
    call_command(
        "invite",
        "--survey",
        first.slug,
        "--email",
        by_command.email,
        "--customer-ref",
        "command",
        stdout=StringIO(),
    )
    answered = CustomerFactory(ref="answered")
    answer(first, 3, customer=answered, days_ago=30)
    Invitation.objects.filter(customer=answered).update(
        created_at=timezone.now() - timedelta(days=400)
    )

    assert send("--survey", second.slug).startswith("sent 0; skipped: 3 surveyed recently")
    with pytest.raises(InvitationThrottled):
        invite(survey=third, customer=by_admin)
    with pytest.raises(CommandError, match="answered a survey on"):
        call_command(
            "invite",
            "--survey",
            third.slug,
            "--email",
            answered.email,
            "--customer-ref",
            "answered",
        )


def test_the_throttle_is_the_sending_surveys_window(send):
    short = SurveyFactory(resurvey_throttle_days=20)
    customer = CustomerFactory()
    InvitationFactory(survey=SurveyFactory(), customer=customer)
    Invitation.objects.update(created_at=timezone.now() - timedelta(days=30))

    assert send("--survey", short.slug).startswith("sent 1;")


def test_the_hourly_cap_holds_back_the_rest_until_the_hour_has_passed(send, settings):
    settings.SEND_RATE_PER_HOUR = 3
    survey = SurveyFactory()
    CustomerFactory.create_batch(5)

    assert send("--survey", survey.slug) == (
        "sent 5; skipped: 0 surveyed recently, 0 opted out, 0 without email, 0 bouncing"
    )
    assert len(mail.outbox) == 3
    assert sending.dispatch() == 0
    Notification.objects.update(sent_at=timezone.now() - timedelta(minutes=61))

    assert sending.dispatch() == 2
    assert len(mail.outbox) == 5
    assert not Invitation.objects.filter(sent_at__isnull=True).exists()


def test_a_second_copy_of_a_batch_does_not_send_again(
    eager_celery, django_capture_on_commit_callbacks
):
    survey = SurveyFactory()
    CustomerFactory.create_batch(2)
    sending.send_survey(survey=survey, customers=Customer.objects.all())
    claims = [[n.pk, n.attempts] for n in Notification.objects.all()]

    assert sending.send_batch(claims) == 2
    assert sending.send_batch(claims) == 0
    assert len(mail.outbox) == 2


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_the_send_page_shows_what_will_happen_and_sends(
    admin_client, eager_celery, django_capture_on_commit_callbacks
):
    survey = SurveyFactory(language="nl")
    CustomerFactory(segment="b2b")
    CustomerFactory(segment="b2b", opted_out_at=timezone.now())
    CustomerFactory(segment="b2c")
    url = reverse("admin:surveys_survey_send", args=[survey.pk])

    preview = admin_client.get(url, {"segment": "b2b"})

    html = preview.content.decode()
    assert "1 customer gets an email." in html
    assert "1 opted out" in html
    assert "Een korte vraag van Acme" in html
    assert not Invitation.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(url, {"segment": "b2b"})

    assert done.status_code == 302
    assert Invitation.objects.get().customer.segment == "b2b"
    assert len(mail.outbox) == 1


def _sent_days_ago(survey, days, **customer):
    invitation = InvitationFactory(survey=survey, customer=CustomerFactory(**customer))
    Invitation.objects.filter(pk=invitation.pk).update(
        sent_at=timezone.now() - timedelta(days=days)
    )
    return invitation


def _remind_and_send(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        written = sending.remind()
    return written


def test_one_reminder_at_most_to_those_who_have_not_answered(
    eager_celery, django_capture_on_commit_callbacks
):
    survey = SurveyFactory(reminder_after_days=3)
    waiting = _sent_days_ago(survey, 4)
    _sent_days_ago(survey, 2)  # not yet
    answered = _sent_days_ago(survey, 5)
    Invitation.objects.filter(pk=answered.pk).update(responded_at=timezone.now())

    assert _remind_and_send(django_capture_on_commit_callbacks) == 1

    (message,) = mail.outbox
    assert message.to == [waiting.customer.email]
    assert message.subject == "Reminder: a quick question from Acme"
    assert f"{waiting.url}?score=9" in message.body
    waiting.refresh_from_db()
    assert waiting.reminded_at is not None
    # Never a second one, however often the schedule runs.
    Invitation.objects.filter(pk=waiting.pk).update(reminded_at=None)
    assert _remind_and_send(django_capture_on_commit_callbacks) == 0
    assert len(mail.outbox) == 1


def test_no_reminder_after_an_answer_an_opt_out_or_the_survey_closing(
    eager_celery, django_capture_on_commit_callbacks
):
    survey = SurveyFactory(reminder_after_days=3)
    answers_later = _sent_days_ago(survey, 4)
    _sent_days_ago(survey, 4, opted_out_at=timezone.now())
    sending.remind()  # written, not yet dispatched
    Invitation.objects.filter(pk=answers_later.pk).update(responded_at=timezone.now())

    sending.dispatch()

    assert not mail.outbox
    assert set(Notification.objects.values_list("status", flat=True)) == {"cancelled"}

    closed = SurveyFactory(reminder_after_days=3, status="closed")
    _sent_days_ago(closed, 4)
    assert _remind_and_send(django_capture_on_commit_callbacks) == 0
    without = SurveyFactory(reminder_after_days=0)
    _sent_days_ago(without, 30)
    assert _remind_and_send(django_capture_on_commit_callbacks) == 0
    assert not mail.outbox


def test_staff_correcting_a_bouncing_address_lets_email_go_there_again(admin_client):
    customer = CustomerFactory(bouncing_since=timezone.now(), name="Ann", email="old@example.com")
    url = reverse("admin:surveys_customer_change", args=[customer.pk])
    listing = admin_client.get(reverse("admin:surveys_customer_changelist"))
    assert "bouncing" in listing.content.decode()

    admin_client.post(url, {"name": "Ann", "email": "new@example.com", "ref": customer.ref})

    customer.refresh_from_db()
    assert (customer.email, customer.bouncing_since) == ("new@example.com", None)


def test_the_response_rate_moves_when_a_customer_taps_a_score_and_confirms(
    client, manager, admin_client, send
):
    survey = SurveyFactory(language="en")
    CustomerFactory.create_batch(4, language="nl")
    send("--survey", survey.slug)
    invitation = Invitation.objects.first()
    question = survey.questions.get(role="nps")

    tapped = client.get(f"{invitation.get_absolute_url()}?score=9")
    assert tapped.status_code == 200
    confirmed = client.post(
        f"{invitation.get_absolute_url()}?score=9", {f"q{question.position}": "9"}
    )
    assert confirmed.status_code == 302

    client.force_login(manager)
    page = client.get(
        reverse("metrics:survey", args=[survey.pk]), headers={"accept-language": "nl"}
    )
    html = page.content.decode()
    assert "Responspercentage van de enquêtemails" in html
    assert "25%" in html
    assert "1 beantwoord van 4 verstuurde e-mails" in html
    listing = admin_client.get(reverse("admin:surveys_survey_changelist"))
    assert "25% (1/4)" in listing.content.decode()


def test_the_throttle_names_the_date_as_read_in_the_time_zone():
    from datetime import UTC, datetime

    survey = SurveyFactory()
    invitation = InvitationFactory(survey=survey)
    just_before_midnight_utc = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # Dec 1 here
    Invitation.objects.filter(pk=invitation.pk).update(created_at=just_before_midnight_utc)
    survey.resurvey_throttle_days = 3650

    with pytest.raises(InvitationThrottled, match=r"was invited on 1 Dec 2026"):
        invite(survey=survey, customer=invitation.customer)

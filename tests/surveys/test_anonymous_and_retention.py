"""Anonymous surveys keep nothing that says who answered; a survey's retention period
removes comments and link details from older answers every night, keeping the scores."""

import threading

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from metrics import tasks
from metrics.models import AlertChannel, FollowUp, Notification, ScoreRollup
from metrics.privacy import expire_free_text
from metrics.processing import process_response
from metrics.rollups import recompute_rollups
from surveys.models import Answer, Invitation, Response
from surveys.services import AlreadyAnswered, submit_response
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory, answer
from tests.surveys.test_admin import _change_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def anonymous():
    return SurveyFactory(template="nps", anonymous=True, language="en")


def test_an_invited_answer_is_not_linked_to_the_customer_or_the_invitation(client, anonymous):
    invitation = InvitationFactory(survey=anonymous, customer=CustomerFactory(segment="retail"))
    url = reverse("surveys:respond_invitation", args=[invitation.token])

    assert client.post(url, {"q1": "3", "q2": "Slow"}).status_code == 302

    response = Response.objects.get()
    assert (response.customer, response.invitation, response.metadata) == (None, None, {})
    invitation.refresh_from_db()
    # Answered, so not reminded or asked again; only the day, not the time of the answer.
    local = timezone.localtime(invitation.responded_at)
    assert local.date() == timezone.localdate(response.submitted_at)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)


def test_an_anonymous_invitation_is_still_answered_once(client, anonymous):
    invitation = InvitationFactory(survey=anonymous)
    url = reverse("surveys:respond_invitation", args=[invitation.token])
    client.post(url, {"q1": "3"})

    again = client.post(url, {"q1": "10"})

    assert "You have already answered" in again.content.decode()
    assert Response.objects.count() == 1
    with pytest.raises(AlreadyAnswered):
        submit_response(
            survey=anonymous,
            answers={anonymous.questions.get(role="nps"): 9},
            invitation=Invitation.objects.get(pk=invitation.pk),
            language="en",
        )
    assert Response.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(PUBLIC_POSTS_PER_MINUTE=100, PUBLIC_POSTS_PER_DAY=100)
def test_many_posts_at_once_to_an_anonymous_invitation_store_one_response():
    invitation = InvitationFactory(survey__anonymous=True, survey__language="en")
    url = reverse("surveys:respond_invitation", args=[invitation.token])
    senders = 20
    start = threading.Barrier(senders)
    statuses: list[int] = []

    def send(score: int) -> None:
        client = Client(raise_request_exception=False)
        try:
            start.wait()
            statuses.append(client.post(url, {"q1": str(score)}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i % 11,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] * (senders - 1) + [302]
    assert Response.objects.get().invitation is None


def test_personal_link_parameters_are_accepted_and_dropped(client, anonymous):
    anonymous.known_touchpoints = "shop"
    anonymous.save()
    url = reverse("surveys:respond", args=[anonymous.slug])
    query = "?ref=C123&email=ann%40example.com&touchpoint=shop&channel=qr"

    page = client.post(url + query, {"q1": "8"})

    assert page.status_code == 302
    response = Response.objects.get()
    assert response.metadata == {"touchpoint": "shop", "channel": "qr"}
    assert (response.touchpoint, response.channel) == ("shop", "qr")


def test_an_anonymous_public_answer_keeps_no_fingerprint(client, anonymous):
    url = reverse("surveys:respond", args=[anonymous.slug])

    client.post(url, {"q1": "8"}, HTTP_USER_AGENT="Phone", REMOTE_ADDR="203.0.113.7")

    assert Response.objects.get().fingerprint == ""


def test_a_survey_that_is_not_anonymous_still_refuses_an_email_in_its_link(client):
    survey = SurveyFactory(template="nps", language="en")
    url = reverse("surveys:respond", args=[survey.slug]) + "?email=ann%40example.com"

    page = client.post(url, {"q1": "8"})

    assert "This link contains information we cannot accept (email)." in page.content.decode()
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    ("language", "notice"),
    [
        ("en", "Your answers are anonymous: they are not linked to you."),
        ("nl", "Uw antwoorden zijn anoniem: ze worden niet aan u gekoppeld."),
    ],
)
def test_the_form_tells_the_respondent(client, anonymous, language, notice):
    page = client.get(reverse("surveys:respond", args=[anonymous.slug]) + f"?lang={language}")

    assert notice in page.content.decode()


def test_an_unhappy_anonymous_answer_opens_a_case_without_a_customer(client, agent, anonymous):
    customer = CustomerFactory(name="Ann Jansen", email="ann@example.com")
    invitation = InvitationFactory(survey=anonymous, customer=customer)
    client.post(reverse("surveys:respond_invitation", args=[invitation.token]), {"q1": "2"})
    process_response(response_id=Response.objects.get().pk)
    client.force_login(agent)

    page = client.get(reverse("metrics:followup", args=[FollowUp.objects.get().pk]))

    assert "answered anonymously" in page.content.decode()
    assert "Ann Jansen" not in page.content.decode()


def test_staff_choose_both_in_the_admin(admin_client):
    survey = SurveyFactory(template="nps")
    url = reverse("admin:surveys_survey_change", args=[survey.pk])
    assert "Privacy" in admin_client.get(url).content.decode()

    data = _change_data(survey, anonymous="on", keep_free_text_months="12")
    page = admin_client.post(url, data)

    assert page.status_code == 302
    survey.refresh_from_db()
    assert (survey.anonymous, survey.keep_free_text_months) == (True, 12)


@pytest.mark.parametrize(
    ("months", "message"),
    [
        ("0", "Bewaar opmerkingen minstens een maand, of laat het veld leeg."),
        ("-1", "Zorg ervoor dat deze waarde minstens 0 is."),
        ("soon", "Voer een geheel getal in."),
    ],
)
def test_a_retention_period_is_a_month_at_least(admin_client, months, message):
    survey = SurveyFactory(template="nps")
    url = reverse("admin:surveys_survey_change", args=[survey.pk])

    page = admin_client.post(
        url, _change_data(survey, keep_free_text_months=months), headers={"accept-language": "nl"}
    )

    assert page.status_code == 200
    assert message in page.content.decode()
    survey.refresh_from_db()
    assert survey.keep_free_text_months is None


def _rollups():
    return sorted(
        ScoreRollup.objects.values_list("question_id", "day", "dimension", "value", "count")
    )


@pytest.fixture
def kept_six_months():
    AlertChannel.objects.create(name="Support", kind="email", target="support@example.com")
    return SurveyFactory(template="nps", keep_free_text_months=6)


def test_old_answers_lose_free_text_and_link_details_and_keep_their_scores(kept_six_months):
    old = answer(kept_six_months, 2, "Call me on 0612345678", ref="C9", days_ago=200)
    recent = answer(kept_six_months, 3, "Parcel late", ref="C8", days_ago=20)
    before = _rollups()

    assert expire_free_text() > 0

    assert not Answer.objects.filter(response=old).exclude(text="").exists()
    assert old.answers.get().value == 2
    old.refresh_from_db()
    assert old.metadata == {}
    case = FollowUp.objects.get(response=old)
    assert case.comment == ""
    alert = Notification.objects.get(followup=case, kind="new_case")
    assert "0612345678" not in alert.body and "C9" not in alert.body
    assert _rollups() == before
    assert not recompute_rollups(surveys=[kept_six_months])
    # Younger than six months: all still there.
    assert recent.answers.exclude(text="").get().text == "Parcel late"
    recent.refresh_from_db()
    assert recent.metadata == {"ref": "C8"}
    assert FollowUp.objects.get(response=recent).comment == "Parcel late"
    assert expire_free_text() == 0  # nothing left to do the next night


def test_surveys_without_a_period_keep_free_text(kept_six_months):
    forever = SurveyFactory(template="nps")
    kept = answer(forever, 2, "Old but kept", ref="C1", days_ago=3000)

    expire_free_text()

    assert kept.answers.exclude(text="").get().text == "Old but kept"


def test_the_scheduler_runs_it_every_night(kept_six_months, eager_celery):
    old = answer(kept_six_months, 9, "Great", days_ago=400)
    scheduled = [entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()]

    assert "metrics.tasks.expire_free_text" in scheduled
    assert tasks.expire_free_text.delay().get() == 1
    assert not old.answers.exclude(text="").exists()

"""A flood of unhappy answers opens every case, but tells the team once a minute."""

from datetime import timedelta

import pytest
from django.utils import timezone

from metrics.models import AlertChannel, FollowUp, Notification
from tests.factories import SurveyFactory, answer

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


@pytest.fixture
def team():
    return AlertChannel.objects.create(name="Team", kind="email", target="team@example.com")


def _a_minute_passes():
    earlier = timezone.now() - timedelta(minutes=2)
    FollowUp.objects.update(created_at=earlier)
    Notification.objects.update(created_at=earlier)


def _kinds(survey):
    return list(
        Notification.objects.filter(followup__survey=survey)
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def test_beyond_the_limit_a_survey_gets_one_alert_a_minute_saying_how_many(team, settings):
    settings.CASE_ALERTS_PER_MINUTE = 3
    survey = SurveyFactory(template="nps", name="Shop NPS")

    for _ in range(7):
        answer(survey, 0)

    assert FollowUp.objects.filter(survey=survey).count() == 7
    assert _kinds(survey) == [Kind.NEW_CASE] * 3 + [Kind.CASE_BURST]
    burst = Notification.objects.get(kind=Kind.CASE_BURST)
    assert burst.channel == team
    assert burst.subject == "Many new follow-ups on Shop NPS"
    assert burst.body.startswith("4 follow-up cases opened on Shop NPS in the last minute.")
    assert f"/followups/?survey={survey.pk}" in burst.body


def test_a_flood_that_goes_on_is_told_again_a_minute_later(team, settings):
    settings.CASE_ALERTS_PER_MINUTE = 2
    survey = SurveyFactory(template="nps")
    for _ in range(4):
        answer(survey, 0)
    Notification.objects.filter(kind=Kind.CASE_BURST).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )

    for _ in range(3):
        answer(survey, 0)

    # Seven cases within the minute still: a second burst message, and no single alerts.
    assert _kinds(survey) == [Kind.NEW_CASE] * 2 + [Kind.CASE_BURST] * 2


def test_alerts_are_one_per_case_again_once_the_flood_is_over(team, settings):
    settings.CASE_ALERTS_PER_MINUTE = 2
    survey = SurveyFactory(template="nps")
    for _ in range(4):
        answer(survey, 0)
    _a_minute_passes()

    answer(survey, 0)

    assert _kinds(survey)[-1] == Kind.NEW_CASE


def test_each_survey_has_its_own_count(team, settings):
    settings.CASE_ALERTS_PER_MINUTE = 2
    flooded, quiet = SurveyFactory(template="nps"), SurveyFactory(template="nps")
    for _ in range(4):
        answer(flooded, 0)

    answer(quiet, 0)

    assert _kinds(quiet) == [Kind.NEW_CASE]


def test_the_burst_message_is_in_the_staff_language(team, settings):
    settings.CASE_ALERTS_PER_MINUTE = 1
    settings.LANGUAGE_CODE = "nl"
    survey = SurveyFactory(template="nps", name="Winkel")

    for _ in range(2):
        answer(survey, 0)

    burst = Notification.objects.get(kind=Kind.CASE_BURST)
    assert burst.subject == "Veel nieuwe opvolgingen bij Winkel"
    assert burst.body.startswith("2 opvolgzaken geopend bij Winkel in de afgelopen minuut.")

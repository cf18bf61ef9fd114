"""Answers saved but not yet processed: `scores` and the dashboard say how many, since when."""

import json
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from metrics.dashboard import Waiting, waiting
from surveys.models import Response
from surveys.services import submit_response
from tests.factories import SurveyFactory, answer

pytestmark = pytest.mark.django_db


def _unprocessed(survey, value, minutes_ago):
    """A response as it waits while the worker is stopped: saved, processed_at NULL."""
    key = survey.questions.get(role=survey.kind)
    response = submit_response(survey=survey, answers={key: value}, language="en")
    when = timezone.now() - timedelta(minutes=minutes_ago)
    Response.objects.filter(pk=response.pk).update(submitted_at=when)
    return when


def _scores(*args):
    out = StringIO()
    call_command("scores", *args, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@pytest.fixture
def survey(db):
    survey = SurveyFactory(template="nps", name="Shop")
    for value in (10, 9):
        answer(survey, value)
    return survey


def _iso(when: datetime) -> str:
    return timezone.localtime(when).replace(microsecond=0).isoformat()


def test_scores_says_how_many_answers_wait_and_since_when(survey):
    oldest = _unprocessed(survey, 0, minutes_ago=42)
    _unprocessed(survey, 3, minutes_ago=5)

    assert _scores(survey.slug) == (
        f"Shop (nps): 100.0 (n=2, world_class, small sample); "
        f"2 waiting to be processed since {_iso(oldest)}"
    )
    data = json.loads(_scores(survey.slug, "--json"))
    assert data["n"] == 2
    assert data["waiting"] == {"count": 2, "since": _iso(oldest)}


def test_scores_without_waiting_answers_says_nothing_of_them(survey):
    assert _scores(survey.slug) == "Shop (nps): 100.0 (n=2, world_class, small sample)"
    assert json.loads(_scores(survey.slug, "--json"))["waiting"] == {"count": 0, "since": None}


def test_scores_of_a_survey_whose_only_answers_wait():
    quiet = SurveyFactory(template="nps", name="Quiet")
    oldest = _unprocessed(quiet, 8, minutes_ago=3)
    assert _scores(quiet.slug) == (
        f"Quiet: no answers processed yet; 1 waiting to be processed since {_iso(oldest)}"
    )


def test_the_dashboard_says_answers_wait(client, manager, survey):
    _unprocessed(survey, 0, minutes_ago=42)
    _unprocessed(survey, 3, minutes_ago=5)
    other = SurveyFactory(template="csat", name="Quiet")
    client.force_login(manager)

    overview = client.get(reverse("metrics:overview")).content.decode()
    page = client.get(reverse("metrics:survey", args=[survey.pk])).content.decode()
    other_page = client.get(reverse("metrics:survey", args=[other.pk])).content.decode()
    data = client.get(reverse("metrics:scores", args=[survey.pk])).json()

    message = "2 answers have been waiting to be processed since "
    assert overview.count(message) == 1
    assert message in page and "the score does not include them yet" in page
    assert "waiting to be processed" not in other_page
    assert data["waiting"]["count"] == 2


def test_the_dashboard_counts_only_answers_waiting_in_its_period(client, manager, survey):
    _unprocessed(survey, 0, minutes_ago=5)
    client.force_login(manager)
    url = reverse("metrics:survey", args=[survey.pk])
    today = timezone.localdate()

    last_year = {"start": today - timedelta(days=400), "end": today - timedelta(days=300)}
    assert "waiting to be processed" not in client.get(url, last_year).content.decode()
    assert "1 answer has been waiting to be processed since " in client.get(url).content.decode()


def test_waiting_answers_of_many_surveys_take_one_query(django_assert_num_queries, survey):
    others = [SurveyFactory(template=t) for t in ("csat", "ces", "loyalty")]
    oldest = _unprocessed(survey, 1, minutes_ago=9)
    _unprocessed(survey, 2, minutes_ago=1)
    _unprocessed(others[0], 5, minutes_ago=4)

    with django_assert_num_queries(1):
        found = waiting([survey, *others])

    assert found[survey.pk] == Waiting(2, oldest)
    assert found[others[0].pk].count == 1
    assert others[1].pk not in found and others[2].pk not in found

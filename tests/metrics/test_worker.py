"""Scores move within seconds, with a real Celery worker on Redis and PostgreSQL."""

import time

import pytest
from django.urls import reverse

from metrics import dashboard
from metrics.rollups import recompute_rollups
from surveys.models import Response
from tests.factories import SurveyFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _wait_until(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)


def test_an_answer_on_the_public_form_moves_the_score(client, celery_worker):
    survey = SurveyFactory(template="nps")
    assert dashboard.all_time(survey).score.value is None

    for score in ("10", "3", "9"):
        page = client.post(reverse("surveys:respond", args=[survey.slug]), {"q1": score})
        assert page.status_code == 302

    _wait_until(lambda: not Response.objects.filter(processed_at__isnull=True).exists())
    headline = dashboard.all_time(survey)
    assert (headline.score.value, headline.score.n) == (pytest.approx(100 / 3), 3)
    assert recompute_rollups(surveys=[survey]).cells == 0

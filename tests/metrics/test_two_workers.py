"""Two Celery workers on one Redis and one PostgreSQL process every answer exactly once.

Each answer's task is published twice (as a redelivery or the sweeper would), so both
workers race for the same responses; the claim (processed_at from NULL to now) must let
exactly one of them count it and open its case.
"""

import os
import time

import pytest
import redis
from django.db.models import Sum

from loyaltysite.celery import app
from metrics import tasks
from metrics.models import FollowUp, FollowUpNote, ScoreRollup
from metrics.rollups import recompute_rollups
from surveys.models import Response
from surveys.services import submit_response
from tests.factories import SurveyFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ANSWERS = 300
DETRACTOR = 3


def _wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def _processed_by(worker_name: str, stats: dict) -> int:
    (node,) = (node for node in stats if node.startswith(f"{worker_name}@"))
    return stats[node].get("total", {}).get("metrics.tasks.process_response", 0)


def test_two_workers_process_each_answer_exactly_once(start_celery_worker):
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    start_celery_worker(name="first")
    start_celery_worker(name="second")
    _wait_until(lambda: len(app.control.ping(timeout=0.5)) == 2, 60, "both workers to answer")

    survey = SurveyFactory(template="nps")
    question = survey.questions.get(position=1)
    detractors = set()
    for i in range(ANSWERS):
        score = DETRACTOR if i % 3 == 0 else 9 + i % 2
        # Committed at once (a transactional test): its task is published after commit.
        response = submit_response(survey=survey, answers={question: score}, language="en")
        tasks.process_response.delay(response.pk)  # the second copy
        if score == DETRACTOR:
            detractors.add(response.pk)

    responses = Response.objects.filter(survey=survey)
    _wait_until(
        lambda: not responses.filter(processed_at__isnull=True).exists(),
        120,
        "every response processed",
    )
    # Both copies of every task are done: each worker has worked, and none is left.
    stats: dict = {}

    def all_copies_done() -> bool:
        nonlocal stats
        stats = app.control.inspect(timeout=1).stats() or {}
        if len(stats) != 2:
            return False
        return sum(_processed_by(name, stats) for name in ("first", "second")) == 2 * ANSWERS

    _wait_until(all_copies_done, 60, "both copies of every task")
    assert _processed_by("first", stats) > 0
    assert _processed_by("second", stats) > 0

    followed_up = list(FollowUp.objects.filter(survey=survey).values_list("response", flat=True))
    assert sorted(followed_up) == sorted(detractors)
    opened = FollowUpNote.objects.filter(followup__survey=survey, kind=FollowUpNote.Kind.OPENED)
    assert opened.count() == len(detractors)
    counted = ScoreRollup.objects.filter(survey=survey, question=question, dimension="all")
    assert counted.aggregate(total=Sum("count"))["total"] == ANSWERS
    assert counted.get(value=DETRACTOR).count == len(detractors)
    assert recompute_rollups(surveys=[survey]).cells == 0

"""A broker that is down or hung costs an answer one bounded publish, then none for a while.

With REDIS_URL set the settings' Redis transport options (short socket timeouts, no
connection retries) are in force; the publishing is then pointed at a port where nothing
listens, or at a server that accepts and never answers. The answer must be saved and
left for the sweeper, and the second answer must not try the broker at all.
"""

import time

import pytest
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.urls import reverse
from redis.exceptions import TimeoutError as RedisTimeout

from loyaltysite import broker
from metrics import tasks
from surveys.models import Response
from tests.brokers import free_port, hung_server, publishing_to
from tests.factories import SurveyFactory

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


@pytest.fixture
def publish_attempts(monkeypatch):
    """Every publish of the processing task that reaches kombu, recorded as it goes on."""
    attempts = []
    original = tasks.process_response.apply_async

    def recorded(*args, **kwargs):
        attempts.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(tasks.process_response, "apply_async", recorded)
    return attempts


def _answer(client, survey, score: str, capture):
    with capture(execute=True):
        return client.post(reverse("surveys:respond", args=[survey.slug]), {"q1": score})


def _assert_saved_and_waiting_for_the_sweeper(survey, count: int) -> None:
    responses = Response.objects.filter(survey=survey)
    assert responses.count() == count
    assert not responses.filter(processed_at__isnull=False).exists()


def test_a_broker_refusing_connections_saves_the_answer_and_is_skipped_next_time(
    client, django_capture_on_commit_callbacks, publish_attempts
):
    survey = SurveyFactory(template="nps")
    with publishing_to(f"redis://127.0.0.1:{free_port()}/0"):
        first = _answer(client, survey, "3", django_capture_on_commit_callbacks)
        assert first.status_code == 302
        _assert_saved_and_waiting_for_the_sweeper(survey, 1)
        assert len(publish_attempts) == 1
        assert broker.breaker.is_open

        second = _answer(client, survey, "9", django_capture_on_commit_callbacks)
    assert second.status_code == 302
    _assert_saved_and_waiting_for_the_sweeper(survey, 2)
    assert len(publish_attempts) == 1, "the second answer tried the broker again"


def test_a_hung_broker_saves_the_answer_and_is_skipped_next_time(
    client, django_capture_on_commit_callbacks, publish_attempts
):
    survey = SurveyFactory(template="nps")
    with hung_server() as hung, publishing_to(hung.url):
        first = _answer(client, survey, "3", django_capture_on_commit_callbacks)
        assert first.status_code == 302
        _assert_saved_and_waiting_for_the_sweeper(survey, 1)
        assert broker.breaker.is_open
        connections = len(hung.accepted)
        assert connections >= 1

        second = _answer(client, survey, "9", django_capture_on_commit_callbacks)
        assert second.status_code == 302
        _assert_saved_and_waiting_for_the_sweeper(survey, 2)
        assert len(publish_attempts) == 1, "the second answer tried the broker again"
        assert len(hung.accepted) == connections


def test_after_the_pause_the_broker_is_tried_again_and_a_success_closes_the_breaker(
    client, django_capture_on_commit_callbacks, publish_attempts, monkeypatch
):
    # The same breaker with a pause short enough to wait out here.
    monkeypatch.setattr(broker, "breaker", broker.Breaker(pause=0.05))
    survey = SurveyFactory(template="nps")
    with publishing_to(f"redis://127.0.0.1:{free_port()}/0"):
        _answer(client, survey, "3", django_capture_on_commit_callbacks)
    assert broker.breaker.is_open

    time.sleep(0.1)
    assert not broker.breaker.is_open
    with publishing_to(settings.CELERY_BROKER_URL):
        _answer(client, survey, "9", django_capture_on_commit_callbacks)
    assert len(publish_attempts) == 2
    assert not broker.breaker.is_open
    assert Response.objects.filter(survey=survey).count() == 2


def test_the_cache_gives_up_on_a_hung_redis_instead_of_waiting_for_it():
    with hung_server() as hung:
        cache = RedisCache(hung.url, {"OPTIONS": settings.CACHES["default"]["OPTIONS"]})
        with pytest.raises(RedisTimeout):
            cache.get("anything")

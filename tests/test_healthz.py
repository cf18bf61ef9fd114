"""/healthz: what a load balancer asks each web machine, without logging in."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from metrics import tasks
from metrics.health import SWEEPER
from metrics.models import JobRun
from tests.brokers import free_port, hung_server, publishing_to

pytestmark = pytest.mark.django_db


def _sweeper_ran(ago: timedelta) -> None:
    JobRun.objects.update_or_create(name=SWEEPER, defaults={"finished_at": timezone.now() - ago})


def test_healthy_with_the_database_the_broker_and_a_recent_sweep(client):
    tasks.sweep_responses.apply()  # as the scheduler runs it; the run is recorded

    page = client.get(reverse("metrics:healthz"))

    assert page.status_code == 200
    body = page.json()
    assert body["status"] == "ok"
    assert (body["database"], body["broker"], body["sweeper"]) == ("ok", "ok", "ok")
    assert 0 <= body["sweeper_seconds_ago"] < 60
    assert not page.cookies
    assert "no-cache" in page["Cache-Control"]


def test_a_sweeper_that_last_ran_over_five_minutes_ago_fails_the_check(client):
    _sweeper_ran(timedelta(minutes=6))

    page = client.get(reverse("metrics:healthz"))

    assert page.status_code == 503
    body = page.json()
    assert (body["status"], body["sweeper"]) == ("failing", "late")
    assert body["database"] == body["broker"] == "ok"


def test_a_sweeper_that_never_ran_fails_the_check(client):
    page = client.get(reverse("metrics:healthz"))

    assert page.status_code == 503
    assert page.json()["sweeper"] == "never ran"


def test_only_the_scheduler_s_jobs_are_recorded():
    tasks.resend_notifications.apply()
    tasks.process_response.apply((12345,))

    assert list(JobRun.objects.values_list("name", flat=True)) == [
        "metrics.tasks.resend_notifications"
    ]


@pytest.mark.redis
@pytest.mark.parametrize("outage", ["refused", "hung"])
def test_a_broker_that_is_down_or_hung_fails_the_check(client, outage):
    _sweeper_ran(timedelta(seconds=30))
    with hung_server() as hung:
        url = hung.url if outage == "hung" else f"redis://127.0.0.1:{free_port()}/0"
        with publishing_to(url):
            page = client.get(reverse("metrics:healthz"))

    assert page.status_code == 503
    body = page.json()
    assert (body["status"], body["broker"]) == ("failing", "unreachable")
    assert (body["database"], body["sweeper"]) == ("ok", "ok")


def test_answers_plain_http_when_https_is_enforced(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    _sweeper_ran(timedelta(seconds=30))

    assert client.get(reverse("metrics:healthz")).status_code == 200
    assert client.head(reverse("metrics:healthz")).status_code == 200
    assert client.get(reverse("metrics:overview")).status_code == 301


def test_healthz_takes_no_post(client):
    assert client.post(reverse("metrics:healthz")).status_code == 405

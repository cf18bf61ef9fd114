from typing import Any

from celery import Task
from celery.signals import task_success
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from loyaltysite.broker import publish
from metrics import rollups, tasks
from metrics.aggregates import SqliteMedian
from metrics.models import JobRun
from surveys.models import Response, Survey
from surveys.signals import response_submitted, responses_excluded


@receiver(response_submitted)
def enqueue_processing(sender: type[Response], response: Response, **kwargs: Any) -> None:
    # The response is committed already; if the broker is down the sweeper finds it
    # later, so the respondent must not see an error for it, nor wait for the broker.
    publish(tasks.process_response, response.pk)


# The scheduler's jobs, whose last run /healthz checks.
PERIODIC_JOBS = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


@task_success.connect
def record_periodic_run(sender: Task, **kwargs: Any) -> None:
    if sender.name in PERIODIC_JOBS:
        JobRun.record(sender.name)


@receiver(responses_excluded)
def recompute_scores(sender: type[Survey], survey: Survey, **kwargs: Any) -> None:
    # The same rebuild as the nightly one, for this survey only: it skips excluded answers
    # and counts the included ones again.
    rollups.recompute_rollups(surveys=[survey])


@receiver(connection_created)
def add_median_to_sqlite(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("MEDIAN", 1, SqliteMedian)

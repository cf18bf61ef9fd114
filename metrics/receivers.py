from typing import Any

from celery import Task
from celery.signals import task_success
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from loyaltysite.broker import publish
from metrics import followups, queue_counts, rollups, tasks, webhooks
from metrics.aggregates import SqliteMedian
from metrics.models import FollowUp, JobRun, Notification
from surveys.models import Customer, Response, Survey
from surveys.signals import customer_opted_out, response_submitted, responses_excluded


@receiver(response_submitted)
def enqueue_processing(sender: type[Response], response: Response, **kwargs: Any) -> None:
    # The response is committed already; if the broker is down the sweeper finds it
    # later, so the respondent must not see an error for it, nor wait for the broker.
    publish(tasks.process_response, response.pk)


@receiver(customer_opted_out)
def tell_webhooks_of_the_unsubscribe(
    sender: type[Customer], customer: Customer, **kwargs: Any
) -> None:
    webhooks.emit(
        Notification.Kind.CUSTOMER_UNSUBSCRIBED,
        surveys=webhooks.surveys_of(customer),
        customer=customer,
    )


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


@receiver(responses_excluded)
def set_their_cases_aside(
    sender: type[Survey], responses: list[int], excluded: bool, **kwargs: Any
) -> None:
    followups.set_aside(response_ids=responses, excluded=excluded)


@receiver(connection_created)
def add_median_to_sqlite(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("MEDIAN", 1, SqliteMedian)


# The queue's counts (metrics.queue_counts): a saved case moves from the combination its
# row had to the one it has now, both read from the database (an instance may hold
# fields that another step changed since, and a save may write only some of them). A
# deleted case leaves the combination of the instance deleted: a cascade reads the rows
# it deletes, and no step of a case deletes one it holds.
def _moves(update_fields: frozenset[str] | None) -> bool:
    return update_fields is None or bool(update_fields & queue_counts.FIELDS)


@receiver(pre_save, sender=FollowUp)
def note_the_cases_combination(
    sender: type[FollowUp], instance: FollowUp, update_fields: Any = None, **kwargs: Any
) -> None:
    if instance.pk and _moves(update_fields):
        vars(instance)["_queue_key"] = queue_counts.stored_key(instance.pk)


@receiver(post_save, sender=FollowUp)
def count_the_case(
    sender: type[FollowUp],
    instance: FollowUp,
    created: bool,
    update_fields: Any = None,
    **kwargs: Any,
) -> None:
    if created:
        new = queue_counts.key_of(vars(instance))
    elif _moves(update_fields):
        new = queue_counts.stored_key(instance.pk)
    else:
        return
    if new is not None:
        queue_counts.moved(vars(instance).get("_queue_key"), new)


@receiver(post_delete, sender=FollowUp)
def uncount_the_case(sender: type[FollowUp], instance: FollowUp, **kwargs: Any) -> None:
    key = queue_counts.key_of(vars(instance))
    if key is not None:
        queue_counts.add(key, -1)


@receiver(post_delete, sender=get_user_model())
def unassign_their_cases_counts(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    queue_counts.unassign(instance.pk)

"""Celery tasks: each takes ids, calls a service and lets Celery retry what may pass."""

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError

from metrics import (
    followups,
    notifications,
    order_imports,
    privacy,
    processing,
    queue_counts,
    recurring,
    requests,
    rollups,
    sending,
)
from metrics.access import AGENTS
from surveys.models import Survey


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def process_response(response_id: int) -> bool:
    return processing.process_response(response_id=response_id)


@shared_task
def sweep_responses() -> int:
    return processing.process_stale_responses()


# Well inside the broker's visibility timeout, or Redis would hand a running recompute
# to a second worker.
@shared_task(soft_time_limit=90 * 60, time_limit=95 * 60)
def recompute_scores() -> int:
    """The nightly check: rebuild every survey's rollups; returns the cells corrected."""
    surveys = Survey.objects.order_by("pk")
    return sum(rollups.recompute_survey(survey=survey).cells for survey in surveys)


@shared_task
def recompute_queue_counts() -> int:
    """The nightly check of the queue's counts; returns the combinations corrected."""
    return queue_counts.recompute()


@shared_task(bind=True, max_retries=None)
def send_notification(self, notification_id: int) -> None:
    pause = notifications.attempt(notification_id)
    if pause is not None:
        raise self.retry(countdown=pause)


@shared_task
def resend_notifications() -> int:
    return notifications.resend_stuck()


@shared_task
def escalate_and_remind() -> int:
    return followups.escalate_overdue() + followups.remind_due_soon()


@shared_task
def send_digests() -> int:
    agents = get_user_model().objects.filter(is_active=True, groups__name=AGENTS).distinct()
    return followups.send_digests(list(agents))


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def dispatch_survey_emails() -> int:
    return sending.dispatch()


# Within the lease a dispatch gives a batch (notifications.DELIVERING, five minutes). A
# busy database (SQLite's lock) is tried again soon: the claim rolled back, or it holds
# and the copy sends nothing twice.
@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=5,
    soft_time_limit=4 * 60,
    time_limit=4 * 60 + 30,
)
def send_survey_emails(claims: list[list[int]]) -> int:
    return sending.send_batch(claims)


@shared_task
def send_survey_requests() -> int:
    return requests.send_due()


@shared_task
def send_survey_reminders() -> int:
    return sending.remind()


@shared_task
def schedule_repeating_surveys() -> int:
    return recurring.schedule()


# Well inside the broker's visibility timeout, as the recompute.
@shared_task(soft_time_limit=60 * 60, time_limit=65 * 60)
def import_orders(upload_id: int) -> bool:
    return order_imports.run(upload_id)


@shared_task
def resume_order_imports() -> int:
    return order_imports.resume_stalled()


# Well inside the broker's visibility timeout, as the recompute.
@shared_task(soft_time_limit=60 * 60, time_limit=65 * 60)
def expire_free_text() -> int:
    return privacy.expire_free_text()

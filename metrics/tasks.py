"""Celery tasks: each takes ids, calls a service and lets Celery retry what may pass."""

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError

from metrics import followups, notifications, order_imports, processing, rollups
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
    return rollups.recompute_rollups(surveys=list(Survey.objects.order_by("pk"))).cells


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


# Well inside the broker's visibility timeout, as the recompute.
@shared_task(soft_time_limit=60 * 60, time_limit=65 * 60)
def import_orders(upload_id: int) -> bool:
    return order_imports.run(upload_id)


@shared_task
def resume_order_imports() -> int:
    return order_imports.resume_stalled()

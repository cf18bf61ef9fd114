"""Celery tasks: each takes ids, calls a service and lets Celery retry what may pass."""

from celery import shared_task
from django.db import OperationalError

from metrics import rollups
from surveys.models import Survey


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def process_response(response_id: int) -> bool:
    return rollups.process_response(response_id=response_id)


@shared_task
def sweep_responses() -> int:
    return rollups.process_stale_responses()


@shared_task(soft_time_limit=3 * 60 * 60, time_limit=3 * 60 * 60 + 60)
def recompute_scores() -> int:
    """The nightly check: rebuild every survey's rollups; returns the cells corrected."""
    return sum(rollups.recompute_rollups(survey=s).cells for s in Survey.objects.order_by("pk"))

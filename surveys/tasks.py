"""Celery tasks of the survey side: each takes an id and calls a service."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from loyaltysite.broker import publish
from surveys.imports import ImportRefused, import_customers
from surveys.models import CustomerImport

logger = logging.getLogger(__name__)

# An upload not started this long after it came has lost its task with the broker.
NOT_STARTED = timedelta(minutes=2)
# An upload of a million rows takes minutes; the broker's visibility timeout is longer.
IMPORT_TIME_LIMIT = 30 * 60


@shared_task(soft_time_limit=IMPORT_TIME_LIMIT, time_limit=IMPORT_TIME_LIMIT + 60)
def import_customer_file(import_id: int) -> None:
    # The claim: a second copy of this task finds it taken and stops.
    queued = CustomerImport.Status.QUEUED
    if not CustomerImport.objects.filter(pk=import_id, status=queued).update(
        status=CustomerImport.Status.RUNNING
    ):
        return
    upload = CustomerImport.objects.get(pk=import_id)
    imports = CustomerImport.objects.filter(pk=import_id)

    def progress(done: int, total: int) -> None:
        imports.update(rows=total, rows_done=done)

    try:
        with translation.override(upload.language):
            report = import_customers(data=bytes(upload.data), progress=progress)
    except ImportRefused as refused:
        imports.update(status=CustomerImport.Status.REFUSED, message=refused.message)
        return
    except Exception:
        # The status page must end: staff see the import stopped and may try again.
        logger.exception("Customer import %s failed", import_id)
        with translation.override(upload.language):
            message = gettext("The import stopped on an unexpected error; try again.")
        imports.update(status=CustomerImport.Status.REFUSED, message=message)
        raise
    imports.update(
        status=CustomerImport.Status.DONE,
        created=report.created,
        updated=report.updated,
        refused=report.refused,
        problems=[vars(problem) for problem in report.problems],
    )


def start_import(*, file_name: str, data: bytes, language: str) -> CustomerImport:
    """Keep the upload and import it in a worker once the row is committed."""
    upload = CustomerImport.objects.create(file_name=file_name[:200], data=data, language=language)
    transaction.on_commit(lambda: _enqueue(upload.pk))
    return upload


def _enqueue(import_id: int) -> None:
    # With the broker down the upload stays waiting for the sweeper below, and the
    # page that started it still answers.
    publish(import_customer_file, import_id)


@shared_task
def resume_customer_imports() -> int:
    """Enqueue again the uploads still waiting after NOT_STARTED (the claim keeps a late
    original from importing twice); returns how many."""
    waiting = CustomerImport.objects.filter(
        status=CustomerImport.Status.QUEUED, created_at__lt=timezone.now() - NOT_STARTED
    )
    ids = list(waiting.order_by("created_at").values_list("pk", flat=True)[:100])
    for import_id in ids:
        _enqueue(import_id)
    return len(ids)

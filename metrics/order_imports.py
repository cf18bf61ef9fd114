"""Order files uploaded in the admin: imported by a Celery task through metrics.orders,
with the progress written to the upload's row for the admin to show."""

import io
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from loyaltysite.broker import publish
from metrics import orders
from metrics.models import OrderImport

FAILED = OrderImport.Status.FAILED

# The refused rows kept with an upload to show: enough to see what is wrong with a file.
REFUSALS_KEPT = 500
# An upload not started this long after it came has lost its task with the broker; one
# without progress this long has lost its worker.
NOT_STARTED = timedelta(minutes=2)
STALLED = timedelta(minutes=15)


def enqueue(upload: OrderImport) -> None:
    """Import after commit; a broker outage leaves the upload waiting for the sweeper."""

    from metrics.tasks import import_orders

    transaction.on_commit(lambda: publish(import_orders, upload.pk))


def run(upload_id: int) -> bool:
    """Import an upload, unless another worker has it; returns whether this one did."""
    now = timezone.now()
    claimed = (
        OrderImport.objects.filter(pk=upload_id)
        .filter(
            Q(status=OrderImport.Status.PENDING)
            | Q(status=OrderImport.Status.RUNNING, progressed_at__lt=now - STALLED)
        )
        .update(status=OrderImport.Status.RUNNING, started_at=now, progressed_at=now, lines_done=0)
    )
    if not claimed:
        return False
    upload = OrderImport.objects.get(pk=upload_id)
    uploads = OrderImport.objects.filter(pk=upload_id)

    def progress(lines: int) -> None:
        uploads.update(lines_done=lines, progressed_at=timezone.now())

    # The refusals in the uploader's language, as the admin shows them.
    with translation.override(upload.language):
        try:
            result = orders.import_orders(
                lines=io.StringIO(upload.content, newline=""),
                create_customers=upload.create_customers,
                progress=progress,
            )
        except orders.ImportFileError as exc:
            uploads.update(status=FAILED, error=str(exc), finished_at=timezone.now())
            return True
        except Exception as exc:
            # Nothing was written: the orders go in at the end, in one transaction.
            error = _("The import stopped on an error, and wrote no order: %(error)r")
            uploads.update(status=FAILED, error=error % {"error": exc}, finished_at=timezone.now())
            raise
    uploads.update(
        status=OrderImport.Status.DONE,
        created=result.created,
        updated=result.updated,
        refused=result.refused,
        refusals=[[r.line, r.column, r.reason] for r in result.refusals[:REFUSALS_KEPT]],
        lines_done=upload.lines,
        content="",  # imported: the orders are in their table now
        finished_at=timezone.now(),
    )
    return True


def resume_stalled() -> int:
    """Enqueue again the uploads whose task went missing (the claim in `run` keeps a late
    original from importing twice); returns how many."""
    now = timezone.now()
    stalled = OrderImport.objects.filter(
        Q(status=OrderImport.Status.PENDING, uploaded_at__lt=now - NOT_STARTED)
        | Q(status=OrderImport.Status.RUNNING, progressed_at__lt=now - STALLED)
    )
    count = 0
    for upload in stalled.order_by("uploaded_at")[:100]:
        enqueue(upload)
        count += 1
    return count

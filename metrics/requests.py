"""Survey requests from other systems: "send survey S to customer C after a delay".

Asked for through the REST API. The rules of every other send (opted out, no address, a
bouncing one, the throttle across surveys: surveys.services) say at once whether it will
be sent, and again when it is due, since a customer may opt out meanwhile. A request is
a row with its due time, not a message waiting in the broker: the scheduler sends the
due ones every minute (send_due), each once, claimed under a row lock, so a broker or
worker restart neither loses nor repeats one.
"""

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from loyaltysite.broker import publish
from metrics.models import Notification, SurveyRequest
from metrics.sending import write_emails
from surveys.models import Customer, Survey
from surveys.services import NotInvited, invite, with_skip_reason

logger = logging.getLogger(__name__)

MAX_DELAY = timedelta(days=30)
# Due requests one run of the scheduler sends; the rest wait for the next minute.
BATCH = 500
# Why a request was skipped when it was due, besides surveys.services.SKIP_REASONS.
SURVEY_NOT_LIVE = "survey_not_live"

Scheduled = SurveyRequest.Status.SCHEDULED


def request_survey(
    *, survey: Survey, customer: Customer, delay: timedelta, metadata: Mapping[str, str]
) -> SurveyRequest | str:
    """Schedule the survey's email to the customer after `delay`; or, when the rules
    refuse it now, the reason (one of surveys.services.SKIP_REASONS) and no request."""
    found = with_skip_reason(Customer.objects.filter(pk=customer.pk), survey=survey, by_email=True)
    reason = found.values_list("skip", flat=True).get()
    if reason:
        return str(reason)
    request = SurveyRequest.objects.create(
        survey=survey, customer=customer, metadata=dict(metadata), send_at=timezone.now() + delay
    )
    if not delay:
        transaction.on_commit(_send_soon)
    return request


def cancel(request: SurveyRequest) -> bool:
    """Cancel a request not yet sent; whether it was."""
    cancelled = SurveyRequest.objects.filter(pk=request.pk, status=Scheduled).update(
        status=SurveyRequest.Status.CANCELLED, handled_at=timezone.now()
    )
    request.refresh_from_db()
    return bool(cancelled)


def send_due(now: datetime | None = None) -> int:
    """Send the requests that are due; returns how many were sent (not skipped)."""
    now = now or timezone.now()
    due = SurveyRequest.objects.filter(status=Scheduled, send_at__lte=now).order_by("send_at")
    sent = 0
    for pk in list(due.values_list("pk", flat=True)[:BATCH]):
        try:
            sent += _send(pk, now)
        except Exception:
            # Rolled back, so it is tried again next minute; the others go now.
            logger.exception("Survey request %s could not be sent; trying again later.", pk)
    return sent


@transaction.atomic
def _send(pk: int, now: datetime) -> int:
    # Locked, and still scheduled: a second scheduler run (or worker) skips it.
    request = (
        SurveyRequest.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("survey", "customer")
        .filter(pk=pk, status=Scheduled)
        .first()
    )
    if request is None:
        return 0
    request.handled_at = now
    if not request.survey.is_live:
        request.status, request.reason = SurveyRequest.Status.SKIPPED, SURVEY_NOT_LIVE
        request.save(update_fields=["status", "reason", "handled_at"])
        return 0
    try:
        invitation = invite(survey=request.survey, customer=request.customer, by_email=True)
    except NotInvited as refused:
        request.status, request.reason = SurveyRequest.Status.SKIPPED, refused.reason
        request.save(update_fields=["status", "reason", "handled_at"])
        return 0
    invitation.metadata = request.metadata
    invitation.save(update_fields=["metadata"])
    write_emails([invitation], Notification.Kind.SURVEY)
    request.status, request.invitation = SurveyRequest.Status.SENT, invitation
    request.save(update_fields=["status", "invitation", "handled_at"])
    return 1


def _send_soon() -> None:
    from metrics import tasks  # tasks imports this module

    publish(tasks.send_survey_requests)

"""Writing notifications down and handing them to the worker that sends them."""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from loyaltysite.broker import publish
from metrics import emails
from metrics.models import AlertChannel, FollowUp, Notification
from metrics.transports import TransportError, deliver
from surveys.models import Survey

logger = logging.getLogger(__name__)

# The window of CASE_ALERTS_PER_MINUTE.
CASE_BURST_WINDOW = timedelta(minutes=1)

CHANNEL_EVENTS: dict[str, str] = {
    Notification.Kind.NEW_CASE: "on_new_case",
    Notification.Kind.ESCALATION: "on_escalation",
}


def case_url(followup: FollowUp) -> str:
    return settings.SITE_URL + reverse("metrics:followup", args=[followup.pk])


def notify_channels(followup: FollowUp, kind: str) -> list[Notification]:
    """A notification per enabled email or Slack channel that wants `kind` for the
    case's survey; webhooks have events of their own (metrics.webhooks)."""
    wanting = AlertChannel.objects.filter(enabled=True, **{CHANNEL_EVENTS[kind]: True}).exclude(
        kind=AlertChannel.Kind.WEBHOOK
    )
    channels = [
        channel
        for channel in wanting.prefetch_related("surveys")
        if channel.covers(followup.survey_id)
    ]
    if not channels:
        return []
    if kind == Notification.Kind.NEW_CASE:
        opened = cases_in_the_last_minute(followup.survey_id)
        if opened > settings.CASE_ALERTS_PER_MINUTE:
            return _notify_burst(followup, channels, opened)
    subject, body = emails.render(
        kind.replace("_", "-"),
        {"followup": followup, "url": case_url(followup)},
        settings.LANGUAGE_CODE,
    )
    created = [
        Notification.objects.create(
            kind=kind, channel=channel, followup=followup, subject=subject, body=body
        )
        for channel in channels
    ]
    for notification in created:
        enqueue(notification)
    return created


def cases_in_the_last_minute(survey_id: int) -> int:
    since = timezone.now() - CASE_BURST_WINDOW
    return FollowUp.objects.filter(survey_id=survey_id, created_at__gte=since).count()


def _notify_burst(
    followup: FollowUp, channels: list[AlertChannel], opened: int
) -> list[Notification]:
    """One message a minute per channel, instead of one per case, while a survey's cases
    open faster than CASE_ALERTS_PER_MINUTE: a flood must not bury the team's inbox."""
    # Two workers in one burst take turns at the look below, so each channel is told once.
    Survey.objects.select_for_update().filter(pk=followup.survey_id).first()
    told = set(
        Notification.objects.filter(
            kind=Notification.Kind.CASE_BURST,
            followup__survey_id=followup.survey_id,
            channel__in=channels,
            created_at__gte=timezone.now() - CASE_BURST_WINDOW,
        ).values_list("channel_id", flat=True)
    )
    untold = [channel for channel in channels if channel.pk not in told]
    if not untold:
        return []
    context = {
        "survey": followup.survey,
        "opened": opened,
        "limit": settings.CASE_ALERTS_PER_MINUTE,
        "url": settings.SITE_URL + reverse("metrics:queue") + f"?survey={followup.survey_id}",
    }
    subject, body = emails.render("case-burst", context, settings.LANGUAGE_CODE)
    created = [
        Notification.objects.create(
            kind=Notification.Kind.CASE_BURST,
            channel=channel,
            followup=followup,
            subject=subject,
            body=body,
        )
        for channel in untold
    ]
    for notification in created:
        enqueue(notification)
    return created


def notify_person(
    *,
    kind: str,
    to: str,
    subject: str,
    body: str,
    language: str,
    followup: FollowUp | None = None,
    reply_to: str = "",
) -> Notification:
    notification = Notification.objects.create(
        kind=kind,
        recipient=to,
        reply_to=reply_to,
        subject=subject,
        body=body,
        language=language,
        followup=followup,
    )
    enqueue(notification)
    return notification


def enqueue(notification: Notification) -> None:
    """Send after commit; a broker outage leaves it pending for the sweeper."""

    from metrics.tasks import send_notification

    transaction.on_commit(lambda: publish(send_notification, notification.pk))


# Temporary failures are retried for this long, with growing pauses of at most an hour:
# shorter than the broker's visibility timeout, so Redis never hands a waiting retry to
# a second worker.
GIVE_UP_AFTER = timedelta(hours=24)
# Longer than one delivery can take (transports time out after seconds).
DELIVERING = timedelta(minutes=5)
LONGEST_PAUSE = 60 * 60


def attempt(notification_id: int) -> float | None:
    """Try to deliver once; returns seconds to wait before the next try, or None when done."""
    notification = (
        Notification.objects.select_related("channel", "followup")
        .filter(pk=notification_id, status=Notification.Status.PENDING)
        .first()
    )
    if notification is None:
        return None
    # Claim this attempt for as long as delivering may take: a second copy of the task
    # (the sweeper's, or a redelivery) finds it taken, or not yet due, and stops, so a
    # message is not delivered twice.
    tried, now = notification.attempts, timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = Notification.objects.filter(due, pk=notification.pk, attempts=tried).update(
        attempts=tried + 1, next_attempt_at=now + DELIVERING
    )
    if not claimed:
        return None
    notification.attempts = tried + 1
    try:
        deliver(notification)
    except Exception as error:
        if not isinstance(error, TransportError):
            logger.exception("Notification %s could not be delivered.", notification.pk)
            error = TransportError(f"{type(error).__name__}: {error}", permanent=True)
        notification.last_error = str(error)[:2000]
        pause = retry_pause(notification.attempts)
        notification.next_attempt_at = timezone.now() + timedelta(seconds=pause)
        if (
            error.permanent
            or notification.next_attempt_at > notification.created_at + GIVE_UP_AFTER
        ):
            notification.status = Notification.Status.FAILED
            notification.next_attempt_at = None
        notification.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
        return pause if notification.status == Notification.Status.PENDING else None
    notification.status = Notification.Status.SENT
    notification.sent_at = timezone.now()
    notification.next_attempt_at = None
    notification.save(update_fields=["attempts", "status", "sent_at", "next_attempt_at"])
    return None


@transaction.atomic
def send_again(*, notifications: QuerySet[Notification]) -> int:
    """Queue the failed ones among `notifications` again (staff fixed a channel or an
    address); returns how many. Survey emails go with the next dispatch, in batches."""
    failed = list(
        notifications.filter(status=Notification.Status.FAILED)
        .select_related(None)  # the admin's join to the channel cannot be locked
        .select_for_update()
    )
    Notification.objects.filter(pk__in=[n.pk for n in failed]).update(
        status=Notification.Status.PENDING, next_attempt_at=None
    )
    for notification in failed:
        if notification.invitation_id is None:
            enqueue(notification)
    return len(failed)


def retry_pause(attempts: int) -> float:
    """Exponential backoff from 30 seconds, with jitter so retries do not arrive in step."""
    base = min(30 * 2 ** (attempts - 1), LONGEST_PAUSE)
    return min(base * random.uniform(0.5, 1.5), LONGEST_PAUSE)  # noqa: S311 - not a secret


def resend_stuck(older_than: timedelta = timedelta(minutes=2)) -> int:
    """Enqueue pending notifications whose task went missing: never tried because the
    broker was down when they were made, or with a retry long overdue. The claim in
    `attempt` keeps a late original and this copy from both delivering."""
    before = timezone.now() - older_than
    # Survey emails are left to metrics.sending, which sends them in batches.
    stuck = Notification.objects.filter(
        Q(attempts=0, created_at__lt=before) | Q(next_attempt_at__lt=before - older_than),
        status=Notification.Status.PENDING,
        invitation__isnull=True,
    )
    count = 0
    for notification in stuck.order_by("created_at")[:1000]:
        enqueue(notification)
        count += 1
    return count

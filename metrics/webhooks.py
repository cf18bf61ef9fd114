"""Events for other systems: a POST to each webhook that chose them, signed as the
Standard Webhooks specification says (https://www.standardwebhooks.com).

An event is a notification of its kind for each enabled webhook channel that chose it
and covers the survey, written in the transaction of what happened and sent by the
outbox (metrics.notifications): after the commit, retried with growing pauses, logged.
Its body is built when it is sent, from the rows as they are then, in the shapes the
REST API answers with; so an erasure meanwhile leaves nothing personal to send. Its id
(the webhook-id header) is the same on every try, for the receiver to ignore a repeat.
"""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Collection
from typing import Any

from django.db.models import Prefetch
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from metrics.models import WEBHOOK_EVENTS, AlertChannel, FollowUp, Notification, secret_key
from surveys.models import Answer, Customer, Invitation, Response

# Each web and worker process keeps the enabled webhooks this long, so that the worker's
# path of every answer asks for them once in a while, not twice an answer. A change
# saved in this process shows at once; one saved in another within KEPT_SECONDS, and an
# event meanwhile to a webhook disabled or changed there is stopped before it is sent.
KEPT_SECONDS = 5.0
_kept: dict[str, tuple[float, list[AlertChannel]]] = {}


class Gone(Exception):
    """What the event was about no longer exists: there is nothing to send."""


def emit(
    event: str,
    *,
    surveys: Collection[int],
    response: Response | None = None,
    followup: FollowUp | None = None,
    customer: Customer | None = None,
) -> list[Notification]:
    """`event` for every enabled webhook that chose it and is for one of `surveys` (or
    for every survey); sent after the current transaction commits."""
    from metrics.notifications import enqueue

    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"{event} is not an event")
    created = [
        Notification.objects.create(
            kind=event, channel=channel, response=response, followup=followup, customer=customer
        )
        for channel in _webhooks()
        if event in channel.events and _for_any(channel, surveys)
    ]
    for notification in created:
        enqueue(notification)
    return created


def _for_any(channel: AlertChannel, surveys: Collection[int]) -> bool:
    # A webhook for every survey takes news of no survey too (a customer never invited).
    return not channel.surveys.all() or any(channel.covers(survey) for survey in surveys)


def surveys_of(customer: Customer) -> set[int]:
    """The surveys a customer was invited to or answered: those of their unsubscribe."""
    invited = Invitation.objects.filter(customer=customer).values_list("survey_id", flat=True)
    answered = Response.objects.filter(customer=customer).values_list("survey_id", flat=True)
    return set(invited) | set(answered)


def _webhooks() -> list[AlertChannel]:
    kept = _kept.get("webhooks")
    if kept is None or time.monotonic() - kept[0] >= KEPT_SECONDS:
        enabled = AlertChannel.objects.filter(enabled=True, kind=AlertChannel.Kind.WEBHOOK)
        kept = _kept["webhooks"] = (time.monotonic(), list(enabled.prefetch_related("surveys")))
    return kept[1]


def forget() -> None:
    """Read the webhooks afresh from now on (in this process)."""
    _kept.clear()


@receiver(post_save, sender=AlertChannel)
@receiver(post_delete, sender=AlertChannel)
@receiver(m2m_changed, sender=AlertChannel.surveys.through)
def forget_changed(**kwargs: Any) -> None:
    forget()


def check_wanted(notification: Notification) -> AlertChannel:
    """The event's webhook as it is now; TransportError (permanent) when it was deleted,
    disabled or no longer takes the event, which is then not sent."""
    from metrics.transports import TransportError

    channel = notification.channel
    if channel is None:
        raise TransportError("Not sent: its webhook was deleted", permanent=True)
    if not channel.enabled or channel.kind != AlertChannel.Kind.WEBHOOK:
        raise TransportError(f"Not sent: {channel} is no longer an enabled webhook", permanent=True)
    if notification.kind not in channel.events:
        raise TransportError(
            f"Not sent: {channel} no longer takes {notification.kind}", permanent=True
        )
    return channel


def signed(notification: Notification) -> tuple[bytes, dict[str, str]]:
    """The event's body and its Standard Webhooks headers, signed now with its channel's
    secret."""
    channel = notification.channel
    if channel is None:
        raise ValueError("An event goes to a webhook channel.")
    message_id = f"msg_{notification.pk}"
    body = json.dumps(
        {
            "id": message_id,
            "type": notification.kind,
            "timestamp": timezone.localtime(notification.created_at).isoformat(),
            "data": _data(notification),
        },
        sort_keys=True,
    ).encode()
    timestamp = str(int(time.time()))
    return body, {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature(channel.secret, message_id, timestamp, body),
    }


def signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` with the secret's key."""
    signed_content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed_content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _data(notification: Notification) -> dict[str, Any]:
    # The REST API's serializers: the same shapes pulled or pushed. Imported here, since
    # the API's module imports the case services, which emit events.
    from metrics.api import FollowUpOut, ResponseSerializer
    from surveys.api import CustomerSerializer

    kind = notification.kind
    if kind == Notification.Kind.RESPONSE_CREATED:
        response = (
            Response.objects.filter(notifications=notification)
            .select_related("survey", "customer", "followup")
            .prefetch_related(
                Prefetch("answers", Answer.objects.select_related("question").order_by("question"))
            )
            .first()
        )
        if response is None:
            raise Gone("response")
        return dict(ResponseSerializer(response).data)
    if kind == Notification.Kind.CUSTOMER_UNSUBSCRIBED:
        if notification.customer is None:
            raise Gone("customer")
        return dict(CustomerSerializer(notification.customer).data)
    case = (
        FollowUp.objects.filter(notifications=notification)
        .select_related("survey", "assignee", "response__customer")
        .first()
    )
    if case is None:
        raise Gone("case")
    return dict(FollowUpOut(case).data)

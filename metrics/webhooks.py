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
from typing import Any

from django.db.models import Prefetch

from metrics.models import WEBHOOK_EVENTS, AlertChannel, FollowUp, Notification, secret_key
from surveys.models import Answer, Customer, Response


class Gone(Exception):
    """What the event was about no longer exists: there is nothing to send."""


def emit(
    event: str,
    *,
    survey_id: int | None,
    response: Response | None = None,
    followup: FollowUp | None = None,
    customer: Customer | None = None,
) -> list[Notification]:
    """`event` for every enabled webhook that chose it and covers the survey (every
    webhook when there is none); sent after the current transaction commits."""
    from metrics.notifications import enqueue

    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"{event} is not an event")
    webhooks = AlertChannel.objects.filter(enabled=True, kind=AlertChannel.Kind.WEBHOOK)
    created = [
        Notification.objects.create(
            kind=event, channel=channel, response=response, followup=followup, customer=customer
        )
        for channel in webhooks.prefetch_related("surveys")
        if event in channel.events and channel.covers(survey_id)
    ]
    for notification in created:
        enqueue(notification)
    return created


def signed(notification: Notification) -> tuple[bytes, dict[str, str]]:
    """The event's body and its Standard Webhooks headers, signed now with its channel's
    secret."""
    channel = notification.channel
    if channel is None:
        raise ValueError("An event goes to a webhook channel.")
    body = json.dumps(
        {
            "type": notification.kind,
            "timestamp": notification.created_at.isoformat(),
            "data": _data(notification),
        },
        sort_keys=True,
    ).encode()
    message_id = f"msg_{notification.pk}"
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

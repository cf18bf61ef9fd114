"""Delivering a notification: one small transport per kind of channel.

Each raises TransportError, permanent when trying again cannot help (a 3xx or 4xx answer
other than 408 and 429, an internal address); anything else is worth another try later.
"""

import http.client
import json
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend

from metrics import emails, webhook_targets, webhooks
from metrics.models import WEBHOOK_EVENTS, AlertChannel, Notification

TIMEOUT = 10  # seconds for one HTTP request
RETRYABLE_STATUSES = {408, 429}


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class RecipientRefused(TransportError):
    """The mail server refused the address: a bounce when permanent (a 5xx answer)."""


def deliver(notification: Notification) -> None:
    if notification.kind in WEBHOOK_EVENTS:
        webhook = webhooks.check_wanted(notification)
        try:
            body, headers = webhooks.signed(notification)
        except webhooks.Gone as gone:
            raise TransportError(f"Not sent: its {gone} was deleted", permanent=True) from None
        _post(webhook.target, body, headers)
        return
    channel = notification.channel
    if channel is None:
        _email([notification.recipient], notification)
    elif channel.kind == AlertChannel.Kind.EMAIL:
        _email([a.strip() for a in channel.target.split(",") if a.strip()], notification)
    elif channel.kind == AlertChannel.Kind.SLACK:
        text = f"*{_slack_escape(notification.subject)}*\n{_slack_escape(notification.body)}"
        _post(channel.target, json.dumps({"text": text}).encode(), {})
    else:
        raise TransportError(f"A webhook takes events, not {notification.kind}", permanent=True)


def _slack_escape(text: str) -> str:
    """Slack reads <...> as links and mentions: a customer's comment must stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _email(to: list[str], notification: Notification) -> None:
    with mail_errors():
        email_message(notification, to).send()


def email_message(
    notification: Notification, to: list[str], connection: BaseEmailBackend | None = None
) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        notification.subject,
        notification.body,
        to=to,
        reply_to=[notification.reply_to] if notification.reply_to else None,
        headers=notification.headers,
        connection=connection,
    )
    html = notification.html or emails.html_body(notification.body)
    message.attach_alternative(html, "text/html")
    return message


@contextmanager
def mail_errors() -> Iterator[None]:
    """SMTP errors as TransportError: permanent for an address refused with a 5xx answer."""
    try:
        yield
    except smtplib.SMTPRecipientsRefused as error:
        permanent = all(code >= 500 for code, _text in error.recipients.values())
        raise RecipientRefused(
            f"Recipients refused: {error.recipients}", permanent=permanent
        ) from None
    except BadHeaderError as error:
        raise TransportError(f"Bad header: {error}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as error:
        raise TransportError(f"Mail server: {error}") from None


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        target = webhook_targets.resolve(url)
    except webhook_targets.UnusableTarget as error:
        raise TransportError(f"Not a usable address {url!r}: {error}", permanent=True) from None
    except webhook_targets.InternalTarget as error:
        raise TransportError(
            f"Refused {url}: {error}; set WEBHOOK_ALLOW_PRIVATE_TARGETS to allow it",
            permanent=True,
        ) from None
    except webhook_targets.UnresolvableTarget as error:
        raise TransportError(f"Could not reach {url}: {error}") from None
    # No redirects are followed: one could lead to an address that was never checked.
    connection = webhook_targets.connection(target, TIMEOUT)
    try:
        connection.request(
            "POST", target.path, body=body, headers={"Content-Type": "application/json", **headers}
        )
        status = connection.getresponse().status
    except (TimeoutError, OSError) as error:
        raise TransportError(f"Could not reach {url}: {error}") from None
    except (ValueError, http.client.HTTPException) as error:
        raise TransportError(f"Not a usable address {url!r}: {error}", permanent=True) from None
    finally:
        connection.close()
    if status >= 300:
        permanent = 300 <= status < 500 and status not in RETRYABLE_STATUSES
        raise TransportError(f"HTTP {status} from {url}", permanent=permanent)

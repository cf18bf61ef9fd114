"""Survey emails: written to the notification outbox, sent in batches by the worker.

A send invites customers through the invite service (its rules against over-surveying
apply) and writes a Notification per invitation, its message rendered in the customer's
language. `dispatch` hands due messages to workers in batches within the hourly cap
(SEND_RATE_PER_HOUR); `send_batch` claims a batch, sends it over one SMTP connection and
records each outcome: a temporary failure is tried again later, an address refused with a
5xx answer marks the customer's email as bouncing.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from loyaltysite.broker import publish
from metrics.emails import subject_line
from metrics.models import Notification
from metrics.notifications import DELIVERING, retry_pause
from metrics.scores import KEY_ROLE
from metrics.transports import RecipientRefused, TransportError, email_message, mail_errors
from surveys.models import Customer, Invitation, Mailing, Survey
from surveys.services import (
    NotInvited,
    Plan,
    check_deliverable,
    invite_many,
    plan_invitations,
)

KINDS = (Notification.Kind.SURVEY, Notification.Kind.SURVEY_REMINDER)
BATCH = 100  # messages per task, over one SMTP connection
# Temporary failures are tried again for about a day (the backoff of notifications, at
# most an hour apart), counted in attempts: an email spread into next week's send window
# was written days before its first attempt.
GIVE_UP_ATTEMPTS = 30
# Stands for each invitation's token in a message rendered once per language.
PLACEHOLDER = "__invitation__"

Pending = Notification.Status.PENDING


def customers_for(*, segment: str = "", refs: Sequence[str] = ()) -> QuerySet[Customer]:
    """The customers of a send: by reference, else by segment, else all."""
    customers = Customer.objects.all()
    if refs:
        return customers.filter(ref__in=refs)
    return customers.filter(segment=segment) if segment else customers


def preview(*, survey: Survey, customers: QuerySet[Customer]) -> Plan:
    return plan_invitations(survey=survey, customers=customers)


@dataclass
class Sent:
    mailing: Mailing
    invitations: list[Invitation]
    skipped: Counter[str]


@transaction.atomic
def send_survey(
    *,
    survey: Survey,
    customers: QuerySet[Customer],
    segment: str = "",
    mailing: Mailing | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> Sent:
    """Invite the customers the rules allow and write their emails to the outbox: as one
    new send unless `mailing` is given, spread evenly over `window` if given."""
    mailing = mailing or Mailing.objects.create(survey=survey, segment=segment)
    invitations, plan = invite_many(survey=survey, customers=customers, mailing=mailing)
    customers_by_pk = Customer.objects.in_bulk(plan.customer_ids)
    for invitation in invitations:
        invitation.customer = customers_by_pk[invitation.customer_id]
        invitation.survey = survey
    due_at = spread(window, len(invitations)) if window else []
    write_emails(invitations, Notification.Kind.SURVEY, due_at)
    return Sent(mailing, invitations, plan.skipped)


def spread(window: tuple[datetime, datetime], count: int) -> list[datetime]:
    start, end = window
    return [start + (end - start) * i / count for i in range(count)]


def write_emails(
    invitations: Sequence[Invitation], kind: str, due_at: Sequence[datetime] = ()
) -> None:
    """A Notification per invitation, rendered once per language; dispatched after commit."""
    rendered: dict[tuple[int, str], Message] = {}
    notifications = []
    for position, invitation in enumerate(invitations):
        language = invitation.customer.language or invitation.survey.language
        key = (invitation.survey_id, language)
        if key not in rendered:
            rendered[key] = render(invitation.survey, language, kind)
        message = rendered[key].personal(invitation.token)
        notifications.append(
            Notification(
                kind=kind,
                invitation=invitation,
                recipient=invitation.customer.email,
                language=language,
                next_attempt_at=due_at[position] if due_at else None,
                **message.fields(),
            )
        )
    # A reminder written twice (two schedulers racing) meets the unique constraint.
    Notification.objects.bulk_create(notifications, batch_size=1000, ignore_conflicts=True)
    if notifications:
        transaction.on_commit(_dispatch_soon)


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    html: str
    unsubscribe: str

    def personal(self, token: str) -> "Message":
        return Message(
            subject=self.subject.replace(PLACEHOLDER, token),
            body=self.body.replace(PLACEHOLDER, token),
            html=self.html.replace(PLACEHOLDER, token),
            unsubscribe=self.unsubscribe.replace(PLACEHOLDER, token),
        )

    def fields(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "body": self.body,
            "html": self.html,
            "headers": {
                "List-Unsubscribe": f"<{self.unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        }


def render(survey: Survey, language: str, kind: str) -> Message:
    """The survey's email in `language`, with PLACEHOLDER where each invitation's token goes."""
    link = settings.SITE_URL + reverse("surveys:respond_invitation", args=[PLACEHOLDER])
    unsubscribe = settings.SITE_URL + reverse("surveys:unsubscribe", args=[PLACEHOLDER])
    question = next(
        (q for q in survey.questions.all() if q.role == KEY_ROLE[survey.kind] and q.is_scale),
        None,
    )
    with translation.override(language):
        # One-tap buttons for the scale of an NPS, CSAT or CES question; a loyalty
        # survey asks three questions, so its email opens the form.
        scores = []
        if question is not None and survey.kind != Survey.Kind.LOYALTY:
            values = [1, 0] if question.is_yes_no else question.scale_values
            scores = [
                {"label": _label(question, value), "url": f"{link}?score={value}"}
                for value in values
            ]
        context = {
            "survey": survey,
            "question": question.text(language) if question else "",
            "low_label": question.low_label(language) if question else "",
            "high_label": question.high_label(language) if question else "",
            "scores": scores,
            "high_end": scores[-1]["label"] if scores else "",
            "url": link,
            "unsubscribe_url": unsubscribe,
            "reminder": kind == Notification.Kind.SURVEY_REMINDER,
            "language": language,
        }
        subject = render_to_string("emails/survey-subject.txt", context)
        body = render_to_string("emails/survey-body.txt", context)
        html = render_to_string("emails/survey-body.html", context)
    return Message(subject_line(subject), body.strip() + "\n", html, unsubscribe)


def _label(question, value: int) -> str:
    if question.is_yes_no:
        return _("Yes") if value else _("No")
    return str(value)


def remind(now: datetime | None = None) -> int:
    """Write the one reminder of each invitation sent the survey's `reminder_after_days`
    ago and not answered; returns how many. The send itself checks again (answered,
    opted out, bouncing, survey closed) before the reminder goes out."""
    now = now or timezone.now()
    count = 0
    for survey in Survey.objects.filter(status=Survey.Status.LIVE, reminder_after_days__gt=0):
        due = (
            Invitation.objects.filter(
                survey=survey,
                sent_at__lte=now - timedelta(days=survey.reminder_after_days),
                responded_at__isnull=True,
                reminded_at__isnull=True,
            )
            .exclude(notifications__kind=Notification.Kind.SURVEY_REMINDER)
            .select_related("customer", "survey")
            .order_by("pk")
        )
        invitations = list(due)
        write_emails(invitations, Notification.Kind.SURVEY_REMINDER)
        count += len(invitations)
    return count


def _dispatch_soon() -> None:
    from metrics.tasks import dispatch_survey_emails

    # With the broker down the scheduler's dispatch sends them.
    publish(dispatch_survey_emails)


def dispatch(now: datetime | None = None) -> int:
    """Hand due survey emails to workers in batches, within the hourly cap; returns how
    many. Each batch names the attempt it may make of each message, so a copy of the
    task (a redelivery, or a later dispatch after its lease ran out) cannot send twice."""
    from metrics.tasks import send_survey_emails

    now = now or timezone.now()
    survey_emails = Notification.objects.filter(kind__in=KINDS)
    handed_over = survey_emails.filter(sent_at__gte=now - timedelta(hours=1)).count()
    in_flight = survey_emails.filter(
        status=Pending, next_attempt_at__gt=now, next_attempt_at__lte=now + DELIVERING
    ).count()
    budget = settings.SEND_RATE_PER_HOUR - handed_over - in_flight
    if budget <= 0:
        return 0
    due = survey_emails.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), status=Pending
    ).order_by("next_attempt_at", "pk")
    claims = [list(row) for row in due.values_list("pk", "attempts")[:budget]]
    # Leased until a worker takes them, so the next dispatch leaves them alone.
    Notification.objects.filter(pk__in=[pk for pk, _tried in claims]).update(
        next_attempt_at=now + DELIVERING
    )
    for start in range(0, len(claims), BATCH):
        send_survey_emails.delay(claims[start : start + BATCH])
    return len(claims)


def send_batch(claims: Iterable[Sequence[int]]) -> int:
    """Send the claimed messages over one SMTP connection; returns how many went out."""
    batch = _claim(claims)
    if not batch:
        return 0
    connection = get_connection()
    sent: list[Notification] = []
    try:
        for notification in batch:
            if _send(notification, connection):
                sent.append(notification)
    finally:
        connection.close()
        _record_sent(sent)
    return len(sent)


@transaction.atomic
def _claim(claims: Iterable[Sequence[int]]) -> list[Notification]:
    tried = {pk: attempts for pk, attempts in claims}
    pending = (
        Notification.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("invitation__customer", "invitation__survey")
        .filter(pk__in=tried, status=Pending, invitation__isnull=False)
        .order_by("pk")
    )
    batch = [n for n in pending if n.attempts == tried[n.pk]]
    Notification.objects.filter(pk__in=[n.pk for n in batch]).update(
        attempts=F("attempts") + 1, next_attempt_at=timezone.now() + DELIVERING
    )
    for notification in batch:
        notification.attempts += 1
    return batch


def _send(notification: Notification, connection: BaseEmailBackend) -> bool:
    invitation = cast(Invitation, notification.invitation)
    try:
        check_deliverable(
            invitation=invitation,
            reminder=notification.kind == Notification.Kind.SURVEY_REMINDER,
        )
    except NotInvited as refused:
        notification.status = Notification.Status.CANCELLED
        notification.last_error = refused.message
        notification.next_attempt_at = None
        notification.save(update_fields=["status", "last_error", "next_attempt_at"])
        return False
    # Held open, one SMTP connection serves the whole batch. Other backends get one of
    # their own per message: the file backend of development then writes a file each.
    smtp = connection if isinstance(connection, SMTPBackend) else None
    message = email_message(notification, [invitation.customer.email], smtp)
    try:
        with mail_errors():
            if smtp is not None:
                smtp.open()
            message.send()
    except TransportError as error:
        if not isinstance(error, RecipientRefused):
            connection.close()  # it may be broken; the next message opens a new one
        _record_failure(notification, error)
        return False
    return True


def _record_failure(notification: Notification, error: TransportError) -> None:
    notification.last_error = str(error)[:2000]
    pause = retry_pause(notification.attempts)
    notification.next_attempt_at = timezone.now() + timedelta(seconds=pause)
    if error.permanent or notification.attempts >= GIVE_UP_ATTEMPTS:
        notification.status = Notification.Status.FAILED
        notification.next_attempt_at = None
    notification.save(update_fields=["last_error", "status", "next_attempt_at"])
    if isinstance(error, RecipientRefused) and error.permanent:
        invitation = cast(Invitation, notification.invitation)
        Customer.objects.filter(pk=invitation.customer_id, bouncing_since__isnull=True).update(
            bouncing_since=timezone.now()
        )


def _record_sent(sent: Sequence[Notification]) -> None:
    if not sent:
        return
    now = timezone.now()
    Notification.objects.filter(pk__in=[n.pk for n in sent]).update(
        status=Notification.Status.SENT, sent_at=now, next_attempt_at=None
    )
    for kind, field in (
        (Notification.Kind.SURVEY, "sent_at"),
        (Notification.Kind.SURVEY_REMINDER, "reminded_at"),
    ):
        invitations = [n.invitation_id for n in sent if n.kind == kind]
        Invitation.objects.filter(pk__in=invitations).update(**{field: now})

"""A customer's personal data erased everywhere, and free text kept no longer than needed.

Erasure keeps the customer's row, emptied of everything that says who they are, and
their answers' scores: the rollups, the KPIs and the response rates stay as they were.
What goes is what identifies the person or what they wrote: their contact details and
reference, their comments and what was copied from them (cases, case notes, messages
and their delivery log, the admin's log, uploaded files, the mail folder), and the
links of their invitations.
"""

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import timezone

from metrics.models import (
    FollowUp,
    FollowUpNote,
    Notification,
    OrderImport,
    StaffAction,
    SurveyRequest,
)
from metrics.recurring import months_before
from metrics.staff_actions import record_staff_action
from surveys.models import (
    Answer,
    Customer,
    CustomerImport,
    Invitation,
    Response,
    Survey,
    new_token,
)

MAIL_FOLDER = "mail folder"
# What Django's file-based email backend writes after each message.
MAIL_SEPARATOR = b"\n" + b"-" * 79 + b"\n"
FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


def _table(model: type[models.Model]) -> str:
    return model._meta.db_table


@transaction.atomic
def erase_customer(*, customer: Customer, by: Any = None) -> dict[str, int]:
    """Remove or anonymise the customer's personal data everywhere it is stored; returns
    the rows (and mail-folder messages) changed, per table. `by`: the staff user, None
    for a command."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    # Public-link answers given with their reference count as theirs too.
    given_ref = Q(metadata__ref=customer.ref) if customer.ref else Q(pk__in=[])
    responses = Response.objects.filter(Q(customer=customer) | given_ref)
    response_ids = list(responses.values_list("pk", flat=True))
    cases = FollowUp.objects.filter(response_id__in=response_ids)
    case_ids = list(cases.values_list("pk", flat=True))
    invitations = Invitation.objects.filter(customer=customer)
    tokens = list(invitations.values_list("token", flat=True))
    changed = {
        _table(FollowUp): cases.filter(~Q(comment="") | ~Q(resolution="")).update(
            comment="", resolution=""
        ),
        # Who a case was assigned to is the staff's, not the customer's.
        _table(FollowUpNote): FollowUpNote.objects.filter(followup_id__in=case_ids)
        .exclude(text="")
        .exclude(kind=FollowUpNote.Kind.ASSIGNED)
        .update(text=""),
        _table(Notification): _erase_notifications(customer, case_ids, response_ids),
    }
    # After the above, which leave it nothing to count twice.
    for table, count in forget_free_text(
        responses=Response.objects.filter(pk__in=response_ids)
    ).items():
        changed[table] = changed.get(table, 0) + count
    changed[_table(Invitation)] = _new_tokens(invitations)
    changed[_table(SurveyRequest)] = (
        SurveyRequest.objects.filter(customer=customer).exclude(metadata={}).update(metadata={})
    )
    changed[_table(LogEntry)] = _erase_admin_log(customer, response_ids, case_ids)
    changed[_table(CustomerImport)] = _erase_customer_uploads(customer)
    changed[_table(OrderImport)] = _erase_order_uploads(customer)
    Customer.objects.filter(pk=customer.pk).update(
        ref="",
        email="",
        name="",
        phone="",
        erased_at=timezone.now(),
        # Never surveyed again: there is nobody left to ask.
        opted_out_at=customer.opted_out_at or timezone.now(),
    )
    changed[_table(Customer)] = 1
    record_staff_action(
        by=by,
        action=StaffAction.Action.CUSTOMER_ERASED,
        target=customer,
        detail=", ".join(f"{table} {count}" for table, count in changed.items() if count),
    )
    # Last: files cannot be rolled back, so nothing after this may fail.
    changed[MAIL_FOLDER] = _erase_from_mail_folder(customer.email, tokens, case_ids)
    return changed


def forget_free_text(*, responses: QuerySet[Response]) -> dict[str, int]:
    """Remove the responses' comments and link details, and their copies in cases and
    alerts; their scores stay. Returns the rows changed per table."""
    answers = Answer.objects.filter(response__in=responses).exclude(text="")
    removed, _by_model = answers.delete()
    # The touchpoint and channel a link carried stay in the response's own columns.
    cleared = responses.exclude(metadata={}).update(metadata={})
    cases = FollowUp.objects.filter(response__in=responses)
    # A new case's alert quotes the comment and the reference the link carried.
    alerts = Notification.objects.filter(
        followup__in=cases, kind=Notification.Kind.NEW_CASE
    ).exclude(body="", html="")
    return {
        _table(Answer): removed,
        _table(Response): cleared,
        _table(FollowUp): cases.exclude(comment="").update(comment=""),
        _table(Notification): alerts.update(body="", html=""),
    }


def expire_free_text(*, now: datetime | None = None) -> int:
    """Forget the free text of answers older than their survey keeps it (see
    Survey.keep_free_text_months); returns the rows changed."""
    now = now or timezone.now()
    changed = 0
    for survey in Survey.objects.filter(keep_free_text_months__isnull=False).order_by("pk"):
        cutoff = months_before(now, survey.keep_free_text_months or 0)
        with transaction.atomic():
            old = Response.objects.filter(survey=survey, submitted_at__lt=cutoff)
            changed += sum(forget_free_text(responses=old).values())
    return changed


def _erase_notifications(customer: Customer, case_ids: list[int], response_ids: list[int]) -> int:
    """Empty the messages to the customer or about them, their answers or their cases
    (webhook events among them); what was sent when stays in the delivery log, and a
    message not yet sent never will be."""
    to_them = Q(invitation__customer=customer)
    if customer.email:
        to_them |= Q(recipient__iexact=customer.email)
    about_them = (
        Q(customer=customer) | Q(followup_id__in=case_ids) | Q(response_id__in=response_ids)
    )
    theirs = Notification.objects.filter(to_them | about_them)
    theirs.filter(status=Notification.Status.PENDING).update(
        status=Notification.Status.CANCELLED,
        next_attempt_at=None,
        last_error="The customer's personal data was erased.",
    )
    Notification.objects.filter(to_them).exclude(recipient="").update(recipient="")
    return theirs.update(subject="", body="", html="", headers={})


def _new_tokens(invitations: QuerySet[Invitation]) -> int:
    """New tokens: the links in the emails already sent lead nowhere any more; and nothing
    kept of what the system that asked for them said (an order ref)."""
    changed = list(invitations.only("pk"))
    for invitation in changed:
        invitation.token = new_token()
        invitation.metadata = {}
    Invitation.objects.bulk_update(changed, ["token", "metadata"])
    return len(changed)


def _identifiers(customer: Customer) -> list[str]:
    """What a text naming the customer would contain. Not the reference on its own: a
    short one ("C1") is part of too many other texts ("C10")."""
    return [text for text in (customer.email, customer.name, customer.phone) if text]


def _mentions(field: str, texts: list[str]) -> Q:
    found = Q(pk__in=[])
    for text in texts:
        found |= Q(**{f"{field}__icontains": text})
    return found


def _erase_admin_log(customer: Customer, response_ids: list[int], case_ids: list[int]) -> int:
    """The admin's log of the customer, their invitations, responses and cases, and any
    entry naming them: the entry stays (who did what, when), its text goes."""
    kinds = ContentType.objects.get_for_models(Customer, Invitation, Response, FollowUp)
    ids = {
        Customer: [customer.pk],
        Invitation: list(Invitation.objects.filter(customer=customer).values_list("pk", flat=True)),
        Response: response_ids,
        FollowUp: case_ids,
    }
    about = Q(pk__in=[])
    for model, pks in ids.items():
        about |= Q(content_type=kinds[model], object_id__in=[str(pk) for pk in pks])
    texts = _identifiers(customer)
    entries = LogEntry.objects.filter(
        about | _mentions("object_repr", texts) | _mentions("change_message", texts)
    )
    entry_ids = list(entries.values_list("pk", flat=True))
    LogEntry.objects.filter(_mentions("change_message", texts), pk__in=entry_ids).update(
        change_message=""
    )
    return LogEntry.objects.filter(pk__in=entry_ids).update(
        object_repr=Concat(models.Value("#"), "object_id")
    )


def _naming(customer: Customer) -> re.Pattern[str] | None:
    """Text naming the customer, in any case: their email, name or phone anywhere, their
    reference as a whole (a reference "C1" is not named by "C10")."""
    either = [re.escape(text) for text in _identifiers(customer)]
    if customer.ref:
        either.append(rf"(?<![\w-]){re.escape(customer.ref)}(?![\w-])")
    return re.compile("|".join(either), re.IGNORECASE) if either else None


def _erase_customer_uploads(customer: Customer) -> int:
    """Imported customer files that name the customer are emptied (their report stays),
    and the refusals that quote them lose their reason. An upload still waiting is left
    to its import."""
    naming = _naming(customer)
    if naming is None:
        return 0
    changed = 0
    finished = CustomerImport.objects.exclude(
        status__in=[CustomerImport.Status.QUEUED, CustomerImport.Status.RUNNING]
    )
    for upload in finished.only("pk", "data", "problems").iterator(chunk_size=10):
        named = bool(naming.search(bytes(upload.data).decode("utf-8", "replace")))
        problems = [
            {**problem, "reason": ""} if naming.search(str(problem.get("reason", ""))) else problem
            for problem in upload.problems
        ]
        if named or problems != upload.problems:
            if named:
                upload.data = b""
            upload.problems = problems
            upload.save(update_fields=["data", "problems"])
            changed += 1
    return changed


def _erase_order_uploads(customer: Customer) -> int:
    """Order uploads keep only their refusals once imported: those quoting the customer
    lose their reason."""
    naming = _naming(customer)
    if naming is None:
        return 0
    changed = 0
    for upload in OrderImport.objects.exclude(refusals=[]).only("pk", "refusals"):
        refusals = [
            [line, column, "" if naming.search(str(reason)) else reason]
            for line, column, reason in upload.refusals
        ]
        if refusals != upload.refusals:
            OrderImport.objects.filter(pk=upload.pk).update(refusals=refusals)
            changed += 1
    return changed


def _erase_from_mail_folder(email: str, tokens: list[str], case_ids: list[int]) -> int:
    """Where mail is written to files (no EMAIL_HOST), the messages to the customer, with
    their invitation links, or about their cases are removed; returns how many."""
    if settings.EMAIL_BACKEND != FILE_BACKEND:
        return 0
    folder = Path(settings.EMAIL_FILE_PATH)
    found = [*tokens, *(_case_path(pk) for pk in case_ids), *([email] if email else [])]
    marks = [text.lower().encode() for text in found]
    removed = 0
    for path in sorted(folder.glob("*.log")) if folder.is_dir() else []:
        messages = path.read_bytes().split(MAIL_SEPARATOR)
        kept = [m for m in messages if not any(mark in m.lower() for mark in marks)]
        if len(kept) == len(messages):
            continue
        removed += len(messages) - len(kept)
        if any(m.strip() for m in kept):
            path.write_bytes(MAIL_SEPARATOR.join(kept))
        else:
            path.unlink()
    return removed


def _case_path(pk: int) -> str:
    return reverse("metrics:followup", args=[pk])

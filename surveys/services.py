"""The writes of the survey side: each a verb, atomic, keyword-only."""

import select
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, CharField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from psycopg.types.json import Jsonb

from surveys.models import Answer, Customer, Invitation, Mailing, Question, Response, Survey
from surveys.signals import customer_opted_out, response_submitted, responses_excluded
from surveys.survey_templates import TEMPLATES


class SubmissionRefused(Exception):
    pass


class SurveyNotLive(SubmissionRefused):
    pass


class AlreadyAnswered(SubmissionRefused):
    pass


class SurveyChanged(SubmissionRefused):
    """A question changed (its scale, or deleted) between showing the form and saving."""


class NotInvited(Exception):
    """Why a customer is not invited (or not emailed): `reason` is one of SKIP_REASONS."""

    reason = ""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class InvitationThrottled(NotInvited):
    """The customer was invited to, or answered, a survey too recently to be asked again."""

    reason = "surveyed_recently"

    def __init__(self, *, customer: Customer, when: datetime, answered: bool, days: int) -> None:
        if answered:
            text = _(
                "%(customer)s answered a survey on %(date)s; this survey does not invite "
                "anyone again within %(days)d days."
            )
        else:
            text = _(
                "%(customer)s was invited on %(date)s; this survey does not invite anyone "
                "again within %(days)d days."
            )
        date = date_format(timezone.localtime(when).date())
        super().__init__(text % {"customer": customer, "date": date, "days": days})


class OptedOut(NotInvited):
    reason = "opted_out"

    def __init__(self, customer: Customer) -> None:
        super().__init__(_("%(customer)s has opted out of surveys.") % {"customer": customer})


class WithoutEmail(NotInvited):
    reason = "without_email"

    def __init__(self, customer: Customer) -> None:
        super().__init__(_("%(customer)s has no email address.") % {"customer": customer})


class Bouncing(NotInvited):
    reason = "bouncing"

    def __init__(self, customer: Customer) -> None:
        super().__init__(
            _("Email to %(customer)s bounces; correct the address first.") % {"customer": customer}
        )


# In the order they are checked: a customer is skipped for the first that applies.
SKIP_REASONS = ("opted_out", "without_email", "bouncing", "surveyed_recently")


@transaction.atomic
def create_survey(*, survey: Survey, template: str) -> Survey:
    """Save a new survey with the template's questions, worded for its company."""
    standard = TEMPLATES[template]
    survey.kind = standard.kind
    survey.save()
    Question.objects.bulk_create(
        Question(
            survey=survey,
            position=position,
            role=q.role,
            scale_min=q.scale[0] if q.scale else None,
            scale_max=q.scale[1] if q.scale else None,
            required=q.required,
            text_en=q.en.format(company=survey.company),
            text_nl=q.nl.format(company=survey.company),
            low_label_en=q.low_en,
            low_label_nl=q.low_nl,
            high_label_en=q.high_en,
            high_label_nl=q.high_nl,
        )
        for position, q in enumerate(standard.questions, start=1)
    )
    return survey


def customer_for(*, email: str, customer_ref: str = "", name: str = "") -> Customer:
    """The customer with this reference, else with this email, else a new one."""
    if customer_ref:
        found = Customer.objects.filter(ref=customer_ref).first()
    else:
        found = Customer.objects.filter(email__iexact=email).order_by("pk").first()
    return found or Customer.objects.create(ref=customer_ref, email=email, name=name)


def with_skip_reason(
    customers: QuerySet[Customer], *, survey: Survey, by_email: bool
) -> QuerySet[Any]:
    """The customers, each with `skip`: the first of SKIP_REASONS that keeps them from being
    invited to `survey` (by email, if `by_email`), or "" for none; and the times of their
    last invitation to and last answer of any survey.

    The one place of the rules against over-surveying: opted out (for good), no address
    or a bouncing one (for email), and the throttle across surveys: invited to or
    answering any survey within this survey's re-survey throttle.
    """
    since = timezone.now() - timedelta(days=survey.resurvey_throttle_days)
    invited = Invitation.objects.filter(customer=OuterRef("pk")).order_by("-created_at")
    answered = Response.objects.filter(customer=OuterRef("pk")).order_by("-submitted_at")
    reasons = [When(opted_out_at__isnull=False, then=Value("opted_out"))]
    if by_email:
        reasons += [
            When(email="", then=Value("without_email")),
            When(bouncing_since__isnull=False, then=Value("bouncing")),
        ]
    reasons.append(
        When(
            Q(last_invited_at__gte=since) | Q(last_answered_at__gte=since),
            then=Value("surveyed_recently"),
        )
    )
    return customers.annotate(
        last_invited_at=Subquery(invited.values("created_at")[:1]),
        last_answered_at=Subquery(answered.values("submitted_at")[:1]),
    ).annotate(skip=Case(*reasons, default=Value(""), output_field=CharField()))


def check_invitable(*, survey: Survey, customer: Customer, by_email: bool = False) -> None:
    """Raise the NotInvited that keeps this customer from being invited, if any."""
    found = with_skip_reason(
        Customer.objects.filter(pk=customer.pk), survey=survey, by_email=by_email
    )
    row = found.values("skip", "last_invited_at", "last_answered_at").get()
    if row["skip"] == "surveyed_recently":
        invited, answered = row["last_invited_at"], row["last_answered_at"]
        by_answer = invited is None or (answered is not None and answered > invited)
        raise InvitationThrottled(
            customer=customer,
            when=answered if by_answer else invited,
            answered=by_answer,
            days=survey.resurvey_throttle_days,
        )
    if row["skip"]:
        exception = {"opted_out": OptedOut, "without_email": WithoutEmail, "bouncing": Bouncing}
        raise exception[row["skip"]](customer)


@transaction.atomic
def invite(
    *, survey: Survey, customer: Customer, by_email: bool = False, mailing: Mailing | None = None
) -> Invitation:
    """Invite a customer to a survey, unless the rules against over-surveying refuse."""
    # The lock makes two invitations racing for one customer take turns at the check.
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    check_invitable(survey=survey, customer=customer, by_email=by_email)
    return Invitation.objects.create(survey=survey, customer=customer, mailing=mailing)


@dataclass
class Plan:
    """Whom a send would invite, and how many it skips for each of SKIP_REASONS."""

    customer_ids: list[int]
    skipped: Counter[str]

    @classmethod
    def of(cls, rows: Iterable[tuple[int, str]]) -> "Plan":
        plan = cls([], Counter())
        for pk, skip in rows:
            if skip:
                plan.skipped[skip] += 1
            else:
                plan.customer_ids.append(pk)
        return plan


def plan_invitations(*, survey: Survey, customers: QuerySet[Customer]) -> Plan:
    """What inviting these customers by email would do, changing nothing."""
    found = with_skip_reason(customers, survey=survey, by_email=True)
    return Plan.of(found.order_by("pk").values_list("pk", "skip"))


@transaction.atomic
def invite_many(
    *, survey: Survey, customers: QuerySet[Customer], mailing: Mailing
) -> tuple[list[Invitation], Plan]:
    """Invite by email every customer the rules allow, in bulk; returns them and the plan."""
    # Locked in one order, so that two sends to overlapping customers take turns.
    locked = list(customers.select_for_update().order_by("pk").values_list("pk", flat=True))
    plan = plan_invitations(survey=survey, customers=Customer.objects.filter(pk__in=locked))
    invitations = Invitation.objects.bulk_create(
        Invitation(survey=survey, customer_id=pk, mailing=mailing) for pk in plan.customer_ids
    )
    return invitations, plan


@transaction.atomic
def opt_out(*, customer: Customer) -> None:
    """The customer's unsubscribe: no survey email ever again, from any survey."""
    if Customer.objects.filter(pk=customer.pk, opted_out_at__isnull=True).update(
        opted_out_at=timezone.now()
    ):
        customer_opted_out.send(sender=Customer, customer=customer)


def check_deliverable(*, invitation: Invitation, reminder: bool) -> None:
    """Raise NotInvited when an invitation's email (or reminder) must no longer go out:
    the customer opted out, has no or a bouncing address, the survey is no longer live,
    or (for a reminder) the customer has answered."""
    customer = invitation.customer
    if customer.opted_out_at:
        raise OptedOut(customer)
    if not customer.email:
        raise WithoutEmail(customer)
    if customer.bouncing_since:
        raise Bouncing(customer)
    if not invitation.survey.is_live:
        raise NotInvited(_("The survey is not live."))
    if reminder and invitation.responded_at:
        raise NotInvited(_("The customer has answered."))


def submit_response(
    *,
    survey: Survey,
    answers: Mapping[Question, int | str | None],
    invitation: Invitation | None = None,
    metadata: Mapping[str, str] | None = None,
    language: str,
    fingerprint: str = "",
) -> Response:
    """Save a respondent's answers, unprocessed; `response_submitted` follows the commit.

    The metadata is kept as the link gave it; the response counts under a touchpoint and
    channel the survey knows, else under "other". `survey` may be a copy read a moment ago
    (surveys.published): a public answer is written only while the survey is still live
    and as anonymous as the copy says, and only to questions that still exist.
    """
    if not survey.is_live:
        raise SurveyNotLive(survey.slug)
    if invitation is not None:
        response = _invited_response(survey, answers, invitation, metadata or {}, language)
    else:
        response = _public_response(survey, answers, metadata or {}, language, fingerprint)
    transaction.on_commit(lambda: response_submitted.send(sender=Response, response=response))
    return response


@transaction.atomic
def _invited_response(
    survey: Survey,
    answers: Mapping[Question, int | str | None],
    invitation: Invitation,
    metadata: Mapping[str, str],
    language: str,
) -> Response:
    now = timezone.now()
    if survey.anonymous:
        _claim_anonymously(invitation, now)
    # The link's own parameters over what was said when the invitation was asked for.
    metadata = {**invitation.metadata, **metadata}
    response = _response(survey, invitation, metadata, language, "", now)
    try:
        # One response per invitation: on a collision the savepoint keeps the transaction
        # usable for asking why.
        with transaction.atomic():
            response.save(force_insert=True)
    except IntegrityError:
        if Response.objects.filter(invitation=invitation).exists():
            raise AlreadyAnswered(invitation.token) from None
        raise
    Answer.objects.bulk_create(
        Answer(response=response, question=question, **_answer_fields(value))
        for question, value in answers.items()
        if value not in (None, "")
    )
    if not survey.anonymous:
        Invitation.objects.filter(pk=invitation.pk).update(responded_at=now)
        invitation.responded_at = now
    return response


def _public_response(
    survey: Survey,
    answers: Mapping[Question, int | str | None],
    metadata: Mapping[str, str],
    language: str,
    fingerprint: str,
) -> Response:
    given: dict[int, int | str] = {
        q.pk: value for q, value in answers.items() if value is not None and value != ""
    }
    for _attempt in range(2):
        response = _response(survey, None, metadata, language, fingerprint, timezone.now())
        if _write_public(response, given, anonymous=survey.anonymous):
            return response
        # Changed since it was read: closed, or made anonymous, which changes what the
        # response may keep. Read afresh and try once more.
        fresh = Survey.objects.filter(pk=survey.pk).first()
        if fresh is None or not fresh.is_live:
            break
        survey = fresh
    raise SurveyNotLive(survey.slug)


def _response(
    survey: Survey,
    invitation: Invitation | None,
    metadata: Mapping[str, str],
    language: str,
    fingerprint: str,
    now: datetime,
) -> Response:
    """The unsaved response: what it keeps of who answered, and what it is counted under."""
    metadata = survey.storable_metadata(metadata)
    # Only a personal invitation says who answered: anyone can type ?ref= into a public
    # link, so there it stays metadata and never links a customer.
    customer = invitation.customer if invitation else None
    return Response(
        survey=survey,
        # An anonymous answer keeps nothing that says who gave it: no invitation, no
        # customer, no fingerprint of the respondent's address and browser.
        invitation=None if survey.anonymous else invitation,
        customer=None if survey.anonymous else customer,
        submitted_at=now,
        language=language,
        touchpoint=survey.counted_touchpoint(metadata.get("touchpoint", "")),
        channel=survey.counted_channel(metadata.get("channel", ""), invited=invitation is not None),
        segment=customer.segment if customer else "",
        metadata=metadata,
        fingerprint="" if survey.anonymous else fingerprint,
    )


# A public answer in one round trip: the response, only while its survey is live and as
# anonymous as the response was made for, and its answers to questions that still exist.
WRITE_PUBLIC = """
WITH response AS (
    INSERT INTO surveys_response (
        survey_id, submitted_at, language, touchpoint, channel, segment, metadata,
        fingerprint
    )
    SELECT %(survey)s, %(submitted_at)s, %(language)s, %(touchpoint)s, %(channel)s,
        %(segment)s, %(metadata)s, %(fingerprint)s
    WHERE EXISTS (
        SELECT FROM surveys_survey
        WHERE id = %(survey)s AND status = %(live)s AND anonymous = %(anonymous)s
    )
    RETURNING id
), answers AS (
    INSERT INTO surveys_answer (response_id, question_id, value, text)
    SELECT response.id, given.question, given.value, given.text
    FROM response,
        unnest(%(questions)s::bigint[], %(values)s::smallint[], %(texts)s::text[])
            AS given (question, value, text)
    WHERE EXISTS (
        SELECT FROM surveys_question
        WHERE id = given.question AND survey_id = %(survey)s
    )
)
SELECT id FROM response
"""


def _write_public(response: Response, given: Mapping[int, int | str], *, anonymous: bool) -> bool:
    """Save a public response and its answers (by question id), unless its survey is no
    longer live or no longer as anonymous; whether it was saved. SurveyChanged when a
    question changed under the answers (a scale, or deleted as it was written)."""
    if connection.vendor == "postgresql":
        write = _write_public_in_one_statement
    else:
        write = _write_public_with_orm
    try:
        # Within a caller's transaction, in a savepoint of its own, so that a refusal
        # leaves that transaction usable; on its own, one statement needs none.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            return write(response, given, anonymous=anonymous)
    except IntegrityError:
        raise SurveyChanged(str(response.survey_id)) from None


def _write_public_in_one_statement(
    response: Response, given: Mapping[int, int | str], *, anonymous: bool
) -> bool:
    values = [_answer_fields(value) for value in given.values()]
    params: dict[str, Any] = {
        "survey": response.survey_id,
        "submitted_at": response.submitted_at,
        "language": response.language,
        "touchpoint": response.touchpoint,
        "channel": response.channel,
        "segment": response.segment,
        "metadata": Jsonb(response.metadata),
        "fingerprint": response.fingerprint,
        "live": Survey.Status.LIVE,
        "anonymous": anonymous,
        "questions": list(given),
        "values": [fields.get("value") for fields in values],
        "texts": [fields.get("text", "") for fields in values],
    }
    _close_if_closed_by_server()
    connection.ensure_connection()
    # Bound on the server and prepared, so that PostgreSQL plans the statement once a
    # connection rather than on every answer (Django's own cursors bind on the client);
    # its errors raised as Django's.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(WRITE_PUBLIC, params, prepare=True)
        row = cursor.fetchone()
    if row is None:
        return False
    response.pk = row[0]
    response._state.adding = False
    response._state.db = connection.alias
    return True


def _close_if_closed_by_server() -> None:
    """What Django's own cursor() does first (CONN_HEALTH_CHECKS), without its round
    trip: a connection the server closed since the last request (a restart, an idle
    timeout) is replaced, not used.

    Django asks the server (`SELECT 1`), which cost as much as writing the answer. Here
    the socket tells: between requests an open connection has nothing to read, and one
    the server closed has its end waiting, or the notice why.
    """
    raw = connection.connection
    checks: Any = connection  # Django's flags for it, which its type stubs lack
    if raw is None or not checks.health_check_enabled or checks.health_check_done:
        return
    if raw.closed or _readable(raw.fileno()):
        connection.close()
    checks.health_check_done = True


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


@transaction.atomic
def _write_public_with_orm(
    response: Response, given: Mapping[int, int | str], *, anonymous: bool
) -> bool:
    """_write_public on a database without it in one statement (SQLite, in development)."""
    survey = Survey.objects.filter(pk=response.survey_id, status=Survey.Status.LIVE)
    if not survey.filter(anonymous=anonymous).exists():
        return False
    response.save(force_insert=True)
    existing = Question.objects.filter(survey_id=response.survey_id, pk__in=list(given))
    Answer.objects.bulk_create(
        Answer(response=response, question_id=pk, **_answer_fields(given[pk]))
        for pk in existing.values_list("pk", flat=True)
    )
    return True


def _claim_anonymously(invitation: Invitation, now: datetime) -> None:
    """Mark an anonymous survey's invitation answered, once, or raise AlreadyAnswered.

    Without a link from the response, this claim is what allows one answer per
    invitation. It records only the day: the throttle, reminders and response rates need
    no more, and the exact time would point to the response submitted then.
    """
    day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if not Invitation.objects.filter(pk=invitation.pk, responded_at__isnull=True).update(
        responded_at=day
    ):
        raise AlreadyAnswered(invitation.token)
    invitation.responded_at = day


def _answer_fields(value: int | str | None) -> dict[str, int | str]:
    return {"value": value} if isinstance(value, int) else {"text": str(value)}


def _burst(survey: Survey, fingerprint: str) -> QuerySet[Response]:
    # Answers without a fingerprint (personal invitations) are no burst of anyone's.
    if not fingerprint:
        return Response.objects.none()
    return Response.objects.filter(survey=survey, fingerprint=fingerprint)


@transaction.atomic
def exclude_burst(*, survey: Survey, fingerprint: str) -> int:
    """Take a burst of one client's answers out of the survey's scores; returns how many."""
    burst = _burst(survey, fingerprint).filter(excluded_at__isnull=True)
    pks = list(burst.values_list("pk", flat=True))
    excluded = Response.objects.filter(pk__in=pks).update(excluded_at=timezone.now())
    if excluded:
        responses_excluded.send(sender=Survey, survey=survey, responses=pks, excluded=True)
    return excluded


@transaction.atomic
def include_burst(*, survey: Survey, fingerprint: str) -> int:
    """Count an excluded burst in the survey's scores again; returns how many."""
    burst = _burst(survey, fingerprint).filter(excluded_at__isnull=False)
    pks = list(burst.values_list("pk", flat=True))
    included = Response.objects.filter(pk__in=pks).update(excluded_at=None)
    if included:
        responses_excluded.send(sender=Survey, survey=survey, responses=pks, excluded=False)
    return included

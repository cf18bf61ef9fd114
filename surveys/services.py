"""The writes of the survey side: each a verb, atomic, keyword-only."""

from collections.abc import Mapping
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from surveys.models import Answer, Customer, Invitation, Question, Response, Survey
from surveys.signals import response_submitted
from surveys.survey_templates import TEMPLATES


class SubmissionRefused(Exception):
    pass


class SurveyNotLive(SubmissionRefused):
    pass


class AlreadyAnswered(SubmissionRefused):
    pass


class InvitationThrottled(Exception):
    """The customer was invited too recently to be asked again."""

    def __init__(self, *, customer: Customer, last: Invitation, days: int) -> None:
        self.message = _(
            "%(customer)s was invited on %(date)s; this survey does not invite anyone "
            "again within %(days)d days."
        ) % {"customer": customer, "date": date_format(last.created_at.date()), "days": days}
        super().__init__(self.message)


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


def check_throttle(*, survey: Survey, customer: Customer) -> None:
    """Refuse to ask a customer again within the survey's re-survey throttle."""
    since = timezone.now() - timedelta(days=survey.resurvey_throttle_days)
    last = customer.invitations.filter(created_at__gte=since).order_by("-created_at").first()
    if last is not None:
        raise InvitationThrottled(customer=customer, last=last, days=survey.resurvey_throttle_days)


@transaction.atomic
def invite(*, survey: Survey, customer: Customer) -> Invitation:
    """Invite a customer to a survey, unless the re-survey throttle refuses."""
    # The lock makes two invitations racing for one customer take turns at the check.
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    check_throttle(survey=survey, customer=customer)
    return Invitation.objects.create(survey=survey, customer=customer)


@transaction.atomic
def submit_response(
    *,
    survey: Survey,
    answers: Mapping[Question, int | str | None],
    invitation: Invitation | None = None,
    metadata: Mapping[str, str] | None = None,
    language: str,
) -> Response:
    """Save a respondent's answers, unprocessed; `response_submitted` follows the commit."""
    if not survey.is_live:
        raise SurveyNotLive(survey.slug)
    metadata = dict(metadata or {})
    # Only a personal invitation says who answered: anyone can type ?ref= into a public
    # link, so there it stays metadata and never links a customer.
    customer = invitation.customer if invitation else None
    now = timezone.now()
    try:
        with transaction.atomic():
            response = Response.objects.create(
                survey=survey,
                invitation=invitation,
                customer=customer,
                submitted_at=now,
                language=language,
                touchpoint=metadata.get("touchpoint") or survey.touchpoint,
                channel=metadata.get("channel") or ("invitation" if invitation else "link"),
                segment=customer.segment if customer else "",
                metadata=metadata,
            )
    except IntegrityError:
        if invitation is not None and Response.objects.filter(invitation=invitation).exists():
            raise AlreadyAnswered(invitation.token) from None
        raise
    Answer.objects.bulk_create(
        Answer(response=response, question=question, **_answer_fields(value))
        for question, value in answers.items()
        if value not in (None, "")
    )
    if invitation is not None:
        Invitation.objects.filter(pk=invitation.pk).update(responded_at=now)
        invitation.responded_at = now
    transaction.on_commit(lambda: response_submitted.send(sender=Response, response=response))
    return response


def _answer_fields(value: int | str | None) -> dict[str, int | str]:
    return {"value": value} if isinstance(value, int) else {"text": str(value)}

import io
from datetime import timedelta

import factory
from django.utils import timezone

from metrics.orders import ImportResult
from metrics.orders import import_orders as import_csv
from metrics.processing import process_response
from surveys.models import Customer, Invitation, Question, Response, Survey
from surveys.services import create_survey, submit_response


class SurveyFactory(factory.django.DjangoModelFactory[Survey]):
    """A live survey with its template's questions (pass template="csat", ...)."""

    class Meta:
        model = Survey

    name = factory.Sequence(lambda n: f"Survey {n}")
    company = "Acme"
    language = "en"
    status = Survey.Status.LIVE

    @classmethod
    def _create(cls, model_class, *args, template="nps", **kwargs):
        return create_survey(survey=model_class(**kwargs), template=template)


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    ref = factory.Sequence(lambda n: f"C{n:05d}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = factory.Sequence(lambda n: f"Customer {n}")


class InvitationFactory(factory.django.DjangoModelFactory[Invitation]):
    class Meta:
        model = Invitation

    survey = factory.SubFactory(SurveyFactory)
    customer = factory.SubFactory(CustomerFactory)


def answer(
    survey: Survey,
    value: int,
    comment: str = "",
    *,
    customer: Customer | None = None,
    language: str = "en",
    days_ago: int = 0,
    **metadata: str,
) -> Response:
    """A response with `value` on the survey's key question (on all three for a loyalty
    survey), submitted and processed as in production; a customer answers through a
    personal invitation. The survey is made to know the touchpoint and channel given, as
    staff set up the ones their links use."""
    know(survey, **metadata)
    questions = {q.role: q for q in survey.questions.all()}
    keys = ["purchase", "upsell", "recommend"] if survey.kind == "loyalty" else [survey.kind]
    answers: dict[Question, int | str | None] = {questions[role]: value for role in keys}
    answers[questions["comment"]] = comment
    invitation = InvitationFactory(survey=survey, customer=customer) if customer else None
    response = submit_response(
        survey=survey, answers=answers, invitation=invitation, metadata=metadata, language=language
    )
    if days_ago:
        when = timezone.now() - timedelta(days=days_ago)
        Response.objects.filter(pk=response.pk).update(submitted_at=when)
        response.refresh_from_db()
    process_response(response_id=response.pk)
    return response


def know(survey: Survey, touchpoint: str = "", channel: str = "", **_: str) -> None:
    """The survey knows this touchpoint and channel: they are counted as themselves."""
    for field, value in [("known_touchpoints", touchpoint), ("known_channels", channel)]:
        if value:
            setattr(survey, field, f"{getattr(survey, field)}\n{value}".strip())
    survey.save(update_fields=["known_touchpoints", "known_channels"])


def import_orders(*rows: str) -> ImportResult:
    """Orders imported as a CSV file of these rows would be, none of them refused."""
    text = "ref,customer_ref,ordered_at,amount,product\n" + "\n".join(rows)
    result = import_csv(lines=io.StringIO(text))
    assert result.refusals == []
    return result

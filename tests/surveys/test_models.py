"""Rules the database itself enforces: a bad row cannot be written by any path."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys.models import Answer, Customer, Question, Response, Survey
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory

pytestmark = pytest.mark.django_db


def _response(survey, **kwargs):
    return Response.objects.create(
        survey=survey, submitted_at=timezone.now(), language="en", **kwargs
    )


def _question(survey, role):
    return survey.questions.get(role=role)


@pytest.mark.parametrize(
    ("template", "role", "value"),
    [
        ("nps", "nps", 11),
        ("nps", "nps", -1),
        ("csat", "csat", 0),
        ("csat", "csat", 6),
        ("csat-yes-no", "csat", 2),
        ("ces", "ces", 8),
        ("loyalty", "recommend", 0),
        ("nps", "comment", 5),
    ],
)
def test_answer_value_off_the_question_scale_is_refused(template, role, value):
    survey = SurveyFactory(template=template)
    response = _response(survey)
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.create(response=response, question=_question(survey, role), value=value)
    assert not Answer.objects.exists()


def test_answer_value_on_the_scale_ends_is_stored():
    survey = SurveyFactory(template="nps")
    nps = _question(survey, "nps")
    Answer.objects.create(response=_response(survey), question=nps, value=0)
    Answer.objects.create(response=_response(survey), question=nps, value=10)
    assert sorted(Answer.objects.values_list("value", flat=True)) == [0, 10]


def test_updating_an_answer_off_the_scale_is_refused():
    survey = SurveyFactory(template="csat")
    answer = Answer.objects.create(
        response=_response(survey), question=_question(survey, "csat"), value=3
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.filter(pk=answer.pk).update(value=9)
    answer.refresh_from_db()
    assert answer.value == 3


def test_one_answer_per_question_per_response():
    survey = SurveyFactory(template="nps")
    response = _response(survey)
    nps = _question(survey, "nps")
    Answer.objects.create(response=response, question=nps, value=9)
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.create(response=response, question=nps, value=3)


@pytest.mark.parametrize(("value", "text"), [(None, ""), (5, "and a comment")])
def test_answer_holds_exactly_one_of_value_and_text(value, text):
    survey = SurveyFactory(template="nps")
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.create(
            response=_response(survey), question=_question(survey, "nps"), value=value, text=text
        )


def test_comment_longer_than_5000_characters_is_refused():
    survey = SurveyFactory(template="nps")
    comment = _question(survey, "comment")
    Answer.objects.create(response=_response(survey), question=comment, text="x" * 5000)
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.create(response=_response(survey), question=comment, text="x" * 5001)


def test_one_response_per_invitation():
    invitation = InvitationFactory()
    _response(invitation.survey, invitation=invitation)
    with pytest.raises(IntegrityError), transaction.atomic():
        _response(invitation.survey, invitation=invitation)
    assert Response.objects.count() == 1


def test_slugs_and_tokens_are_long_random_and_unique():
    surveys = [SurveyFactory() for _ in range(20)]
    invitations = [InvitationFactory(survey=surveys[0]) for _ in range(20)]
    slugs = {s.slug for s in surveys}
    tokens = {i.token for i in invitations}
    assert len(slugs) == 20 and len(tokens) == 20
    # URL-safe base64: 6 bits a character, so 22 characters carry at least 128 bits.
    assert min(len(s) for s in slugs | tokens) >= 22
    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.create(name="Copy", company="Acme", kind="nps", slug=surveys[1].slug)


def test_question_scale_must_run_upwards():
    survey = SurveyFactory(template="nps")
    with pytest.raises(IntegrityError), transaction.atomic():
        Question.objects.create(
            survey=survey,
            position=9,
            role="csat",
            scale_min=5,
            scale_max=1,
            text_en="x",
            text_nl="x",
        )


def test_followup_window_must_be_at_least_an_hour():
    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.create(name="x", company="Acme", kind="nps", followup_window_hours=0)


def test_customer_reference_unique_but_may_be_blank():
    CustomerFactory(ref="C1")
    Customer.objects.create(ref="", email="a@example.com")
    Customer.objects.create(ref="", email="b@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(ref="C1")


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        ("draft", "live", True),
        ("live", "closed", True),
        ("closed", "live", True),
        ("live", "draft", False),
        ("closed", "draft", False),
        ("draft", "closed", False),
    ],
)
def test_status_transitions(current, new, allowed):
    assert Survey(status=current).can_become(new) is allowed


def test_slugs_never_start_with_a_dash(monkeypatch):
    from surveys import models

    drawn = iter(["-starts-with-a-dash-xyz", "fine-slug-of-enough-length"])
    monkeypatch.setattr(models.secrets, "token_urlsafe", lambda size: next(drawn))
    assert models.new_slug() == "fine-slug-of-enough-length"

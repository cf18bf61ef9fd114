"""A survey whose name and company are as long as they may be still gets its follow-ups:
the subjects composed from them are cut to their column, on PostgreSQL, which enforces it."""

import pytest

from metrics import followups, sending
from metrics.models import SUBJECT_MAX_LENGTH, AlertChannel, FollowUp, Notification
from surveys.models import Customer, Response, Survey
from tests.factories import CustomerFactory, SurveyFactory, answer

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

LONGEST_NAME = "N" * Survey._meta.get_field("name").max_length
LONGEST_COMPANY = "C" * Survey._meta.get_field("company").max_length


@pytest.fixture
def longest_survey():
    return SurveyFactory(template="nps", name=LONGEST_NAME, company=LONGEST_COMPANY)


def test_an_unhappy_answer_to_a_survey_with_the_longest_name_opens_a_case_and_alerts(
    longest_survey,
):
    AlertChannel.objects.create(name="Team", kind="email", target="team@example.com")

    response = answer(longest_survey, 2, "Slow", customer=CustomerFactory())

    assert Response.objects.get(pk=response.pk).processed_at is not None
    case = FollowUp.objects.get(response=response)
    subject = Notification.objects.get(followup=case, channel__isnull=False).subject
    assert len(subject) == SUBJECT_MAX_LENGTH
    assert subject.startswith(f"New follow-up #{case.pk}: score 2 on NNN")
    assert subject.endswith("\u2026")


def test_the_survey_email_and_the_reply_draft_fit_their_subject(longest_survey):
    CustomerFactory()
    sending.send_survey(survey=longest_survey, customers=Customer.objects.all())
    email = Notification.objects.get(kind=Notification.Kind.SURVEY)
    assert len(email.subject) == SUBJECT_MAX_LENGTH
    assert email.subject.startswith("A quick question from CCC")

    response = answer(longest_survey, 1, customer=CustomerFactory())
    subject, _body = followups.reply_draft(FollowUp.objects.get(response=response))
    assert len(subject) <= SUBJECT_MAX_LENGTH

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from surveys.models import Customer, Invitation, Survey
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory

pytestmark = pytest.mark.django_db


def _run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


@pytest.mark.parametrize("template", ["nps", "csat", "ces", "loyalty"])
def test_create_survey_prints_the_public_path_last(template):
    lines = _run(
        "create_survey",
        "--template",
        template,
        "--name",
        "Q4",
        "--company",
        "Acme",
        "--language",
        "nl",
    )

    survey = Survey.objects.get()
    assert lines[-1] == f"/s/{survey.slug}/"
    assert (survey.name, survey.company, survey.language, survey.kind) == (
        "Q4",
        "Acme",
        "nl",
        template,
    )
    assert survey.status == Survey.Status.DRAFT
    assert survey.questions.filter(text_nl__contains="Acme").exists()


def test_create_survey_can_open_the_survey_at_once():
    _run("create_survey", "--template", "nps", "--name", "Q4", "--company", "Acme", "--live")
    assert Survey.objects.get().status == Survey.Status.LIVE


def test_create_survey_refuses_an_unknown_template():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_survey", "--template", "mood", "--name", "x", "--company", "y")
    assert not Survey.objects.exists()


def test_create_survey_refuses_an_overlong_name():
    with pytest.raises(CommandError, match="name: Ensure this value has at most 200 characters"):
        call_command("create_survey", "--template", "nps", "--name", "x" * 201, "--company", "y")
    assert not Survey.objects.exists()


def test_invite_prints_the_invitation_path_last():
    survey = SurveyFactory()
    lines = _run(
        "invite",
        "--survey",
        survey.slug,
        "--email",
        "ann@example.com",
        "--customer-ref",
        "C9",
        "--name",
        "Ann",
    )

    invitation = Invitation.objects.get()
    assert lines[-1] == f"/i/{invitation.token}/"
    assert (invitation.customer.ref, invitation.customer.email, invitation.customer.name) == (
        "C9",
        "ann@example.com",
        "Ann",
    )


def test_invite_finds_an_existing_customer_by_email():
    customer = CustomerFactory(email="ann@example.com")
    survey = SurveyFactory(resurvey_throttle_days=0)
    _run("invite", "--survey", survey.slug, "--email", "ANN@example.com")
    assert Invitation.objects.get().customer == customer
    assert Customer.objects.count() == 1


def test_invite_respects_the_resurvey_throttle():
    survey = SurveyFactory(resurvey_throttle_days=30)
    InvitationFactory(customer=CustomerFactory(ref="C9"))

    with pytest.raises(CommandError, match="within 30 days"):
        call_command(
            "invite", "--survey", survey.slug, "--email", "a@example.com", "--customer-ref", "C9"
        )
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize(
    ("survey", "email", "message"),
    [("nope", "a@example.com", "No survey with slug"), (None, "not-an-email", "not an email")],
)
def test_invite_refuses_bad_input(survey, email, message):
    slug = survey or SurveyFactory().slug
    with pytest.raises(CommandError, match=message):
        call_command("invite", "--survey", slug, "--email", email)
    assert not Invitation.objects.exists()


def test_create_staff_login_prints_a_password_once():
    first = _run("create_staff_login")
    user = get_user_model().objects.get()
    password = first[-1].split(" / ")[1]
    assert user.is_superuser and user.check_password(password)

    second = _run("create_staff_login")
    assert password not in "\n".join(second)
    assert get_user_model().objects.count() == 1

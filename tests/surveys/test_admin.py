"""Staff create and run surveys in the admin."""

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from surveys.models import Invitation, Response, Survey
from surveys.services import submit_response
from surveys.survey_templates import TEMPLATES
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db


def _change_data(survey, **overrides):
    questions = list(survey.questions.order_by("position"))
    data = {
        "name": survey.name,
        "company": survey.company,
        "status": survey.status,
        "language": survey.language,
        "touchpoint": survey.touchpoint,
        "followup_window_hours": survey.followup_window_hours,
        "resurvey_throttle_days": survey.resurvey_throttle_days,
        "reminder_after_days": survey.reminder_after_days,
        "new_customer_delay_days": survey.new_customer_delay_days,
        "send_window_start": survey.send_window_start.strftime("%H:%M"),
        "send_window_end": survey.send_window_end.strftime("%H:%M"),
        "questions-TOTAL_FORMS": len(questions),
        "questions-INITIAL_FORMS": len(questions),
        "questions-MIN_NUM_FORMS": 0,
        "questions-MAX_NUM_FORMS": 1000,
        # The follow-up rule inline that metrics adds to this admin, left empty.
        "followup_rule-TOTAL_FORMS": 0,
        "followup_rule-INITIAL_FORMS": 0,
        "followup_rule-MIN_NUM_FORMS": 0,
        "followup_rule-MAX_NUM_FORMS": 1,
    }
    for i, q in enumerate(questions):
        data |= {
            f"questions-{i}-id": q.pk,
            f"questions-{i}-survey": survey.pk,
            f"questions-{i}-required": "on" if q.required else "",
            f"questions-{i}-text_en": q.text_en,
            f"questions-{i}-text_nl": q.text_nl,
            f"questions-{i}-low_label_en": q.low_label_en,
            f"questions-{i}-low_label_nl": q.low_label_nl,
            f"questions-{i}-high_label_en": q.high_label_en,
            f"questions-{i}-high_label_nl": q.high_label_nl,
        }
    return data | overrides


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_staff_create_a_survey_from_each_template(admin_client, template):
    add_url = reverse("admin:surveys_survey_add")
    assert str(TEMPLATES[template].label) in admin_client.get(add_url).content.decode()

    page = admin_client.post(
        add_url,
        {"template": template, "name": "Spring", "company": "Bakery Jansen", "language": "nl"},
    )

    survey = Survey.objects.get()
    assert page.status_code == 302
    assert survey.kind == TEMPLATES[template].kind
    assert survey.status == Survey.Status.DRAFT
    assert survey.questions.count() == len(TEMPLATES[template].questions)
    assert all("Bakery Jansen" in q.text_nl for q in survey.questions.exclude(role="comment"))


def test_change_page_shows_the_public_link_and_the_questions(admin_client, settings):
    settings.SITE_URL = "https://surveys.example.com"
    survey = SurveyFactory(template="loyalty")

    html = admin_client.get(
        reverse("admin:surveys_survey_change", args=[survey.pk])
    ).content.decode()

    assert f'value="https://surveys.example.com/s/{survey.slug}/"' in html
    assert "How likely are you to buy from Acme again?" in html


def test_staff_edit_the_wording(admin_client):
    survey = SurveyFactory(template="nps")
    url = reverse("admin:surveys_survey_change", args=[survey.pk])

    page = admin_client.post(
        url, _change_data(survey, **{"questions-0-text_en": "Would you recommend us?"})
    )

    assert page.status_code == 302
    assert survey.questions.get(role="nps").text_en == "Would you recommend us?"


def test_a_live_survey_cannot_go_back_to_draft(admin_client):
    survey = SurveyFactory(status=Survey.Status.LIVE)
    url = reverse("admin:surveys_survey_change", args=[survey.pk])

    page = admin_client.post(url, _change_data(survey, status="draft"))

    assert page.status_code == 200
    assert "A Live survey cannot become Draft." in page.content.decode()
    survey.refresh_from_db()
    assert survey.status == Survey.Status.LIVE


def test_actions_move_surveys_forward_and_say_what_they_skipped(admin_client):
    draft = SurveyFactory(status=Survey.Status.DRAFT)
    closed = SurveyFactory(status=Survey.Status.CLOSED)
    live = SurveyFactory(status=Survey.Status.LIVE)
    url = reverse("admin:surveys_survey_changelist")

    page = admin_client.post(
        url, {"action": "close", "_selected_action": [draft.pk, closed.pk, live.pk]}, follow=True
    )

    html = page.content.decode()
    assert "1 survey is now Closed." in html
    assert "2 surveys were left as they were" in html
    statuses = dict(Survey.objects.values_list("pk", "status"))
    assert statuses == {draft.pk: "draft", closed.pk: "closed", live.pk: "closed"}

    admin_client.post(url, {"action": "make_live", "_selected_action": [draft.pk, closed.pk]})
    assert set(Survey.objects.values_list("status", flat=True)) == {"live", "closed"}
    assert Survey.objects.get(pk=closed.pk).status == "live"


def test_changelist_counts_responses_and_filters(admin_client):
    survey = SurveyFactory(name="Counted")
    SurveyFactory(name="Other", status=Survey.Status.DRAFT)
    for _ in range(3):
        Response.objects.create(survey=survey, submitted_at=timezone.now(), language="en")

    html = admin_client.get(
        reverse("admin:surveys_survey_changelist") + "?status=live"
    ).content.decode()

    assert "Counted" in html and "Other" not in html
    assert '<td class="field-response_count">3</td>' in html


@pytest.mark.parametrize("name", ["customer", "invitation", "response"])
def test_customers_invitations_and_responses_are_listed(admin_client, name):
    invitation = InvitationFactory(customer__name="Ann Jansen")
    Response.objects.create(
        survey=invitation.survey,
        customer=invitation.customer,
        submitted_at=timezone.now(),
        language="en",
    )
    page = admin_client.get(reverse(f"admin:surveys_{name}_changelist"))
    assert page.status_code == 200
    assert "Ann Jansen" in page.content.decode()


def test_invitation_page_shows_the_personal_link(admin_client, settings):
    settings.SITE_URL = "https://surveys.example.com"
    invitation = InvitationFactory()
    url = reverse("admin:surveys_invitation_change", args=[invitation.pk])
    assert (
        f"https://surveys.example.com/i/{invitation.token}/"
        in admin_client.get(url).content.decode()
    )


def test_admin_invites_a_customer_through_the_throttle(admin_client):
    survey = SurveyFactory(resurvey_throttle_days=30)
    customer = CustomerFactory(name="Ann Jansen")
    add_url = reverse("admin:surveys_invitation_add")

    first = admin_client.post(add_url, {"survey": survey.pk, "customer": customer.pk})
    second = admin_client.post(add_url, {"survey": survey.pk, "customer": customer.pk})

    assert first.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.survey, invitation.customer) == (survey, customer)
    assert len(invitation.token) >= 32
    assert second.status_code == 200
    errors = second.context["adminform"].form.non_field_errors()
    assert errors == [
        # The date as people here read it: in TIME_ZONE, not UTC.
        f"Ann Jansen was invited on {date_format(timezone.localdate(invitation.created_at))}; "
        "this survey "
        "does not invite anyone again within 30 days."
    ]
    assert Invitation.objects.count() == 1


def test_admin_refuses_a_second_invitation_in_dutch(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("beheer", "b@example.com", "pw"))
    survey = SurveyFactory(resurvey_throttle_days=30)
    invitation = InvitationFactory(survey=survey, customer__name="Ann Jansen")

    page = client.post(
        reverse("admin:surveys_invitation_add"),
        {"survey": survey.pk, "customer": invitation.customer.pk},
        headers={"accept-language": "nl"},
    )

    assert "Ann Jansen is uitgenodigd op" in page.content.decode()
    assert Invitation.objects.count() == 1


def test_an_invitations_survey_and_customer_cannot_be_changed(admin_client):
    invitation = InvitationFactory()
    other = CustomerFactory()
    url = reverse("admin:surveys_invitation_change", args=[invitation.pk])

    admin_client.post(url, {"survey": invitation.survey.pk, "customer": other.pk})

    invitation.refresh_from_db()
    assert invitation.customer != other


def test_response_list_shows_the_key_score_and_the_comment(admin_client):
    nps = SurveyFactory(template="nps", name="Relationship")
    answer(nps, 3, "Delivery took two weeks")
    yes_no = SurveyFactory(template="csat-yes-no", name="Delivered?")
    answer(yes_no, 0, "Box was wet")
    loyalty = SurveyFactory(template="loyalty", name="Loyalty")
    questions = {q.role: q for q in loyalty.questions.all()}
    submit_response(
        survey=loyalty,
        answers={questions["purchase"]: 2, questions["upsell"]: 4, questions["recommend"]: 9},
        language="en",
    )

    page = admin_client.get(reverse("admin:surveys_response_changelist"))

    html = page.content.decode()
    assert '<td class="field-score">3</td>' in html
    assert '<td class="field-score">No</td>' in html
    assert '<td class="field-score">9</td>' in html  # a loyalty survey's key: recommend
    assert "Delivery took two weeks" in html
    assert "Box was wet" in html


def test_survey_list_links_to_the_public_link_and_the_dashboard(admin_client, settings):
    settings.SITE_URL = "https://surveys.example.com"
    survey = SurveyFactory()

    html = admin_client.get(reverse("admin:surveys_survey_changelist")).content.decode()

    assert f'value="https://surveys.example.com/s/{survey.slug}/"' in html
    assert f'href="{reverse("metrics:survey", args=[survey.pk])}"' in html


def test_customers_have_a_phone_number_staff_can_search(admin_client):
    CustomerFactory(name="Ann Jansen", phone="+31 6 1234 5678")
    CustomerFactory(name="Bob de Vries", phone="")

    page = admin_client.get(reverse("admin:surveys_customer_changelist"), {"q": "1234"})

    html = page.content.decode()
    assert "+31 6 1234 5678" in html
    assert "Ann Jansen" in html
    assert "Bob de Vries" not in html


def test_the_dutch_admin_speaks_dutch_and_carries_the_product_name(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("beheer", "b@example.com", "pw"))
    survey = SurveyFactory(template="nps", company="Bakkerij Jansen")
    dutch = {"accept-language": "nl"}

    add = client.get(reverse("admin:surveys_survey_add"), headers=dutch).content.decode()
    change = client.get(
        reverse("admin:surveys_survey_change", args=[survey.pk]), headers=dutch
    ).content.decode()

    assert "Loyaliteitsenquêtes" in add
    assert '<label class="required" for="id_template">Sjabloon:</label>' in add
    question = survey.questions.get(role="nps")
    assert f'<b>Vraag:</b> <span class="inline_label">{question.text_nl}' in change
    assert question.text_en not in change.replace(f'value="{question.text_en}"', "")


def test_admin_invitation_form_with_a_choice_that_is_no_id_shows_its_error(client, manager):
    manager.is_superuser = True
    manager.save()
    client.force_login(manager)
    page = client.post("/admin/surveys/invitation/add/", {"survey": "NaN", "customer": "x"})
    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()
    assert not Invitation.objects.exists()

"""One answer must not break the XLSX export: characters XML 1.0 forbids are removed from
its cells, and new ones are refused where text enters (staff forms and the admin)."""

import openpyxl
import pytest
from django.urls import reverse

from metrics.models import FollowUp, FollowUpNote
from surveys.models import Survey
from surveys.services import submit_response
from tests.factories import CustomerFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db


def test_an_xlsx_with_answers_xml_cannot_hold_opens_and_keeps_the_rest(client, manager, tmp_path):
    # Stored before answers were checked, or written by something other than the form.
    survey = SurveyFactory(template="nps", touchpoint="shop\ufffe")
    nps, comment = survey.questions.order_by("position")
    submit_response(
        survey=survey,
        answers={nps: 3, comment: "Slow\uffff delivery\x01"},
        metadata={"touchpoint": "shop\ufffe", "ref": "\uffff=SUM(A1)"},
        language="en",
    )
    client.force_login(manager)

    export = client.get(reverse("metrics:export_xlsx", args=[survey.pk]))
    path = tmp_path / "export.xlsx"
    path.write_bytes(b"".join(export.streaming_content))
    workbook = openpyxl.load_workbook(path)

    header, row = workbook.worksheets[0].iter_rows(values_only=True)
    cells = dict(zip(header, row, strict=True))
    assert cells[nps.text_en] == 3
    assert cells[comment.text_en] == "Slow delivery"
    assert cells["Touchpoint"] == "shop"
    # What is left after removing may start a formula: it is still neutralised.
    assert cells["Customer reference"] is None
    assert cells["Metadata"] == '{"ref":"=SUM(A1)","touchpoint":"shop"}'


def test_the_csv_export_is_cleaned_the_same_way(client, manager):
    survey = SurveyFactory(template="nps")
    nps, comment = survey.questions.order_by("position")
    submit_response(survey=survey, answers={nps: 3, comment: "\ufffe=1+1"}, language="en")
    client.force_login(manager)

    export = client.get(reverse("metrics:export_csv", args=[survey.pk]))

    body = b"".join(export.streaming_content).decode()
    assert "\ufffe" not in body
    assert ",'=1+1," in body


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("metrics:followup_contact", {"kind": "phone", "text": "Called\x07"}),
        ("metrics:followup_reply", {"subject": "So\x0brry", "body": "We are sorry"}),
        ("metrics:followup_reply", {"subject": "Sorry", "body": "We are\uffff sorry"}),
        ("metrics:followup_resolve", {"resolution": "Refunded\x00"}),
    ],
)
def test_case_forms_refuse_control_characters_and_change_nothing(client, agent, action, data):
    response = answer(SurveyFactory(template="nps"), 2, "Slow", customer=CustomerFactory())
    case = FollowUp.objects.get(response=response)
    client.force_login(agent)

    page = client.post(reverse(action, args=[case.pk]), data)

    assert page.status_code == 400
    assert "control character" in page.content.decode()
    assert list(case.notes.values_list("kind", flat=True)) == [FollowUpNote.Kind.OPENED]


def test_admin_forms_refuse_control_characters_in_every_text_input(admin_client):
    page = admin_client.post(
        reverse("admin:surveys_survey_add"),
        {"template": "nps", "name": "Spring\x1b", "company": "Acme", "language": "en"},
    )

    assert page.status_code == 200
    assert "control character" in page.content.decode()
    assert not Survey.objects.exists()


def test_every_admin_and_its_inlines_check_text():
    from django.contrib import admin

    from loyaltysite.admin import TextCheckedAdmin

    admins = list(admin.site._registry.values())
    inlines = [inline for model_admin in admins for inline in model_admin.inlines]
    assert admins and inlines
    assert all(isinstance(model_admin, TextCheckedAdmin) for model_admin in admins)
    assert all(issubclass(inline, TextCheckedAdmin) for inline in inlines)

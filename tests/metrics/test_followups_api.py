"""Follow-up cases through the REST API: list, read, assign, resolve, reopen, add notes;
what a key does is recorded under its name."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from metrics.models import FollowUp, StaffAction
from surveys.api_keys import create_api_key
from tests.factories import CustomerFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm():
    _api_key, key = create_api_key(name="CRM", scopes=["read", "write"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def case():
    survey = SurveyFactory(template="nps")
    answer(survey, 2, "Late again", customer=CustomerFactory(ref="C7"))
    return FollowUp.objects.get()


def _patch(client, case, body):
    return client.patch(
        f"/api/v1/followups/{case.pk}/", json.dumps(body), content_type="application/json"
    )


def test_cases_are_listed_and_read_with_their_notes(crm, case):
    listed = crm.get("/api/v1/followups/?status=new").json()["results"]
    read = crm.get(f"/api/v1/followups/{case.pk}/").json()

    assert [c["id"] for c in listed] == [case.pk]
    assert (read["customer"], read["score"], read["comment"]) == ("C7", 2, "Late again")
    assert read["status"] == "new" and read["assignee"] is None
    assert [n["kind"] for n in read["notes"]] == ["opened"]
    assert crm.get("/api/v1/followups/?status=resolved").json()["results"] == []


def test_a_key_assigns_resolves_and_reopens_a_case_and_is_recorded(crm, case, agent):
    assigned = _patch(crm, case, {"assignee": agent.username, "status": "in_progress"})
    assert assigned.status_code == 200
    assert (assigned.json()["assignee"], assigned.json()["status"]) == ("agent", "in_progress")

    resolved = _patch(crm, case, {"status": "resolved", "resolution": "Refunded"})
    assert (resolved.json()["status"], resolved.json()["resolution"]) == ("resolved", "Refunded")

    reopened = _patch(crm, case, {"status": "in_progress", "resolution": "Customer called"})
    assert reopened.json()["status"] == "in_progress"
    assert reopened.json()["resolved_at"] is None
    who = set(StaffAction.objects.values_list("username", flat=True))
    assert len(who) == 1 and who.pop().startswith("API key CRM (")


def test_a_note_is_added(crm, case):
    page = crm.post(
        f"/api/v1/followups/{case.pk}/notes/",
        json.dumps({"text": "Called, no answer"}),
        content_type="application/json",
    )

    assert page.status_code == 201
    assert page.json()["kind"] == "note" and page.json()["text"] == "Called, no answer"
    assert case.notes.filter(kind="note").count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"assignee": "nobody"}, "assignee"),
        ({"status": "contacted"}, "status"),
        ({"status": "resolved", "resolution": "a\x07b"}, "resolution"),
        ([], None),
    ],
)
def test_a_bad_change_is_a_400_and_changes_nothing(crm, case, body, field):
    page = _patch(crm, case, body)

    assert page.status_code == 400
    assert page.json()["field"] == field
    case.refresh_from_db()
    assert (case.status, case.assignee) == ("new", None)


def test_a_resolved_case_is_not_resolved_again(crm, case):
    _patch(crm, case, {"status": "resolved", "resolution": "Refunded"})

    page = _patch(crm, case, {"status": "resolved", "resolution": "Twice"})

    assert page.status_code == 400
    assert page.json()["field"] == "status"
    case.refresh_from_db()
    assert case.resolution == "Refunded"


def test_changing_a_case_needs_write_and_its_survey(case):
    reader = Client(HTTP_AUTHORIZATION=f"Bearer {create_api_key(name='R', scopes=['read'])[1]}")
    _k, other = create_api_key(name="O", scopes=["read", "write"], survey=SurveyFactory())
    elsewhere = Client(HTTP_AUTHORIZATION=f"Bearer {other}")

    assert _patch(reader, case, {"status": "resolved"}).status_code == 403
    assert elsewhere.get(f"/api/v1/followups/{case.pk}/").status_code == 404
    assert elsewhere.get("/api/v1/followups/").json()["results"] == []
    assert _patch(elsewhere, case, {"status": "resolved"}).status_code == 404
    case.refresh_from_db()
    assert case.status == "new"


def test_a_keys_note_and_steps_say_which_key_on_the_case_page(crm, case, manager, client):
    """Not "System": the case's history names the key, as the staff actions do."""
    crm.post(
        f"/api/v1/followups/{case.pk}/notes/",
        json.dumps({"text": "Called, no answer"}),
        content_type="application/json",
    )
    _patch(crm, case, {"status": "resolved", "resolution": "Refunded"})
    client.force_login(manager)

    html = client.get(reverse("metrics:followup", args=[case.pk])).content.decode()
    notes = crm.get(f"/api/v1/followups/{case.pk}/").json()["notes"]

    by = {note["kind"]: note["by"] for note in notes}
    assert by["opened"] is None  # opened by the system, on the answer
    assert by["note"].startswith("API key CRM (") and by["resolved"] == by["note"]
    assert html.count(by["note"]) == 2

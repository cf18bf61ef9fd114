"""A record of what staff did to cases and exports (and erasures), who and when, read in
the admin and never changed there."""

import pytest
from django.urls import reverse

from metrics.models import FollowUp, StaffAction
from tests.factories import CustomerFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db

Action = StaffAction.Action
CASE_ACTIONS = [
    ("metrics:followup_assign", {"assignee": "0"}, [Action.CASE_ASSIGNED]),
    ("metrics:followup_start", {}, [Action.CASE_ASSIGNED, Action.CASE_STARTED]),
    ("metrics:followup_contact", {"kind": "phone", "text": "Called"}, [Action.CASE_CONTACTED]),
    ("metrics:followup_contact", {"kind": "note", "text": "On holiday"}, [Action.CASE_NOTE]),
    ("metrics:followup_reply", {"subject": "Hi", "body": "Sorry"}, [Action.CASE_REPLIED]),
    ("metrics:followup_resolve", {"resolution": "Refunded"}, [Action.CASE_RESOLVED]),
]


@pytest.fixture
def case(db):
    customer = CustomerFactory(email="ann@example.com", name="Ann Jansen")
    response = answer(SurveyFactory(template="nps"), 2, "Too slow", customer=customer)
    return FollowUp.objects.get(response=response)


@pytest.mark.parametrize(("url_name", "data", "recorded"), CASE_ACTIONS)
def test_each_step_on_a_case_is_recorded(client, agent, case, url_name, data, recorded):
    client.force_login(agent)
    if data.get("assignee") == "0":
        data = {"assignee": str(agent.pk)}

    page = client.post(reverse(url_name, args=[case.pk]), data)

    assert page.status_code == 302
    actions = StaffAction.objects.order_by("pk")
    assert [a.action for a in actions] == recorded
    assert {(a.user, a.username, a.object_id) for a in actions} == {(agent, "agent", str(case.pk))}
    assert actions[0].object_label == f"follow-up #{case.pk}"


def test_reopening_is_recorded(client, agent, case):
    client.force_login(agent)
    client.post(reverse("metrics:followup_resolve", args=[case.pk]), {"resolution": "Done"})

    client.post(reverse("metrics:followup_reopen", args=[case.pk]), {"note": "Not done"})

    assert StaffAction.objects.latest("pk").action == Action.CASE_REOPENED


def test_a_refused_step_records_nothing(client, agent, case):
    client.force_login(agent)

    page = client.post(reverse("metrics:followup_resolve", args=[case.pk]), {"resolution": ""})

    assert page.status_code == 400
    assert not StaffAction.objects.exists()


def test_the_record_keeps_no_customer_data(client, agent, case):
    client.force_login(agent)
    client.post(reverse("metrics:followup_reply", args=[case.pk]), {"subject": "Hi", "body": "x"})

    (action,) = StaffAction.objects.all()
    assert "ann" not in f"{action.detail} {action.object_id} {action.username}".lower()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_are_recorded_with_their_period(client, manager, case, fmt):
    client.force_login(manager)
    url = reverse(f"metrics:export_{fmt}", args=[case.survey_id])

    page = client.get(url, {"start": "2025-01-01", "end": "2025-03-31"})

    assert page.status_code == 200
    action = StaffAction.objects.get()
    assert (action.user, action.action, action.object_id) == (
        manager,
        Action.RESPONSES_EXPORTED,
        str(case.survey_id),
    )
    assert action.detail == f"{fmt.upper()} 2025-01-01/2025-03-31"


def test_a_refused_export_records_nothing(client, manager, case):
    client.force_login(manager)

    page = client.get(reverse("metrics:export_csv", args=[case.survey_id]), {"start": "never"})

    assert page.status_code == 400
    assert not StaffAction.objects.exists()


def test_kpi_exports_are_recorded(client, manager):
    client.force_login(manager)

    page = client.get(reverse("metrics:kpis_csv"), {"unit": "month", "start": "2025-01-01"})

    assert page.status_code == 200
    action = StaffAction.objects.get()
    assert (action.user, action.action) == (manager, Action.KPIS_EXPORTED)
    assert action.detail.startswith("CSV month 2025-01-01")


def test_an_export_by_someone_without_access_records_nothing(client, outsider, case):
    client.force_login(outsider)

    page = client.get(reverse("metrics:export_csv", args=[case.survey_id]))

    assert page.status_code == 403
    assert not StaffAction.objects.exists()


def test_the_admin_lists_them_read_only(admin_client, client, agent, case):
    client.force_login(agent)
    client.post(reverse("metrics:followup_start", args=[case.pk]))
    action = StaffAction.objects.latest("pk")

    listing = admin_client.get(reverse("admin:metrics_staffaction_changelist"))
    dutch = admin_client.get(
        reverse("admin:metrics_staffaction_changelist"), headers={"accept-language": "nl"}
    )

    assert listing.status_code == 200
    text = listing.content.decode()
    assert "Started a case" in text and "agent" in text
    assert reverse("metrics:followup", args=[case.pk]) in text
    assert "Zaak gestart" in dutch.content.decode()
    change = reverse("admin:metrics_staffaction_change", args=[action.pk])
    assert admin_client.post(change, {"detail": "edited"}).status_code == 403
    assert admin_client.get(reverse("admin:metrics_staffaction_add")).status_code == 403
    delete = reverse("admin:metrics_staffaction_delete", args=[action.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert StaffAction.objects.filter(pk=action.pk, detail="").exists()


@pytest.mark.parametrize(("language", "heading"), [("en", "By date"), ("nl", "Op datum")])
def test_the_admin_list_filters_staff_actions_by_date(admin_client, language, heading):
    page = admin_client.get(
        reverse("admin:metrics_staffaction_changelist"), HTTP_ACCEPT_LANGUAGE=language
    )

    assert heading in page.content.decode()
    assert "By at" not in page.content.decode()

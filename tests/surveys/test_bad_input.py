"""A NUL, or another character no text column should hold, in any part of a request is
refused before it reaches the database: a plain 404 for a link, a form error for a
field. PostgreSQL refuses a NUL with an error (a 500 if it got there); SQLite stores it.
These tests run on both: set DATABASE_URL for PostgreSQL."""

from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse

from metrics.models import AlertChannel, FollowUp
from surveys.models import Response
from tests.factories import InvitationFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db

NUL = "a\x00b"


@pytest.mark.parametrize(
    "path",
    [
        "/s/abc%00/",
        "/s/abc%00/thanks/",
        "/i/x%00y/",
        "/i/x%00y/thanks/",
        "/unsubscribe/x%00y/",
        "/s/abc%01/",
        "/dashboard/surveys/1%00/",
        "/followups/1%00/",
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_link_with_a_control_character_is_a_plain_404(client, admin_user, path, method):
    client.force_login(admin_user)
    assert getattr(client, method)(path).status_code == 404


@pytest.mark.parametrize("param", ["touchpoint", "channel", "ref"])
@pytest.mark.parametrize("bad", [NUL, "a\x01b", "\uffff"])
def test_link_metadata_with_a_control_character_is_refused_and_nothing_is_stored(
    client, param, bad
):
    survey = SurveyFactory(template="nps")
    url = reverse("surveys:respond", args=[survey.slug])

    shown = client.get(url, {param: bad})
    posted = client.post(f"{url}?{urlencode({param: bad})}", {"q1": "9"})

    assert shown.status_code == 200
    assert "This link contains a character we cannot accept" in shown.content.decode()
    assert posted.status_code == 200
    assert "This link contains a character we cannot accept" in posted.content.decode()
    assert not Response.objects.exists()


@pytest.mark.parametrize("bad", [NUL, "tab\tok\x0bnot", "\ufffe", "end\uffff"])
def test_an_answer_with_a_control_character_is_a_form_error(client, bad):
    survey = SurveyFactory(template="nps")
    invitation = InvitationFactory(survey=survey)

    page = client.post(
        reverse("surveys:respond_invitation", args=[invitation.token]), {"q1": "3", "q2": bad}
    )

    assert page.status_code == 200
    assert page.content.decode().count("control character") == 1
    assert "Null characters" not in page.content.decode()
    assert not Response.objects.exists()


def test_tabs_and_newlines_in_an_answer_are_kept(client):
    survey = SurveyFactory(template="nps")

    client.post(reverse("surveys:respond", args=[survey.slug]), {"q1": "3", "q2": "a\tb\r\nc"})

    assert Response.objects.get().answers.get(question__position=2).text == "a\tb\r\nc"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("metrics:queue", {"q": NUL}),
        ("metrics:queue", {"q": "x\x1f"}),
        ("metrics:queue", {"status": NUL, "when": NUL, "who": NUL, "survey": NUL}),
        ("metrics:queue", {"reason": NUL, "page": NUL}),
        ("metrics:overview", {"start": NUL, "end": NUL}),
        ("metrics:sla", {"start": NUL, "by": NUL}),
        ("metrics:kpis", {"segment": NUL, "unit": NUL, "start": NUL, "chart": NUL}),
        ("metrics:kpis", {"segment": "retail\x01"}),
    ],
)
def test_staff_filters_and_searches_with_a_control_character_answer_normally(
    client, agent, name, params
):
    answer(SurveyFactory(template="nps"), 2, "Slow")
    client.force_login(agent)

    page = client.get(reverse(name), params)

    assert page.status_code == 200


def test_the_queue_search_says_what_is_wrong_and_shows_every_case(client, agent):
    answer(SurveyFactory(template="nps"), 2, "Slow")
    client.force_login(agent)

    page = client.get(reverse("metrics:queue"), {"q": NUL})

    html = page.content.decode()
    assert html.count("control character") == 1  # not Django's "Null characters" as well
    assert "Null characters" not in html
    assert f'href="{reverse("metrics:followup", args=[FollowUp.objects.get().pk])}"' in html


def test_survey_pages_and_exports_refuse_control_characters_in_their_filters(client, agent):
    survey = SurveyFactory(template="nps")
    answer(survey, 2, "Slow")
    client.force_login(agent)

    report = client.get(
        reverse("metrics:survey", args=[survey.pk]), {"start": NUL, "comments": NUL}
    )
    scores = client.get(reverse("metrics:scores", args=[survey.pk]), {"end": NUL})
    export = client.get(reverse("metrics:export_csv", args=[survey.pk]), {"start": NUL})
    kpis = client.get(reverse("metrics:kpis_csv"), {"segment": NUL})

    assert (report.status_code, scores.status_code) == (200, 200)
    assert (export.status_code, kpis.status_code) == (400, 400)


def _parameter(list_filter) -> str:
    if isinstance(list_filter, str):
        return list_filter
    if isinstance(list_filter, tuple):
        return list_filter[0]
    return list_filter.parameter_name


def _changelists():
    for model, model_admin in admin.site._registry.items():
        filters = [_parameter(f) for f in model_admin.list_filter]
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        yield pytest.param(url, filters, id=model._meta.label)


@pytest.mark.parametrize(("url", "filters"), list(_changelists()))
def test_admin_lists_refuse_a_control_character_in_search_and_filters(admin_client, url, filters):
    answer(SurveyFactory(template="nps"), 2, "Slow", touchpoint="shop")

    searched = admin_client.get(url, {"q": NUL})
    filtered = [admin_client.get(url, {name: NUL}) for name in filters]

    assert searched.status_code == 404
    assert [page.status_code for page in filtered] == [404] * len(filters)


def test_admin_autocomplete_refuses_a_control_character(admin_client):
    page = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "term": NUL,
            "app_label": "surveys",
            "model_name": "invitation",
            "field_name": "customer",
        },
    )

    assert page.status_code == 404


@pytest.mark.parametrize(
    ("url", "field"),
    [("admin:auth_group_add", "permissions"), ("admin:metrics_alertchannel_add", "surveys")],
)
def test_an_admin_choice_of_many_beyond_any_key_is_a_form_error(admin_client, url, field):
    # Found by fuzzing: SQLite cannot compare a key with a number beyond 64 bits and
    # raised instead of matching nothing.
    before = Group.objects.count() + AlertChannel.objects.count()

    page = admin_client.post(reverse(url), {"name": "x", field: ["1", str(2**64)]})

    assert page.status_code == 200
    assert field in page.context["adminform"].form.errors
    assert Group.objects.count() + AlertChannel.objects.count() == before


@pytest.mark.parametrize("url", ["login", "admin:login"])
def test_a_login_with_a_control_character_is_a_form_error(client, url):
    page = client.post(reverse(url), {"username": NUL, "password": "pw"})

    assert page.status_code == 200
    assert page.context["form"].errors


def test_a_password_reset_for_an_address_with_a_nul_is_a_form_error(client):
    page = client.post(reverse("password_reset"), {"email": "a\x00b@example.com"})

    assert page.status_code == 200
    assert page.context["form"].errors


@pytest.mark.postgres
def test_on_postgresql_which_refuses_a_nul_every_way_in_answers_without_an_error(
    client, admin_user
):
    survey = SurveyFactory(template="nps")
    answer(survey, 2, "Slow", touchpoint="shop")
    client.force_login(admin_user)

    pages = [
        client.get(f"/s/{survey.slug}%00/"),
        client.get(reverse("surveys:respond", args=[survey.slug]), {"touchpoint": NUL}),
        client.post(
            reverse("surveys:respond", args=[survey.slug]) + "?ref=a%00b", {"q1": "9", "q2": NUL}
        ),
        client.get(reverse("metrics:queue"), {"q": NUL}),
        client.get(reverse("metrics:kpis"), {"segment": NUL}),
        client.get(reverse("admin:surveys_response_changelist"), {"touchpoint": NUL}),
        client.get(reverse("admin:surveys_customer_changelist"), {"q": NUL}),
    ]

    assert [page.status_code for page in pages] == [404, 200, 200, 200, 200, 404, 404]
    assert Response.objects.count() == 1

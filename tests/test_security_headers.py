"""Security headers: a Content-Security-Policy without inline scripts, a Permissions-Policy,
no caching of staff pages and exports, no framing except by a survey's own sites, and
Argon2 password hashes."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from loyaltysite import settings as site_settings
from tests.factories import InvitationFactory, SurveyFactory, answer
from tests.surveys.test_admin import _change_data

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def _policy(response) -> dict[str, list[str]]:
    directives = (part.split() for part in response["Content-Security-Policy"].split(";"))
    return {name: values for name, *values in directives}


def test_every_page_has_a_policy_without_inline_scripts_and_no_framing(client):
    survey = SurveyFactory(template="nps")

    page = client.get(reverse("surveys:respond", args=[survey.slug]))

    policy = _policy(page)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert page["X-Frame-Options"] == "DENY"
    assert "camera=()" in page["Permissions-Policy"]
    assert "geolocation=()" in page["Permissions-Policy"]


def test_a_respondent_page_may_be_cached_and_reads_no_session(client):
    survey = SurveyFactory(template="nps")

    page = client.get(reverse("surveys:respond", args=[survey.slug]))

    assert "no-store" not in page.get("Cache-Control", "")
    assert "Cookie" not in page.get("Vary", "")


def test_no_template_holds_an_inline_script_or_event_handler():
    inline = re.compile(r"<script(?![^>]*\bsrc=)|\son[a-z]+=", re.IGNORECASE)
    sources = [*(ROOT / "templates").rglob("*.html"), *(ROOT / "surveys").glob("*.py")]
    sources += (ROOT / "metrics").glob("*.py")
    offenders = [str(path) for path in sources if inline.search(path.read_text())]
    assert offenders == []


@pytest.mark.parametrize(
    "url",
    [
        lambda survey: reverse("metrics:overview"),
        lambda survey: reverse("metrics:survey", args=[survey.pk]),
        lambda survey: reverse("metrics:queue"),
        lambda survey: reverse("metrics:kpis"),
        lambda survey: reverse("metrics:export_csv", args=[survey.pk]),
        lambda survey: reverse("metrics:export_xlsx", args=[survey.pk]),
        lambda survey: reverse("metrics:kpis_csv"),
        lambda survey: reverse("admin:surveys_response_changelist"),
    ],
)
def test_staff_pages_and_exports_are_never_stored(admin_client, url):
    survey = SurveyFactory(template="nps")
    answer(survey, 3, "Slow")

    page = admin_client.get(url(survey))

    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "private" in page["Cache-Control"]


def test_a_survey_embeddable_on_its_sites_may_be_framed_only_there(client):
    survey = SurveyFactory(
        template="nps", frame_origins="https://www.example.com\nhttps://shop.example.com:8443"
    )
    invitation = InvitationFactory(survey=survey)

    form = client.get(reverse("surveys:respond", args=[survey.slug]))
    thanks = client.get(reverse("surveys:thanks", args=[survey.slug]))
    personal = client.get(reverse("surveys:respond_invitation", args=[invitation.token]))

    for page in (form, thanks):
        assert _policy(page)["frame-ancestors"] == [
            "https://www.example.com",
            "https://shop.example.com:8443",
        ]
        assert "X-Frame-Options" not in page
        assert _policy(page)["script-src"] == ["'self'"]
    assert _policy(personal)["frame-ancestors"] == ["'none'"]
    assert personal["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "bad",
    [
        "www.example.com",
        "https://www.example.com/page",
        "https://*.example.com",
        "javascript:alert(1)",
        "https://a.example.com; script-src *",
        "ftp://example.com",
    ],
)
def test_the_admin_refuses_frame_origins_that_are_no_origin(admin_client, bad):
    survey = SurveyFactory(template="nps")
    url = reverse("admin:surveys_survey_change", args=[survey.pk])

    page = admin_client.post(url, _change_data(survey, frame_origins=bad))

    assert page.status_code == 200
    assert "Not an origin such as https://www.example.com" in page.content.decode()
    survey.refresh_from_db()
    assert survey.frame_origins == ""


def test_the_admin_saves_frame_origins(admin_client):
    survey = SurveyFactory(template="nps")
    url = reverse("admin:surveys_survey_change", args=[survey.pk])

    page = admin_client.post(url, _change_data(survey, frame_origins="https://www.Example.com"))

    assert page.status_code == 302
    survey.refresh_from_db()
    assert survey.frame_ancestors == ["https://www.Example.com"]


def test_passwords_are_hashed_with_argon2(settings):
    settings.PASSWORD_HASHERS = site_settings.PASSWORD_HASHERS  # the tests' fast one aside
    user = User.objects.create_user("someone", password="a long passphrase")

    assert user.password.startswith("argon2$")

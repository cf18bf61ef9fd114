"""The public link shared: QR code downloads and the HTML snippet for websites."""

import re
import xml.etree.ElementTree as ET
from html import unescape

import pytest
from django.urls import reverse

from metrics import sharing
from surveys.models import Response
from tests.factories import SurveyFactory

pytestmark = pytest.mark.django_db


def test_managers_download_the_qr_code_as_svg_and_png(client, manager, outsider):
    survey = SurveyFactory()
    client.force_login(manager)

    svg = client.get(reverse("metrics:qr_svg", args=[survey.pk]))
    png = client.get(reverse("metrics:qr_png", args=[survey.pk]))

    assert svg["Content-Type"] == "image/svg+xml"
    assert ET.fromstring(svg.content).tag.endswith("svg")  # noqa: S314 - our own output
    assert 'attachment; filename="survey-' in svg["Content-Disposition"]
    assert png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    client.force_login(outsider)
    assert client.get(reverse("metrics:qr_png", args=[survey.pk])).status_code == 403


def test_qr_codes_of_two_surveys_differ():
    first, second = SurveyFactory(), SurveyFactory()
    assert sharing.qr_code(first, "svg") != sharing.qr_code(second, "svg")


def test_the_snippet_shows_the_scale_as_links_that_choose_the_score(client):
    survey = SurveyFactory(language="nl")

    snippet = sharing.embed_snippet(survey, "nl")

    links = [unescape(href) for href in re.findall(r'href="([^"]+)"', snippet)]
    assert links == [f"{survey.public_url}?score={n}&channel=embed" for n in range(11)]
    assert "Hoe waarschijnlijk is het dat u Acme" in snippet
    assert "<script" not in snippet and "class=" not in snippet  # inline styles only

    path = links[9].removeprefix("http://localhost:8000")
    page = client.get(path)
    assert re.search(r'value="9"\s+checked', page.content.decode())
    assert not Response.objects.exists()
    question = survey.questions.get(role="nps")
    client.post(path, {f"q{question.position}": "9"})
    assert Response.objects.get().channel == "embed"


def test_a_loyalty_snippet_links_to_the_survey():
    survey = SurveyFactory(template="loyalty")

    snippet = sharing.embed_snippet(survey, "en")

    assert re.findall(r'href="([^"]+)"', snippet) == [f"{survey.public_url}?channel=embed"]


def test_a_snippet_in_another_language_opens_the_survey_in_it(client):
    survey = SurveyFactory(language="en")

    snippet = sharing.embed_snippet(survey, "nl")

    assert "Hoe waarschijnlijk is het dat u Acme" in snippet
    first = unescape(re.findall(r'href="([^"]+)"', snippet)[0])
    assert first == f"{survey.public_url}?score=0&channel=embed&lang=nl"
    page = client.get(first.removeprefix("http://localhost:8000"))
    assert '<html lang="nl">' in page.content.decode()


def test_the_admin_shows_the_qr_code_and_the_snippet(admin_client):
    survey = SurveyFactory()

    page = admin_client.get(reverse("admin:surveys_survey_change", args=[survey.pk]))

    html = page.content.decode()
    assert "<svg" in html
    assert reverse("metrics:qr_png", args=[survey.pk]) in html
    assert "?score=10&amp;amp;channel=embed" in html  # in the textarea, to copy

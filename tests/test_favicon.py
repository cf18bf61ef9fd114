"""The site's icon: every page links it, and /favicon.ico, which browsers and the admin
ask for on their own, answers with it rather than a 404."""

import re

import pytest
from django.urls import reverse

from tests.factories import SurveyFactory

pytestmark = pytest.mark.django_db


def test_favicon_ico_answers_with_an_icon(client):
    icon = client.get("/favicon.ico")

    assert icon.status_code == 200
    assert icon["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert b"".join(icon.streaming_content).startswith(b"\x00\x00\x01\x00")  # an ICO file


def test_respondent_and_staff_pages_link_icons_that_answer(client, manager):
    survey = SurveyFactory()
    client.force_login(manager)
    for url in (survey.get_absolute_url(), reverse("login"), reverse("metrics:queue")):
        html = client.get(url).content.decode()
        links = re.findall(r'<link rel="icon" href="([^"]+)"', html)
        assert len(links) == 2, f"{url} links no ICO and SVG icon: {links}"
        for link in links:
            icon = client.get(link)
            assert icon.status_code == 200, link
            assert icon["Content-Type"].startswith("image/"), link

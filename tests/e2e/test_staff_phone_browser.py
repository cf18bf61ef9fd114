"""Every staff page on a phone: nothing wider than the screen, the menu usable, no axe
violations, for a support agent and a survey manager, in Dutch and English."""

from collections.abc import Iterator

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from metrics.models import FollowUp
from tests.e2e.conftest import assert_accessible
from tests.factories import CustomerFactory, SurveyFactory, answer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_WIDTH = 390
# Not emulated as a mobile device: a mobile viewport widens itself to fit content that
# overflows, and then the page always "fits" the window it has stretched.
PHONE = {"viewport": {"width": PHONE_WIDTH, "height": 844}, "has_touch": True}


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def case(agent) -> FollowUp:
    """A survey with answers and open cases; the one returned is the agent's."""
    survey = SurveyFactory(template="nps", name="Relationship NPS after delivery")
    for score in (10, 9, 8, 7):
        answer(survey, score, days_ago=3)
    customer = CustomerFactory(
        name="Annemarie van den Berg-Oosterhuis",
        email="annemarie.vandenberg-oosterhuis@example-webwinkel.nl",
    )
    long_comment = "De bezorging duurde veel te lang en niemand nam de telefoon op. " * 4
    mine = answer(survey, 2, long_comment, customer=customer, language="nl")
    answer(survey, 5, "Slow", touchpoint="support")
    case = FollowUp.objects.get(response=mine)
    case.assignee = agent
    case.save()
    return case


def _log_in(page: Page, live_server, username: str) -> None:
    page.goto(live_server.url + reverse("login"))
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill("pw")
    page.locator("button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def _switch_language(page: Page, language: str) -> None:
    """With the header's language switch, as a person on a phone would."""
    if language == "en":
        return
    page.locator("#staff-language").select_option(language)
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", language)


def _assert_fits(page: Page, what: str) -> None:
    widths = page.evaluate(
        "() => ({page: document.documentElement.scrollWidth, window: window.innerWidth})"
    )
    assert widths["window"] == PHONE_WIDTH, widths
    assert widths["page"] <= widths["window"], f"the {what} is wider than the phone: {widths}"


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("username", ["agent", "manager"])
def test_every_staff_page_fits_a_phone(page, live_server, request, case, username, language):
    request.getfixturevalue(username)
    _log_in(page, live_server, username)
    _switch_language(page, language)
    pages = {
        "overview": reverse("metrics:overview"),
        "survey page": reverse("metrics:survey", args=[case.survey_id]),
        "queue": reverse("metrics:queue"),
        "case page": reverse("metrics:followup", args=[case.pk]),
        "SLA report": reverse("metrics:sla"),
    }
    for what, path in pages.items():
        page.goto(live_server.url + path)
        expect(page.locator("html")).to_have_attribute("lang", language)
        # Every control of the header is inside the bar, within the screen.
        header = page.locator("header").bounding_box()
        assert header
        for control in page.locator("header a, header button, header select").all():
            box = control.bounding_box()
            assert box, control
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, (what, box)
            assert box["y"] + box["height"] <= header["y"] + header["height"], (what, box)
        _assert_fits(page, f"{what} ({username}, {language})")
        assert_accessible(page, f"{what} on a phone ({username}, {language})")


def test_the_queue_shows_score_customer_due_and_status_of_each_case(page, live_server, case):
    _log_in(page, live_server, "agent")
    page.goto(live_server.url + reverse("metrics:queue"))

    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Case #{case.pk}"))
    score = row.get_by_role("cell", name="2", exact=True)
    due = row.locator("time")
    customer = row.get_by_text("Annemarie van den Berg-Oosterhuis")
    email = row.get_by_text("annemarie.vandenberg-oosterhuis@example-webwinkel.nl")
    status = row.get_by_role("cell", name="New", exact=True)
    for cell in (score, due, customer, email, status):
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, (cell, box)
    _assert_fits(page, "queue")

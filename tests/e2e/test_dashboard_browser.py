"""The staff dashboards in a real browser: log in, read the scores, no axe violations."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from metrics.processing import process_response
from surveys.services import submit_response
from tests.e2e.conftest import assert_accessible
from tests.factories import SurveyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("language", ["en", "nl"])
def test_a_manager_reads_the_scores(page, live_server, manager, language):
    survey = SurveyFactory(template="nps", name="Relationship NPS")
    nps, comment = survey.questions.order_by("position")
    for score in (10, 9, 9, 7, 2):  # 3 promoters, 1 detractor of 5: +40
        response = submit_response(
            survey=survey, answers={nps: score, comment: f"<i>comment {score}</i>"}, language="en"
        )
        process_response(response_id=response.pk)

    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill("manager")
    page.locator("#id_password").fill("pw")
    page.locator("button[type=submit]").click()
    if language == "nl":
        page.locator("#staff-language").select_option("nl")
        page.get_by_role("button", name="Switch").click()

    expect(page.get_by_role("link", name="Relationship NPS")).to_be_visible()
    expect(page.locator(".display-5")).to_contain_text("+40")
    assert_accessible(page, f"overview ({language})")

    page.get_by_role("link", name="Relationship NPS").click()
    expect(page.get_by_role("heading", name="Relationship NPS")).to_be_visible()
    expect(page.get_by_text("<i>comment 2</i>")).to_be_visible()
    page.get_by_text("Show as a table" if language == "en" else "Als tabel tonen").first.click()
    assert_accessible(page, f"survey page ({language})")

"""The survey page's charts, drawn by a real browser, in Dutch as in English."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from metrics.charts import LEFT
from tests.factories import SurveyFactory, answer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_charts_draw_in_either_language(page, live_server, manager, language):
    survey = SurveyFactory(template="nps", name="Relationship NPS")
    # 13 answers, so the shares and bar heights have decimals: 46.2% promoters.
    for days_ago, score in enumerate((10, 10, 9, 9, 10, 9, 8, 7, 7, 6, 3, 0, 5)):
        answer(survey, score, days_ago=days_ago * 5)

    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill("manager")
    page.locator("#id_password").fill("pw")
    page.locator("button[type=submit]").click()
    page.locator("#staff-language").select_option(language)
    page.locator("#staff-language + button").click()
    page.goto(f"{live_server.url}/dashboard/surveys/{survey.pk}/")
    expect(page.locator("html")).to_have_attribute("lang", language)

    split = page.locator(".split span").evaluate_all(
        "spans => spans.map(s => s.getBoundingClientRect().width)"
    )
    assert len(split) == 3 and all(width > 0 for width in split), split
    assert 0.45 < split[0] / sum(split) < 0.47  # 6 promoters of 13

    bars = page.locator("#spread-chart-title").locator("xpath=..").locator("rect")
    sizes = bars.evaluate_all(
        "rects => rects.map(r => [r.width.baseVal.value, r.height.baseVal.value])"
    )
    assert len(sizes) == 11
    assert all(width > 0 for width, _ in sizes), sizes
    answered = {0, 3, 5, 6, 7, 8, 9, 10}
    assert all((height > 0) == (score in answered) for score, (_, height) in enumerate(sizes))

    dots = page.locator("#trend-chart-title").locator("xpath=..").locator("circle")
    centres = dots.evaluate_all("cs => cs.map(c => [c.cx.baseVal.value, c.cy.baseVal.value])")
    assert len(centres) >= 2
    assert all(x >= LEFT and y > 0 for x, y in centres), centres
    assert len({x for x, _ in centres}) == len(centres)  # spread along the axis, not piled up

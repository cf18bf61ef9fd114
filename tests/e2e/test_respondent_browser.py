"""The respondent's path in a real browser on a phone: tap, keyboard, language switch, axe.

Runs Debian's chromium through Playwright against pytest-django's live server.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from surveys.models import Answer, Response, Survey
from tests.e2e.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
}
QUESTION_NL = "Hoe waarschijnlijk is het dat u Acme zou aanbevelen aan een vriend of collega?"
QUESTION_EN = "How likely is it that you would recommend Acme to a friend or colleague?"
COMMENT_NL = "Wat is de belangrijkste reden voor uw score?"


@pytest.fixture
def survey(nps_survey: Survey) -> Survey:
    """A live NPS survey in Dutch for Acme (tests/conftest.py, via SurveyFactory)."""
    return nps_survey


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _open(page: Page, live_server, survey: Survey) -> None:
    page.goto(live_server.url + survey.get_absolute_url())


def _score(page: Page, value: int) -> Locator:
    return page.get_by_role("radio", name=str(value), exact=True)


def _label(page: Page, value: int) -> Locator:
    """The visible button of a score: the label of its (visually hidden) radio."""
    return page.locator(f"label[for='{_score(page, value).get_attribute('id')}']")


def _answers(response: Response) -> dict[str, int | str | None]:
    return {
        answer.question.role: answer.value if answer.value is not None else answer.text
        for answer in Answer.objects.filter(response=response).select_related("question")
    }


def _tab_to(page: Page, target: Locator, max_presses: int = 10) -> None:
    """Press Tab until `target` has the focus; fails if it never gets there."""
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} not reached with {max_presses} presses of Tab")


def test_tapping_a_score_and_sending_saves_the_response(page, live_server, survey, tmp_path):
    # Phone screenshots for a person to look at after a run (pytest keeps the last runs').
    _open(page, live_server, survey)
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("group", name=QUESTION_NL)).to_be_visible()
    expect(page.get_by_text("0 = Helemaal niet waarschijnlijk")).to_be_visible()
    expect(page.get_by_text("10 = Zeer waarschijnlijk")).to_be_visible()
    page.screenshot(path=tmp_path / "e2e-form.png", full_page=True)
    # Eleven thumb-sized buttons (at least 44 by 44 CSS pixels) in two rows on a phone.
    boxes = [_label(page, value).bounding_box() for value in range(11)]
    assert all(box and box["width"] >= 44 and box["height"] >= 44 for box in boxes), boxes
    assert len({round(box["y"]) for box in boxes if box}) == 2, boxes

    _label(page, 3).tap()
    expect(_score(page, 3)).to_be_checked()
    page.get_by_role("textbox", name=COMMENT_NL).fill("Snelle levering")
    page.get_by_role("button", name="Verstuur").tap()

    expect(page.get_by_role("heading", name="Bedankt!")).to_be_visible()
    page.screenshot(path=tmp_path / "e2e-thanks.png", full_page=True)
    response = Response.objects.get(survey=survey)
    assert response.language == "nl"
    assert _answers(response) == {"nps": 3, "comment": "Snelle levering"}


def test_the_form_works_with_the_keyboard_alone(page, live_server, survey):
    _open(page, live_server, survey)

    _tab_to(page, _score(page, 0))
    expect(_score(page, 0)).to_be_focused()
    for _ in range(7):
        page.keyboard.press("ArrowRight")
    expect(_score(page, 7)).to_be_focused()
    expect(_score(page, 7)).to_be_checked()
    # The focused option is visibly marked, not only focused.
    expect(_label(page, 7)).to_have_css("outline-style", "solid")
    send = page.get_by_role("button", name="Verstuur")
    _tab_to(page, send)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Bedankt!")).to_be_visible()
    response = Response.objects.get(survey=survey)
    assert _answers(response) == {"nps": 7}


def test_switching_to_english_shows_and_sends_the_english_form(page, live_server, survey):
    _open(page, live_server, survey)

    page.get_by_role("link", name="English").tap()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("group", name=QUESTION_EN)).to_be_visible()
    expect(page.get_by_text("0 = Not at all likely")).to_be_visible()
    _label(page, 9).tap()
    page.get_by_role("button", name="Send").tap()

    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    response = Response.objects.get(survey=survey)
    assert response.language == "en"
    assert _answers(response) == {"nps": 9}


def test_form_error_and_thanks_pages_have_no_axe_violations(page, live_server, survey):
    _open(page, live_server, survey)
    expect(page.get_by_role("group", name=QUESTION_NL)).to_be_visible()
    assert_accessible(page, "form page")

    page.get_by_role("button", name="Verstuur").tap()
    expect(page.get_by_role("alert")).to_contain_text(
        "Controleer de hieronder gemarkeerde antwoorden."
    )
    expect(page.get_by_text("Kies een antwoord.")).to_be_visible()
    assert not Response.objects.exists()
    assert_accessible(page, "form page with a validation error")

    _label(page, 10).tap()
    page.get_by_role("button", name="Verstuur").tap()
    expect(page.get_by_role("heading", name="Bedankt!")).to_be_visible()
    assert_accessible(page, "thank-you page")

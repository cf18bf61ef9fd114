"""The respondent's path in a real browser on a phone: tap, keyboard, language switch, axe.

Runs Debian's chromium through Playwright against pytest-django's live server.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from surveys.models import Answer, Response, Survey
from tests.e2e.conftest import assert_accessible
from tests.factories import SurveyFactory

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


# --- the scales on any phone ---------------------------------------------------------

PHONE_WIDTHS = (320, 360, 390, 430)
DESKTOP_WIDTH = 1366


def _rows_of_buttons(page: Page) -> list[dict]:
    """Per scale on the page: its box and its buttons' boxes, row by row."""
    return page.evaluate(
        """() => [...document.querySelectorAll('fieldset.scale')].map(scale => {
            const box = r => ({left: r.left, right: r.right, width: r.width, height: r.height});
            const rows = new Map();
            for (const label of scale.querySelectorAll('label.scale-option')) {
                const r = label.getBoundingClientRect();
                const y = Math.round(r.top);
                rows.set(y, [...(rows.get(y) || []), box(r)]);
            }
            return {
                name: scale.querySelector('legend').textContent.trim(),
                box: box(scale.getBoundingClientRect()),
                rows: [...rows.keys()].sort((a, b) => a - b).map(y => rows.get(y)),
            };
        })"""
    )


def _assert_balanced_rows(scale: dict, max_rows: int, what: str) -> None:
    rows, edges = scale["rows"], scale["box"]
    lengths = [len(row) for row in rows]
    assert 1 <= len(rows) <= max_rows, f"{what}: rows of {lengths}"
    # As even as the rows can be, the longer ones first: 6 + 5, 4 + 3, never 6 + 1.
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True), (
        f"{what}: rows of {lengths}"
    )
    for row in rows:
        # Each row spans the scale, so its ends line up with the end labels below it.
        assert abs(row[0]["left"] - edges["left"]) <= 1, f"{what}: {row[0]} from {edges}"
        assert abs(row[-1]["right"] - edges["right"]) <= 1, f"{what}: {row[-1]} to {edges}"
        for button in row:
            assert button["width"] >= 44 and button["height"] >= 44, f"{what}: {button}"


@pytest.mark.parametrize("template", ["nps", "csat", "csat-yes-no", "ces", "loyalty"])
def test_scales_fill_the_width_in_balanced_rows_of_thumb_sized_buttons(
    browser, live_server, template
):
    survey = SurveyFactory(template=template, company="Acme", language="nl")
    for width in (*PHONE_WIDTHS, DESKTOP_WIDTH):
        context = browser.new_context(viewport={"width": width, "height": 900}, has_touch=True)
        page = context.new_page()
        _open(page, live_server, survey)
        scales = _rows_of_buttons(page)
        assert scales, "the survey shows a scale"
        for scale in scales:
            options = sum(len(row) for row in scale["rows"])
            # A phone shows up to five buttons in one row, a larger screen the whole scale.
            max_rows = 1 if width == DESKTOP_WIDTH or options <= 5 else 2
            _assert_balanced_rows(scale, max_rows, f"{template} at {width} px: {scale['name']}")
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1] == width, widths
        context.close()


MIN_END_LABEL_GAP = 16  # px: two labels, not one sentence ("1 = ... oneens 7 = ... eens")


@pytest.mark.parametrize("template", ["nps", "csat", "ces", "loyalty"])
@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_scales_end_labels_read_as_two(browser, live_server, template, language):
    survey = SurveyFactory(template=template, company="Acme", language=language)
    for width in PHONE_WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        _open(page, live_server, survey)
        ends = page.evaluate(
            """() => [...document.querySelectorAll('fieldset.scale [id$=_ends]')].map(p => {
                const [low, high] = [...p.children].map(span => span.getBoundingClientRect());
                return {text: p.textContent.trim(), gap: high.left - low.right};
            })"""
        )
        assert ends, "the survey's scales show their end labels"
        for end in ends:
            assert end["gap"] >= MIN_END_LABEL_GAP, f"{template} {language} at {width} px: {end}"
        context.close()


# --- the error banner ----------------------------------------------------------------


def test_the_error_banner_goes_once_every_marked_score_is_chosen(page, live_server):
    survey = SurveyFactory(template="loyalty", company="Acme", language="en")
    _open(page, live_server, survey)
    page.get_by_role("button", name="Send").tap()
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text("Please check the answers marked below.")
    scales = page.locator("fieldset.scale")
    expect(scales.get_by_text("Please choose an answer.")).to_have_count(3)

    scales.nth(0).locator("label", has_text="8").tap()
    expect(scales.nth(0).get_by_text("Please choose an answer.")).to_be_hidden()
    expect(scales.nth(0).get_by_role("radio", name="8", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )
    expect(banner).to_be_visible()  # two questions are still unanswered

    scales.nth(1).locator("label", has_text="9").tap()
    scales.nth(2).locator("label", has_text="10").tap()
    expect(banner).to_be_hidden()
    expect(page.get_by_text("Please choose an answer.")).to_have_count(0)
    assert_accessible(page, "form page once the marked answers are chosen")

    page.get_by_role("button", name="Send").tap()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert _answers(Response.objects.get(survey=survey)) == {
        "purchase": 8,
        "upsell": 9,
        "recommend": 10,
    }


def test_without_javascript_the_error_banner_stays_and_the_form_still_sends(
    browser, live_server, survey
):
    context = browser.new_context(**PHONE, java_script_enabled=False)
    page = context.new_page()
    _open(page, live_server, survey)
    page.get_by_role("button", name="Verstuur").tap()
    expect(page.get_by_role("alert")).to_be_visible()

    _label(page, 6).tap()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_role("button", name="Verstuur").tap()
    expect(page.get_by_role("heading", name="Bedankt!")).to_be_visible()
    assert _answers(Response.objects.get(survey=survey)) == {"nps": 6}
    context.close()

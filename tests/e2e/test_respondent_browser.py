"""The respondent's path in a real browser on a phone: tap, keyboard, language switch, axe.

Runs Debian's chromium through Playwright against pytest-django's live server.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from surveys.models import Answer, Response, Survey
from tests.conftest import AXE, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
QUESTION_NL = "Hoe waarschijnlijk is het dat u Acme zou aanbevelen aan een vriend of collega?"
QUESTION_EN = "How likely is it that you would recommend Acme to a friend or colleague?"
COMMENT_NL = "Wat is de belangrijkste reden voor uw score?"
# Phone screenshots for a person to look at after a run, kept outside the repository.
SCREENSHOTS = Path("/tmp")  # noqa: S108


@pytest.fixture
def survey(nps_survey: Survey) -> Survey:
    """A live NPS survey in Dutch for Acme (tests/conftest.py, via SurveyFactory)."""
    return nps_survey


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    # Playwright's sync API runs an asyncio event loop in this thread, so Django takes the
    # test's ORM calls for calls from async code and raises SynchronousOnlyOperation. They
    # are not: the browser only talks to the live server's own thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
        # The same reason gives the test its own database connection, which Django's
        # teardown does not see: close it, or dropping the test database fails.
        connections.close_all()


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


def _assert_accessible(page: Page, what: str) -> None:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return {
                passes: r.passes.length,
                violations: r.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => ({html: n.html, why: n.failureSummary})),
                })),
            };
        }""",
        AXE_TAGS,
    )
    assert result["passes"] > 0, f"axe checked nothing on the {what}"
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(f"    {n['html']}\n      {n['why']}" for n in v["nodes"])
        for v in result["violations"]
    )
    assert not result["violations"], f"axe found violations on the {what}:\n{report}"


def test_tapping_a_score_and_sending_saves_the_response(page, live_server, survey):
    _open(page, live_server, survey)
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("group", name=QUESTION_NL)).to_be_visible()
    expect(page.get_by_text("0 = Helemaal niet waarschijnlijk")).to_be_visible()
    expect(page.get_by_text("10 = Zeer waarschijnlijk")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "e2e-form.png", full_page=True)
    # Eleven thumb-sized buttons (at least 44 by 44 CSS pixels) in two rows on a phone.
    boxes = [_label(page, value).bounding_box() for value in range(11)]
    assert all(box and box["width"] >= 44 and box["height"] >= 44 for box in boxes), boxes
    assert len({round(box["y"]) for box in boxes if box}) == 2, boxes

    _label(page, 3).tap()
    expect(_score(page, 3)).to_be_checked()
    page.get_by_role("textbox", name=COMMENT_NL).fill("Snelle levering")
    page.get_by_role("button", name="Verstuur").tap()

    expect(page.get_by_role("heading", name="Bedankt!")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "e2e-thanks.png", full_page=True)
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
    _assert_accessible(page, "form page")

    page.get_by_role("button", name="Verstuur").tap()
    expect(page.get_by_role("alert")).to_contain_text(
        "Controleer de hieronder gemarkeerde antwoorden."
    )
    expect(page.get_by_text("Kies een antwoord.")).to_be_visible()
    assert not Response.objects.exists()
    _assert_accessible(page, "form page with a validation error")

    _label(page, 10).tap()
    page.get_by_role("button", name="Verstuur").tap()
    expect(page.get_by_role("heading", name="Bedankt!")).to_be_visible()
    _assert_accessible(page, "thank-you page")

"""The KPI page in a real browser: within a phone's screen, and no axe violations."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("language", ["en", "nl"])
def test_a_manager_reads_the_kpis_on_a_phone(phone, live_server, manager, shop, language):
    phone.goto(live_server.url + "/accounts/login/")
    phone.locator("#id_username").fill("manager")
    phone.locator("#id_password").fill("pw")
    phone.locator("button[type=submit]").click()
    if language == "nl":
        phone.locator("#staff-language").select_option("nl")
        phone.locator("#staff-language ~ button").click()

    phone.goto(live_server.url + "/dashboard/kpis/?unit=month&start=2025-02-01")

    expect(phone.locator("h2").first).to_contain_text("2025")
    expect(phone.locator(".card").first).to_contain_text("(2 - 1) / 2")
    # The page's own content stays within the screen; wide tables scroll in their box.
    wider = phone.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => !e.closest('.table-responsive'))
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .map(e => e.tagName + '.' + e.className)"""
    )
    assert wider == []
    phone.get_by_role("link", name="Churn rate" if language == "en" else "Klantverloop").click()
    expect(phone.locator("svg.chart title").first).to_contain_text(
        "Churn rate" if language == "en" else "Klantverloop"
    )
    # axe at a desktop's width, as the other dashboard tests: the shared staff header's
    # phone layout is not this page's.
    phone.set_viewport_size({"width": 1366, "height": 900})
    assert_accessible(phone, f"KPI page ({language})")

"""Shared by the browser tests: Debian's chromium through Playwright, and axe-core."""

from collections.abc import Iterator

import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import AXE, CHROMIUM

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


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


def assert_accessible(page: Page, what: str) -> None:
    # Evaluated rather than added as a <script>: the pages' Content-Security-Policy refuses
    # inline scripts, and so would refuse axe.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async (tags) => {
            // What people read is the colours after a transition (a chosen score's button
            // fading to blue), not a frame in the middle of it.
            await Promise.all(document.getAnimations().map(a => a.finished));
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

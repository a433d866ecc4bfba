"""The checks every journey relies on do catch what they claim to catch."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.browser.conftest import NewPage
from tests.browser.pages import axe_violations, same_page, watch_of
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_watch_reports_csp_violations_console_errors_and_404s(
    server: Server, new_page: NewPage
) -> None:
    page = await new_page()
    await page.goto(f"{server.url}/explore")
    watch = watch_of(page)
    assert watch.problems == []
    # Wait for the events themselves: the Watch, listening first, has seen them by then.
    async with page.expect_console_message(lambda m: "CSP violation: script-src" in m.text):
        await page.evaluate(
            """() => {
              const s = document.createElement("script");
              s.textContent = "window.inlineRan = true";
              document.body.append(s);
            }"""
        )
    async with page.expect_response(lambda r: r.url.endswith("/no-such-page")):
        await page.evaluate("() => fetch('/no-such-page')")
    assert await page.evaluate("() => window.inlineRan ?? false") is False
    found = "\n".join(watch.problems)
    assert "CSP violation: script-src" in found
    assert "HTTP 404" in found
    watch.problems.clear()  # seen on purpose


async def test_same_page_fails_on_a_full_page_load(server: Server, new_page: NewPage) -> None:
    page = await new_page()
    await page.goto(f"{server.url}/explore")
    with pytest.raises(AssertionError, match="full page load"):
        async with same_page(page):
            await page.reload()


async def test_axe_reports_a_serious_violation(server: Server, browser: Browser) -> None:
    context = await browser.new_context(bypass_csp=True)
    try:
        page = await context.new_page()
        await page.goto(f"{server.url}/explore")
        await page.evaluate(
            """() => {
              const b = document.createElement("button");  // a button with no name
              document.querySelector("main").append(b);
            }"""
        )
        found = await axe_violations(page, "explore with a nameless button")
    finally:
        await context.close()
    assert any("button-name" in line for line in found), found

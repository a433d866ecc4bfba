"""What every page in a journey is checked for, and the steps journeys share."""

from __future__ import annotations

import re
import secrets
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import ConsoleMessage, Page, Request, Response, expect

from tests.hashing import PASSWORD

# Playwright's init scripts run despite the page's CSP; a violation becomes a console error too.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""
# Chromium's words for a 4xx/5xx, and htmx's (it logs every error event it fires).
STATUS_MESSAGE = re.compile(
    r"the server responded with a status of (\d+)|^Response Status Error Code (\d+)"
)
# What htmx and Chromium log for a request that never got an answer.
UNREACHABLE_MESSAGE = re.compile(r"^htmx:(sendError|afterRequest)|net::ERR_CONNECTION_REFUSED")
# What htmx logs for a request it aborted itself (hx-sync="this:replace": a newer search).
REPLACED_MESSAGE = re.compile(r"^htmx:(sendAbort|afterRequest)")
_watches: weakref.WeakKeyDictionary[Page, Watch] = weakref.WeakKeyDictionary()


def watch_of(page: Page) -> Watch:
    return _watches[page]


class Watch:
    """Collects console errors, CSP violations, page errors, failed requests and 4xx/5xx."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        self.expected_statuses: set[int] = set()
        self.unreachable_expected = False
        self.replaced_expected = False
        _watches[page] = self
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def expect_status(self, *statuses: int) -> None:
        """The journey expects these statuses from now on (say, 422 for a rejected form)."""
        self.expected_statuses.update(statuses)

    def expect_unreachable(self) -> None:
        """The journey cuts the server off on purpose (requests aborted with page.route)."""
        self.unreachable_expected = True

    def expect_replaced(self) -> None:
        """The journey has htmx abort a request on purpose (a newer one replaces it)."""
        self.replaced_expected = True

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium logs every 4xx/5xx response as a console error; expected ones are fine.
        status = STATUS_MESSAGE.search(message.text)
        if status and int(status.group(1) or status.group(2)) in self.expected_statuses:
            return
        if self.unreachable_expected and UNREACHABLE_MESSAGE.search(message.text):
            return
        if self.replaced_expected and REPLACED_MESSAGE.search(message.text):
            return
        # htmx logs its htmx:sseError event (a live stream that could not connect) as the
        # bare Event: expected only while the journey cuts the server off.
        if self.unreachable_expected and message.text == "[object Event]":
            return
        self.problems.append(f"console error on {self.page.url}: {message.text}")

    def _request_failed(self, request: Request) -> None:
        # Chromium cancels its own favicon fetch when the page moves on: not the app's doing.
        if request.failure == "net::ERR_ABORTED" and request.url.endswith("/favicon.svg"):
            return
        if self.unreachable_expected and request.failure == "net::ERR_CONNECTION_REFUSED":
            return
        # Leaving a page ends its live stream (an EventSource never completes on its own); a
        # search typed on replaces the one still on its way (hx-sync="this:replace").
        if request.failure == "net::ERR_ABORTED" and urlsplit(request.url).path in (
            "/events",
            "/search",
        ):
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and response.status not in self.expected_statuses:
            method = response.request.method
            self.problems.append(f"HTTP {response.status} for {method} {response.url}")

    def assert_clean(self) -> None:
        assert not self.problems, "problems in the browser:\n" + "\n".join(self.problems)


@asynccontextmanager
async def same_page(page: Page) -> AsyncIterator[None]:
    """Assert the interaction inside swapped fragments and never loaded a whole new page."""
    token = secrets.token_hex(8)
    await page.evaluate("token => { window.__warbleMarker = token; }", token)
    yield
    survived = await page.evaluate("() => window.__warbleMarker ?? null")
    assert survived == token, "a full page load happened where a fragment swap was expected"


async def log_in(page: Page, base: str, username: str) -> None:
    """Log in through the form, as a person would."""
    await page.goto(f"{base}/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation():
        await page.click("#login-form button[type=submit]")
    await expect(page.locator("nav .who")).to_have_text(f"@{username}")


async def register(page: Page, base: str, username: str) -> None:
    await page.goto(f"{base}/register")
    await page.fill("#username", username)
    await page.fill("#email", f"{username.lower()}@example.com")
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation():
        await page.click("#register-form button[type=submit]")
    assert page.url == f"{base}/", page.url
    await expect(page.locator("nav .who")).to_have_text(f"@{username}")


async def post_ids(page: Page) -> list[int]:
    """The ids of the posts in the feed, top to bottom."""
    ids = await page.eval_on_selector_all("#feed article.post", "els => els.map(e => e.id)")
    return [int(i.removeprefix("post-")) for i in ids]


# axe-core 4.14.1 from the npm registry (`npm pack axe-core@4`), vendored for the tests only.
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
BLOCKING = {"serious", "critical"}
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
  }));
}"""


async def axe_violations(page: Page, what: str) -> list[str]:
    """Serious and critical axe violations on the current page, one line each."""
    await page.add_script_tag(content=AXE)
    found = await page.evaluate(RUN_AXE)
    return [
        f"{what} ({page.url}): [{v['impact']}] {v['id']}: {v['help']} at {v['nodes']}"
        for v in found
        if v["impact"] in BLOCKING
    ]

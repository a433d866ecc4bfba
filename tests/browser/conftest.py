"""Browser fixtures: Warble served by hypercorn per backend, and Debian's Chromium via Playwright.

Our own async fixtures, not the pytest-playwright plugin (its sync fixtures break
pytest-asyncio, see ../shared/STACK-NOTES.md). Everything here lives on the session's event loop.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.browser.pages import CSP_LISTENER, Watch
from tests.browser.server import Server

CHROMIUM = Path(os.environ.get("WARBLE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgres"] if TEST_DATABASE_URL else ["sqlite"]


def chromium_or_skip() -> None:
    """No Chromium: skip with the reason, except under CI, where it is a failure."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"Chromium not found at {CHROMIUM}: install Debian's chromium package"
    if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        pytest.fail(f"{reason} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    chromium_or_skip()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=BACKENDS)
async def server(
    request: pytest.FixtureRequest, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    """Warble on a free loopback port: a temp SQLite file, or a fresh PostgreSQL schema."""
    folder = tmp_path_factory.mktemp(f"warble-{request.param}")
    if request.param == "sqlite":
        warble = Server("sqlite", f"sqlite+aiosqlite:///{folder / 'warble.db'}", None, folder)
    else:
        assert TEST_DATABASE_URL
        warble = Server("postgres", TEST_DATABASE_URL, f"browser_{uuid.uuid4().hex[:12]}", folder)
    try:
        await warble.start()
        yield warble
    finally:
        await warble.stop()


NewPage = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture(loop_scope="session")
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """Open a page in a context of its own (its own cookies), watched for problems.

    The CSP stays enforced: a journey proves the pages run without violating it.
    """
    contexts = []
    watches: list[Watch] = []

    async def make(javascript: bool = True, **options: Any) -> Page:
        context = await browser.new_context(java_script_enabled=javascript, **options)
        context.set_default_timeout(10_000)
        await context.add_init_script(CSP_LISTENER)
        contexts.append(context)
        page = await context.new_page()
        watches.append(Watch(page))
        return page

    yield make
    for context in contexts:
        await context.close()
    for watch in watches:
        watch.assert_clean()

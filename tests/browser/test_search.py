"""Search in a real Chromium: as you type, from the keyboard, a #tag, and without JavaScript."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Request, Route, expect

from tests.browser.conftest import NewPage
from tests.browser.pages import log_in, same_page, watch_of
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


def word() -> str:
    """A word no other test's posts hold (the server is shared by the session's tests)."""
    return "zq" + uuid.uuid4().hex[:8]


async def test_typing_shows_results_in_place_and_puts_them_in_the_address(
    server: Server, new_page: NewPage
) -> None:
    key = word()
    author, author_id = await server.make_user("finder")
    older, newer = await server.make_posts(author_id, [f"Old {key} news", f"New {key} #{key}Tag"])
    page = await new_page()
    await log_in(page, server.url, author)
    searches: list[Request] = []
    page.on("request", lambda r: searches.append(r) if "/search" in r.url else None)
    box = page.locator("#search-q")

    async with same_page(page):
        await page.keyboard.press("/")  # Mastodon's key for the search box
        await expect(box).to_be_focused()
        await page.keyboard.type(key, delay=20)
        results = page.locator("#search-posts article.post")
        await expect(results).to_have_count(2)
        await expect(results.first).to_have_id(f"post-{newer}")  # newest first
        await expect(results.nth(1)).to_have_id(f"post-{older}")
        await expect(page).to_have_url(re.compile(rf"/search\?q={key}$"))
        await expect(page.locator("h1")).to_have_text(f"Results for “{key}”")
        await expect(page.locator("#search-tags")).to_contain_text(f"#{key}Tag")
        await expect(box).to_be_focused()  # typing goes on where it was
        # One request for the whole word: the box waits for a pause in the typing.
        assert len(searches) == 1, [r.url for r in searches]

        await page.keyboard.type(" -old")
        await expect(results).to_have_count(1)
        await expect(page).to_have_url(re.compile(rf"/search\?q={key}(%20|\+)-old$"))

        await page.keyboard.press("Enter")  # the results are already there: nothing reloads
        await expect(results).to_have_count(1)
        await expect(page.locator("#announcer")).to_have_text("Found 1 post")

    await page.go_back()
    await expect(page).to_have_url(re.compile(rf"/search\?q={key}$"))
    await expect(page.locator("#search-posts article.post")).to_have_count(2)


async def test_a_hashtag_typed_finds_tags_and_enter_opens_the_tag(
    server: Server, new_page: NewPage
) -> None:
    key = word()
    _, author_id = await server.make_user("tagger")
    (post,) = await server.make_posts(author_id, [f"Look: #{key}"])
    page = await new_page()
    await page.goto(f"{server.url}/explore")
    await expect(page).to_have_title("Explore · Warble")
    async with same_page(page):
        await page.locator("#search-q").fill(f"#{key[:5].upper()}")
        await expect(page.locator("#search-tags")).to_contain_text(f"#{key}")
        await expect(page).to_have_url(re.compile(r"/search\?q=%23"))
        # The pushed page is search's: its title, and no navigation link current.
        await expect(page).to_have_title(f"Search: #{key[:5].upper()} · Warble")
        await expect(page.locator(".nav-links [aria-current]")).to_have_count(0)
    await page.locator("#search-q").fill(f"#{key.upper()}")
    await expect(page.locator("#search-tag-go")).to_be_visible()
    async with page.expect_navigation():
        await page.press("#search-q", "Enter")
    await expect(page).to_have_url(f"{server.url}/tags/{key}")
    await expect(page.locator(f"#post-{post}")).to_be_visible()


async def test_search_works_without_javascript(server: Server, new_page: NewPage) -> None:
    key = word()
    _, author_id = await server.make_user("plain")
    await server.make_posts(author_id, [f"{key} {n}" for n in range(23)])
    page = await new_page(javascript=False)
    await page.goto(f"{server.url}/explore")
    await page.fill("#search-q", key)
    async with page.expect_navigation():
        await page.press("#search-q", "Enter")
    assert page.url == f"{server.url}/search?q={key}"
    posts = page.locator("#search-posts article.post")
    await expect(posts).to_have_count(20)
    async with page.expect_navigation():
        await page.get_by_role("link", name="More results").click()
    await expect(posts).to_have_count(3)
    await expect(page.locator("#search-q")).to_have_value(key)


async def test_j_past_the_last_result_loads_more_results(server: Server, new_page: NewPage) -> None:
    key = word()
    author, author_id = await server.make_user("scroller")
    ids = await server.make_posts(author_id, [f"{key} {n}" for n in range(23)])
    page = await new_page()
    await log_in(page, server.url, author)
    await page.goto(f"{server.url}/search?q={key}")
    results = page.locator("#search-posts article.post")
    await expect(results).to_have_count(20)
    async with same_page(page):
        for _ in range(20):
            await page.keyboard.press("j")
        await expect(results.nth(19)).to_be_focused()
        await page.keyboard.press("j")  # past the last result: the next page, and on to it
        await expect(results).to_have_count(23)
        await expect(page.locator(f"#post-{ids[2]}")).to_be_focused()


async def test_a_slower_earlier_search_never_overwrites_a_later_one(
    server: Server, new_page: NewPage
) -> None:
    key = word()
    author, author_id = await server.make_user("racer")
    await server.make_posts(author_id, [f"{key} alone", f"{key} later words"])
    page = await new_page()
    await log_in(page, server.url, author)
    held, answered = asyncio.Event(), asyncio.Event()

    async def hold_the_first(route: Route) -> None:
        """The search for the first word alone answers only after the later one was shown."""
        if not route.request.url.endswith(f"?q={key}"):
            await route.continue_()
            return
        response = await route.fetch()
        held.set()
        await shown.wait()
        with contextlib.suppress(PlaywrightError):  # htmx may have dropped it already
            await route.fulfill(response=response)
        answered.set()

    shown = asyncio.Event()
    await page.route("**/search?q=*", hold_the_first)
    watch_of(page).expect_replaced()
    results = page.locator("#search-posts article.post")
    async with same_page(page):
        await page.locator("#search-q").fill(key)
        await asyncio.wait_for(held.wait(), 10)
        await page.locator("#search-q").fill(f"{key} later")
        await expect(results).to_have_count(1)
        shown.set()
        await asyncio.wait_for(answered.wait(), 10)
        # A request sent after the late answer came back: once it is in, the browser has
        # handled the late answer too (network tasks run in order).
        await page.evaluate("() => fetch('/healthz').then(() => new Promise(r => setTimeout(r)))")
        await expect(results).to_have_count(1)
        await expect(page.locator("h1")).to_have_text(f"Results for “{key} later”")
        await expect(page).to_have_url(re.compile(rf"/search\?q={key}(%20|\+)later$"))

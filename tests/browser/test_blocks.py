"""Blocking in a real Chromium: the profile's "…" menu, Block in place (the posts go, the
button changes), and Unblock from Settings → Blocked and muted accounts."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewPage
from tests.browser.pages import log_in, same_page
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def blocks_of(server: Server, blocker_id: int) -> int:
    count = await server.scalar("SELECT count(*) FROM blocks WHERE blocker_id = :b", b=blocker_id)
    assert isinstance(count, int)
    return count


async def test_block_from_the_menu_then_unblock_from_settings(
    server: Server, new_page: NewPage
) -> None:
    blocker, blocker_id = await server.make_user("blocker")
    other, other_id = await server.make_user("pest")
    await server.follow(blocker_id, other_id)
    [post] = await server.make_posts(other_id, ["Something to block"])
    page = await new_page()
    await log_in(page, server.url, blocker)
    await page.goto(f"{server.url}/user/{other}")
    await expect(page.locator(f"#post-{post}")).to_be_visible()

    async with same_page(page):
        summary = page.locator("#profile-menu > summary")
        await expect(summary).to_have_accessible_name(f"More actions for @{other}")
        await summary.click()
        await expect(page.locator("#profile-menu")).to_have_attribute("open", "")
        await page.get_by_role("button", name=f"Block {other}", exact=True).click()
        await expect(page.locator(f"#post-{post}")).to_have_count(0)  # the posts vanish
        await expect(page.locator("#profile-notice")).to_contain_text(f"You blocked {other}.")
        await expect(page.locator(f"#follow-{other_id}")).to_have_count(0)
        await expect(page.locator("#followers-count")).to_have_text("0")
        await page.locator("#profile-menu > summary").click()
        unblock = page.locator("#profile-block").get_by_role("button")
        await expect(unblock).to_have_text("Unblock")  # the button changed
    assert await blocks_of(server, blocker_id) == 1

    await page.goto(f"{server.url}/settings/profile")
    await page.get_by_role("link", name="Blocked and muted accounts").click()
    line = page.locator(f"#blocked-{other_id}")
    await expect(line).to_contain_text(other)
    async with same_page(page):
        await line.get_by_role("button", name=f"Unblock {other}").click()
        await expect(line).to_contain_text("No longer blocked")
        await expect(line.get_by_role("button", name=f"Block {other}")).to_be_visible()
    assert await blocks_of(server, blocker_id) == 0
    await page.goto(f"{server.url}/user/{other}")
    await expect(page.locator(f"#post-{post}")).to_be_visible()

"""Moderation in a real Chromium: a reader reports a post from its page, then a moderator
opens /admin and suspends the author in place."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewPage
from tests.browser.pages import log_in
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_report_a_post_then_a_moderator_suspends_its_author(
    server: Server, new_page: NewPage
) -> None:
    author, author_id = await server.make_user("spammer")
    reader, _ = await server.make_user("reader")
    moderator, moderator_id = await server.make_user("moderator")
    await server.execute("UPDATE users SET role = 'moderator' WHERE id = :i", i=moderator_id)
    (post_id,) = await server.make_posts(author_id, ["Buy followers now"])

    page = await new_page()
    await log_in(page, server.url, reader)
    await page.goto(f"{server.url}/posts/{post_id}")
    async with page.expect_navigation():
        await page.get_by_role("link", name="Report", exact=True).click()
    await page.get_by_role("radio", name="Spam:").check()
    await page.fill("#report-comment", "selling followers")
    await page.get_by_role("button", name="Send report").click()
    await expect(page.locator("#report-form")).to_contain_text("your report was received")
    reports = await server.scalar("SELECT count(*) FROM reports WHERE post_id = :p", p=post_id)
    assert reports == 1

    staff = await new_page()
    await log_in(staff, server.url, moderator)
    await staff.get_by_role("link", name="Moderation").click()
    await expect(staff.locator("h1")).to_have_text("Moderation")
    report = staff.locator(".report.card", has_text="Buy followers now")
    await expect(report).to_contain_text("selling followers")
    await report.get_by_placeholder("Reason (for the log)").last.fill("spam account")
    await report.get_by_role("button", name=f"Suspend @{author}").click()
    await expect(staff.locator(".report.resolved")).to_contain_text(f"{author} is suspended")
    suspended = await server.scalar(
        "SELECT suspended_at IS NOT NULL FROM users WHERE id = :i", i=author_id
    )
    assert suspended
    await staff.goto(f"{server.url}/user/{author}")
    await expect(staff.locator("#profile-suspended")).to_have_text("This account is suspended.")

"""Live Warble in two browsers: notifications, the new-posts banner, comments, read on two tabs."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewPage
from tests.browser.pages import log_in, same_page
from tests.browser.server import Server
from tests.hashing import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

LIVE = 2_000  # ms: what "live" means here


async def test_two_people_see_each_other_live(server: Server, new_page: NewPage) -> None:
    alice_name, alice_id = await server.make_user("alice")
    bob_name, _ = await server.make_user("bob")
    (old_post,) = await server.make_posts(alice_id, ["Alice's earlier post"])
    alice, bob = await new_page(), await new_page()
    await log_in(alice, server.url, alice_name)
    await log_in(bob, server.url, bob_name)
    badge = alice.locator("#notifications-count")
    await expect(badge).to_be_hidden()

    async with same_page(alice):
        # Bob follows Alice: her count becomes 1 without a reload.
        await bob.goto(f"{server.url}/user/{alice_name}")
        await bob.get_by_role("button", name="Follow").click()
        await expect(badge).to_have_text("1", timeout=LIVE)
        await expect(badge).to_have_attribute("aria-label", "1 unread notification")

    # Alice posts: Bob's home shows the banner; activating it shows the post in place.
    await bob.goto(server.url)
    await expect(bob.locator("#feed")).to_contain_text("Alice's earlier post")
    async with same_page(bob):
        await alice.locator("#composer-body").fill("Fresh from Alice")
        await alice.locator("#composer-body").press("Control+Enter")
        banner = bob.locator("#new-posts")
        await expect(banner).to_have_text("1 new post", timeout=LIVE)
        first_before = await bob.locator("#feed article.post").first.get_attribute("id")
        assert first_before == f"post-{old_post}"
        await bob.keyboard.press(".")
        await expect(bob.locator("#feed article.post").first).to_contain_text("Fresh from Alice")
        await expect(banner).to_be_hidden()
        await expect(bob.locator("#feed article.post")).to_have_count(2)

    # Bob comments while Alice has the post open: it appears for her, and her count rises.
    await alice.goto(f"{server.url}/posts/{old_post}")
    second_tab = await alice.context.new_page()
    await second_tab.goto(server.url)
    async with same_page(alice):
        await bob.goto(f"{server.url}/posts/{old_post}")
        await bob.locator("#comment-body").fill("Nice one, Alice")
        await bob.locator("#comment-body").press("Control+Enter")
        comments = alice.locator("#comment-list li.comment")
        await expect(comments).to_have_count(1, timeout=LIVE)
        await expect(comments.first).to_contain_text("Nice one, Alice")
        await expect(alice.locator(f"#comment-count-{old_post}").first).to_have_text("1 comment")
        await expect(alice.locator("#notifications-count")).to_have_text("2", timeout=LIVE)

    # Alice reads her notifications: the badge clears on her other tab too.
    await expect(second_tab.locator("#notifications-count")).to_have_text("2", timeout=LIVE)
    await alice.goto(f"{server.url}/notifications")
    await expect(alice.locator("#notifications")).to_contain_text("followed you")
    await expect(alice.locator("#notifications-count")).to_be_hidden()
    await expect(second_tab.locator("#notifications-count")).to_be_hidden(timeout=LIVE)


async def test_an_open_post_shows_likes_and_edits_live(server: Server, new_page: NewPage) -> None:
    alice_name, alice_id = await server.make_user("alice")
    bob_name, _ = await server.make_user("bob")
    (post,) = await server.make_posts(alice_id, ["Before the edit"])
    alice, bob = await new_page(), await new_page()
    await log_in(alice, server.url, alice_name)
    await log_in(bob, server.url, bob_name)
    await bob.goto(f"{server.url}/posts/{post}")
    await alice.goto(f"{server.url}/posts/{post}")
    count = bob.locator(f"#like-count-{post}")
    await expect(count).to_have_text("0 likes")
    async with same_page(bob):
        # Alice likes her own post: Bob sees the count, and his own button stays "Like".
        await alice.get_by_role("button", name="Like").click()
        await expect(count).to_have_text("1 like", timeout=LIVE)
        await expect(bob.get_by_role("button", name="Like")).to_have_attribute(
            "aria-pressed", "false"
        )
        # Alice edits it: Bob sees the new text and the "edited" mark.
        await alice.get_by_role("link", name="Edit").click()
        box = alice.locator(f"#post-{post} textarea")
        await box.fill("After the edit")
        await box.press("Control+Enter")
        await expect(bob.locator(f"#post-{post}-body")).to_have_text("After the edit", timeout=LIVE)
        await expect(bob.locator(f"#post-{post}-edited .edited")).to_contain_text("edited")
        await bob.get_by_role("button", name="Like").click()  # his button still works
        await expect(count).to_have_text("2 likes")


async def test_notifications_work_without_javascript(server: Server, new_page: NewPage) -> None:
    alice_name, alice_id = await server.make_user("alice")
    fan_name, fan_id = await server.make_user("fan")
    await server.follow(fan_id, alice_id)  # through the same query as the follow button
    page = await new_page(javascript=False)
    await page.goto(f"{server.url}/login")
    await page.fill("#username", alice_name)
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation():
        await page.click("#login-form button[type=submit]")
    await page.goto(f"{server.url}/explore")
    await expect(page.locator("#notifications-count")).to_have_text("1")
    async with page.expect_navigation():  # and its avatars loaded before the next page
        await page.get_by_role("link", name="Notifications").click()
    await expect(page.locator("#notifications")).to_contain_text(f"{fan_name}\nfollowed you")
    await expect(page.locator("#notifications-count")).to_be_hidden()
    await page.goto(f"{server.url}/explore")
    await expect(page.locator("#notifications-count")).to_be_hidden()

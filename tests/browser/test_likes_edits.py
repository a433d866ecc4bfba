"""Likes and editing in a real Chromium: Like by click, double click and `f`, in place and
without JavaScript; a post edited in place, Esc and Cancel, saved, "edited", its history."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Page, Route, expect

from tests.browser.conftest import NewPage
from tests.browser.pages import log_in, same_page, watch_of
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

UTC_SECOND = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def announced(page: Page, text: str) -> None:
    await expect(page.locator("#announcer")).to_have_text(text)


async def likes_of(server: Server, post_id: int) -> int:
    count = await server.scalar("SELECT count(*) FROM likes WHERE post_id = :p", p=post_id)
    assert isinstance(count, int)
    return count


async def test_like_by_click_double_click_and_f_swaps_in_place(
    server: Server, new_page: NewPage
) -> None:
    author, author_id = await server.make_user("liked")
    reader, reader_id = await server.make_user("liker")
    await server.follow(reader_id, author_id)
    older, newer = await server.make_posts(author_id, ["Older post", "Newer post"])
    page = await new_page()
    await log_in(page, server.url, reader)

    async with same_page(page):
        form = page.locator(f"#like-{newer}")
        like = form.get_by_role("button", name="Like", exact=True)
        await expect(like).to_have_attribute("aria-pressed", "false")
        await expect(form.locator(".like-count")).to_have_text("0 likes")
        await like.click()
        unlike = form.get_by_role("button", name="Unlike", exact=True)
        await expect(unlike).to_have_attribute("aria-pressed", "true")
        await expect(form.locator(".like-count")).to_have_text("1 like")
        await expect(unlike).to_be_focused()  # the new button, where the reader was
        await announced(page, "Liked")

        # A double click is one like: the first click's request disables the button.
        older_form = page.locator(f"#like-{older}")
        await older_form.get_by_role("button", name="Like", exact=True).dblclick()
        await expect(older_form.locator("button")).to_have_attribute("aria-pressed", "true")
        await expect(older_form.locator(".like-count")).to_have_text("1 like")
        await expect(older_form.locator("button")).to_be_focused()  # once the swap settled
        assert await likes_of(server, older) == 1

        # `f` likes and unlikes the selected post; the selection (focus) stays on the post.
        await page.keyboard.press("j")
        post = page.locator(f"#post-{newer}")
        await expect(post).to_be_focused()
        await page.keyboard.press("f")
        await expect(form.get_by_role("button", name="Like", exact=True)).to_be_visible()
        await expect(form.locator(".like-count")).to_have_text("0 likes")
        await expect(post).to_be_focused()
        await announced(page, "Like removed")
        await page.keyboard.press("f")
        await expect(form.locator("button")).to_have_attribute("aria-pressed", "true")
        await expect(form.locator(".like-count")).to_have_text("1 like")
        await expect(post).to_be_focused()
    assert await likes_of(server, newer) == 1

    # It was stored: a reload shows the same.
    await page.reload()
    await expect(page.locator(f"#like-{newer} button")).to_have_attribute("aria-pressed", "true")

    # On a post's own page, `f` likes that post; the count links to who liked it.
    await page.goto(f"{server.url}/posts/{older}")
    await page.keyboard.press("f")
    await expect(page.locator(f"#like-{older} .like-count")).to_have_text("0 likes")
    await page.keyboard.press("f")
    await expect(page.locator(f"#like-{older} .like-count")).to_have_text("1 like")
    async with page.expect_navigation():
        await page.locator(f"#like-{older} .like-count").click()
    await expect(page.locator("#people li.person")).to_have_count(1)
    await expect(page.locator("#people")).to_contain_text(reader)

    # The author hears of it, once per post (liking again within the hour brings the same
    # notification back): the follow, and a line for each liked post.
    author_page = await new_page()
    await log_in(author_page, server.url, author)
    await expect(author_page.locator("#notifications-count")).to_have_text("3")
    await author_page.goto(f"{server.url}/notifications")
    lines = author_page.locator("li.notification")
    await expect(lines).to_have_count(3)
    await expect(lines.filter(has_text=f"{reader} liked your post")).to_have_count(2)
    await expect(lines.last).to_contain_text(f"{reader} followed you")


async def test_like_works_without_javascript_and_logged_out_readers_see_counts(
    server: Server, new_page: NewPage
) -> None:
    _, author_id = await server.make_user("plain")
    reader, _ = await server.make_user("nojs")
    (post_id,) = await server.make_posts(author_id, ["A post to like without scripts"])
    page = await new_page(javascript=False)
    await log_in(page, server.url, reader)
    await page.goto(f"{server.url}/explore")
    async with page.expect_navigation():
        await page.locator(f"#like-{post_id} button").click()
    assert page.url == f"{server.url}/explore#post-{post_id}"
    await expect(page.locator(f"#like-{post_id} button")).to_have_text(re.compile("Unlike"))
    await expect(page.locator(f"#like-{post_id} .like-count")).to_have_text("1 like")
    await expect(page.locator("#messages")).to_contain_text("You like this post.")
    async with page.expect_navigation():
        await page.locator(f"#like-{post_id} button").click()
    await expect(page.locator(f"#like-{post_id} .like-count")).to_have_text("0 likes")
    assert await likes_of(server, post_id) == 0

    anonymous = await new_page()
    await anonymous.goto(f"{server.url}/explore")
    await expect(anonymous.locator(f"#like-{post_id} .like-count")).to_have_text("0 likes")
    await expect(anonymous.locator(f"#like-{post_id} button")).to_have_count(0)


async def test_edit_in_place_cancel_with_esc_or_cancel_then_save(
    server: Server, new_page: NewPage
) -> None:
    author, author_id = await server.make_user("editor")
    (post_id,) = await server.make_posts(author_id, ["Before the edit"])
    page = await new_page()
    await log_in(page, server.url, author)
    article = page.locator(f"article#post-{post_id}")
    box = page.locator(f"#edit-body-{post_id}")
    edit = article.locator("a.edit-link")

    async with same_page(page):
        # Esc cancels: the post comes back unchanged, focus on its Edit link.
        await edit.click()
        await expect(box).to_be_focused()
        await expect(box).to_have_value("Before the edit")
        await expect(article).to_have_count(0)
        await box.fill("Changed, then cancelled")
        await box.press("Escape")
        await expect(article.locator(".post-body")).to_have_text("Before the edit")
        await expect(box).to_have_count(0)
        await expect(edit).to_be_focused()

        # So does Cancel.
        await edit.click()
        await box.fill("Changed again, then cancelled")
        await page.locator(f"#post-{post_id} a.edit-cancel").click()
        await expect(article.locator(".post-body")).to_have_text("Before the edit")

        # An empty text is refused in place (422), the box keeps focus.
        watch_of(page).expect_status(422)
        await edit.click()
        await box.fill("   ")
        await box.press("Control+Enter")
        await expect(page.locator(f"#edit-error-{post_id}")).to_have_text(
            "Write something first: an empty post cannot be sent."
        )
        await expect(box).to_be_focused()

        # Saving shows the new text, "edited" and its time, where the post was.
        await box.fill("After the edit")
        await box.press("Control+Enter")
        await expect(article.locator(".post-body")).to_have_text("After the edit")
        edited = article.locator("a.edited")
        await expect(edited).to_contain_text("edited")
        await expect(edited.locator("time")).to_have_attribute("datetime", UTC_SECOND)
        await expect(edit).to_be_focused()
        await announced(page, "Post saved")
    stored = await server.scalar("SELECT body FROM posts WHERE id = :p", p=post_id)
    assert stored == "After the edit"

    # "edited" leads to the history: the current text first, then the earlier one.
    async with page.expect_navigation():
        await article.locator("a.edited").click()
    versions = page.locator("#history li.version")
    await expect(versions).to_have_count(2)
    await expect(versions.nth(0)).to_contain_text("Current version")
    await expect(versions.nth(0)).to_contain_text("After the edit")
    await expect(versions.nth(1)).to_contain_text("Before the edit")

    # On the post's own page too, and it stays the page's post.
    await page.goto(f"{server.url}/posts/{post_id}")
    async with same_page(page):
        await edit.click()
        await expect(box).to_be_focused()
        await box.fill("Edited on its page")
        await page.locator(f"#edit-{post_id} button[type=submit]").click()
        await expect(article).to_have_class(re.compile(r"\bpost-standalone\b"))
        await expect(article.locator(".post-body")).to_have_text("Edited on its page")


async def test_a_save_sent_the_moment_a_refusal_arrives_stays_in_place(
    server: Server, new_page: NewPage
) -> None:
    """The refused form is live as soon as it is swapped in: a keystroke in the very next task
    is sent by htmx, never as a plain form that leaves the page."""
    author, author_id = await server.make_user("quickfix")
    (post_id,) = await server.make_posts(author_id, ["Before the quick fix"])
    page = await new_page()
    await log_in(page, server.url, author)
    box = page.locator(f"#edit-body-{post_id}")
    async with same_page(page):
        await page.locator(f"article#post-{post_id} a.edit-link").click()
        await expect(box).to_be_focused()
        watch_of(page).expect_status(422)
        await box.fill("   ")
        # When the refusal is swapped in, the next task types the fix and sends it.
        await page.evaluate(
            """postId => document.addEventListener("htmx:afterSwap", () => setTimeout(() => {
                const box = document.getElementById(`edit-body-${postId}`);
                box.value = "Fixed at once";
                box.dispatchEvent(new KeyboardEvent("keydown",
                    {key: "Enter", ctrlKey: true, bubbles: true}));
            }), {once: true})""",
            post_id,
        )
        await box.press("Control+Enter")
        article = page.locator(f"article#post-{post_id}")
        await expect(article.locator(".post-body")).to_have_text("Fixed at once")
        await expect(article.locator("a.edit-link")).to_be_focused()


async def test_a_notification_arriving_while_saving_leaves_the_focus_to_the_save(
    server: Server, new_page: NewPage
) -> None:
    """A live swap (the unread count) settling while a save is in flight moves no focus, and
    the save's own answer still puts it on the Edit link."""
    author, author_id = await server.make_user("busy")
    fan, _ = await server.make_user("fan")
    (post_id,) = await server.make_posts(author_id, ["Before the busy edit"])
    page, fan_page = await new_page(), await new_page()
    await log_in(page, server.url, author)
    await log_in(fan_page, server.url, fan)
    await fan_page.goto(f"{server.url}/user/{author}")
    box = page.locator(f"#edit-body-{post_id}")
    article = page.locator(f"article#post-{post_id}")

    release = asyncio.Event()

    async def hold_the_save(route: Route) -> None:
        if route.request.method == "POST":
            await release.wait()
        await route.continue_()

    async with same_page(page):
        await article.locator("a.edit-link").click()
        await expect(box).to_be_focused()
        await box.fill("After the busy edit")
        await page.route(f"**/posts/{post_id}/edit", hold_the_save)
        await box.press("Control+Enter")
        await fan_page.get_by_role("button", name="Follow").click()
        await expect(page.locator("#notifications-count")).to_have_text("1")
        release.set()
        await expect(article.locator(".post-body")).to_have_text("After the busy edit")
        await expect(article.locator("a.edit-link")).to_be_focused()


async def test_edit_without_javascript_is_a_page_of_its_own(
    server: Server, new_page: NewPage
) -> None:
    author, author_id = await server.make_user("plainedit")
    (post_id,) = await server.make_posts(author_id, ["Plain before"])
    page = await new_page(javascript=False)
    await log_in(page, server.url, author)
    await page.goto(f"{server.url}/user/{author}")
    async with page.expect_navigation():
        await page.locator(f"#post-{post_id} a.edit-link").click()
    assert page.url == f"{server.url}/posts/{post_id}/edit"
    await page.fill(f"#edit-body-{post_id}", "Plain after")
    async with page.expect_navigation():
        await page.locator(f"#edit-{post_id} button[type=submit]").click()
    assert page.url == f"{server.url}/posts/{post_id}"
    await expect(page.locator(f"#post-{post_id} .post-body")).to_have_text("Plain after")
    await expect(page.locator(f"#post-{post_id} a.edited")).to_be_visible()

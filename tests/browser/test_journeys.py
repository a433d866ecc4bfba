"""The journeys that make Warble feel instant and keyboard-driven, in a real Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Dialog, Page, Request, Route, expect

from tests.browser.conftest import NewPage
from tests.browser.pages import log_in, post_ids, register, same_page, watch_of
from tests.browser.server import Server, unique_name

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def scroll_until_all_loaded(page: Page, expected: int) -> None:
    """Scroll to the bottom until the feed has `expected` posts and no "Older posts" link."""
    feed = page.locator("#feed article.post")
    for _ in range(expected):  # at least one post per round: never loops forever
        if await page.locator("#feed-more").count() == 0:
            break
        shown = await feed.count()
        await page.mouse.wheel(0, 20_000)
        await page.wait_for_function(
            """n => document.querySelectorAll("#feed article.post").length > n
                   || !document.getElementById("feed-more")""",
            arg=shown,
        )
    await expect(feed).to_have_count(expected)
    await expect(page.locator("#feed-more")).to_have_count(0)


async def test_post_from_the_keyboard_appears_on_top_without_a_page_load(
    server: Server, new_page: NewPage
) -> None:
    page = await new_page()
    username = unique_name("poster")
    await register(page, server.url, username)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    box = page.locator("#composer-body")

    async with same_page(page):
        await page.keyboard.press("n")
        await expect(box).to_be_focused()
        await page.keyboard.type("Hello from the keyboard")
        await page.keyboard.press("Enter")  # a plain Enter is a new line, never a submit
        await page.keyboard.type("second line")
        await expect(page.locator("#composer-count")).to_have_text(str(500 - 35))
        await page.wait_for_timeout(300)
        assert sent == [], "typing alone submitted the form"
        await expect(page.locator("#feed article.post")).to_have_count(0)

        await page.keyboard.press("Control+Enter")
        first = page.locator("#feed article.post").first
        await expect(first).to_contain_text("Hello from the keyboard\nsecond line")
        await expect(first.locator(".author")).to_have_text(username)
        await expect(box).to_have_value("")
        await expect(box).to_be_focused()
        await expect(page.locator("#composer-count")).to_have_text("500")
        await expect(page.locator("#feed article.post")).to_have_count(1)
    assert sent == [f"{server.url}/posts"]

    await page.reload()
    await expect(page.locator("#feed article.post").first).to_contain_text("second line")


async def test_two_rapid_submissions_send_one_request_and_store_one_post(
    server: Server, new_page: NewPage
) -> None:
    username, user_id = await server.make_user("eager")
    page = await new_page()
    await log_in(page, server.url, username)
    box = page.locator("#composer-body")
    button = page.locator("#composer button[type=submit]")
    sent: list[str] = []
    held: list[Route] | None = []

    async def hold(route: Route) -> None:
        """Keep POST /posts in flight until the test has tried to submit again."""
        sent.append(route.request.method)
        if held is not None:
            held.append(route)
        else:
            await route.continue_()

    def is_post(request: Request) -> bool:
        return request.method == "POST" and request.url == f"{server.url}/posts"

    await page.route(f"{server.url}/posts", hold)
    async with same_page(page):
        await box.fill("Only once, please")
        async with page.expect_request(is_post):
            await button.dblclick()
        await expect(button).to_be_disabled()
        await box.press("Control+Enter")  # and the shortcut too, while the post is in flight
        routes, held = held, None
        for route in routes:
            await route.continue_()
        await expect(page.locator("#feed article.post")).to_have_count(1)
        await expect(box).to_have_value("")
        await expect(page.locator("#composer.htmx-request")).to_have_count(0)

    assert sent == ["POST"]
    stored = await server.scalar("SELECT count(*) FROM posts WHERE author_id = :a", a=user_id)
    assert stored == 1


async def test_follow_and_unfollow_swap_in_place_and_persist(
    server: Server, new_page: NewPage
) -> None:
    author, author_id = await server.make_user("author")
    reader, _ = await server.make_user("reader")
    page = await new_page()
    await log_in(page, server.url, reader)
    await page.goto(f"{server.url}/user/{author}")
    button = page.locator(f"#follow-{author_id} button")
    count = page.locator("#followers-count")
    await expect(button).to_have_text("Follow")
    await expect(count).to_have_text("0")

    async with same_page(page):
        await button.click()
        await expect(button).to_have_text("Unfollow")
        await expect(count).to_have_text("1")
        await button.click()
        await expect(button).to_have_text("Follow")
        await expect(count).to_have_text("0")
        await button.click()
        await expect(button).to_have_text("Unfollow")
        await expect(count).to_have_text("1")

    await page.reload()
    await expect(button).to_have_text("Unfollow")
    await expect(count).to_have_text("1")
    await expect(page.locator("#following-count")).to_have_text("0")


async def test_infinite_timeline_loads_all_posts_in_order_each_once(
    server: Server, new_page: NewPage
) -> None:
    _, author_id = await server.make_user("prolific")
    reader, reader_id = await server.make_user("scroller")
    await server.follow(reader_id, author_id)
    ids = await server.make_posts(author_id, [f"Post number {n}" for n in range(1, 66)])
    newest_first = list(reversed(ids))

    page = await new_page()
    await log_in(page, server.url, reader)
    await expect(page.locator("#feed article.post")).to_have_count(20)
    async with same_page(page):
        await scroll_until_all_loaded(page, 65)
    assert await post_ids(page) == newest_first

    # Without JavaScript the same link is a plain link to the next page.
    plain = await new_page(javascript=False)
    await log_in(plain, server.url, reader)
    seen: list[int] = []
    for _ in range(10):
        seen += await post_ids(plain)
        older = plain.locator("#feed-more a[rel=next]")
        if await older.count() == 0:
            break
        await expect(older).to_have_text("Older posts")
        async with plain.expect_navigation():
            await older.click()
        assert "before=" in plain.url
    assert seen == newest_first


async def test_comment_appears_in_place_and_empty_comment_is_refused(
    server: Server, new_page: NewPage
) -> None:
    _, author_id = await server.make_user("writer")
    (post_id,) = await server.make_posts(author_id, ["Comment on me"])
    commenter, _ = await server.make_user("commenter")
    page = await new_page()
    await log_in(page, server.url, commenter)
    await page.goto(f"{server.url}/posts/{post_id}")
    box = page.locator("#comment-body")
    comments = page.locator("#comment-list li.comment")
    count = page.locator(f"#comment-count-{post_id}")
    await expect(count).to_have_text("0 comments")

    async with same_page(page):
        await box.click()
        await page.keyboard.type("Nice one")
        await page.keyboard.press("Control+Enter")
        await expect(comments).to_have_count(1)
        await expect(comments.first).to_contain_text("Nice one")
        await expect(comments.first.locator(".author")).to_have_text(commenter)
        await expect(count).to_have_text("1 comment")
        await expect(box).to_have_value("")

        watch_of(page).expect_status(422)
        await box.focus()
        await page.keyboard.press("Control+Enter")
        error = page.locator("#comment-form .field-error")
        await expect(error).to_be_visible()
        await expect(error).to_contain_text(re.compile(r"\w"))
        await expect(page.locator("#comment-body")).to_have_attribute("aria-invalid", "true")
        await expect(comments).to_have_count(1)
        await expect(count).to_have_text("1 comment")

    stored = await server.scalar("SELECT count(*) FROM comments WHERE post_id = :p", p=post_id)
    assert stored == 1


async def test_comment_sent_before_more_comments_load_lands_once_and_in_order(
    server: Server, new_page: NewPage
) -> None:
    """25 comments: the page shows 20 and "More comments". A comment sent now goes after the gap
    the link stands for, and loading the gap brings the other 5 before it, none twice."""
    _, author_id = await server.make_user("talker")
    (post_id,) = await server.make_posts(author_id, ["A busy post"])
    await server.make_comments(post_id, [(author_id, f"old comment {n}") for n in range(25)])
    commenter, _ = await server.make_user("latecomer")
    page = await new_page()
    await log_in(page, server.url, commenter)
    await page.goto(f"{server.url}/posts/{post_id}")
    comments = page.locator("#comment-list li.comment")
    await expect(comments).to_have_count(20)

    async with same_page(page):
        # Sent without scrolling: "More comments" (loaded once revealed) stays out of view.
        await page.evaluate(
            """() => {
                document.getElementById("comment-body").value = "new comment";
                document.getElementById("comment-form").requestSubmit();
            }"""
        )
        await expect(comments).to_have_count(21)
        await expect(comments.last).to_contain_text("new comment")
        # Loads when seen; focus back in the box after sending may have shown it already.
        await page.evaluate("() => document.getElementById('comments-more')?.scrollIntoView()")
        await expect(comments).to_have_count(26)
        await expect(page.locator("#comments-more")).to_have_count(0)

    shown = await comments.locator(".comment-body").all_inner_texts()
    assert shown == [f"old comment {n}" for n in range(25)] + ["new comment"]
    ids = [int(i.split("-")[1]) for i in await comments.evaluate_all("els => els.map(e => e.id)")]
    assert ids == sorted(ids) and len(set(ids)) == 26


async def test_keyboard_moves_focus_opens_posts_and_the_shortcuts_dialog(
    server: Server, new_page: NewPage
) -> None:
    username, user_id = await server.make_user("keys")
    oldest, middle, newest = await server.make_posts(user_id, ["one", "two", "three"])
    page = await new_page()
    await log_in(page, server.url, username)
    focused = page.locator("#feed article.post.is-focused")

    async with same_page(page):
        await page.keyboard.press("j")
        await expect(focused).to_have_id(f"post-{newest}")
        await expect(page.locator(f"#post-{newest}")).to_be_focused()
        await page.keyboard.press("j")
        await expect(focused).to_have_id(f"post-{middle}")
        await expect(page.locator(f"#post-{middle}")).to_be_focused()
        await page.keyboard.press("j")
        await page.keyboard.press("j")  # stays on the last post
        await expect(focused).to_have_id(f"post-{oldest}")
        await page.keyboard.press("k")
        await expect(focused).to_have_id(f"post-{middle}")
        await expect(focused).to_have_count(1)
        outline = await focused.evaluate("e => getComputedStyle(e).outlineStyle")
        assert outline != "none", "the selected post has no visible focus ring"

        dialog = page.locator("dialog#shortcuts")
        await page.keyboard.press("?")
        await expect(dialog).to_be_visible()
        await expect(dialog).to_have_attribute("open", "")
        await page.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()

    # `o` first records the opened post in the timeline's address (#post-<id>), then leaves.
    async with page.expect_navigation(url=f"{server.url}/posts/{middle}"):
        await page.keyboard.press("o")
    await expect(page.locator(f"#post-{middle}")).to_contain_text("two")


async def test_back_after_loading_older_posts_restores_a_working_timeline(
    server: Server, new_page: NewPage
) -> None:
    author, author_id = await server.make_user("history")
    ids = await server.make_posts(author_id, [f"Entry {n}" for n in range(1, 31)])
    newest_first = list(reversed(ids))
    page = await new_page()
    await log_in(page, server.url, author)
    async with same_page(page):
        await scroll_until_all_loaded(page, 30)

    older = newest_first[25]  # on the second page
    async with page.expect_navigation(url=f"{server.url}/posts/{older}"):
        await page.locator(f"#post-{older} a.permalink").click()
    assert page.url == f"{server.url}/posts/{older}"

    await page.go_back()
    await page.wait_for_load_state("networkidle")
    # The address recorded how far the timeline was loaded and which post was opened.
    assert page.url.startswith(f"{server.url}/?until=") and page.url.endswith(f"#post-{older}")
    # A complete page, not a fragment: one layout, the composer, the feed, its scripts working.
    await expect(page.locator("header.site-header")).to_have_count(1)
    await expect(page.locator("main#main")).to_have_count(1)
    await expect(page.locator("form#composer")).to_have_count(1)
    await expect(page.locator("title")).to_have_count(1)
    await scroll_until_all_loaded(page, 30)
    assert await post_ids(page) == newest_first
    # What htmx asks for when its history cache misses: the whole page, not a fragment.
    restored = await page.evaluate(
        """async () => {
          const headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"};
          const response = await fetch("/", {headers});
          return {status: response.status, vary: response.headers.get("Vary"),
                  html: await response.text()};
        }"""
    )
    assert restored["status"] == 200
    assert "<html" in restored["html"] and 'id="composer"' in restored["html"]
    assert "HX-History-Restore-Request" in restored["vary"]
    async with same_page(page):
        await page.keyboard.press("n")
        await page.keyboard.type("Still works after Back")
        await page.keyboard.press("Control+Enter")
        await expect(page.locator("#feed article.post").first).to_contain_text("after Back")


async def test_everything_works_without_javascript(server: Server, new_page: NewPage) -> None:
    other, other_id = await server.make_user("other")
    (other_post,) = await server.make_posts(other_id, ["Say something"])
    page = await new_page(javascript=False)
    username = unique_name("nojs")
    await register(page, server.url, username)
    await expect(page.locator("#messages")).to_contain_text(f"Welcome to Warble, {username}")

    async with page.expect_navigation():
        await page.click("nav form button[type=submit]")  # log out
    await expect(page.locator("nav")).to_contain_text("Log in")
    await log_in(page, server.url, username)

    await page.fill("#composer-body", "Posted with a plain form")
    async with page.expect_navigation():
        await page.click("#composer button[type=submit]")
    await expect(page.locator("#feed article.post").first).to_contain_text("Posted with a plain")

    await page.goto(f"{server.url}/user/{other}")
    async with page.expect_navigation():
        await page.click(f"#follow-{other_id} button")
    assert page.url == f"{server.url}/user/{other}"
    await expect(page.locator(f"#follow-{other_id} button")).to_have_text("Unfollow")
    await expect(page.locator("#followers-count")).to_have_text("1")

    await page.goto(f"{server.url}/posts/{other_post}")
    await page.fill("#comment-body", "A comment without scripts")
    async with page.expect_navigation():
        await page.click("#comment-form button[type=submit]")
    await expect(page.locator("#comment-list li.comment")).to_contain_text("without scripts")
    await expect(page.locator(f"#comment-count-{other_post}")).to_have_text("1 comment")

    # Delete goes through a confirmation page.
    await page.goto(f"{server.url}/")
    mine = page.locator("#feed article.post", has_text="Posted with a plain form")
    async with page.expect_navigation():
        await mine.get_by_role("link", name="Delete").click()
    await expect(page.locator("h1")).to_have_text("Delete this post?")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Delete").click()
    await expect(page.locator("#messages")).to_contain_text("Post deleted.")
    await expect(page.locator("#feed", has_text="Posted with a plain form")).to_have_count(0)


async def test_delete_asks_for_confirmation_and_removes_the_post_in_place(
    server: Server, new_page: NewPage
) -> None:
    username, user_id = await server.make_user("deleter")
    keep, doomed = await server.make_posts(user_id, ["Keep me", "Delete me"])
    page = await new_page()
    await log_in(page, server.url, username)
    delete = page.locator(f"#post-{doomed} a.danger")
    questions: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await dialog.dismiss()

    async def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await dialog.accept()

    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    async with same_page(page):
        page.once("dialog", dismiss)
        await delete.click()
        await page.wait_for_timeout(300)
        await expect(page.locator(f"#post-{doomed}")).to_be_visible()
        assert sent == [], "a dismissed confirmation still sent the delete"
        page.once("dialog", accept)
        await delete.click()
        await expect(page.locator(f"#post-{doomed}")).to_have_count(0)
        await expect(page.locator(f"#post-{keep}")).to_be_visible()

    assert questions == ["Delete this post? This cannot be undone."] * 2
    assert await server.scalar("SELECT count(*) FROM posts WHERE id = :p", p=doomed) == 0
    assert await server.scalar("SELECT count(*) FROM posts WHERE id = :p", p=keep) == 1

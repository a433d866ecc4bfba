"""An interface that never fails silently and never loses what was typed: messages in view,
focus that stays, a composer that never cuts, a first run that leads somewhere, Back that
returns to the same post, and styles that show state. In Chromium, on each backend."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, Route, expect

from app.models import POST_MAX
from app.text import clean
from tests.browser.conftest import NewPage
from tests.browser.pages import log_in, post_ids, register, same_page, watch_of
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PHONE = {"width": 390, "height": 844}
IN_VIEW = """e => { const r = e.getBoundingClientRect();
  return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; }"""
BELOW_HEADER = """e => e.getBoundingClientRect().top
  >= document.querySelector(".site-header").getBoundingClientRect().bottom"""


async def in_view(page: Page, selector: str) -> bool:
    return bool(await page.locator(selector).first.evaluate(IN_VIEW))


async def abort(route: Route) -> None:
    await route.abort("connectionrefused")


async def announced(page: Page, text: str) -> None:
    await expect(page.locator("#announcer")).to_have_text(text)


async def test_failed_requests_say_so_in_view_keep_the_draft_and_can_be_retried(
    server: Server, new_page: NewPage
) -> None:
    """Point 1: network failures and error answers, in the fixed message region."""
    author, author_id = await server.make_user("far")
    reader, reader_id = await server.make_user("offline")
    await server.make_posts(author_id, [f"Far post {n}" for n in range(25)])
    await server.make_posts(reader_id, ["Mine"])
    page = await new_page()
    watch_of(page).expect_unreachable()
    await log_in(page, server.url, reader)
    messages = page.locator("#messages .flash")

    await page.goto(f"{server.url}/user/{author}")
    async with same_page(page):
        # Follow with the server unreachable: a message in view, the button usable again.
        await page.route("**/follow", abort)
        button = page.locator(f"#follow-{author_id} button")
        await button.click()
        await expect(messages).to_contain_text("Could not reach Warble")
        assert await in_view(page, "#messages .flash")
        await expect(button).to_be_enabled()
        await expect(button).to_have_text("Follow")
        await page.unroute("**/follow", abort)
        await button.click()  # works again, and the message about the failure goes
        await expect(button).to_have_text("Unfollow")
        await expect(messages).to_have_count(0)

    await page.goto(f"{server.url}/")
    async with same_page(page):
        # Ctrl+Enter with the server unreachable: the draft stays, the message replaces the
        # last one (never piles up), Esc dismisses it.
        await page.route(f"{server.url}/posts", abort)
        box = page.locator("#composer-body")
        await box.fill("A draft I must not lose")
        await box.press("Control+Enter")
        await expect(messages).to_contain_text("Could not reach Warble")
        await box.press("Control+Enter")
        await expect(messages).to_have_count(1)
        await expect(box).to_have_value("A draft I must not lose")
        await expect(page.locator("#composer button[type=submit]")).to_be_enabled()
        await box.press("Escape")  # leaves the box
        await page.keyboard.press("Escape")  # closes the message
        await expect(messages).to_have_count(0)
        await page.unroute(f"{server.url}/posts", abort)

        # Older posts with the server unreachable: it says so; scrolling again retries.
        await page.route(re.compile(r".*/\?before=.*"), abort)
        await page.locator("#feed-more").scroll_into_view_if_needed()
        more = page.locator("#feed-more a")
        await expect(more).to_contain_text("Scroll or press to try again")
        await expect(messages).to_contain_text("Could not reach Warble")
        await page.unroute(re.compile(r".*/\?before=.*"), abort)
        feed = page.locator("#feed article.post")
        await expect(feed).to_have_count(20)
        for _ in range(40):  # the retry is armed a moment after the failure
            await page.mouse.wheel(0, 500)
            try:
                await expect(feed).to_have_count(26, timeout=250)
                break
            except AssertionError:
                continue
        await expect(feed).to_have_count(26)  # the 25 of the followed author, and mine
        await expect(page.locator("#feed-end")).to_be_visible()


async def test_errors_deep_in_the_page_and_a_stale_page_show_one_message_in_view(
    server: Server, new_page: NewPage
) -> None:
    """Point 1: a refused Delete far down lands in view; a stale CSRF token asks to reload."""
    username, user_id = await server.make_user("deep")
    ids = await server.make_posts(user_id, [f"Deep {n}" for n in range(20)])
    page = await new_page()
    await log_in(page, server.url, username)
    watch_of(page).expect_status(403, 404)
    page.on("dialog", lambda dialog: dialog.accept())
    oldest = ids[0]
    await server.execute("DELETE FROM posts WHERE id = :p", p=oldest)  # "in another tab"
    messages = page.locator("#messages .flash")
    async with same_page(page):
        await page.locator(f"#post-{oldest} a.danger").click()
        await expect(messages).to_contain_text("Post not found")
        assert await in_view(page, "#messages .flash")
        assert await page.evaluate("scrollY") > 500  # still deep in the page

    # Logged out and in again in another tab: this page's token is stale.
    other = await page.context.new_page()
    await other.goto(f"{server.url}/")
    async with other.expect_navigation():
        await other.click("nav form button[type=submit]")
    await log_in(other, server.url, username)
    await other.close()
    async with same_page(page):
        for _ in range(2):
            await page.locator("#composer-body").fill("Typed on a stale page")
            await page.locator("#composer-body").press("Control+Enter")
            await expect(messages).to_contain_text("out of date")
            await expect(messages).to_have_count(1)
        await expect(page.locator("#composer-body")).to_have_value("Typed on a stale page")
        await expect(messages.get_by_role("link", name="Reload the page")).to_be_visible()
    async with page.expect_navigation():
        await messages.get_by_role("link", name="Reload the page").click()
    await expect(page.locator("#composer")).to_be_visible()


async def test_the_composer_never_cuts_and_counts_as_the_server_does(
    server: Server, new_page: NewPage
) -> None:
    """Point 2: negative counter, disabled Post, the server's count; hidden without JS."""
    username, _ = await server.make_user("paster")
    page = await new_page()
    await log_in(page, server.url, username)
    box, count = page.locator("#composer-body"), page.locator("#composer-count")
    button = page.locator("#composer button[type=submit]")
    long = "x" * 707
    await box.fill(long)
    await expect(box).to_have_value(long)
    await expect(count).to_have_text("-207")
    await expect(count).to_have_class(re.compile(r"\bover\b"))
    red = await count.evaluate("e => getComputedStyle(e).color")
    danger = await page.evaluate(
        "() => { const p = document.createElement('p'); p.className = 'danger';"
        " document.body.append(p); const c = getComputedStyle(p).color; p.remove(); return c; }"
    )
    assert red == danger
    await expect(button).to_be_disabled()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    await box.press("Control+Enter")
    emoji = "\U0001f600" * 260
    await box.fill(emoji)
    await expect(box).to_have_value(emoji)
    await expect(count).to_have_text(str(POST_MAX - 260))
    await expect(button).to_be_enabled()
    tricky = "  \r\nline\u202e one\r\n\u200b\u00e9\U0001f469\u200d\U0001f4bb\x07 \u3000"
    await box.fill(tricky)
    await expect(count).to_have_text(str(POST_MAX - len(clean(tricky))))
    await box.fill(" \u200b\n\u2800 ")
    await expect(count).to_have_text(str(POST_MAX))
    assert sent == [], "an over-long post was sent"

    for path, field, counter in [
        ("/settings/profile", "#about_me", "#about-count"),
    ]:
        await page.goto(server.url + path)
        await page.locator(field).fill("y" * 300)
        await expect(page.locator(field)).to_have_value("y" * 300)
        await expect(page.locator(counter)).to_have_text("-20")
        await expect(page.locator("#settings-form button[type=submit]")).to_be_disabled()
    for textarea in ["#about_me"]:
        assert await page.locator(textarea).get_attribute("maxlength") is None

    plain = await new_page(javascript=False)
    await log_in(plain, server.url, username)
    await expect(plain.locator("#composer .hint")).to_be_hidden()
    await expect(plain.locator("#composer-count")).to_be_hidden()
    assert await plain.locator("#composer-body").get_attribute("maxlength") is None


async def test_comment_box_counts_like_the_composer_and_never_cuts(
    server: Server, new_page: NewPage
) -> None:
    """Point 2 for comments; point 5 for comments: announced, focus after delete."""
    username, user_id = await server.make_user("commenter")
    (post_id,) = await server.make_posts(user_id, ["Talk to me"])
    page = await new_page()
    await log_in(page, server.url, username)
    await page.goto(f"{server.url}/posts/{post_id}")
    box = page.locator("#comment-body")
    assert await box.get_attribute("maxlength") is None
    await box.fill("z" * 510)
    await expect(page.locator("#comment-count")).to_have_text("-10")
    await expect(page.locator("#comment-form button[type=submit]")).to_be_disabled()
    async with same_page(page):
        for words in ["first comment", "second comment"]:
            await box.fill(words)
            await box.press("Control+Enter")
            await announced(page, "Comment added")
        comments = page.locator("#comment-list li.comment")
        await expect(comments).to_have_count(2)
        page.on("dialog", lambda dialog: dialog.accept())
        await comments.first.get_by_role("link", name="Delete").click()
        await expect(comments).to_have_count(1)
        await expect(comments.first).to_be_focused()
        await announced(page, "Comment deleted")
        await comments.first.get_by_role("link", name="Delete").click()
        await expect(comments).to_have_count(0)
        await expect(page.locator("#comments-title")).to_be_focused()


async def test_a_first_run_leads_to_people_to_follow(server: Server, new_page: NewPage) -> None:
    """Point 3: suggestions, the Explore link, Follow on Explore, /people; point 5: focus
    stays on the new button and the change is announced."""
    star, star_id = await server.make_user("star")
    fan, fan_id = await server.make_user("fan")
    await server.follow(fan_id, star_id)
    await server.make_posts(star_id, ["Welcome, newcomers"])
    page = await new_page()
    newcomer = "new" + fan[3:]
    await register(page, server.url, newcomer)
    empty = page.locator("#feed-empty")
    await expect(empty.get_by_role("link", name="Explore")).to_have_attribute("href", "/explore")
    suggested = page.locator("#suggestions li.person")
    await expect(suggested.first).to_be_visible()
    assert 1 <= await suggested.count() <= 5
    await expect(page.locator("#suggestions")).not_to_contain_text(newcomer)
    async with same_page(page):
        button = page.locator(f"#follow-{star_id} button")
        await button.focus()
        await page.keyboard.press("Enter")
        await expect(button).to_have_text("Unfollow")
        await expect(button).to_be_focused()
        await announced(page, f"Following {star}")
        await page.keyboard.press("Enter")
        await expect(button).to_have_text("Follow")
        await expect(button).to_be_focused()

        await page.locator("#composer-body").fill("My very first post")
        await page.locator("#composer-body").press("Control+Enter")
        await expect(page.locator("#feed article.post")).to_have_count(1)
        await expect(empty).to_have_count(0)
        await announced(page, "Posted")

    await page.goto(f"{server.url}/explore")
    mine_button = page.locator("#feed article.post", has_text="My very first post")
    await expect(mine_button.locator(".follow-form")).to_have_count(0)
    star_post = page.locator("#feed article.post", has_text="Welcome, newcomers")
    follow = star_post.get_by_role("button", name=f"Follow {star}")
    async with same_page(page):
        await follow.click()
        await expect(star_post.get_by_role("button", name=f"Unfollow {star}")).to_be_focused()
    await page.reload()
    await expect(star_post.locator(".follow-form")).to_have_count(0)  # followed: no button

    async with page.expect_navigation():
        await page.get_by_role("link", name="everyone on this Warble").click()
    assert page.url == f"{server.url}/people"
    people = page.locator("#people li.person")
    await expect(people.first).to_be_visible()
    await expect(people.first).to_contain_text(newcomer)  # newest first
    async with page.expect_navigation():
        await page.get_by_role("link", name="Most followed").click()
    counts = [
        int(t.split()[0])
        for t in await people.locator(".meta")
        .filter(has_text=re.compile(r"^\d+ followers?$"))
        .all_inner_texts()
    ]
    assert counts == sorted(counts, reverse=True)


async def test_keyboard_moves_below_the_header_loads_more_and_names_posts(
    server: Server, new_page: NewPage
) -> None:
    """Point 4: j/k below the sticky header, j loads older posts, c, n everywhere, ?."""
    username, user_id = await server.make_user("typist")
    ids = await server.make_posts(user_id, [f"Keyboard post {n}" for n in range(25)])
    newest_first = list(reversed(ids))
    page = await new_page(viewport=PHONE)
    await log_in(page, server.url, username)
    selected = page.locator("#feed article.post.is-focused")
    async with same_page(page):
        for _ in range(20):
            await page.keyboard.press("j")
        await expect(selected).to_have_id(f"post-{newest_first[19]}")
        await page.keyboard.press("j")  # past the last loaded post: the next page, and on
        await expect(selected).to_have_id(f"post-{newest_first[20]}")
        await expect(page.locator("#feed article.post")).to_have_count(25)
        for _ in range(3):
            await page.keyboard.press("k")
            assert await selected.evaluate(BELOW_HEADER), "k hid the post under the header"
        await expect(selected).to_have_id(f"post-{newest_first[17]}")
        await expect(selected).to_have_accessible_name(
            re.compile(rf"^{username} \d+ min ago Keyboard post 7$")
        )
        await page.keyboard.press("?")
        dialog = page.locator("dialog#shortcuts")
        await expect(dialog).to_contain_text("older posts load")
        await expect(dialog).to_contain_text("ready to type")
        await page.keyboard.press("Escape")

    async with page.expect_navigation(url=re.compile(r"/posts/\d+#comment-body$")):
        await page.keyboard.press("c")
    await expect(page.locator("#comment-body")).to_be_focused()
    await page.keyboard.type("typed at once")
    await expect(page.locator("#comment-body")).to_have_value("typed at once")

    await page.goto(f"{server.url}/user/{username}")
    async with page.expect_navigation(url=f"{server.url}/#composer-body"):
        await page.keyboard.press("n")
    await expect(page.locator("#composer-body")).to_be_focused()


async def test_deleting_a_post_moves_focus_to_the_next_and_announces_it(
    server: Server, new_page: NewPage
) -> None:
    """Point 5 for posts."""
    username, user_id = await server.make_user("tidy")
    older, newer = await server.make_posts(user_id, ["Older one", "Newer one"])
    page = await new_page()
    await log_in(page, server.url, username)
    page.on("dialog", lambda dialog: dialog.accept())
    async with same_page(page):
        await page.locator(f"#post-{newer} a.danger").click()
        await expect(page.locator(f"#post-{newer}")).to_have_count(0)
        await expect(page.locator(f"#post-{older}")).to_be_focused()
        await announced(page, "Post deleted")
        await page.locator(f"#post-{older} a.danger").click()
        await expect(page.locator(f"#post-{older}")).to_have_count(0)
        await expect(page.locator("#feed-title")).to_be_focused()


LUMINANCE = """c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
  v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b; }"""
COLOURS = """() => { const probe = (prop, value) => { const e = document.createElement("div");
  e.style.setProperty(prop, value); document.body.append(e);
  const c = getComputedStyle(e)[prop === "color" ? "color" : "backgroundColor"]; e.remove();
  return c; };
  return {focus: probe("color", "var(--focus)"), backgrounds: ["--bg", "--surface",
  "--accent-soft"].map(v => probe("background-color", `var(${v})`))}; }"""
SMALL_TARGETS = """() => Array.from(document.querySelectorAll(
    'a[href], button, input:not([type="hidden"]), textarea, select, summary'))
  .filter(e => e.getClientRects().length > 0 && !e.closest("dialog:not([open])"))
  .filter(e => !e.closest(".post-body, .comment-body, .profile-about, .flash") || e.matches(".flash-close"))
  .filter(e => !e.matches(".skip-link"))
  .map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.width < 24 || r.height < 24)
  .map(([e, r]) => `${e.outerHTML.slice(0, 70)} ${Math.round(r.width)}x${Math.round(r.height)}`)"""


def contrast(a: float, b: float) -> float:
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


async def test_styles_show_state_targets_are_big_enough_and_long_posts_fold(
    server: Server, new_page: NewPage
) -> None:
    """Point 6 (computed styles, both themes, 390 px) and the no-JS "Show more" link."""
    author, author_id = await server.make_user("styled")
    reader, reader_id = await server.make_user("looker")
    other, other_id = await server.make_user("other")
    await server.follow(reader_id, author_id)
    lines = "\n".join(str(n % 10) for n in range(150))
    (long_post,) = await server.make_posts(author_id, [lines])
    await server.make_comments(long_post, [(author_id, "A comment")])
    problems: list[str] = []
    for scheme in ["light", "dark"]:
        page = await new_page(viewport=PHONE, color_scheme=scheme)
        await log_in(page, server.url, reader)
        colours = await page.evaluate(COLOURS)
        focus = await page.evaluate(LUMINANCE, colours["focus"])
        for background in colours["backgrounds"]:
            ratio = contrast(focus, await page.evaluate(LUMINANCE, background))
            if ratio < 3:
                problems.append(f"{scheme}: focus ring {ratio:.2f}:1 on {background}")
        for path in [
            "/",
            "/explore",
            f"/user/{author}",
            f"/posts/{long_post}",
            "/people",
            f"/search?q={author[:3]}",
        ]:
            await page.goto(server.url + path)
            small = await page.evaluate(SMALL_TARGETS)
            problems += [f"{scheme} {path}: {s}" for s in small]
        await page.goto(f"{server.url}/user/{author}")
        unfollow = await page.locator(f"#follow-{author_id} button").evaluate(
            "e => getComputedStyle(e).backgroundColor"
        )
        await page.goto(f"{server.url}/user/{other}")
        follow = await page.locator(f"#follow-{other_id} button").evaluate(
            "e => getComputedStyle(e).backgroundColor"
        )
        assert follow != unfollow, "Follow and Unfollow look the same"
    assert not problems, "\n".join(problems)

    # .button-danger: destructive, on the confirmation page.
    page = await new_page()
    await log_in(page, server.url, author)
    await page.goto(f"{server.url}/posts/{long_post}/delete")
    danger = page.locator("button.button-danger")
    background = await danger.evaluate("e => getComputedStyle(e).backgroundColor")
    expected = await page.evaluate(
        "() => { const e = document.createElement('div'); e.style.background = 'var(--danger)';"
        " document.body.append(e); const c = getComputedStyle(e).backgroundColor; e.remove();"
        " return c; }"
    )
    assert background == expected

    # A long post folds after ~12 lines; Show more unfolds it in place.
    await page.goto(f"{server.url}/user/{author}")
    body = page.locator(f"#post-{long_post}-body")
    height = await body.evaluate("e => e.getBoundingClientRect().height")
    line = await body.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    assert 10 * line <= height <= 13 * line
    await page.get_by_role("link", name="Show more").click()
    assert await body.evaluate("e => e.getBoundingClientRect().height") > 100 * line
    await expect(page.locator("#feed-end")).to_be_visible()  # nothing older: an end marker

    plain = await new_page(javascript=False)
    await plain.goto(f"{server.url}/user/{author}")
    show = plain.get_by_role("link", name="Show more")
    await expect(show).to_have_attribute("href", f"/posts/{long_post}")


async def test_older_posts_button_is_centred(server: Server, new_page: NewPage) -> None:
    """Point 6: the hidden "Loading…" takes no room."""
    username, user_id = await server.make_user("centre")
    await server.make_posts(user_id, [f"c{n}" for n in range(21)])
    page = await new_page()
    await log_in(page, server.url, username)
    more = page.locator("#feed-more")
    link = more.locator("a")
    box, inner = await more.bounding_box(), await link.bounding_box()
    assert box and inner
    assert abs((box["x"] + box["width"] / 2) - (inner["x"] + inner["width"] / 2)) < 2


async def test_back_and_reload_return_to_the_opened_post_deep_in_the_timeline(
    server: Server, new_page: NewPage
) -> None:
    """Point 7: without the back-forward cache (logged-in pages are no-store)."""
    username, user_id = await server.make_user("deepreader")
    ids = await server.make_posts(user_id, [f"Timeline post {n}" for n in range(70)])
    newest_first = list(reversed(ids))
    target = newest_first[54]  # the 55th post down
    page = await new_page()
    await log_in(page, server.url, username)
    feed = page.locator("#feed article.post")
    for shown in (40, 60):
        await page.locator("#feed-more").scroll_into_view_if_needed()
        await expect(feed).to_have_count(shown)
    async with page.expect_navigation(url=f"{server.url}/posts/{target}"):
        await page.locator(f"#post-{target} a.permalink").click()
    await page.go_back()
    await expect(page.locator(f"#post-{target}")).to_be_visible()
    await page.wait_for_function(f"() => ({IN_VIEW})(document.getElementById('post-{target}'))")
    assert await post_ids(page) == newest_first[:60]
    await page.reload()
    await page.wait_for_function(f"() => ({IN_VIEW})(document.getElementById('post-{target}'))")


async def test_times_refresh_and_form_errors_focus_then_clear(
    server: Server, new_page: NewPage
) -> None:
    """Point 8: relative times move on without requests; register errors take focus and go
    when the field is changed."""
    username, user_id = await server.make_user("clock")
    await server.make_posts(user_id, ["Tick"])  # a minute ago
    page = await new_page()
    await page.clock.install()
    await register(page, server.url, "tick" + username[5:])  # a flash message that goes by itself
    welcome = page.locator("#messages .flash")
    await expect(welcome).to_contain_text("Welcome")
    await expect(welcome.get_by_role("button", name="Dismiss this message")).to_be_visible()
    await page.clock.fast_forward(7000)
    await expect(welcome).to_have_count(0)
    async with page.expect_navigation():
        await page.click("nav form button[type=submit]")  # log out
    await log_in(page, server.url, username)
    time = page.locator("#feed article.post time")
    await expect(time).to_have_text("1 min ago")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    await page.clock.fast_forward("05:00")
    await expect(time).to_have_text(re.compile(r"^[56] min ago$"))
    assert requests == []

    anonymous = await new_page()
    watch_of(anonymous).expect_status(422)
    await anonymous.goto(f"{server.url}/register")
    await anonymous.fill("#email", "not an address")
    async with anonymous.expect_navigation():
        await anonymous.click("#register-form button[type=submit]")
    username_field = anonymous.locator("#username")
    await expect(username_field).to_be_focused()
    await expect(anonymous.locator("#username-error")).to_be_visible()
    await anonymous.keyboard.type("fixed_name")
    await expect(anonymous.locator("#username-error")).to_have_count(0)
    await expect(username_field).not_to_have_attribute("aria-invalid", "true")
    await expect(anonymous.locator("#email-error")).to_be_visible()

"""axe-core on every kind of page, logged in and out, light and dark; and keyboard-only use."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import NewPage
from tests.browser.pages import axe_violations, log_in
from tests.browser.server import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def world(server: Server) -> dict[str, Any]:
    """A profile with an about text, posts, comments and a follower: something to look at."""
    author, author_id = await server.make_user("ada", about="Writes about gardens and gears.")
    viewer, viewer_id = await server.make_user("viewer")
    await server.follow(viewer_id, author_id)
    *_, post_id = await server.make_posts(
        author_id, ["First post, hello @nobody", "Second: https://example.org/a-link #gardens"]
    )
    (own,) = await server.make_posts(viewer_id, ["My own post, so I can delete it"])
    await server.make_comments(post_id, [(viewer_id, "Nice link!"), (author_id, "Thanks")])
    await server.execute(
        "INSERT INTO likes (post_id, user_id, created_at) VALUES (:p, :u, CURRENT_TIMESTAMP)",
        p=post_id,
        u=viewer_id,
    )
    await server.execute(
        "INSERT INTO post_edits (post_id, body, created_at) "
        "VALUES (:p, 'Second, before its edit', CURRENT_TIMESTAMP)",
        p=post_id,
    )
    await server.execute("UPDATE posts SET edited_at = CURRENT_TIMESTAMP WHERE id = :p", p=post_id)
    return {
        "author": author,
        "author_id": author_id,
        "viewer": viewer,
        "post_id": post_id,
        "own_post_id": own,
    }


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("logged_in", [False, True], ids=["logged-out", "logged-in"])
async def test_pages_have_no_serious_accessibility_violations(
    server: Server, browser: Browser, logged_in: bool, scheme: str
) -> None:
    data = await world(server)
    # CSP bypassed only here, so axe can be injected; the journeys run with the CSP enforced.
    context = await browser.new_context(bypass_csp=True, color_scheme=scheme)
    try:
        page = await context.new_page()
        if logged_in:
            await log_in(page, server.url, data["viewer"])
        pages = {
            "home": "/",
            "explore": "/explore",
            "profile": f"/user/{data['author']}",
            "post page": f"/posts/{data['post_id']}",
            "followers": f"/user/{data['author']}/followers",
            "likes": f"/posts/{data['post_id']}/likes",
            "history": f"/posts/{data['post_id']}/history",
            "people": "/people",
            "search": f"/search?q={data['author'][:4]}",  # people, tags and posts
            "empty search": "/search",
            "tag": "/tags/gardens",
            "login": "/login",  # logged in, login and register lead home
            "register": "/register",
        }
        problems: list[str] = []
        for what, path in pages.items():
            await page.goto(server.url + path)
            problems += await axe_violations(page, what)

        await page.goto(server.url + "/")
        await page.keyboard.press("?")
        await expect(page.locator("dialog#shortcuts")).to_be_visible()
        problems += await axe_violations(page, "shortcuts dialog")

        if not logged_in:  # a form with validation errors
            await page.goto(server.url + "/register")
            async with page.expect_navigation():
                await page.click("#register-form button[type=submit]")
            await expect(page.locator(".field-error").first).to_be_visible()
            problems += await axe_violations(page, "register with errors")
        else:
            await page.goto(f"{server.url}/posts/{data['post_id']}")
            await page.locator("#comment-body").focus()
            await page.keyboard.press("Control+Enter")
            await expect(page.locator("#comment-form .field-error")).to_be_visible()
            problems += await axe_violations(page, "empty comment refused")
            # A post of one's own opened for editing, in place.
            own = data["own_post_id"]
            await page.goto(f"{server.url}/user/{data['viewer']}")
            await page.locator(f"#post-{own} a.edit-link").click()
            await expect(page.locator(f"#edit-body-{own}")).to_be_focused()
            problems += await axe_violations(page, "a post being edited")
            await page.goto(f"{server.url}/posts/{own}/edit")
            problems += await axe_violations(page, "the edit page (no JavaScript)")
            # A profile's "…" menu, open; the settings page that undoes blocks and mutes.
            await page.goto(f"{server.url}/user/{data['author']}")
            await page.locator("#profile-menu > summary").click()
            await expect(page.locator("#profile-menu-items")).to_be_visible()
            problems += await axe_violations(page, "a profile's menu, open")
            await page.goto(f"{server.url}/settings/blocks")
            problems += await axe_violations(page, "blocked and muted accounts")
    finally:
        await context.close()
    assert not problems, "accessibility violations:\n" + "\n".join(problems)


FOCUSABLE = """() => {
  const selector = 'a[href], button, input:not([type="hidden"]), textarea, select, [tabindex]';
  return Array.from(document.querySelectorAll(selector))
    .filter((e) => e.tabIndex >= 0 && !e.disabled && !e.closest("dialog:not([open])"))
    // A closed <details> shows only its summary (Chromium still lays out the rest).
    .filter((e) => {
      const closed = e.closest("details:not([open])");
      return !closed || e.closest("summary")?.parentElement === closed;
    })
    .filter((e) => e.getClientRects().length > 0)
    .map((e, i) => { e.dataset.tabOrder = String(i); return i; }).length;
}"""
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const r = e.getBoundingClientRect();
  const ring = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0)
    || s.boxShadow !== "none";
  return {order: e.dataset.tabOrder ?? null, ring, onScreen: r.width > 0 && r.height > 0
    && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
    name: e.outerHTML.slice(0, 80)};
}"""


async def tab_through(page: Page, url: str) -> list[str]:
    """Open url and Tab to the end: every focusable element is reached, visibly focused."""
    await page.goto(url)
    total = await page.evaluate(FOCUSABLE)
    reached: set[str] = set()
    problems: list[str] = []
    for _ in range(total + 5):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        if focused is None or (focused["order"] is not None and focused["order"] in reached):
            break  # wrapped around to the browser's UI or back to the start
        if focused["order"] is not None:
            reached.add(focused["order"])
        if not focused["ring"]:
            problems.append(f"{page.url}: no visible focus on {focused['name']}")
        if not focused["onScreen"]:
            problems.append(f"{page.url}: focused element off screen: {focused['name']}")
    missed = total - len(reached)
    if missed:
        problems.append(f"{page.url}: {missed} of {total} focusable elements never reached by Tab")
    return problems


async def test_every_page_is_usable_by_keyboard_with_a_visible_focus(
    server: Server, new_page: NewPage
) -> None:
    data = await world(server)
    page = await new_page()
    await page.goto(server.url + "/")
    await page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    await expect(skip).to_be_focused()
    box = await skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, "the skip link stays off screen on focus"

    problems = await tab_through(page, server.url + "/")
    await log_in(page, server.url, data["viewer"])
    for path in ["/", "/explore", f"/user/{data['author']}", f"/posts/{data['post_id']}"]:
        problems += await tab_through(page, server.url + path)
    assert not problems, "\n".join(problems)

    # Operable: reach the Unfollow button by Tab alone and press it with Enter, then Space.
    await page.goto(f"{server.url}/user/{data['author']}")
    button = page.locator(f"#follow-{data['author_id']} button")
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await button.evaluate("b => b === document.activeElement"):
            break
    await expect(button).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(button).to_have_text("Follow")
    await expect(page.locator("#followers-count")).to_have_text("0")
    await button.focus()
    await page.keyboard.press("Space")
    await expect(button).to_have_text("Unfollow")
    await expect(page.locator("#followers-count")).to_have_text("1")

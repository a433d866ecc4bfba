"""Seed a small demo world and photograph Warble for the README: `make screenshots`.

Run from the repository root: `.venv/bin/python -m tests.browser.screenshots [FOLDER]`
(default docs/screenshots). Starts its own Warble on a temp SQLite database, like the tests.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Browser, async_playwright
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.clock import utcnow
from app.models import Like, Post, PostEdit
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.pages import log_in
from tests.browser.server import Server

DESKTOP = {"width": 1200, "height": 860}
PHONE = {"width": 390, "height": 844}

PEOPLE = {
    "ada": "Engineer. Writes about gardens, gears and the occasional poem.",
    "grace": "Compilers by day, sourdough by night. Ask me about COBOL.",
    "linus": "Kernel hacker on sabbatical. Mostly posting pictures of boats.",
    "margaret": "Flight software, hiking, and far too many notebooks.",
    "tim": "Hypertext enthusiast. The web is for everyone.",
}
# (author, minutes ago, body), newest last.
POSTS = [
    ("tim", 600, "Reminder: a link is a promise. Keep your URLs working."),
    (
        "margaret",
        420,
        "Reviewed 300 pages of flight code today. Found one typo. Proud of the team.",
    ),
    ("tim", 360, "My balcony #gardening project: three tomatoes and a lot of hope."),
    (
        "linus",
        300,
        "New boat, who dis. Sailing to the island on Saturday if the wind agrees. #sailing",
    ),
    (
        "grace",
        190,
        "The most dangerous phrase in the language is \u201cwe\u2019ve always done it this way\u201d.",
    ),
    (
        "tim",
        130,
        "Self-hosting your own small corner of the web is more fun than it has any right to be. "
        "#IndieWeb",
    ),
    (
        "margaret",
        75,
        "Sunrise hike done before stand-up. Highly recommend. #hiking\nhttps://example.org/trails",
    ),
    ("grace", 41, "Sourdough attempt #14: finally an ear! Thanks @ada for the starter. #bread"),
    ("linus", 18, "Small tools that do one thing well still win. Every time."),
    (
        "ada",
        6,
        "Planted the tomatoes, oiled the bicycle, wrote a tiny microblog. Good Sunday. #Gardening",
    ),
]
COMMENTS = [
    ("grace", "A perfect Sunday. Send tomatoes when they are ready!"),
    ("margaret", "Which bicycle oil do you use? Mine squeaks again after a week."),
    ("ada", "@margaret a drop of wax-based lube, then wipe off the rest. No squeaks since May."),
    ("tim", "Love that the microblog made the list."),
]


async def seed(server: Server) -> dict[str, int]:
    ids = {
        name: (await server.make_user(name, about, exact=True))[1] for name, about in PEOPLE.items()
    }
    for follower in ids:
        for followed in ids:
            if follower != followed and (follower, followed) != ("linus", "margaret"):
                await server.follow(ids[follower], ids[followed])
    now = utcnow()
    post_ids = {}
    for author, minutes, body in POSTS:
        (post_ids[body],) = await server.make_posts(
            ids[author], [body], newest=now - timedelta(minutes=minutes)
        )
    await server.make_user("newcomer", "Just arrived.", exact=True)
    ada_post = post_ids[POSTS[-1][2]]
    await server.make_comments(
        ada_post, [(ids[name], body) for name, body in COMMENTS], newest=now - timedelta(minutes=1)
    )
    # Likes (ada, the photographed reader, liked grace's sourdough), and an edited post.
    liked = {ada_post: ["grace", "margaret", "tim", "linus"], post_ids[POSTS[6][2]]: ["ada", "tim"]}
    trail = post_ids[POSTS[5][2]]
    engine = server.engine()
    try:
        async with async_sessionmaker(engine)() as session:
            session.add_all(
                Like(post_id=post_id, user_id=ids[name], created_at=now)
                for post_id, names in liked.items()
                for name in names
            )
            at = now - timedelta(minutes=75)
            session.add(PostEdit(post_id=trail, body="Sunrise hike done.", created_at=at))
            edited = now - timedelta(minutes=70)
            await session.execute(update(Post).where(Post.id == trail).values(edited_at=edited))
            await session.commit()
    finally:
        await engine.dispose()
    return {"ada_post": ada_post, "grace_post": post_ids[POSTS[6][2]]}


async def shoot(browser: Browser, server: Server, folder: Path, data: dict[str, int]) -> None:
    async def page_for(scheme: str = "light", phone: bool = False, user: str = "ada"):
        context = await browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            device_scale_factor=2 if phone else 1,
            color_scheme=scheme,
            is_mobile=phone,
            has_touch=phone,
        )
        page = await context.new_page()
        await log_in(page, server.url, user)
        return page

    async def save(page, path: str, name: str) -> None:
        await page.goto(server.url + path)
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=folder / name)
        print(f"wrote {folder / name}")

    light = await page_for("light")
    await save(light, "/", "home-light.png")
    await save(light, "/user/grace", "profile.png")
    await save(light, f"/posts/{data['ada_post']}", "post.png")
    dark = await page_for("dark")
    await save(dark, "/", "home-dark.png")
    phone = await page_for("light", phone=True)
    await save(phone, "/", "phone.png")
    phone_dark = await page_for("dark", phone=True)
    await save(phone_dark, "/", "phone-dark.png")

    # A failure, as a reader sees it: the server cut off, the draft kept, the message in view.
    await light.goto(server.url + "/")
    await light.route(server.url + "/posts", lambda route: route.abort("connectionrefused"))
    await light.fill("#composer-body", "This draft stays, whatever the network does.")
    await light.press("#composer-body", "Control+Enter")
    await light.wait_for_selector("#messages .flash-error")
    await light.screenshot(path=folder / "error-toast.png")
    print(f"wrote {folder / 'error-toast.png'}")

    # Explore with the trending tags; a search typed in the box, its results in place.
    await save(light, "/explore", "explore.png")
    await light.goto(server.url + "/")
    await light.keyboard.press("/")
    await light.keyboard.type("gardening")
    await light.wait_for_url("**/search?q=gardening")
    await light.wait_for_selector("#search-posts article.post")
    await light.screenshot(path=folder / "search.png")
    print(f"wrote {folder / 'search.png'}")

    # A first run: an empty timeline with people to follow.
    newcomer = await page_for("light", user="newcomer")
    await save(newcomer, "/", "first-run.png")


async def main(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server("sqlite", f"sqlite+aiosqlite:///{tmp}/demo.db", None, Path(tmp))
        await server.start()
        try:
            data = await seed(server)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                try:
                    await shoot(browser, server, folder, data)
                finally:
                    await browser.close()
        finally:
            await server.stop()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))

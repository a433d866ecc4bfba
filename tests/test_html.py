"""Every page and fragment a user can reach is valid HTML, by the W3C's Nu Html Checker (vnu).

The render test requests them all, once per backend, and keeps what it got; the checker then
runs once over the lot (one JVM start: seconds, not minutes) and the tests after it read its
report. Java and the checker's jar (`make vnu`) are needed; without them these tests skip,
except under CI=true, where that is a failure. Add every page and fragment a new feature brings
to `visit_as_anonymous` / `visit_as_members` / `visit_special_apps`.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import insert, select, update

from app.models import Comment, Post, PostEdit, User
from app.pagination import Cursor
from app.queries import follows, likes, tags
from tests.conftest import Client, body

ROOT = Path(__file__).resolve().parent.parent
# Fetched by `make vnu` (npm, the version pinned in the Makefile) into the ignored .vnu/ folder.
VNU_JAR = ROOT / ".vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

# htmx's attributes (hx-get, hx-swap-oob, ...) and those of its SSE extension (sse-connect,
# sse-swap) are not HTML, so the checker reports each one as
#     Attribute 'hx-get' not allowed on element 'a' at this point.
# Those errors, and only those, are let through. Spelling them data-hx-* (which htmx also reads)
# would be valid HTML, but would rewrite every template for no change in behaviour.
# hx-on* is left out on purpose: it runs inline code, which the CSP forbids (STYLE.md).
HTMX_ATTRIBUTE = re.compile(
    r"Attribute '(?:hx-(?!on)|sse-)[a-z-]+' not allowed on element '[a-z0-9-]+' at this point\."
)
# Warnings do not fail the run, except this one: every post carries a heading (an h2 or h3
# holding its author and time) so that screen-reader users can jump from post to post.
WARNING_AS_ERROR = re.compile(r"Article lacks heading\b")

# An htmx fragment is checked inside a minimal document, in the element htmx swaps it into, so
# that a stray <li> outside a list is caught; its out-of-band pieces go beside that element.
# The h1 and h2 stand for the page's (a feed or a list sits under an h2): the checker wants an
# h1, and reports a heading that skips a level.
FRAGMENT_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
    "<body><h1>{title}</h1><h2>Fragment</h2><{parent}>\n{main}\n</{parent}>{oob}</body></html>\n"
)
OOB_START = re.compile(r'<(\w+)\b[^>]*\shx-swap-oob="[^"]*"[^>]*>')
# A <title> at a fragment's top level is htmx's to take out: it becomes the page's title.
FRAGMENT_TITLE = re.compile(r"^\s*<title>[^<]*</title>")


def split_out_of_band(fragment: str) -> tuple[str, str]:
    """(the fragment without its out-of-band elements, those elements), each element taken
    whole: up to the end tag that closes it, counting the same tags nested inside."""
    main, oob, position = [], [], 0
    while start := OOB_START.search(fragment, position):
        tags = re.compile(rf"<(/?){start[1]}\b[^>]*>")
        depth, end = 1, len(fragment)
        for tag in tags.finditer(fragment, start.end()):
            depth += -1 if tag[1] else 1
            if depth == 0:
                end = tag.end()
                break
        main.append(fragment[position : start.start()])
        oob.append(fragment[start.start() : end])
        position = end
    main.append(fragment[position:])
    return "".join(main), "".join(oob)


CANARY = "canary"  # the documents that check the checker (and the filter) work


@dataclass
class Document:
    name: str
    html: str
    parent: str | None = None  # a fragment: the element it is swapped into; None: a full page

    def text(self) -> str:
        if self.parent is None:
            return self.html
        main, oob = split_out_of_band(FRAGMENT_TITLE.sub("", self.html, count=1))
        return FRAGMENT_PAGE.format(
            title=html.escape(self.name),
            parent=self.parent,
            main=main,
            oob=f"<div>{oob}</div>" if oob else "",
        )


@dataclass
class Visits:
    """Requests pages and fragments, checks each status, and keeps each answer to validate."""

    backend: str
    documents: list[Document] = field(default_factory=list)

    async def page(self, who: str, client: Client, path: str, status: int = 200) -> str:
        return await self._keep(f"{who} GET {path}", await client.get(path), status, None)

    async def fragment(
        self, who: str, client: Client, path: str, status: int = 200, *, into: str
    ) -> str:
        """An htmx GET; `into`: the element its answer is swapped into."""
        response = await client.get(path, htmx=True)
        return await self._keep(f"{who} GET {path} (htmx)", response, status, into)

    async def post(
        self,
        who: str,
        client: Client,
        path: str,
        data: dict[str, str],
        status: int,
        *,
        into: str | None = None,
        csrf: bool = True,
    ) -> str:
        """A form sent without JavaScript (a page), or by htmx when `into` names the element
        its answer is swapped into (a fragment)."""
        response = await client.post(path, data, htmx=into is not None, csrf=csrf)
        name = f"{who} POST {path}" + (" (htmx)" if into else "")
        return await self._keep(name, response, status, into)

    async def _keep(self, name: str, response: Any, status: int, parent: str | None) -> str:
        name = f"{self.backend}: {name}"
        text = await body(response)
        assert response.status_code == status, f"{name}: {response.status_code}, not {status}"
        assert ("<html" in text) == (parent is None), f"{name}: page and fragment mixed up"
        self.documents.append(Document(name, text, parent))
        return text


def next_link(text: str) -> str:
    match = re.search(r'<a rel="next" href="([^"]+)"', text)
    assert match, "no next-page link"
    return html.unescape(match.group(1))


AGES = [timedelta(seconds=s) for s in (5, 180, 5 * 3600, 3 * 86400, 40 * 86400, 400 * 86400)]
BODIES = [
    "Hello @viewer and @nobody: see https://example.org/a?b=1&c=2 (really).",
    "Two lines:\nthe second one, with <script>alert('no')</script> as text.",
    "Unicode: naïve café — 🌱",
    "Tagged #Garden and #garden_tools, not #2026 or https://example.org/#frag",
]


async def build_world(make_user, make_post, session) -> dict[str, Any]:
    """Something in every list: more than a page of posts, people and comments; links,
    mentions, escaping, every age of timestamp, a legacy comment; and empty lists too."""
    now = datetime.now(UTC)
    ada = await make_user(
        "ada", about_me="Gardens & gears. <b>Not bold.</b>", last_seen_at=now - timedelta(hours=2)
    )
    viewer = await make_user("viewer")
    await make_user("newbie")  # no posts, no followers, follows nobody
    loner = await make_user("loner")  # an empty home timeline
    for n in range(21):
        fan = await make_user(f"fan{n:02d}", about_me="A fan of gardens. " * 10)
        await follows.follow(session, fan.id, ada.id)
        await follows.follow(session, ada.id, fan.id)
    await follows.follow(session, viewer.id, ada.id)
    await session.commit()

    old = [timedelta(days=500 + n) for n in range(16)]
    for n, age in enumerate(AGES + old):
        oldest = await make_post(ada, BODIES[n % len(BODIES)], at=now - age)
        await tags.set_post_tags(session, oldest.id, oldest.body)  # as posting writes them
    await session.commit()
    until = Cursor(now - (AGES + old)[-1], oldest.id).encode()
    folded = "\n".join(f"Line {n}" for n in range(20))  # folded in feeds: "Show more"
    await make_post(ada, folded, at=now - timedelta(seconds=30))
    newest = await make_post(ada, "The post everyone comments on, @viewer.", at=now)
    mine = await make_post(viewer, "My own post, to delete.", at=now - timedelta(minutes=1))

    # Core, not the ORM: an ORM None would be replaced by the column's default time.
    legacy = dict(post_id=newest.id, author_id=None, body="From the archive", created_at=None)
    await session.execute(insert(Comment).values(legacy))
    comments = [
        Comment(
            post_id=newest.id,
            author_id=(viewer if n % 3 == 0 else ada).id,
            body=f"Comment {n} for @ada: https://example.org/?q={n}&x=1",
            created_at=now - timedelta(minutes=30 - n),
        )
        for n in range(21)
    ]
    on_mine = Comment(post_id=mine.id, author_id=ada.id, body="Nice.", created_at=now)
    session.add_all([*comments, on_mine])
    await session.commit()

    # Likes: more than a page of people liked the viewer's post (one line of notifications),
    # the viewer liked ada's newest; the viewer's post was edited twice.
    fans = [ada, *(await session.scalars(select(User).where(User.username.like("fan%"))))]
    for fan in fans:
        await likes.like(session, fan.id, mine)
    await likes.like(session, viewer.id, newest)
    session.add_all(
        PostEdit(post_id=mine.id, body=body, created_at=now - timedelta(minutes=m))
        for body, m in (("My first post, @ada, https://example.org/?a=1&b=2", 3), ("Second", 2))
    )
    await session.execute(
        update(Post).where(Post.id == mine.id).values(edited_at=now - timedelta(minutes=1))
    )
    await session.commit()
    return {
        "viewer": viewer,
        "loner": loner,
        "newest": newest.id,
        "mine": mine.id,
        "viewers_comment": comments[0].id,
        "until": until,
    }


async def visit_as_anonymous(v: Visits, anon: Client, w: dict[str, Any]) -> None:
    who = "anonymous"
    home = await v.page(who, anon, "/")
    await v.fragment(who, anon, "/", into="div")
    await v.fragment(who, anon, next_link(home), into="div")  # the next page, as htmx loads it
    await v.page(who, anon, next_link(home))  # the next page, without JavaScript
    explore = await v.page(who, anon, "/explore")
    await v.fragment(who, anon, next_link(explore), into="div")
    profile = await v.page(who, anon, "/user/ada")
    await v.fragment(who, anon, next_link(profile), into="div")
    await v.page(who, anon, "/user/newbie")
    for which in ("followers", "following"):
        people = await v.page(who, anon, f"/user/ada/{which}")
        await v.fragment(who, anon, next_link(people), into="ul")
    await v.page(who, anon, "/user/newbie/followers")
    for order in ("", "?order=followed"):  # the directory, and its next page both ways
        directory = await v.page(who, anon, f"/people{order}")
        if next_link(directory):
            await v.fragment(who, anon, next_link(directory), into="ul")
            await v.page(who, anon, next_link(directory))
    await v.page(who, anon, f"/?until={w['until']}")  # Back after "Older posts"
    # Tags and search: pages, what typing swaps into <main>, and the next pages both ways.
    await v.page(who, anon, "/tags/garden")
    await v.fragment(who, anon, "/tags/garden", into="div")
    await v.page(who, anon, "/tags/nobody_uses_this")
    await v.page(who, anon, "/tags/123", 404)
    await v.page(who, anon, "/search")
    await v.fragment(who, anon, "/search?q=", into="main")
    await v.page(who, anon, "/search?q=garden")
    await v.fragment(who, anon, "/search?q=ad", into="main")  # people, tags and posts
    await v.fragment(who, anon, "/search?q=%23Garden", into="main")  # a #tag, typed: tags
    await v.page(who, anon, "/search?q=%F0%9F%8C%B1")  # no words to search for
    found = await v.page(who, anon, "/search?q=from:ada")
    await v.fragment(who, anon, next_link(found), into="div")
    await v.page(who, anon, next_link(found))
    await v.page(who, anon, "/no/such/page", 404)
    post = await v.page(who, anon, f"/posts/{w['newest']}")
    await v.fragment(who, anon, next_link(post), into="ol")
    await v.page(who, anon, next_link(post))
    mine = w["mine"]
    liked = await v.page(who, anon, f"/posts/{mine}/likes")  # who liked it: the count's link
    await v.fragment(who, anon, next_link(liked), into="ul")
    await v.page(who, anon, next_link(liked))
    await v.page(who, anon, f"/posts/{mine}/history")  # an edited post's earlier versions
    await v.page(who, anon, f"/posts/{w['newest']}/history")  # never edited
    await v.fragment(who, anon, f"/posts/{mine}/item", into="div")
    await v.page(who, anon, "/login?next=/explore")
    wrong = {"username": "ada", "password": "not the password"}
    await v.post(who, anon, "/login", wrong, 422)
    await v.page(who, anon, "/register")
    bad = {"username": "x!", "email": "not an address", "password": "short"}
    await v.post(who, anon, "/register", bad, 422)
    # Error pages, and the notices htmx puts in #messages.
    await v.page(who, anon, "/posts/999999", 404)
    await v.fragment(who, anon, "/posts/999999", 404, into="div")
    await v.page(who, anon, "/user/nobody", 404)
    await v.page(who, anon, "/?before=garbage", 400)
    await v.page(who, anon, "/logout", 405)
    await v.post(who, anon, "/register", {"username": "x" * 70_000}, 413)
    await v.post(who, anon, "/logout", {}, 403, csrf=False)
    await v.post(who, anon, "/logout", {}, 403, into="div", csrf=False)


async def visit_as_members(v: Visits, me: Client, loner: Client, w: dict[str, Any]) -> None:
    who = "viewer"
    newest, mine, comment = w["newest"], w["mine"], w["viewers_comment"]
    home = await v.page(who, me, "/")
    await v.fragment(who, me, next_link(home), into="div")
    await v.page(who, me, "/explore")
    await v.page(who, me, "/user/ada")  # Unfollow
    await v.page(who, me, "/user/viewer")  # Edit profile, and Delete on each post
    await v.page(who, me, "/user/newbie")  # Follow
    followers = await v.page(who, me, "/user/ada/followers")  # a follow button per person
    await v.fragment(who, me, next_link(followers), into="ul")
    await v.page(who, me, "/user/viewer/following")
    await v.page(who, me, f"/posts/{newest}")  # the comment box; Delete on my comments
    await v.page(who, me, f"/posts/{mine}")  # Delete on the post and on every comment
    await v.page(who, me, f"/posts/{mine}/delete")
    await v.page(who, me, f"/comments/{comment}/delete")
    await v.page(who, me, "/settings/profile")
    await v.post(who, me, "/settings/profile", {"email": "nope", "about_me": "x" * 300}, 422)
    await v.page(who, me, "/settings/password")
    await v.page(who, me, "/settings/sessions")
    await v.page(who, me, "/settings/apps")  # no app authorized yet
    # OAuth: the consent page, and the code it shows for an out-of-band app.
    oob = "urn:ietf:wg:oauth:2.0:oob"
    registered = await me.raw.post(
        "/api/v1/apps", json={"client_name": "toot", "redirect_uris": oob, "scopes": "read"}
    )
    app = await registered.get_json()
    consent = {"client_id": app["client_id"], "redirect_uri": oob}
    await v.page(who, me, f"/oauth/authorize?{urlencode(consent | {'scope': 'read'})}")
    shown = await v.post(who, me, "/oauth/authorize", consent | {"decision": "authorize"}, 200)
    await v.post(who, me, "/oauth/authorize", consent | {"decision": "deny"}, 200)
    code = re.search(r'id="oauth-code"[^>]*>([^<]+)<', shown).group(1)
    trade = {"grant_type": "authorization_code", "code": code, "redirect_uri": oob}
    secret = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    assert (await me.raw.post("/oauth/token", form=trade | secret)).status_code == 200
    await v.page(who, me, "/settings/apps")  # toot, with its scopes and Revoke
    await v.page(who, me, "/notifications")
    wrong = {"current_password": "not it", "new_password": "short"}
    await v.post(who, me, "/settings/password", wrong, 422)
    # Writing, by htmx (fragments) and without JavaScript (pages).
    await v.post(who, me, "/posts", {"body": "Fresh from the composer, @ada"}, 200, into="div")
    await v.post(who, me, "/posts", {"body": " "}, 422, into="div")
    await v.post(who, me, "/posts", {"body": " "}, 422)
    await v.post(who, me, f"/posts/{newest}/comments", {"body": "A new one"}, 200, into="ol")
    await v.post(who, me, f"/posts/{newest}/comments", {"body": ""}, 422, into="div")
    await v.post(who, me, f"/posts/{newest}/comments", {"body": ""}, 422)
    follow = {"next": "/user/newbie", "from": "profile"}
    await v.post(who, me, "/user/newbie/follow", follow, 200, into="div")  # with the count, OOB
    await v.post(who, me, "/user/newbie/unfollow", {"next": "/user/ada/followers"}, 200, into="div")
    await v.post(who, me, f"/comments/{comment}/delete", {}, 200, into="ol")  # only the count, OOB
    # Likes and edits, by htmx and without JavaScript.
    await v.post(who, me, f"/posts/{newest}/unlike", {"next": "/"}, 200, into="footer")
    await v.post(who, me, f"/posts/{newest}/like", {"next": "/"}, 200, into="footer")
    await v.page(who, me, f"/posts/{mine}/likes")  # Follow buttons beside those who liked it
    await v.page(who, me, f"/posts/{mine}/edit")  # no JavaScript: a page
    await v.fragment(who, me, f"/posts/{mine}/edit", into="div")
    await v.fragment(who, me, f"/posts/{mine}/edit?standalone=1", into="div")
    await v.fragment(who, me, f"/posts/{mine}/item?standalone=1", into="div")  # Cancel
    too_long = {"body": "x" * 501}
    await v.post(who, me, f"/posts/{mine}/edit", too_long, 422)
    await v.post(who, me, f"/posts/{mine}/edit", too_long, 422, into="div")
    await v.post(who, me, f"/posts/{mine}/edit", {"body": "Third, @ada"}, 200, into="div")
    await v.page(who, me, f"/posts/{mine}")  # edited, on its page
    await v.page(who, me, f"/posts/{mine}/history")
    await v.page(who, me, f"/posts/{newest}/edit", 403)
    sent = await me.post("/posts", {"body": "Posted without JavaScript"})
    assert sent.status_code == 302
    await v.page(who, me, "/")  # with its flash message
    # Refusals.
    await v.page(who, me, f"/posts/{newest}/delete", 403)
    await v.post(who, me, "/user/viewer/follow", {}, 400)
    await v.post(who, me, "/user/viewer/follow", {}, 400, into="div")
    await v.page("loner", loner, "/")  # an empty home timeline, with people to follow
    await v.page(who, me, "/people")  # follow buttons in the directory
    await v.page(who, me, "/search?q=fan")  # follow buttons in search results
    await v.fragment(who, me, "/search?q=fan0", into="main")
    explore_follow = {"next": "/explore", "slot": str(newest)}  # Follow beside a post
    await v.post("loner", loner, "/user/ada/follow", explore_follow, 200, into="div")
    # Blocks and mutes: the profile menu's answers (its actions; counts and posts out of
    # band), a blocked profile, the settings list and one line's answer.
    menu = {"next": "/user/newbie", "from": "profile"}
    await v.post(who, me, "/user/newbie/mute", menu, 200, into="div")
    await v.post(who, me, "/user/newbie/block", menu, 200, into="div")
    await v.page(who, me, "/user/newbie")  # "You blocked newbie", Unblock
    await v.page(who, me, "/settings/blocks")
    await v.post(who, me, "/user/newbie/unmute", {"from": "settings"}, 200, into="ul")
    await v.post(who, me, "/user/newbie/unblock", menu, 200, into="div")  # the posts again
    await v.post(who, me, "/user/viewer/block", {}, 400, into="div")


async def visit_moderation(v: Visits, me: Client, staff: Client, w: dict[str, Any]) -> None:
    """Reporting (form, refusal, thank-you both ways), invites, and /admin as a moderator."""
    who, newest = "viewer", w["newest"]
    await v.page(who, me, f"/posts/{newest}/report")
    await v.fragment(who, me, f"/posts/{newest}/report", into="div")
    await v.page(who, me, "/user/ada/report")
    await v.post(who, me, f"/posts/{newest}/report", {"reason": "other"}, 422)
    await v.post(who, me, f"/posts/{newest}/report", {"reason": "other"}, 422, into="div")
    await v.post(who, me, f"/posts/{newest}/report", {"reason": "spam"}, 200, into="div")
    sent = await me.post("/user/ada/report", {"reason": "abuse", "comment": "rude"})
    assert sent.status_code == 302
    await v.page(who, me, "/settings/invites")
    made = await me.post("/settings/invites", {"max_uses": "5", "expires_in": "1d"})
    assert made.status_code == 302
    invites = await v.page(who, me, "/settings/invites")  # with its flash message and link
    expire = re.search(r'action="(/settings/invites/\d+/expire)"', invites)
    assert expire
    await v.post(who, me, expire.group(1), {}, 200, into="ul")
    who = "moderator"
    admin = await v.page(who, staff, "/admin")
    report = re.search(r'id="report-(\d+)"', admin)
    assert report
    await v.page(who, staff, "/admin/accounts/ada")
    slot = {"slot": f"report-{report.group(1)}", "reason": "fine"}
    await v.post(who, staff, f"/admin/reports/{report.group(1)}/dismiss", slot, 200, into="ul")
    await v.post(who, staff, f"/admin/reports/{report.group(1)}/dismiss", slot, 409, into="div")
    await v.page(who, staff, "/admin/log")
    await v.page(who, staff, "/notifications")  # "viewer sent a report"
    await v.page(who, staff, "/admin/accounts/nobody", 404)
    await v.page("viewer", me, "/admin", 404)


async def visit_special_app(v: Visits, special: Any) -> None:
    """Registration closed, rate limits met, and a crash."""

    async def crash() -> str:
        raise RuntimeError("a bug")

    special.app.add_url_rule("/crash", "crash", crash)
    who = "anonymous, registration closed, rate limits on"
    anon = Client(special.test_client())
    await v.page(who, anon, "/")
    await v.page(who, anon, "/register")
    await v.page(who, anon, "/login")
    await v.post(who, anon, "/register", {"username": "newcomer"}, 403)
    wrong = {"username": "ada", "password": "not the password"}
    await v.post(who, anon, "/login", wrong, 422)  # the second of two a minute, with /register
    await v.post(who, anon, "/login", wrong, 429)
    await v.post(who, anon, "/login", wrong, 429, into="div")
    await v.page(who, anon, "/crash", 500)
    await v.fragment(who, anon, "/crash", 500, into="div")


@pytest.fixture(scope="module")
def documents() -> dict[str, list[Document]]:
    """What the render test got, by backend: one run of the checker validates it all."""
    return {}


async def test_every_page_and_fragment_renders(
    db, client, make_client, make_user, make_post, session, documents
):
    world = await build_world(make_user, make_post, session)
    visits = Visits(db.backend)
    documents[db.backend] = visits.documents  # kept even if a visit fails half-way
    me = make_client()
    await me.login(world["viewer"])
    loner = make_client()
    await loner.login(world["loner"])
    await visit_as_anonymous(visits, client, world)
    await visit_as_members(visits, me, loner, world)
    staff = make_client()
    await staff.login(await make_user("moderator", role="moderator"))
    await visit_moderation(visits, me, staff, world)


async def test_every_page_of_a_closed_and_limited_instance_renders(
    db, make_app, make_user, documents
):
    await make_user("ada")
    special = await make_app(
        REGISTRATION_OPEN=False,
        RATE_LIMITS=True,
        RATE_LIMIT_AUTH="2/minute",  # one budget for the register and log-in forms
        PROPAGATE_EXCEPTIONS=False,  # a crash answers with the 500 page, as in production
    )
    visits = Visits(db.backend)
    documents[f"{db.backend}, special"] = visits.documents
    await visit_special_app(visits, special)


# The checker's own test: what it must let through, and what it must report.
CANARIES = [
    Document(
        f"{CANARY}: htmx attributes only",
        '<a href="/x" hx-get="/x" hx-target="this" hx-swap="outerHTML" sse-swap="news">x</a>',
        "div",
    ),
    Document(
        f"{CANARY}: real errors",
        '<time datetime="2026-11-21T16:12:27.309688+00:00">now</time>\n'
        '<button type="button" hx-on:click="go()" hx-post="/x">x</button>\n'
        "<li>outside a list</li>\n"
        "<article><p>No heading</p></article>",
        "div",
    ),
]
CANARY_ERRORS = [
    r"Bad value '2026-11-21T16:12:27\.309688\+00:00' for attribute 'datetime' on element 'time'",
    r"Attribute 'hx-on:click' not allowed on element 'button'",
    r"Element 'li' not allowed as child of element 'div'",
    r"Article lacks heading",
]


@dataclass
class Finding:
    document: str
    file: str
    kind: str  # "error"; "htmx": an hx-*/sse-* attribute, let through; "warning"
    line: int | None
    message: str
    extract: str

    def __str__(self) -> str:
        extract = " ".join(self.extract.split())
        return f"{self.document} ({self.file}, line {self.line}): {self.message}\n    {extract}"


@dataclass
class Report:
    folder: Path
    checked: int
    findings: list[Finding]

    def of(self, document: str, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.document == document and f.kind == kind]


def classify(message: dict[str, Any]) -> str | None:
    """What a message of the checker means here (None: an info message, ignored)."""
    text = message.get("message", "")
    if message["type"] in {"error", "non-document-error"}:
        return "htmx" if HTMX_ATTRIBUTE.fullmatch(text) else "error"
    if message.get("subType") == "warning":
        return "error" if WARNING_AS_ERROR.match(text) else "warning"
    return None


def java_and_checker() -> str:
    """The java command; without Java or the jar, skip, except under CI, where it fails."""
    java = shutil.which("java")
    if java and VNU_JAR.is_file():
        return java
    if not java:
        reason = "Java is not installed (Debian: apt-get install default-jre-headless)"
    else:
        where = VNU_JAR.relative_to(ROOT)
        reason = f"the Nu Html Checker is missing: `make vnu` fetches it into {where} with npm"
    if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        pytest.fail(f"{reason} (CI=true: the HTML must be validated)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def vnu_report(documents, tmp_path_factory) -> Report:
    """One run of the checker over every collected document and the canaries."""
    java = java_and_checker()
    folder = tmp_path_factory.mktemp("html")
    names = {}
    for n, doc in enumerate([*CANARIES, *(d for docs in documents.values() for d in docs)]):
        path = folder / f"{n:04d}.html"
        path.write_text(doc.text(), encoding="utf-8")
        names[path.name] = doc.name
    # A short run gains nothing from the JVM's optimising compiler: C1 alone halves the CPU
    # time (1.3 s instead of 3 s for 75 documents here), but its bigger stack frames overflow
    # the default 1 MB stack while the checker loads its schema, hence -Xss.
    command = [java, "-Xss16m", "-XX:TieredStopAtLevel=1", "-jar", str(VNU_JAR)]
    command += ["--format", "json", "--stdout", "--asciiquotes", "--skip-non-html"]
    # Fragments are too short to guess a language from, and guessing costs seconds.
    command += ["--no-langdetect", str(folder)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    try:
        messages = json.loads(run.stdout)["messages"]
    except (ValueError, KeyError):
        pytest.fail(f"the checker failed ({run.returncode}): {run.stderr or run.stdout}")
    findings = []
    for message in messages:
        kind = classify(message)
        if kind is None:
            continue
        file = message.get("url", "").rpartition("/")[2]
        findings.append(
            Finding(
                names.get(file, file),
                file,
                kind,
                message.get("lastLine"),
                message.get("message", ""),
                message.get("extract", ""),
            )
        )
    return Report(folder, len(names), findings)


@pytest.mark.parametrize(
    ("message", "let_through"),
    [
        ("Attribute 'hx-get' not allowed on element 'a' at this point.", True),
        ("Attribute 'hx-swap-oob' not allowed on element 'strong' at this point.", True),
        ("Attribute 'sse-connect' not allowed on element 'div' at this point.", True),
        ("Attribute 'hx-on:click' not allowed on element 'button' at this point.", False),
        ("Attribute 'hx-on--after-request' not allowed on element 'form' at this point.", False),
        ("Attribute 'hx_get' not allowed on element 'a' at this point.", False),
        ("Attribute 'onclick-hx-get' not allowed on element 'a' at this point.", False),
        ("Attribute 'hx-get' not allowed on element 'a' at this point. And more.", False),
        ("Bad value 'hx-get' for attribute 'rel' on element 'a'.", False),
    ],
)
def test_the_filter_lets_through_only_htmx_attributes(message, let_through):
    assert bool(HTMX_ATTRIBUTE.fullmatch(message)) is let_through


def test_the_checker_reports_real_errors_next_to_htmx_attributes(vnu_report):
    assert not vnu_report.of(f"{CANARY}: htmx attributes only", "error")
    assert len(vnu_report.of(f"{CANARY}: htmx attributes only", "htmx")) == 4
    errors = vnu_report.of(f"{CANARY}: real errors", "error")
    for pattern in CANARY_ERRORS:
        assert any(re.match(pattern, e.message) for e in errors), f"not reported: {pattern}"
    assert len(errors) == len(CANARY_ERRORS), "\n".join(map(str, errors))
    assert len(vnu_report.of(f"{CANARY}: real errors", "htmx")) == 1  # hx-post


def test_every_page_and_fragment_is_valid_html(documents, vnu_report):
    if not documents:
        pytest.skip("test_every_page_and_fragment_renders did not run: nothing to check")
    ours = [f for f in vnu_report.findings if not f.document.startswith(CANARY)]
    for finding in ours:
        if finding.kind == "warning":
            warnings.warn(f"HTML: {finding}", stacklevel=1)
    errors = [f for f in ours if f.kind == "error"]
    if errors:
        pytest.fail(
            f"{len(errors)} HTML errors in {vnu_report.checked} documents "
            f"(the checked files are in {vnu_report.folder}):\n" + "\n".join(map(str, errors)),
            pytrace=False,
        )

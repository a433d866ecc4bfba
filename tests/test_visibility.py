"""Who sees whose posts: the rules of app/queries/visibility.py as one table, page by page,
on every database; and what they cost (nothing: the statements a page runs are unchanged)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from app.clock import utcnow
from app.db import dialect_of
from app.models import Block, Comment, Follow, Mute, Notification, Post, PostTag, User
from app.pagination import FIRST
from app.queries import notifications, posts, timeline
from tests.conftest import body
from tests.test_api import api
from tests.test_timeline import page_statements, post_ids

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

# The viewer (vera) and the author (amos), in each relation.
RELATIONS = [
    "none",
    "viewer blocks author",
    "author blocks viewer",
    "viewer mutes author",
    "author mutes viewer",
    "author suspended",
]
SURFACES = [
    "home",
    "explore",
    "tag",
    "profile",
    "post page",
    "comments",
    "search",
    "people",
    "directory",
    "followers",
    "following",
    "notifications",
    "api comments",
    "api people",
]
# Where the author's name is listed: a mute keeps it there (the muter can find them again).
LISTS = {"people", "directory", "followers", "following", "api people"}
SHOWN = {  # relation -> the surfaces that show the author's post, comment, name, notification
    "none": set(SURFACES),
    "viewer blocks author": set(),
    "author blocks viewer": set(),
    # A mute hides them from timelines, comments, search results' posts and notifications;
    # their profile and post pages stay open (the muter went looking), and their name.
    "viewer mutes author": {"profile", "post page"} | LISTS,
    # The muted one notices nothing.
    "author mutes viewer": set(SURFACES),
    "author suspended": set(),
}


def tagged(post: Post, tag: str) -> PostTag:
    """The post_tags row that posting would have written (these posts are inserted as rows)."""
    return PostTag(
        post_id=post.id, tag=tag, display=tag, author_id=post.author_id, created_at=post.created_at
    )


async def arrange(session, make_user, relation: str) -> dict[str, int]:
    """vera follows amos, and amos and carol each other; amos posts (#zebtag, a rare word),
    comments on carol's post and mentions vera; then the relation, written straight into its
    table."""
    vera, amos, carol = [await make_user(n) for n in ("vera", "amos", "carol")]
    session.add(Follow(follower_id=vera.id, followed_id=amos.id))
    session.add(Follow(follower_id=amos.id, followed_id=carol.id))
    session.add(Follow(follower_id=carol.id, followed_id=amos.id))
    post = Post(author_id=amos.id, body="zebulon speaks #zebtag @vera", created_at=T0)
    other = Post(author_id=carol.id, body="carol's thread", created_at=T0 - timedelta(hours=1))
    session.add_all([post, other])
    await session.flush()
    comment = Comment(post_id=other.id, author_id=amos.id, body="amos replies", created_at=T0)
    session.add(comment)
    session.add(tagged(post, "zebtag"))
    session.add(
        Notification(recipient_id=vera.id, kind="mention", actor_id=amos.id, post_id=post.id)
    )
    if relation == "viewer blocks author":
        session.add(Block(blocker_id=vera.id, blocked_id=amos.id))
    elif relation == "author blocks viewer":
        session.add(Block(blocker_id=amos.id, blocked_id=vera.id))
    elif relation == "viewer mutes author":
        session.add(Mute(muter_id=vera.id, muted_id=amos.id))
    elif relation == "author mutes viewer":
        session.add(Mute(muter_id=amos.id, muted_id=vera.id))
    elif relation == "author suspended":
        await session.execute(update(User).where(User.id == amos.id).values(suspended_at=utcnow()))
    await session.commit()
    return {
        "vera": vera.id,
        "amos": amos.id,
        "post": post.id,
        "other": other.id,
        "comment": comment.id,
    }


async def surfaces(client, ids: dict[str, int], token: str) -> dict[str, bool]:
    """Whether each surface shows amos's post (comment, name, notification) to vera (logged in
    on `client`, and holding the client API `token`)."""
    post, comment = ids["post"], ids["comment"]
    seen: dict[str, bool] = {}
    for name, path in [
        ("home", "/"),
        ("explore", "/explore"),
        ("tag", "/tags/zebtag"),
        ("profile", "/user/amos"),
    ]:
        response = await client.get(path)
        assert response.status_code == 200, path
        seen[name] = post in post_ids(await body(response))
    page = await client.get(f"/posts/{post}")
    assert page.status_code in (200, 404)  # which one is the table's answer, checked below
    seen["post page"] = page.status_code == 200
    thread = await body(await client.get(f"/posts/{ids['other']}"))
    seen["comments"] = f'id="comment-{comment}"' in thread
    found = await body(await client.get("/search?q=zebulon"))
    seen["search"] = post in post_ids(found)
    amos_link = 'href="/user/amos"'
    seen["people"] = amos_link in await body(await client.get("/search?q=amo"))
    seen["directory"] = amos_link in await body(await client.get("/people"))
    seen["followers"] = amos_link in await body(await client.get("/user/carol/followers"))
    seen["following"] = amos_link in await body(await client.get("/user/carol/following"))
    context = await api(client, "GET", f"/api/v1/statuses/{ids['other']}/context", token)
    descendants = (await context.get_json())["descendants"]
    seen["api comments"] = [d["account"]["acct"] for d in descendants] == ["amos"]
    found = await api(client, "GET", "/api/v2/search?q=@amos&type=accounts", token)
    seen["api people"] = [a["acct"] for a in (await found.get_json())["accounts"]] == ["amos"]
    home = await body(await client.get("/explore"))
    unread = re.search(r'<span id="notifications-count"[^>]*>(\d*)</span>', home).group(1)
    listed = await body(await client.get("/notifications"))
    in_list = f'href="/posts/{post}"' in listed
    assert (unread == "1") == in_list, "the count and the page must agree"
    seen["notifications"] = in_list
    return seen


@pytest.mark.parametrize("relation", RELATIONS)
async def test_who_sees_whom(client, session, make_user, make_token, relation):
    ids = await arrange(session, make_user, relation)
    viewer = await session.get(User, ids["vera"])
    await client.login(viewer)
    expected = {surface: surface in SHOWN[relation] for surface in SURFACES}
    assert await surfaces(client, ids, await make_token(viewer)) == expected


@pytest.mark.parametrize("relation", RELATIONS)
async def test_the_author_sees_the_viewer_as_the_rules_say(client, session, make_user, relation):
    """The other way round: a block hides vera from amos too; a mute is vera's alone (amos
    notices nothing); a suspended amos cannot log in, so that row is not asked, and amos's own
    mute is the table's "viewer mutes author" seen from the other side."""
    if relation in {"author suspended", "author mutes viewer"}:
        return
    ids = await arrange(session, make_user, relation)
    vera = await session.get(User, ids["vera"])
    own = Post(author_id=vera.id, body="vera speaks", created_at=T0 + timedelta(minutes=1))
    session.add(own)
    await session.commit()
    await client.login(await session.get(User, ids["amos"]))
    html = await body(await client.get("/explore"))
    blocked = relation in {"viewer blocks author", "author blocks viewer"}
    assert (own.id in post_ids(html)) is not blocked
    assert (await client.get(f"/posts/{own.id}")).status_code == (404 if blocked else 200)


@pytest.mark.parametrize(
    "relation", ["viewer mutes author", "author suspended", "viewer blocks author"]
)
async def test_both_home_plans_leave_out_whom_the_rules_hide(session, make_user, relation):
    """The probe (few followees) and the scan (many) are one statement each per dialect; both,
    and the plain definition, filter the followees the same way; own posts always show."""
    ids = await arrange(session, make_user, relation)
    mine = Post(author_id=ids["vera"], body="mine", created_at=T0 - timedelta(minutes=5))
    session.add(mine)
    await session.commit()
    dialect = dialect_of(session)
    for probe_max in (0, 10_000):  # 0: always the scan; 10,000: always the probe
        stmt = timeline.PLANNERS[dialect](probe_max)
        page = await posts.feed(session, stmt, FIRST, ids["vera"], me=ids["vera"])
        assert [item.post.id for item in page.items] == [mine.id], probe_max
    plain = await timeline.home_timeline_plain(session, ids["vera"])
    assert [item.post.id for item in plain.items] == [mine.id]
    assert await timeline.shown_followee_ids(session, ids["vera"]) == set()
    assert await notifications.unread_count(session, ids["vera"]) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/explore",
        "/tags/busy",
        "/user/amos",
        "/posts/{post}",
        "/notifications",
        "/search?q=busy",
    ],
)
async def test_blocks_and_mutes_add_no_statement_to_a_page(app, client, session, make_user, path):
    """The N+1 guard: with no block or mute, and with many of either way (and suspended
    authors), a page runs the same statements."""
    vera, amos = await make_user("vera"), await make_user("amos")
    session.add(Follow(follower_id=vera.id, followed_id=amos.id))
    first = Post(author_id=amos.id, body="busy #busy @vera", created_at=T0)
    session.add(first)
    await session.flush()
    session.add(tagged(first, "busy"))
    session.add(
        Notification(recipient_id=vera.id, kind="mention", actor_id=amos.id, post_id=first.id)
    )
    await session.commit()
    await client.login(vera)
    url = path.format(post=first.id)
    await client.get(url)  # the first request of a login also notes last_seen_at
    await client.get(url)  # and the notifications page marks what it shows read
    plain = await page_statements(app, client, url)

    for n in range(16):  # a quarter of them shown, the rest hidden one way or another
        other = await make_user(f"other{n}")
        session.add(Follow(follower_id=vera.id, followed_id=other.id))
        p = Post(author_id=other.id, body=f"busy {n} @vera", created_at=T0 + timedelta(minutes=n))
        session.add(p)
        await session.flush()
        session.add(tagged(p, "busy"))
        session.add(Comment(post_id=first.id, author_id=other.id, body=f"re {n}", created_at=T0))
        session.add(
            Notification(recipient_id=vera.id, kind="mention", actor_id=other.id, post_id=p.id)
        )
        if n % 4 == 0:
            session.add(Block(blocker_id=vera.id, blocked_id=other.id))
        elif n % 4 == 1:
            session.add(Block(blocker_id=other.id, blocked_id=vera.id))
        elif n % 4 == 2:
            session.add(Mute(muter_id=vera.id, muted_id=other.id))
        elif n == 15:
            await session.execute(
                update(User).where(User.id == other.id).values(suspended_at=utcnow())
            )
    await session.commit()
    await client.get(url)  # the notifications page marks the shown ones read
    busy = await page_statements(app, client, url)
    assert len(busy) == len(plain)

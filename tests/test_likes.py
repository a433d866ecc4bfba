"""Likes: the button on every post (page, htmx fragment, plain form), one row per person and
post whatever the clicks and races, who liked a post, and the "liked your post" notification."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from app.clock import utcnow
from app.models import Like, Notification, Post
from app.pagination import FIRST
from app.queries import follows, likes, notifications, posts, tags, timeline
from tests.conftest import body
from tests.test_timeline import page_statements

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def alice(make_user):
    return await make_user("alice")


@pytest.fixture
async def bob(make_user, client):
    user = await make_user("bob")
    await client.login(user)
    return user


@pytest.fixture
async def post(make_post, alice):
    return await make_post(alice, "like me")


def like_form(html: str, post_id: int) -> str:
    """The like form (or the count alone) of one post, as rendered."""
    match = re.search(rf'<(form|span) id="like-{post_id}".*?</\1>', html, re.DOTALL)
    assert match, f"no #like-{post_id}"
    return match.group(0)


async def like_rows(session) -> list[tuple[int, int]]:
    session.expire_all()
    return [tuple(r) for r in (await session.execute(select(Like.post_id, Like.user_id))).all()]


async def visible_notifications(session, user) -> list[tuple[str, int, int | None]]:
    session.expire_all()
    stmt = (
        select(Notification.kind, Notification.actor_id, Notification.post_id)
        .where(Notification.recipient_id == user.id, Notification.withdrawn_at.is_(None))
        .order_by(Notification.id)
    )
    return [tuple(r) for r in (await session.execute(stmt)).all()]


# -- queries ---------------------------------------------------------------------------------


async def test_like_is_idempotent_and_unlike_removes_it(session, alice, make_user, post):
    carol = await make_user("carol")
    loaded = await session.get(Post, post.id)
    assert await likes.like(session, carol.id, loaded) is True
    assert await likes.like(session, carol.id, loaded) is False
    await session.commit()
    assert await likes.like_state(session, post.id, carol.id) == (1, True)
    assert await likes.like_state(session, post.id, alice.id) == (1, False)
    assert await likes.like_state(session, post.id, None) == (1, False)
    assert await likes.unlike(session, carol.id, loaded) is True
    assert await likes.unlike(session, carol.id, loaded) is False
    await session.commit()
    assert await likes.like_state(session, post.id, carol.id) == (0, False)


async def test_likers_are_newest_first_and_keyset_paginated(session, alice, make_user, post):
    fans = [await make_user(f"fan{n:02d}") for n in range(25)]
    for n, fan in enumerate(fans):  # pairs share a time: the user id breaks the tie
        at = T0 + timedelta(minutes=n // 2)
        session.add(Like(post_id=post.id, user_id=fan.id, created_at=at))
    session.add(Like(post_id=post.id, user_id=alice.id, created_at=T0))
    await session.commit()
    expected = sorted(
        [(T0 + timedelta(minutes=n // 2), fan.id) for n, fan in enumerate(fans)] + [(T0, alice.id)],
        reverse=True,
    )
    seen, cursor = [], FIRST
    while True:
        page = await likes.likers(session, post.id, viewer=fans[0].id, cursor=cursor)
        seen += [(liker.liked_at, liker.user.id) for liker in page.items]
        if page.next is None:
            break
        cursor = page.next
    assert seen == expected


async def test_page_statements_carry_the_count_and_the_viewers_like(
    session, alice, make_user, make_post
):
    bob, carol = await make_user("bob"), await make_user("carol")
    liked = await make_post(alice, "liked", at=T0 + timedelta(minutes=1))
    plain = await make_post(alice, "plain", at=T0)
    for who in (bob, carol):
        session.add(Like(post_id=liked.id, user_id=who.id))
    await session.commit()

    def states(page) -> dict[int, tuple[int, bool]]:
        return {item.post.id: (item.like_count, item.liked) for item in page.items}

    expected_for_bob = {liked.id: (2, True), plain.id: (0, False)}
    assert states(await posts.explore(session, viewer=bob.id)) == expected_for_bob
    assert states(await posts.explore(session)) == {liked.id: (2, False), plain.id: (0, False)}
    assert states(await posts.user_posts(session, alice.id, viewer=bob.id)) == expected_for_bob
    await follows.follow(session, bob.id, alice.id)
    await session.commit()
    assert states(await timeline.home_timeline(session, bob.id)) == expected_for_bob
    assert states(await timeline.home_timeline_plain(session, bob.id)) == expected_for_bob
    item = await posts.get_post(session, liked.id, viewer=carol.id)
    assert (item.like_count, item.liked) == (2, True)


# -- the button, as a page, an htmx fragment and a plain form ---------------------------------


async def test_every_post_shows_a_like_button_with_its_count(
    client, bob, alice, make_post, session
):
    post = await make_post(alice, "like me #hearts")
    await tags.set_post_tags(session, post.id, post.body)
    await session.commit()
    pages = ("/explore", "/user/alice", f"/posts/{post.id}", "/search?q=like", "/tags/hearts")
    for path in pages:
        form = like_form(await body(await client.get(path)), post.id)
        assert f'action="/posts/{post.id}/like"' in form, path
        assert 'aria-pressed="false"' in form and "> Like</button>" in form
        count = f'id="like-count-{post.id}" href="/posts/{post.id}/likes">0 likes</a>'
        assert f'<a class="like-count" {count}' in form


async def test_logged_out_readers_see_the_count_but_no_button(client, post, session, make_user):
    session.add(Like(post_id=post.id, user_id=(await make_user("carol")).id))
    await session.commit()
    html = await body(await client.get("/"))
    assert like_form(html, post.id) == (
        f'<span id="like-{post.id}" class="like-form"><a class="like-count" '
        f'id="like-count-{post.id}" '
        f'href="/posts/{post.id}/likes">1 like</a></span>'
    )
    assert "/like" not in html.replace("/likes", "")


async def test_like_via_htmx_returns_the_unlike_button_and_the_new_count(
    client, bob, post, session
):
    response = await client.post(f"/posts/{post.id}/like", {"next": "/explore"}, htmx=True)
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html
    assert html.startswith(f'<form id="like-{post.id}" class="like-form"')
    assert f'action="/posts/{post.id}/unlike"' in html
    assert 'aria-pressed="true"' in html and "> Unlike</button>" in html
    assert ">1 like</a>" in html
    assert '<input type="hidden" name="next" value="/explore">' in html
    assert response.headers["HX-Trigger"] == '{"warble:announce": "Liked"}'
    assert await like_rows(session) == [(post.id, bob.id)]

    response = await client.post(f"/posts/{post.id}/unlike", {"next": "/explore"}, htmx=True)
    html = await body(response)
    assert response.status_code == 200
    assert f'action="/posts/{post.id}/like"' in html and 'aria-pressed="false"' in html
    assert ">0 likes</a>" in html
    assert await like_rows(session) == []


async def test_like_without_javascript_redirects_back_to_the_post_in_its_page(
    client, bob, post, session
):
    back = f"/explore?before=x#post-{post.id}"
    response = await client.post(f"/posts/{post.id}/like", {"next": back})
    assert response.status_code == 302
    assert response.headers["Location"] == back
    assert await like_rows(session) == [(post.id, bob.id)]
    page = await body(await client.get("/explore"))
    assert "You like this post." in page
    form = like_form(page, post.id)
    assert 'aria-pressed="true"' in form and ">1 like</a>" in form
    response = await client.post(f"/posts/{post.id}/unlike", {"next": "https://evil.example/"})
    assert response.headers["Location"] == f"/posts/{post.id}"  # only local paths
    assert await like_rows(session) == []


async def test_the_plain_forms_next_is_the_page_it_was_on(client, bob, post):
    html = await body(await client.get("/user/alice?x=1"))
    assert f'name="next" value="/user/alice?x=1#post-{post.id}"' in like_form(html, post.id)
    html = await body(await client.get("/explore"))
    assert f'name="next" value="/explore#post-{post.id}"' in like_form(html, post.id)


async def test_liking_twice_and_unliking_twice_is_harmless(client, bob, post, session):
    for _ in range(2):
        assert (await client.post(f"/posts/{post.id}/like", htmx=True)).status_code == 200
    assert await like_rows(session) == [(post.id, bob.id)]
    for _ in range(2):
        assert (await client.post(f"/posts/{post.id}/unlike", htmx=True)).status_code == 200
    assert await like_rows(session) == []


async def test_simultaneous_likes_of_one_post_by_one_person_make_one_row(
    make_client, make_user, post, session, alice
):
    carol = await make_user("carol")
    clients = [make_client() for _ in range(6)]
    for c in clients:
        await c.login(carol)
    responses = await asyncio.gather(
        *(c.post(f"/posts/{post.id}/like", htmx=n % 2 == 0) for n, c in enumerate(clients))
    )
    assert sorted(r.status_code for r in responses) == [200] * 3 + [302] * 3
    assert await like_rows(session) == [(post.id, carol.id)]
    assert await visible_notifications(session, alice) == [("like", carol.id, post.id)]
    for html in [await body(r) for r in responses if r.status_code == 200]:
        assert ">1 like</a>" in html and 'aria-pressed="true"' in html


async def test_anonymous_cannot_like(client, post, session):
    response = await client.post(f"/posts/{post.id}/like")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    fragment = await client.post(f"/posts/{post.id}/like", htmx=True)
    assert fragment.status_code == 401
    assert await like_rows(session) == []


async def test_like_without_csrf_is_refused(client, bob, post, session):
    assert (await client.post(f"/posts/{post.id}/like", csrf=False)).status_code == 403
    assert await like_rows(session) == []


@pytest.mark.parametrize(
    "path",
    [
        "/posts/999999/like",
        "/posts/abc/like",
        "/posts/0/unlike",
        "/posts/-1/like",
        "/posts/99999999999/like",
        "/posts/1.5/unlike",
    ],
)
async def test_liking_what_does_not_exist_is_a_404(client, bob, path, session):
    response = await client.post(path)
    assert response.status_code == 404
    assert await like_rows(session) == []
    fragment = await client.post(path, htmx=True)
    assert fragment.status_code == 404


async def test_a_like_racing_the_posts_deletion_is_a_404_not_a_500(
    client, bob, post, session, monkeypatch
):
    from app.blueprints import likes as view

    real = view.post_to_answer

    async def then_deleted(post_id: int, verb: str):
        """The post is found, then deleted (in another request) before the like is written."""
        item = await real(post_id, verb)
        await session.execute(delete(Post).where(Post.id == post_id))
        await session.commit()
        return item

    monkeypatch.setattr(view, "post_to_answer", then_deleted)
    response = await client.post(f"/posts/{post.id}/like", htmx=True)
    assert response.status_code == 404
    assert await like_rows(session) == []


# -- who liked it ----------------------------------------------------------------------------


async def test_likes_page_fragment_and_plain_next_page(client, bob, post, session, make_user):
    fans = [await make_user(f"fan{n:02d}") for n in range(22)]
    for n, fan in enumerate(fans):
        session.add(Like(post_id=post.id, user_id=fan.id, created_at=T0 + timedelta(minutes=n)))
    await session.commit()
    page = await client.get(f"/posts/{post.id}/likes")
    assert page.status_code == 200
    html = await body(page)
    assert html.startswith("<!doctype html>")
    assert "People who liked alice’s post" in html
    names = re.findall(r'<li class="person" id="person-(\d+)">', html)
    assert [int(n) for n in names] == [fan.id for fan in reversed(fans)][:20]
    assert f'id="follow-{fans[0].id}"' not in html  # on the next page
    more = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert more.startswith(f"/posts/{post.id}/likes?before=")
    fragment = await client.get(more, htmx=True)
    rest = await body(fragment)
    assert fragment.status_code == 200 and "<html" not in rest
    assert [int(n) for n in re.findall(r'id="person-(\d+)"', rest)] == [fans[1].id, fans[0].id]
    assert 'rel="next"' not in rest
    plain = await body(await client.get(more))
    assert plain.startswith("<!doctype html>") and f'id="person-{fans[0].id}"' in plain


async def test_likes_page_of_a_post_nobody_liked_and_of_no_post(client, post):
    html = await body(await client.get(f"/posts/{post.id}/likes"))
    assert '<li class="empty">Nobody yet.</li>' in html
    assert (await client.get("/posts/999999/likes")).status_code == 404
    assert (await client.get(f"/posts/{post.id}/likes?before=garbage")).status_code == 400


# -- notifications ---------------------------------------------------------------------------


async def test_a_like_notifies_the_author_and_an_unlike_takes_it_back(
    client, bob, alice, post, session
):
    await client.post(f"/posts/{post.id}/like")
    assert await visible_notifications(session, alice) == [("like", bob.id, post.id)]
    await client.post(f"/posts/{post.id}/unlike")
    assert await visible_notifications(session, alice) == []
    await client.post(f"/posts/{post.id}/like")  # within the hour: the same one comes back
    assert await visible_notifications(session, alice) == [("like", bob.id, post.id)]
    session.expire_all()
    assert await session.scalar(select(func.count()).select_from(Notification)) == 1


async def test_liking_again_after_an_hour_is_a_new_notification(client, bob, alice, post, session):
    await client.post(f"/posts/{post.id}/like")
    await client.post(f"/posts/{post.id}/unlike")
    await session.execute(update(Notification).values(created_at=utcnow() - timedelta(hours=2)))
    await session.commit()
    await client.post(f"/posts/{post.id}/like")
    session.expire_all()
    rows = (await session.scalars(select(Notification))).all()
    assert [(n.kind, n.withdrawn_at) for n in rows] == [("like", None)]


async def test_liking_your_own_post_notifies_nobody(make_client, alice, post, session):
    own = make_client()
    await own.login(alice)
    assert (await own.post(f"/posts/{post.id}/like", htmx=True)).status_code == 200
    assert await like_rows(session) == [(post.id, alice.id)]
    session.expire_all()
    assert await session.scalar(select(func.count()).select_from(Notification)) == 0


async def test_likes_of_one_post_are_one_line_and_read_together(
    make_client, make_user, alice, make_post, session
):
    post = await make_post(alice, "popular")
    other = await make_post(alice, "quiet")
    fans = [await make_user(name) for name in ("bob", "carol", "dave", "erin")]
    for fan in fans:
        c = make_client()
        await c.login(fan)
        await c.post(f"/posts/{post.id}/like")
    c = make_client()
    await c.login(fans[0])
    await c.post(f"/posts/{other.id}/like")
    await c.post("/user/alice/follow")

    alices = make_client()
    await alices.login(alice)
    html = await body(await alices.get("/notifications"))
    items = re.findall(r'<li class="notification[^"]*" id="notification-\d+">.*?</li>', html, re.S)
    assert len(items) == 3  # the follow, the quiet post's like, the popular post's four
    text = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item)).strip() for item in items]
    assert text[0].startswith("bob followed you")
    assert text[1].startswith("bob liked your post")
    assert text[2].startswith("erin and 3 others liked your post")
    assert f'href="/posts/{post.id}/likes">3 others</a>' in items[2]
    session.expire_all()
    unread = select(func.count()).where(Notification.read_at.is_(None))
    assert await session.scalar(unread) == 0  # the whole group was read with its line

    # dave and erin unlike: carol's like is now the newest of the two left.
    for fan in (fans[2], fans[3]):
        c = make_client()
        await c.login(fan)
        await c.post(f"/posts/{post.id}/unlike")
    html = await body(await alices.get("/notifications"))
    assert "carol and 1 other liked your post" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


async def test_a_like_after_the_page_was_shown_stays_unread(
    make_client, make_user, alice, post, session
):
    bobs, carols = make_client(), make_client()
    await bobs.login(await make_user("bob"))
    await carols.login(await make_user("carol"))
    await bobs.post(f"/posts/{post.id}/like")
    session.expire_all()
    shown = await session.scalar(select(Notification.id))
    await carols.post(f"/posts/{post.id}/like")
    await notifications.mark_read(session, alice.id, [shown], utcnow())
    await session.commit()
    assert await notifications.unread_count(session, alice.id) == 1


async def test_notifications_page_costs_the_same_statements_with_likes(
    app, make_client, make_user, alice, make_post
):
    alices = make_client()
    await alices.login(alice)
    await alices.get("/")

    async def statements() -> int:
        await alices.get("/notifications")  # read: the next visit writes nothing
        return len(await page_statements(app, alices, "/notifications"))

    first = await make_post(alice, "first")
    fan = make_client()
    await fan.login(await make_user("fan"))
    await fan.post(f"/posts/{first.id}/like")
    few = await statements()
    for n in range(8):
        liked = await make_post(alice, f"post {n}")
        for m in range(3):
            c = make_client()
            await c.login(await make_user(f"fan{n}x{m}"))
            await c.post(f"/posts/{liked.id}/like")
    assert await statements() == few

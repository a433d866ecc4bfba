"""Notifications: written with the change that causes them, read newest first, counted in the
navigation, marked read by the page that shows them."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select, update

from app.clock import utcnow
from app.models import Notification, Post
from tests.conftest import body


async def notifications_of(session, user) -> list[tuple[str, str]]:
    """(kind, actor's id) of the user's visible notifications, oldest first."""
    session.expire_all()
    stmt = (
        select(Notification.kind, Notification.actor_id)
        .where(Notification.recipient_id == user.id, Notification.withdrawn_at.is_(None))
        .order_by(Notification.id)
    )
    return [(kind, actor) for kind, actor in (await session.execute(stmt)).all()]


def count_in_nav(html: str) -> str:
    match = re.search(r'<span id="notifications-count"[^>]*>([^<]*)</span>', html)
    assert match, "no #notifications-count in the navigation"
    return match.group(1)


async def test_a_follow_notifies_once_and_an_unfollow_takes_it_back(
    make_client, make_user, session
):
    alice, bob = await make_user("alice"), await make_user("bob")
    bobs = make_client()
    await bobs.login(bob)
    assert (await bobs.post("/user/alice/follow")).status_code == 302
    assert (await bobs.post("/user/alice/follow")).status_code == 302  # twice: one edge
    assert await notifications_of(session, alice) == [("follow", bob.id)]

    await bobs.post("/user/alice/unfollow")
    assert await notifications_of(session, alice) == []
    await bobs.post("/user/alice/follow")  # within the hour: the same notification again
    assert await notifications_of(session, alice) == [("follow", bob.id)]
    session.expire_all()
    rows = await session.scalar(select(func.count()).select_from(Notification))
    assert rows == 1


async def test_following_again_after_an_hour_is_a_new_notification(make_client, make_user, session):
    await make_user("alice")
    bob = await make_user("bob")
    bobs = make_client()
    await bobs.login(bob)
    await bobs.post("/user/alice/follow")
    await bobs.post("/user/alice/unfollow")
    await session.execute(update(Notification).values(created_at=utcnow() - timedelta(hours=2)))
    await session.commit()
    await bobs.post("/user/alice/follow")
    session.expire_all()
    rows = (await session.scalars(select(Notification))).all()
    assert [(n.kind, n.withdrawn_at) for n in rows] == [("follow", None)]


async def test_comments_and_mentions_notify_each_person_once_and_never_yourself(
    make_client, make_user, make_post, session
):
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    alices = make_client()
    await alices.login(alice)
    await alices.post("/posts", {"body": "my post, hi @carol and @alice and @nobody"})
    post_id = await session.scalar(select(Post.id))
    assert await notifications_of(session, carol) == [("mention", alice.id)]
    assert await notifications_of(session, alice) == []  # mentioning yourself

    bobs = make_client()
    await bobs.login(bob)
    await bobs.post(f"/posts/{post_id}/comments", {"body": "@alice @carol @bob look"})
    assert await notifications_of(session, alice) == [("comment", bob.id)]  # not a mention too
    assert await notifications_of(session, carol) == [("mention", alice.id), ("mention", bob.id)]
    assert await notifications_of(session, bob) == []

    await alices.post(f"/posts/{post_id}/comments", {"body": "thanks"})  # on her own post
    assert await notifications_of(session, alice) == [("comment", bob.id)]


async def test_deleting_a_post_or_comment_removes_its_notifications(
    make_client, make_user, make_post, session
):
    alice, bob = await make_user("alice"), await make_user("bob")
    post = await make_post(alice, "hello")
    bobs = make_client()
    await bobs.login(bob)
    await bobs.post(f"/posts/{post.id}/comments", {"body": "first"})
    await bobs.post(f"/posts/{post.id}/comments", {"body": "second"})
    assert len(await notifications_of(session, alice)) == 2
    comment_id = await session.scalar(
        select(Notification.comment_id).order_by(Notification.id.desc()).limit(1)
    )
    assert (await bobs.post(f"/comments/{comment_id}/delete")).status_code == 302
    assert len(await notifications_of(session, alice)) == 1

    alices = make_client()
    await alices.login(alice)
    await alices.post(f"/posts/{post.id}/delete")
    assert await notifications_of(session, alice) == []


async def test_the_navigation_counts_unread_and_the_page_marks_them_read(
    make_client, make_user, make_post, session
):
    alice, bob = await make_user("alice"), await make_user("bob")
    post = await make_post(alice, "read me")
    bobs = make_client()
    await bobs.login(bob)
    await bobs.post("/user/alice/follow")
    await bobs.post(f"/posts/{post.id}/comments", {"body": "I did"})
    alices, carols = make_client(), make_client()
    await alices.login(alice)
    await carols.login(await make_user("carol"))
    assert count_in_nav(await body(await carols.get("/"))) == ""  # others' are not hers

    home = await body(await alices.get("/"))
    assert count_in_nav(home) == "2"
    assert 'aria-label="2 unread notifications"' in home

    page = await alices.get("/notifications")
    assert page.status_code == 200
    html = await body(page)
    assert html.count('class="notification unread"') == 2
    assert "followed you" in html and "commented on" in html and "I did" in html
    assert count_in_nav(html) == ""  # read by being shown
    assert count_in_nav(await body(await alices.get("/"))) == ""
    session.expire_all()
    unread = select(func.count()).where(Notification.read_at.is_(None))
    assert await session.scalar(unread) == 0
    again = await body(await alices.get("/notifications"))
    assert "notification unread" not in again and "followed you" in again


async def test_notifications_page_pages_as_fragments_and_works_without_javascript(
    make_client, make_user, session
):
    alice = await make_user("alice")
    fans = [await make_user(f"fan{n}") for n in range(25)]
    for fan in fans:
        client = make_client()
        await client.login(fan)
        await client.post("/user/alice/follow")
    alices = make_client()
    await alices.login(alice)
    html = await body(await alices.get("/notifications"))
    assert html.startswith("<!doctype html>")
    assert html.count('<li class="notification') == 20
    more = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    fragment = await alices.get(more, htmx=True)
    rest = await body(fragment)
    assert "<html" not in rest
    assert rest.count('<li class="notification') == 5
    assert 'id="notifications-more"' not in rest
    plain = await body(await alices.get(more))  # no JavaScript: the link is a page
    assert plain.startswith("<!doctype html>") and plain.count('<li class="notification') == 5


async def test_notifications_need_login(client):
    response = await client.get("/notifications")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/notifications"


async def test_nobody_is_notified_of_their_own_follow_of_nobody(client, make_user, session):
    await client.login(await make_user("alice"))
    assert (await client.post("/user/alice/follow")).status_code == 400
    session.expire_all()
    assert await session.scalar(select(func.count()).select_from(Notification)) == 0

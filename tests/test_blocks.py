"""Blocking and muting: the profile's "…" menu (page, htmx fragment, plain form), what a block
forbids, Settings → Blocked and muted accounts, and what the live stream leaves out."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.models import Block, Comment, Follow, Like, Mute, Notification, Post
from tests.conftest import body
from tests.test_live import stream
from tests.test_timeline import post_ids


@pytest.fixture
async def alice(make_user, client):
    """The one who blocks: logged in."""
    user = await make_user("alice")
    await client.login(user)
    return user


@pytest.fixture
async def bob(make_user):
    return await make_user("bob")


async def rows(session, model) -> list[tuple[int, int]]:
    session.expire_all()
    columns = model.__table__.primary_key.columns
    return [tuple(r) for r in (await session.execute(select(*columns))).all()]


async def follow_both_ways(session, a, b) -> None:
    session.add_all(
        [Follow(follower_id=a.id, followed_id=b.id), Follow(follower_id=b.id, followed_id=a.id)]
    )
    await session.commit()


def menu(html: str) -> str:
    match = re.search(r'<details class="menu" id="profile-menu">.*?</details>', html, re.S)
    assert match, "no #profile-menu"
    return match.group(0)


# -- the menu and its four buttons -----------------------------------------------------------


async def test_the_profile_menu_offers_mute_and_block_without_javascript(client, alice, bob):
    html = await body(await client.get("/user/bob"))
    items = menu(html)
    assert (
        '<summary class="button button-small button-secondary" aria-label="More actions for @bob"'
        in items
    )
    assert 'action="/user/bob/mute"' in items and 'action="/user/bob/block"' in items
    assert items.count('name="csrf_token"') == 2
    assert 'id="follow-' in html  # Follow stays beside the menu
    own = await body(await client.get("/user/alice"))
    assert 'id="profile-menu"' not in own


async def test_block_via_htmx_ends_follows_and_swaps_actions_and_posts(
    client, alice, bob, session, make_post
):
    await follow_both_ways(session, alice, bob)
    post = await make_post(bob, "bob's words")
    response = await client.post(
        "/user/bob/block", {"next": "/user/bob", "from": "profile"}, htmx=True
    )
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html
    assert html.startswith('<div id="profile-actions" class="profile-actions">')
    assert 'action="/user/bob/unblock"' in menu(html)
    assert 'id="follow-' not in html  # nobody follows across a block
    assert '<div id="profile-posts" hx-swap-oob="true">' in html
    assert "You blocked bob." in html and post.id not in post_ids(html)
    assert '<strong id="followers-count" hx-swap-oob="true">0</strong>' in html
    assert '<strong id="following-count" hx-swap-oob="true">0</strong>' in html
    assert response.headers["HX-Trigger"] == '{"warble:announce": "Blocked bob"}'
    assert await rows(session, Block) == [(alice.id, bob.id)]
    assert await rows(session, Follow) == []

    response = await client.post(
        "/user/bob/unblock", {"next": "/user/bob", "from": "profile"}, htmx=True
    )
    html = await body(response)
    assert response.status_code == 200
    assert 'action="/user/bob/block"' in menu(html) and 'action="/user/bob/follow"' in html
    assert post.id in post_ids(html)  # the posts are back
    assert await rows(session, Block) == []
    assert await rows(session, Follow) == []  # the follows a block ended stay ended


async def test_block_without_javascript_redirects_back_and_says_so(
    client, alice, bob, session, make_post
):
    post = await make_post(bob, "bob's words")
    response = await client.post("/user/bob/block", {"next": "/user/bob"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/user/bob"
    assert await rows(session, Block) == [(alice.id, bob.id)]
    html = await body(await client.get("/user/bob"))
    assert "You blocked bob." in html and "You blocked bob. You don’t see" in html
    assert post.id not in post_ids(html)
    assert 'id="profile-unblock"' in html and 'action="/user/bob/unblock"' in html
    response = await client.post("/user/bob/unblock", {"next": "https://evil.example/"})
    assert response.headers["Location"] == "/user/bob"  # only local paths
    assert await rows(session, Block) == []


async def test_mute_via_htmx_and_plain_form_keeps_the_profile_open(
    client, alice, bob, session, make_post
):
    post = await make_post(bob, "bob's words")
    response = await client.post(
        "/user/bob/mute", {"next": "/user/bob", "from": "profile"}, htmx=True
    )
    html = await body(response)
    assert response.status_code == 200 and "<html" not in html
    assert html.startswith('<div id="profile-actions"')
    assert 'action="/user/bob/unmute"' in menu(html)
    assert 'id="profile-posts"' not in html  # a mute leaves the profile's posts alone
    assert await rows(session, Mute) == [(alice.id, bob.id)]
    profile = await body(await client.get("/user/bob"))
    assert post.id in post_ids(profile)
    assert post.id not in post_ids(await body(await client.get("/explore")))
    response = await client.post("/user/bob/unmute", {"next": "/explore"})
    assert response.status_code == 302 and response.headers["Location"] == "/explore"
    assert "You unmuted bob." in await body(await client.get("/explore"))
    assert await rows(session, Mute) == []


async def test_blocking_and_muting_twice_is_harmless(client, alice, bob, session):
    for verb, model in (("block", Block), ("mute", Mute)):
        for _ in range(2):
            assert (await client.post(f"/user/bob/{verb}", htmx=True)).status_code == 200
        assert await rows(session, model) == [(alice.id, bob.id)]
        for _ in range(2):
            assert (await client.post(f"/user/bob/un{verb}", htmx=True)).status_code == 200
        assert await rows(session, model) == []


@pytest.mark.parametrize("verb", ["block", "unblock", "mute", "unmute"])
async def test_bad_requests_are_refused_with_a_message(client, alice, session, verb):
    response = await client.post(f"/user/alice/{verb}")
    assert response.status_code == 400
    assert f"You cannot {verb} yourself." in await body(response)
    fragment = await client.post(f"/user/alice/{verb}", htmx=True)
    assert fragment.status_code == 400 and fragment.headers["HX-Retarget"] == "#messages"
    assert (await client.post(f"/user/nobody/{verb}")).status_code == 404
    assert (await client.post(f"/user/{'x' * 80}/{verb}")).status_code == 404
    assert (await client.get(f"/user/alice/{verb}")).status_code == 405
    assert (await client.post(f"/user/alice/{verb}", csrf=False)).status_code == 403
    assert await rows(session, Block) == [] and await rows(session, Mute) == []


async def test_anonymous_cannot_block(client, bob, session):
    response = await client.post("/user/bob/block")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert (await client.post("/user/bob/block", htmx=True)).status_code == 401
    assert await rows(session, Block) == []


# -- what a block forbids ----------------------------------------------------------------------


async def test_the_blocked_cannot_follow_like_comment_or_mention(
    make_client, alice, bob, session, make_post
):
    session.add(Block(blocker_id=alice.id, blocked_id=bob.id))
    await session.commit()
    post = await make_post(alice, "alice's words")
    bobs = make_client()
    await bobs.login(bob)

    response = await bobs.post("/user/alice/follow", htmx=True)
    assert response.status_code == 403 and response.headers["HX-Retarget"] == "#messages"
    assert "alice has blocked you: you cannot follow them." in await body(response)
    plain = await bobs.post("/user/alice/follow")
    assert plain.status_code == 403 and "alice has blocked you" in await body(plain)
    for path, data in (
        (f"/posts/{post.id}/like", {}),
        (f"/posts/{post.id}/comments", {"body": "hi"}),
    ):
        response = await bobs.post(path, data)
        assert response.status_code == 403, path
        assert "one of you has blocked the other" in await body(response)
    assert (await bobs.get(f"/posts/{post.id}")).status_code == 404
    # A mention of alice by bob notifies nobody, in a post or in a comment on a third post.
    await bobs.post("/posts", {"body": "hello @alice"})
    bobs_post = await make_post(bob, "bob's own")
    await bobs.post(f"/posts/{bobs_post.id}/comments", {"body": "and @alice"})
    session.expire_all()
    assert await rows(session, Follow) == [] and await rows(session, Like) == []
    assert (await session.scalars(select(Comment.body))).all() == ["and @alice"]
    assert (await session.scalars(select(Notification.recipient_id))).all() == []
    assert len((await session.scalars(select(Post.id))).all()) == 3


async def test_the_blocker_cannot_follow_until_they_unblock(client, alice, bob, session):
    session.add(Block(blocker_id=alice.id, blocked_id=bob.id))
    await session.commit()
    response = await client.post("/user/bob/follow", htmx=True)
    assert response.status_code == 403
    assert "You have blocked bob: unblock them to follow them." in await body(response)
    await client.post("/user/bob/unblock")
    assert (await client.post("/user/bob/follow", htmx=True)).status_code == 200
    assert await rows(session, Follow) == [(alice.id, bob.id)]


async def test_the_blocked_see_a_notice_on_the_blockers_profile(
    make_client, alice, bob, session, make_post
):
    post = await make_post(alice, "alice's words")
    session.add(Block(blocker_id=alice.id, blocked_id=bob.id))
    await session.commit()
    bobs = make_client()
    await bobs.login(bob)
    html = await body(await bobs.get("/user/alice"))
    assert "You can’t see this account’s posts." in html
    assert post.id not in post_ids(html) and 'action="/user/alice/follow"' not in html
    more = await bobs.get("/user/alice?before=99999999999999999.1", htmx=True)  # the next-page path
    assert post.id not in post_ids(await body(more))


# -- settings ----------------------------------------------------------------------------------


async def test_settings_lists_blocked_and_muted_accounts_with_undo_buttons(
    client, alice, make_user, session
):
    others = [await make_user(f"user{n:02d}") for n in range(23)]
    for other in others:
        session.add(Block(blocker_id=alice.id, blocked_id=other.id))
    session.add(Mute(muter_id=alice.id, muted_id=others[0].id))
    await session.commit()
    assert 'href="/settings/blocks"' in await body(await client.get("/settings/profile"))
    html = await body(await client.get("/settings/blocks"))
    assert html.startswith("<!doctype html>")
    blocked = re.findall(r'<li class="person" id="blocked-(\d+)">', html)
    assert len(blocked) == 20
    assert re.findall(r'<li class="person" id="muted-(\d+)">', html) == [str(others[0].id)]
    assert f'id="muted-form-{others[0].id}"' in html and 'action="/user/user00/unmute"' in html
    more = re.search(r'<li class="more" id="blocked-more"><a rel="next" href="([^"]+)"', html)
    fragment = await client.get(more.group(1).replace("&amp;", "&"), htmx=True)
    rest = await body(fragment)
    assert fragment.status_code == 200 and "<html" not in rest
    seen = blocked + re.findall(r'id="blocked-(\d+)"', rest)
    assert sorted(map(int, seen)) == sorted(o.id for o in others)
    assert (await client.get("/settings/blocks?list=other")).status_code == 400


async def test_unblock_from_settings_in_place_and_without_javascript(client, alice, bob, session):
    session.add(Block(blocker_id=alice.id, blocked_id=bob.id))
    await session.commit()
    data = {"from": "settings", "next": "/settings/blocks"}
    response = await client.post("/user/bob/unblock", data, htmx=True)
    html = await body(response)
    assert response.status_code == 200 and "<html" not in html
    assert html.startswith(f'<li class="person" id="blocked-{bob.id}">')
    assert "No longer blocked" in html and 'action="/user/bob/block"' in html
    assert await rows(session, Block) == []
    response = await client.post("/user/bob/block", data)  # the undo of the undo, no JS
    assert response.status_code == 302 and response.headers["Location"] == "/settings/blocks"
    assert await rows(session, Block) == [(alice.id, bob.id)]
    assert (await client.get("/settings/blocks", headers={})).status_code == 200


# -- live --------------------------------------------------------------------------------------


async def test_the_stream_leaves_out_comments_and_posts_of_hidden_people(
    client, alice, bob, make_user, make_client, make_post
):
    carol = await make_user("carol")
    post = await make_post(carol, "carol's thread")
    bobs, carols = make_client(), make_client()
    await bobs.login(bob)
    await carols.login(carol)
    await client.post("/user/bob/follow")
    await client.post("/user/carol/follow")
    await client.post("/user/carol/mute")  # alice hears no more of carol's posts
    async with stream(client, f"page=post&id={post.id}") as live:
        await client.post("/user/bob/block")  # and none of bob's comments
        await bobs.post(f"/posts/{post.id}/comments", {"body": "from bob"})
        await live.nothing("comment")
        await client.post("/user/bob/unblock")
        await bobs.post(f"/posts/{post.id}/comments", {"body": "bob again"})
        assert "bob again" in (await live.message("comment"))["data"]
    async with stream(client, "page=home") as live:
        await carols.post("/posts", {"body": "muted news"})
        await live.nothing("new-post")

"""Finding people and getting back to where you were: suggestions on an empty home timeline,
Follow on explore, the /people directory, ?until= pages, and the words of errors."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from app.models import Follow, Post
from app.pagination import Cursor
from tests.conftest import PASSWORD, body

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
POST_ID = re.compile(r'<article class="post[^"]*" id="post-(\d+)"')
PERSON_ID = re.compile(r'<li class="person" id="(?:person|suggested)-(\d+)"')


def post_ids(html: str) -> list[int]:
    return [int(n) for n in POST_ID.findall(html)]


def people_ids(html: str) -> list[int]:
    return [int(n) for n in PERSON_ID.findall(html)]


def next_link(html: str) -> str | None:
    match = re.search(r'rel="next" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


async def follow(session, follower, followed) -> None:
    session.add(Follow(follower_id=follower.id, followed_id=followed.id))
    await session.commit()


async def test_empty_home_links_explore_and_suggests_people_to_follow(
    client, make_user, make_post, session
):
    me = await make_user("newbie")
    popular, quiet, followed = (
        await make_user("popular"),
        await make_user("quiet"),
        await make_user("followed"),
    )
    fans = [await make_user(f"fan{n}") for n in range(3)]
    for fan in fans:
        await follow(session, fan, popular)
    await follow(session, me, followed)  # followed, but silent: the timeline stays empty
    await make_post(quiet, "I post, nobody follows me")
    await client.login(me)
    html = await body(await client.get("/"))
    assert 'find people to follow on <a href="/explore">Explore</a>' in html
    section = html[html.index('id="suggestions"') :]
    shown = people_ids(section)
    assert 1 <= len(shown) <= 5
    assert shown[0] == popular.id  # most followed first
    assert shown[1] == quiet.id  # then the recently active
    assert me.id not in shown and followed.id not in shown
    assert f'id="follow-{popular.id}"' in section and 'action="/user/popular/follow"' in section


async def test_no_suggestions_once_the_timeline_has_other_peoples_posts(
    client, make_user, make_post, session
):
    me, friend = await make_user("me_"), await make_user("friend")
    await make_user("stranger")
    await follow(session, me, friend)
    await make_post(friend, "hello")
    await client.login(me)
    assert 'id="suggestions"' not in await body(await client.get("/"))


async def test_explore_offers_follow_beside_authors_the_viewer_does_not_follow(
    client, make_user, make_post, session
):
    me, friend, stranger = await make_user("me_"), await make_user("friend"), await make_user("x_y")
    await follow(session, me, friend)
    mine = await make_post(me, "mine")
    theirs = await make_post(friend, "friend's")
    first = await make_post(stranger, "stranger one")
    second = await make_post(stranger, "stranger two")
    await client.login(me)
    html = await body(await client.get("/explore"))
    assert f'id="follow-{stranger.id}-post-{first.id}"' in html
    assert f'id="follow-{stranger.id}-post-{second.id}"' in html  # ids stay unique
    assert f'id="follow-{friend.id}-post-{theirs.id}"' not in html
    assert f'id="follow-{me.id}-post-{mine.id}"' not in html
    # The button replaces itself (the same slot comes back) and announces what happened.
    form = {"next": "/explore", "slot": str(first.id)}
    response = await client.post("/user/x_y/follow", form, htmx=True)
    fragment = await body(response)
    assert response.status_code == 200 and "<html" not in fragment
    assert f'<form id="follow-{stranger.id}-post-{first.id}"' in fragment and "Unfollow" in fragment
    trigger = json.loads(response.headers["HX-Trigger"])
    assert trigger == {"warble:announce": "Following x_y"}
    # Without JavaScript: a plain form that comes back to explore.
    plain = await client.post("/user/x_y/unfollow", {"next": "/explore", "slot": "oops"})
    assert plain.status_code == 302 and plain.headers["Location"] == "/explore"


async def test_people_directory_pages_newest_and_most_followed_without_gaps(
    client, make_user, session
):
    everyone = [await make_user(f"person{n:02d}") for n in range(45)]
    for n, person in enumerate(everyone[:5]):
        for fan in everyone[10 : 10 + n + 1]:
            await follow(session, fan, person)
    await client.login(everyone[0])
    for order, expected in [
        ("newest", [p.id for p in reversed(everyone)]),
        ("followed", [p.id for p in reversed(everyone[:5])]),
    ]:
        path = "/people" if order == "newest" else "/people?order=followed"
        page = await client.get(path)
        assert page.status_code == 200
        html = await body(page)
        assert "<html" in html
        seen = people_ids(html)
        link = next_link(html)
        while link:
            assert order == "newest" or "order=followed" in link
            fragment = await body(await client.get(link, htmx=True))
            assert "<html" not in fragment
            seen += people_ids(fragment)
            link = next_link(fragment)
            if link:  # without JavaScript: the same link is a page
                assert (await client.get(link)).status_code == 200
        assert len(seen) == len(set(seen)) == 45
        assert seen[: len(expected)] == expected
    assert (await client.get("/people?order=sideways")).status_code == 400
    assert (await client.get("/people?order=followed&before=1.x")).status_code == 400
    explore = await body(await client.get("/explore"))
    assert 'href="/people"' in explore


async def test_until_renders_every_page_down_to_that_post(client, make_user, make_post):
    me = await make_user("reader")
    posts = [await make_post(me, f"p{n}", at=T0 + timedelta(minutes=n)) for n in range(70)]
    newest_first = [p.id for p in reversed(posts)]
    await client.login(me)
    target = posts[70 - 45]  # the 45th post down: on the third page
    until = Cursor(T0 + timedelta(minutes=70 - 45), target.id).encode()
    html = await body(await client.get(f"/?until={until}"))
    assert post_ids(html) == newest_first[:60]  # every page down to the one holding it
    link = next_link(html)
    assert link is not None and "until" not in link
    assert post_ids(await body(await client.get(link, htmx=True))) == newest_first[60:]
    profile = await body(await client.get(f"/user/reader?until={until}"))
    assert post_ids(profile) == newest_first[:60]
    assert (await client.get("/?until=garbage")).status_code == 400


async def test_a_failed_long_post_is_kept_whole_and_counted_in_code_points(
    client, make_user, count_rows
):
    await client.login(await make_user("long"))
    text = "\U0001f600" * 260
    assert (await client.post("/posts", {"body": text})).status_code == 302  # 260 characters
    too_long = "x" * 707
    refused = await client.post("/posts", {"body": too_long})
    assert refused.status_code == 422
    html = await body(refused)
    assert too_long in html and "this post has 707" in html
    assert 'maxlength="500"' not in html
    assert await count_rows(Post) == 1


async def test_404_speaks_warbles_words(client):
    html = await body(await client.get("/no/such/page"))
    assert "There is nothing here" in html and "requested URL" not in html


async def test_stale_page_gets_one_message_with_a_reload_link(client, make_user):
    await client.login(await make_user("stale"))
    response = await client.post(
        "/posts",
        {"body": "hi"},
        htmx=True,
        csrf=False,
        headers={"HX-Current-URL": "http://localhost/user/stale?before=1.2"},
    )
    assert response.status_code == 403
    assert response.headers["HX-Retarget"] == "#messages"
    assert response.headers["HX-Reswap"] == "innerHTML"  # replaces, never piles up
    html = await body(response)
    assert "out of date" in html and 'href="/user/stale?before=1.2">Reload the page' in html


async def test_login_429_keeps_the_form_with_the_message_above_it(make_app, make_user):
    from tests.test_limits import attempt, limited_client

    client = await limited_client(make_app)
    await make_user("john")
    for _ in range(3):
        await attempt(client)
    refused = await attempt(client)
    assert refused.status_code == 429
    html = await body(refused)
    assert 'id="login-form"' in html and 'value="john"' in html
    assert html.index("You are doing that too often") < html.index('id="username"')
    assert PASSWORD not in html

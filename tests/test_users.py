"""Profiles, follows, follower lists, settings and avatars."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.blueprints.avatars import gravatar_url
from app.models import Follow, User
from app.queries import follows
from tests.conftest import Client, body


@pytest.fixture
async def pair(make_user, client):
    """john (logged in) and susan."""
    john, susan = await make_user("john"), await make_user("susan", about_me="I <3 <b>tea</b>")
    await client.login(john)
    return john, susan


def count_in(html: str, element_id: str) -> int:
    match = re.search(rf'id="{element_id}"[^>]*>(\d+)<', html)
    assert match, f"no #{element_id}"
    return int(match.group(1))


async def test_profile_shows_counts_about_and_follow_button(client, pair, make_post):
    _, susan = pair
    await make_post(susan, "susan's post")
    html = await body(await client.get("/user/susan"))
    assert count_in(html, "followers-count") == 0
    assert count_in(html, "following-count") == 0
    assert "I &lt;3 &lt;b&gt;tea&lt;/b&gt;" in html
    assert 'action="/user/susan/follow"' in html and ">Follow<" in html
    assert "susan&#39;s post" in html  # autoescaped, quote included
    assert "Member since" in html


async def test_own_profile_has_edit_link_not_follow(client, pair):
    html = await body(await client.get("/user/john"))
    assert 'href="/settings/profile"' in html and "Edit profile" in html
    assert 'action="/user/john/follow"' not in html


async def test_profile_lookup_ignores_case_and_unknown_is_404(client, pair):
    assert (await client.get("/user/SUSAN")).status_code == 200
    response = await client.get("/user/nobody")
    assert response.status_code == 404
    assert "User nobody not found." in await body(response)


async def test_follow_plain_redirects_back_with_flash(client, pair, session):
    _john, _susan = pair
    response = await client.post("/user/susan/follow", {"next": "/user/susan"})
    assert response.status_code == 302 and response.headers["Location"] == "/user/susan"
    html = await body(await client.get("/user/susan"))
    assert "You are following susan!" in html
    assert count_in(html, "followers-count") == 1
    assert ">Unfollow<" in html

    response = await client.post("/user/susan/unfollow", {"next": "/user/susan"})
    html = await body(await client.get(response.headers["Location"]))
    assert "You are not following susan." in html
    assert count_in(html, "followers-count") == 0


async def test_follow_htmx_returns_button_and_count_out_of_band(client, pair):
    response = await client.post(
        "/user/susan/follow", {"next": "/user/susan", "from": "profile"}, htmx=True
    )
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html
    assert html.lstrip().startswith('<form id="follow-')
    assert 'action="/user/susan/unfollow"' in html and ">Unfollow<" in html
    assert '<strong id="followers-count" hx-swap-oob="true">1</strong>' in html

    back = await body(await client.post("/user/susan/unfollow", {"from": "profile"}, htmx=True))
    assert ">Follow<" in back
    assert '<strong id="followers-count" hx-swap-oob="true">0</strong>' in back


async def test_follow_from_a_list_sends_no_count(client, pair):
    html = await body(await client.post("/user/susan/follow", {"next": "/"}, htmx=True))
    assert "followers-count" not in html


async def test_follow_twice_keeps_one_edge(client, pair, session):
    john, _susan = pair
    await client.post("/user/susan/follow")
    await client.post("/user/susan/follow")
    edges = (await session.scalars(select(Follow).where(Follow.follower_id == john.id))).all()
    assert len(edges) == 1


async def test_follow_unknown_user_is_404_and_yourself_is_400(client, pair, count_rows):
    unknown = await client.post("/user/ghost/follow")
    assert unknown.status_code == 404 and "User ghost not found." in await body(unknown)
    own = await client.post("/user/john/follow")
    assert own.status_code == 400 and "You cannot follow yourself!" in await body(own)
    assert (await client.post("/user/john/follow", htmx=True)).status_code == 400
    assert await count_rows(Follow) == 0


async def test_follow_needs_login_and_csrf(make_client, pair, count_rows):
    anonymous = make_client()
    assert (await anonymous.post("/user/susan/follow")).status_code == 302
    _, susan = pair
    forged = make_client()
    await forged.login(susan)
    assert (await forged.post("/user/john/follow", csrf=False)).status_code == 403
    assert await count_rows(Follow) == 0


async def test_follower_and_following_lists_paginate_with_follow_buttons(
    client, pair, session, make_user
):
    john, susan = pair
    fans = [await make_user(f"fan{i:02d}") for i in range(25)]
    for fan in fans:
        await follows.follow(session, fan.id, susan.id)
    await follows.follow(session, susan.id, john.id)
    await session.commit()

    page = await client.get("/user/susan/followers")
    html = await body(page)
    first = re.findall(r'<li class="person" id="person-(\d+)"', html)
    assert len(first) == 20
    assert 'action="/user/fan' in html  # follow buttons for each person
    more = re.search(r'<a rel="next" href="([^"]+)"', html)
    assert more
    fragment = await client.get(more.group(1).replace("&amp;", "&"), htmx=True)
    rest = re.findall(r'<li class="person" id="person-(\d+)"', await body(fragment))
    assert "<html" not in await body(fragment)
    assert len(rest) == 5 and not set(rest) & set(first)
    assert 'rel="next"' not in await body(fragment)

    following = await body(await client.get("/user/susan/following"))
    assert f'id="person-{john.id}"' in following


async def test_settings_edit_about_and_email(client, pair, session):
    john, _ = pair
    page = await body(await client.get("/settings/profile"))
    assert 'name="about_me"' in page and 'name="email"' in page
    response = await client.post(
        "/settings/profile", {"about_me": "Hello there", "email": "j2@example.com"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/user/john"
    session.expire_all()
    user = await session.get(User, john.id)
    assert (user.about_me, user.email) == ("Hello there", "j2@example.com")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"about_me": "a" * 281, "email": "john@example.com"}, "Keep it to 280 characters"),
        ({"about_me": "", "email": "nope"}, "valid email address"),
        ({"about_me": "", "email": "SUSAN@example.com"}, "already registered"),
    ],
)
async def test_settings_reject_bad_input(client, pair, session, form, message):
    john, _ = pair
    response = await client.post("/settings/profile", form)
    assert response.status_code == 422
    assert message in await body(response)
    session.expire_all()
    assert (await session.get(User, john.id)).email == "john@example.com"


async def test_settings_keep_the_own_address_in_another_case(client, pair, session):
    john, _ = pair
    response = await client.post("/settings/profile", {"about_me": "", "email": "JOHN@example.com"})
    assert response.status_code == 302
    session.expire_all()
    user = await session.get(User, john.id)
    assert (user.email, user.email_normalized) == ("JOHN@example.com", "john@example.com")


async def test_asking_for_a_taken_address_is_logged(client, pair, caplog):
    with caplog.at_level("WARNING", logger="app.accounts"):
        response = await client.post(
            "/settings/profile", {"about_me": "", "email": "Susan@Example.com"}
        )
    assert response.status_code == 422
    john, _ = pair
    assert f"user {john.id} asked for an email address another account has" in caplog.text


async def test_profile_settings_are_limited_per_address(make_app, make_user, session):
    app = await make_app(RATE_LIMITS=True, RATE_LIMIT_AUTH="2/minute")
    client = Client(app.test_client())
    john = await make_user("john")
    await client.login(john)
    for n in range(2):
        form = {"about_me": "", "email": f"probe{n}@example.com"}
        assert (await client.post("/settings/profile", form)).status_code == 302
    limited = await client.post("/settings/profile", {"about_me": "", "email": "p@example.com"})
    assert limited.status_code == 429
    session.expire_all()
    assert (await session.get(User, john.id)).email == "probe1@example.com"


async def test_settings_need_login(make_client, pair):
    anonymous = make_client()
    response = await anonymous.get("/settings/profile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/settings/profile"
    fragment = await anonymous.get("/settings/profile", htmx=True)
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login")


async def test_identicon_is_deterministic_svg_cached_for_a_year(client, pair):
    john, susan = pair
    first = await client.get(f"/avatars/{john.id}.svg")
    assert first.status_code == 200
    assert first.mimetype == "image/svg+xml"
    assert "max-age=31536000" in first.headers["Cache-Control"]
    again = await client.get(f"/avatars/{john.id}.svg")
    other = await client.get(f"/avatars/{susan.id}.svg")
    assert await body(first) == await body(again) != await body(other)


async def test_default_avatars_make_no_third_party_request(client, pair, make_post):
    john, _ = pair
    await make_post(john)
    html = await body(await client.get("/"))
    assert "gravatar.com" not in html
    assert f'src="/avatars/{john.id}.svg"' in html


def test_gravatar_url_format():
    assert gravatar_url("john@example.com", 128) == (
        "https://www.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?d=identicon&s=128"
    )
    assert gravatar_url("  John@Example.com ", 128) == gravatar_url("john@example.com", 128)


async def test_gravatar_is_opt_in(make_app, make_user, make_post):
    client = Client((await make_app(AVATARS="gravatar")).test_client())
    john = await make_user("john")
    await client.login(john)
    await make_post(john)
    response = await client.get("/")
    assert gravatar_url("john@example.com", 96) in (await body(response)).replace("&amp;", "&")
    assert "https://www.gravatar.com" in response.headers["Content-Security-Policy"]

"""Property tests: whatever arrives in a form, path or query, Warble answers < 500, escapes it,
and writes nothing when it refuses."""

from __future__ import annotations

import re
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.models import REPORT_REASONS, Comment, Follow, Like, Post, PostEdit, Report, User
from app.pagination import InvalidCursor, decode
from app.text import is_blank
from tests.conftest import CSRF, PASSWORD, body

BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")

# Every code point, lone surrogates included, with the nasty ones made likely.
NASTY = st.sampled_from(
    [
        "\x00",
        "\ud800",
        "\udfff",
        "\u202e",
        "\u2066",
        "\u200d",
        "\u0301",
        "🐦",
        "\r\n",
        "<",
        "&",
        '"',
    ]
)
TEXT = st.lists(
    st.one_of(NASTY, st.characters(min_codepoint=0, max_codepoint=0x10FFFF)), max_size=60
).map("".join)
# Text with nothing visible in it (app/text.py says what counts): a post or comment of it is empty.
INVISIBLE = st.lists(
    st.one_of(
        st.characters(categories=["Cf", "Zs", "Zl", "Zp"]),
        st.sampled_from(["\t", "\n", "\r\n", "\u3164", "\u115f", "\uffa0", "\u2800", "\ufe0f"]),
        st.sampled_from(["\u034f", "\U000e0100", "\x85"]),
    ),
    max_size=40,
).map("".join)
FIELD = st.one_of(TEXT, INVISIBLE, st.text(max_size=600), st.just(""), st.just("x" * 501))
PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def encode(fields: dict[str, str]) -> bytes:
    """A form body as a browser (or an attacker) could send it, surrogates and all."""
    return "&".join(
        f"{quote(k)}={quote_from_bytes(v.encode('utf-8', 'surrogatepass'))}"
        for k, v in fields.items()
    ).encode()


async def send(client, path: str, fields: dict[str, str], htmx: bool = False):
    await client.use_csrf()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if htmx:
        headers["HX-Request"] = "true"
    return await client.raw.post(path, data=encode(fields | {"csrf_token": CSRF}), headers=headers)


async def snapshot(session) -> tuple[int, ...]:
    session.expire_all()
    return tuple(
        [
            await session.scalar(select(func.count()).select_from(m))
            for m in (User, Post, Comment, Follow, Like, PostEdit)
        ]
    )


@pytest.fixture
async def world(client, make_user, make_post):
    john = await make_user("john")
    await make_user("susan")
    post = await make_post(john, "a post")
    await client.login(john)
    return {"post_id": post.id}


@PROPERTY
@given(text=FIELD, htmx=st.booleans())
async def test_any_post_body(client, session, world, text, htmx):
    before = await snapshot(session)
    response = await send(client, "/posts", {"body": text}, htmx)
    assert response.status_code < 500
    after = await snapshot(session)
    if response.status_code >= 400:
        assert after == before
    else:
        assert after[1] == before[1] + 1
        stored = await session.scalar(select(Post.body).order_by(Post.id.desc()).limit(1))
        assert not BIDI_CONTROL.search(stored) and not is_blank(stored)
        html = await body(response if htmx else await client.get("/"))
        assert "<script" not in html.lower().replace('<script src="/static/', "")
        assert not BIDI_CONTROL.search(html)


@PROPERTY
@given(text=INVISIBLE, htmx=st.booleans())
async def test_a_post_or_comment_with_nothing_visible_is_refused(
    client, session, world, text, htmx
):
    before = await snapshot(session)
    for path, what in (("/posts", "post"), (f"/posts/{world['post_id']}/comments", "comment")):
        response = await send(client, path, {"body": text}, htmx)
        assert response.status_code == 422
        assert f"an empty {what} cannot be sent" in await body(response)
    assert await snapshot(session) == before


@PROPERTY
@given(text=FIELD)
async def test_any_comment_body(client, session, world, text):
    before = await snapshot(session)
    response = await send(client, f"/posts/{world['post_id']}/comments", {"body": text})
    assert response.status_code < 500
    if response.status_code >= 400:
        assert await snapshot(session) == before


@PROPERTY
@given(username=FIELD, email=FIELD, password=FIELD)
async def test_any_registration(make_client, session, world, username, email, password):
    before = await snapshot(session)
    response = await send(
        make_client(), "/register", {"username": username, "email": email, "password": password}
    )
    assert response.status_code < 500
    if response.status_code >= 400:
        assert await snapshot(session) == before


@PROPERTY
@given(username=FIELD, password=FIELD)
async def test_any_login(make_client, world, username, password):
    response = await send(make_client(), "/login", {"username": username, "password": password})
    right = username.strip().lower() in {"john", "susan"} and password == PASSWORD
    assert response.status_code == (302 if right else 422)


@PROPERTY
@given(text=FIELD, htmx=st.booleans())
async def test_any_edit_body(client, session, world, text, htmx):
    post_id = world["post_id"]
    session.expire_all()
    was = await session.scalar(select(Post.body).where(Post.id == post_id))
    before = await snapshot(session)
    response = await send(client, f"/posts/{post_id}/edit", {"body": text}, htmx)
    assert response.status_code < 500
    session.expire_all()
    stored = await session.scalar(select(Post.body).where(Post.id == post_id))
    if response.status_code >= 400:
        assert response.status_code == 422
        assert await snapshot(session) == before and stored == was
    else:
        assert not BIDI_CONTROL.search(stored) and not is_blank(stored)
        html = await body(response if htmx else await client.get(f"/posts/{post_id}"))
        assert "<script" not in html.lower().replace('<script src="/static/', "")


@PROPERTY
@given(next_url=TEXT, verb=st.sampled_from(["like", "unlike"]))
async def test_any_next_after_a_like_stays_on_warble(client, world, next_url, verb):
    response = await send(client, f"/posts/{world['post_id']}/{verb}", {"next": next_url})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))


@PROPERTY
@given(about=FIELD, email=FIELD)
async def test_any_profile_settings(client, session, world, about, email):
    response = await send(client, "/settings/profile", {"about_me": about, "email": email})
    assert response.status_code < 500


@PROPERTY
@given(
    name=TEXT,
    verb=st.sampled_from(["", "/followers", "/following", "/follow", "/unfollow", "/report"]),
)
async def test_any_username_in_a_path(client, session, world, name, verb):
    path = f"/user/{quote_from_bytes(name.encode('utf-8', 'surrogatepass'), safe='')}{verb}"
    before = await snapshot(session)
    if verb in ("/follow", "/unfollow", "/report"):
        response = await send(client, path, {})
    else:
        response = await client.get(path)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert await snapshot(session) == before


@PROPERTY
@given(
    post_id=st.one_of(
        st.integers(), st.integers(min_value=2**31 - 5, max_value=2**70), st.text(max_size=12)
    ),
    suffix=st.sampled_from(
        [
            ("GET", ""),
            ("POST", "/delete"),
            ("POST", "/comments"),
            ("POST", "/like"),
            ("POST", "/unlike"),
            ("GET", "/likes"),
            ("GET", "/edit"),
            ("POST", "/edit"),
            ("GET", "/history"),
            ("GET", "/item"),
            ("GET", "/report"),
            ("POST", "/report"),
        ]
    ),
    htmx=st.booleans(),
)
async def test_any_post_id(client, session, world, post_id, suffix, htmx):
    method, verb = suffix
    path = f"/posts/{quote(str(post_id), safe='')}{verb}"
    before = await snapshot(session)
    if method == "POST":
        response = await send(client, path, {"body": "hi"}, htmx)
    else:
        response = await client.get(path, htmx=htmx)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert await snapshot(session) == before


@PROPERTY
@given(reason=st.one_of(FIELD, st.sampled_from(REPORT_REASONS)), comment=FIELD, htmx=st.booleans())
async def test_any_report(client, session, world, reason, comment, htmx):
    session.expire_all()
    before = await session.scalar(select(func.count()).select_from(Report))
    response = await send(
        client, "/user/susan/report", {"reason": reason, "comment": comment}, htmx
    )
    assert response.status_code < 500
    session.expire_all()
    stored = list(await session.scalars(select(Report.comment).order_by(Report.id)))
    if response.status_code >= 400:
        assert len(stored) == before
    else:
        assert len(stored) == before + 1 and not BIDI_CONTROL.search(stored[-1])


@PROPERTY
@given(cursor=TEXT, where=st.sampled_from(["/", "/explore", "/user/john", "/user/john/followers"]))
async def test_any_cursor(client, world, cursor, where):
    response = await client.raw.get(
        where, query_string={"before": cursor.encode("utf-8", "surrogatepass")}
    )
    assert response.status_code == (200 if well_formed(cursor) else 400)


def well_formed(cursor: str) -> bool:
    """The cursor parser's verdict: a page for a cursor it accepts, a 400 for any other."""
    try:
        decode(cursor)
    except InvalidCursor:
        return False
    return True


async def test_unknown_routes_and_wrong_methods(client, world):
    assert (await client.get("/no/such/thing")).status_code == 404
    assert (await client.get("/posts")).status_code == 405
    assert (await client.get(f"/posts/{world['post_id']}/comments")).status_code == 405
    assert (await client.post("/explore")).status_code == 405
    assert (await client.post("/posts/-1/delete")).status_code == 404
    assert (await client.get("/posts/99999999999999999999")).status_code == 404


async def test_wrong_types_and_missing_fields(client, session, world):
    before = await snapshot(session)
    assert (await client.post("/posts", {})).status_code == 422
    assert (await client.post("/posts", {"bodyx": "hello"})).status_code == 422
    response = await client.raw.post(
        "/posts", json={"body": ["a", "b"]}, headers={"X-CSRF-Token": CSRF}
    )
    assert response.status_code == 422  # a JSON body is no form: the post has no body
    assert await snapshot(session) == before


async def test_huge_body_is_413_and_changes_nothing(client, session, world):
    before = await snapshot(session)
    response = await send(client, "/posts", {"body": "x" * 200_000})
    assert response.status_code == 413
    assert await snapshot(session) == before


async def test_usernames_differing_only_by_case_are_one_account(make_client, session, world):
    response = await send(
        make_client(),
        "/register",
        {"username": "JOHN", "email": "j2@example.com", "password": "long enough"},
    )
    assert response.status_code == 422
    assert "That username is taken" in await body(response)

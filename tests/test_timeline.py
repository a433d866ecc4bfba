"""Home, explore and profile feeds: pages, htmx continuations, keyset cursors, statement counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, update

from app import text
from app.models import Like, Post, PostEdit, User
from app.queries import users
from tests.conftest import body

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
POST_ID = re.compile(r'<article class="post[^"]*" id="post-(\d+)"')
NEXT = re.compile(r'<a rel="next" href="([^"]+)"')


def post_ids(html: str) -> list[int]:
    return [int(n) for n in POST_ID.findall(html)]


def next_link(html: str) -> str | None:
    match = NEXT.search(html)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.fixture
async def john(make_user, client):
    user = await make_user("john")
    await client.login(user)
    return user


async def test_anonymous_front_page_has_call_to_action_and_public_posts(
    client, make_user, make_post
):
    await make_post(await make_user("susan"), "public words")
    html = await body(await client.get("/"))
    assert 'href="/register"' in html and 'href="/login"' in html
    assert "public words" in html
    assert 'id="composer"' not in html


async def test_logged_in_home_has_composer_and_timeline(client, john, make_user, make_post):
    susan, mary = await make_user("susan"), await make_user("mary")
    await make_post(susan, "from susan")
    await make_post(mary, "from mary")
    await make_post(john, "from john")
    await client.post("/user/susan/follow")
    html = await body(await client.get("/"))
    assert 'id="composer"' in html and 'name="body"' in html
    assert "from susan" in html and "from john" in html
    assert "from mary" not in html
    explore = await body(await client.get("/explore"))
    assert "from mary" in explore and "from susan" in explore


@pytest.mark.parametrize("path", ["/", "/explore", "/user/john"])
async def test_keyset_pagination_walks_45_posts_without_gap_or_duplicate(
    client, john, make_post, path
):
    created = [
        (await make_post(john, f"post {n}", at=T0 + timedelta(seconds=n // 2))).id
        for n in range(45)
    ]  # pairs share a timestamp: the id breaks the tie
    expected = sorted(created, key=lambda i: (T0 + timedelta(seconds=(created.index(i)) // 2), i))[
        ::-1
    ]

    page = await body(await client.get(path))
    assert page.startswith("<!doctype html>")
    seen = post_ids(page)
    assert len(seen) == 20
    link = next_link(page)
    pages = 1
    while link:
        fragment = await client.get(link, htmx=True)
        html = await body(fragment)
        assert fragment.status_code == 200 and "<html" not in html
        seen += post_ids(html)
        link = next_link(html)
        pages += 1
    assert pages == 3
    assert seen == expected


async def test_last_page_has_no_older_posts_link(client, john, make_post):
    for n in range(3):
        await make_post(john, f"p{n}")
    html = await body(await client.get("/"))
    assert len(post_ids(html)) == 3
    assert next_link(html) is None


async def test_deep_link_to_a_cursor_renders_a_full_page(client, john, make_post):
    for n in range(25):
        await make_post(john, f"p{n}", at=T0 + timedelta(minutes=n))
    link = next_link(await body(await client.get("/explore")))
    response = await client.get(link)
    html = await body(response)
    assert html.startswith("<!doctype html>")
    assert len(post_ids(html)) == 5


async def test_posts_arriving_while_paging_are_neither_repeated_nor_skipped(
    client, john, make_post
):
    for n in range(30):
        await make_post(john, f"old {n}", at=T0 + timedelta(minutes=n))
    first = await body(await client.get("/"))
    for n in range(5):
        await make_post(john, f"new {n}")
    rest = await body(await client.get(next_link(first), htmx=True))
    seen = post_ids(first) + post_ids(rest)
    assert len(seen) == len(set(seen)) == 30


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "1.",
        ".5",
        "-1.5",
        "99999999999999999999999.1",
        "1.99999999999999",
        "1.-3",
        "x.y",
        "1.\u00b2",  # isdigit() says yes to a superscript two, int() says no
        "\u00b2.1",
        "1.\u0661",  # digits of other scripts: int() reads them, a cursor never holds them
        "\u0661.1",
        "\uff11.\uff11",
        "1.1\n",
    ],
)
async def test_malformed_cursor_is_a_400_not_a_500(client, john, cursor):
    for path in ("/", "/explore", "/user/john", "/user/john/followers"):
        response = await client.raw.get(path, query_string={"before": cursor})
        assert response.status_code == 400, (path, cursor)
        assert "That page link is not valid" in await body(response)


async def test_htmx_page_request_returns_only_items(client, john, make_post):
    for n in range(21):
        await make_post(john, f"p{n}")
    html = await body(await client.get("/", htmx=True))
    assert "<html" not in html and 'id="composer"' not in html
    assert len(post_ids(html)) == 20 and next_link(html)


async def test_post_shows_author_time_comment_count_and_permalink(client, john, make_post):
    post = await make_post(john, "look at me", at=datetime.now(UTC) - timedelta(minutes=3))
    html = await body(await client.get("/explore"))
    article = html[html.index(f'id="post-{post.id}"') :]
    assert 'href="/user/john"' in article
    assert f'href="/posts/{post.id}"' in article
    machine = post.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    title = text.absolute(post.created_at)
    time = f'<time datetime="{machine}" title="{title}" id="post-{post.id}-time">3 min ago</time>'
    assert time in article
    assert f'<span id="comment-count-{post.id}">0 comments</span>' in article


def test_time_datetime_is_utc_to_the_whole_second():
    """HTML allows at most three digits of fractional seconds; isoformat() writes six."""
    paris_winter = timezone(timedelta(hours=1))
    when = datetime(2026, 11, 21, 17, 12, 27, 309688, tzinfo=paris_winter)
    assert text.html_datetime(when) == "2026-11-21T16:12:27Z"


class StatementCounter:
    """Statements a request runs: not the live hub's reads of the events table, which it makes
    on its own schedule on the same engine (app/events.py)."""

    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []

    def __call__(self, _connection: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM events" not in statement:
            self.count += 1
            self.statements.append(statement)


async def page_statements(app, client, path: str) -> list[str]:
    """The statements one request for `path` runs (it must answer 200)."""
    counter = StatementCounter()
    engine = app.app.extensions["db_engine"].sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        assert (await client.get(path)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    return counter.statements


async def statements_of(app, client, path: str) -> int:
    """How many statements a GET of `path` ran (it must answer 200)."""
    return len(await page_statements(app, client, path))


@pytest.mark.parametrize(
    "path", ["/", "/explore", "/user/susan", "/people", "/people?order=followed"]
)
async def test_a_page_costs_the_same_statements_whatever_its_length(
    app, client, john, make_user, make_post, path
):
    susan = await make_user("susan")
    await client.post("/user/susan/follow")

    await make_post(susan, "one @john")
    await client.get(path)  # the first request of a login also notes last_seen_at
    few = await statements_of(app, client, path)
    for n in range(25):
        await make_post(susan, f"more {n} @john @susan https://example.org")
        await make_user(f"someone{n}")  # for the people directory
    assert await statements_of(app, client, path) == few
    assert few <= 8


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/explore",
        "/user/susan",
        "/posts/{post}",
        "/posts/{post}/likes",
        "/posts/{post}/history",
    ],
)
async def test_likes_and_edits_add_no_statement_to_a_page(
    app, client, john, make_user, make_post, session, path
):
    """Like counts and the viewer's likes come in the statement that loads the posts; a page
    with 26 liked and edited posts (and many likers, many versions) costs what a page of one
    post nobody liked costs."""
    susan = await make_user("susan")
    await client.post("/user/susan/follow")
    first = await make_post(susan, "first @john", at=T0)
    url = path.format(post=first.id)
    await client.get(url)  # the first request of a login also notes last_seen_at
    plain = await page_statements(app, client, url)

    fans = [await make_user(f"fan{n}") for n in range(25)]
    for n, fan in enumerate(fans):
        liked = await make_post(susan, f"liked {n} @john", at=T0 + timedelta(minutes=n + 1))
        session.add_all(
            [Like(post_id=liked.id, user_id=fan.id), Like(post_id=first.id, user_id=fan.id)]
        )
        session.add(
            PostEdit(post_id=first.id, body=f"version {n}", created_at=T0 - timedelta(hours=n))
        )
        if n % 2:
            session.add(Like(post_id=liked.id, user_id=john.id))
    session.add(Like(post_id=first.id, user_id=john.id))
    await session.execute(update(Post).values(edited_at=T0 + timedelta(hours=1)))
    await session.commit()
    busy = await page_statements(app, client, url)
    assert len(busy) == len(plain)
    if "/likes" not in url:
        # One statement loads the posts and everything about their likes; no other reads likes.
        with_likes = [s for s in busy if re.search(r"\blikes\b", s)]
        assert len(with_likes) == 1 and "posts.body" in with_likes[0]


async def test_last_seen_is_written_at_most_every_five_minutes(client, john, session):
    await client.get("/")
    session.expire_all()
    first = (await session.get(User, john.id)).last_seen_at
    assert first is not None
    await client.get("/explore")
    session.expire_all()
    assert (await session.get(User, john.id)).last_seen_at == first

    user = await session.get(User, john.id)
    await users.touch_last_seen(session, user.id, first - timedelta(minutes=6))
    await session.commit()
    await client.get("/")
    session.expire_all()
    assert (await session.get(User, john.id)).last_seen_at > first - timedelta(minutes=6)


@pytest.mark.parametrize(
    ("path", "expected_next"),
    [
        ("/explore?_method=POST", "/explore?before="),
        ("/explore?_external=1&_scheme=https", "/explore?before="),
        ("/user/john?username=bob", "/user/john?before="),
        ("/user/john?_anchor=x&before=", "/user/john?before="),
    ],
)
async def test_next_page_link_keeps_only_the_route_and_the_cursor(
    client, john, make_post, path, expected_next
):
    for n in range(21):
        await make_post(john, f"post {n}", at=T0 + timedelta(seconds=n))
    response = await client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 200
    link = next_link(await body(response))
    assert link.startswith(expected_next)
    assert link.count("=") == 1


async def test_query_string_keys_never_reach_the_route(client, john, make_post):
    post = await make_post(john, "one")
    response = await client.get(f"/posts/{post.id}?post_id=abc&after=")
    assert response.status_code == 200
    assert "one" in await body(response)

"""Atom feeds: a profile's and a tag's posts, read by a real feed parser, with 304s."""

from __future__ import annotations

import asyncio
import http.client
import io
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from sqlalchemy import select

from app import config
from app.queries import posts, tags
from tests.conftest import body

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BASE = "https://warble.example.org"


@pytest.fixture
async def app(make_app):
    return await make_app(BASE_URL=BASE)


@pytest.fixture
async def ada(make_user):
    return await make_user("ada", about_me="Engines & <b>notes</b>")


@pytest.fixture
def write(session):
    """A post as the app writes one: the row and its tags."""

    async def write(author, text: str, minutes: int):
        post = await posts.create_post(session, author, text)
        post.created_at = T0 + timedelta(minutes=minutes)
        await tags.set_post_tags(session, post.id, text)
        await session.commit()
        return post.id

    return write


async def fetch(client, path: str, **headers: str):
    response = await client.get(path, headers=headers)
    return response, await body(response)


async def test_a_profile_feed_is_valid_atom_with_absolute_links_newest_first(
    client, ada, make_user, write
):
    await make_user("grace")
    first = await write(ada, "Hello @grace, see #Engines & <stuff>", 1)
    second = await write(ada, "Second note", 2)

    response, text = await fetch(client, "/user/ada/feed.atom", Host="evil.example")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(text)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.feed.title == "ada on Warble"
    assert feed.feed.subtitle == "Engines & <b>notes</b>"  # text, not markup
    assert feed.feed.id == f"{BASE}/user/ada/feed.atom"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"self": f"{BASE}/user/ada/feed.atom", "alternate": f"{BASE}/user/ada"}
    assert [e.id for e in feed.entries] == [f"{BASE}/posts/{second}", f"{BASE}/posts/{first}"]
    entry = feed.entries[1]
    assert entry.link == f"{BASE}/posts/{first}"
    assert entry.author == "ada"
    assert entry.published == "2026-03-01T09:01:00Z"
    assert entry.updated == "2026-03-01T09:01:00Z"
    html = entry.content[0].value
    assert f'<a class="mention" href="{BASE}/user/grace">@grace</a>' in html
    assert f'<a class="hashtag" href="{BASE}/tags/engines">#Engines</a>' in html
    assert "&lt;stuff&gt;" in html and "<stuff>" not in html
    assert "evil.example" not in text  # never the Host header
    assert feed.feed.updated == "2026-03-01T09:02:00Z"


async def test_a_feed_has_the_twenty_newest_posts(client, ada, write):
    for minute in range(25):
        await write(ada, f"note {minute}", minute)
    feed = feedparser.parse((await fetch(client, "/user/ada/feed.atom"))[1])
    assert [e.title for e in feed.entries] == [f"note {m}" for m in range(24, 4, -1)]


async def test_an_edit_changes_updated_not_the_entry_id_and_the_etag(client, session, ada, write):
    post_id = await write(ada, "first words", 1)
    response, text = await fetch(client, "/user/ada/feed.atom")
    etag = response.headers["ETag"]
    before = feedparser.parse(text).entries[0]

    assert await posts.edit_post(session, post_id, ada.id, "better words")
    await session.commit()
    response, text = await fetch(client, "/user/ada/feed.atom", **{"If-None-Match": etag})
    assert response.status_code == 200 and response.headers["ETag"] != etag
    after = feedparser.parse(text).entries[0]
    assert after.id == before.id
    assert after.updated != before.updated and after.published == before.published
    assert "better words" in after.content[0].value


class ThroughTestClient(urllib.request.HTTPHandler):
    """feedparser's own HTTP requests (its conditional headers included), answered by the app
    through Quart's test client on the test's loop: feedparser runs in a thread."""

    def __init__(self, client, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.client, self.loop = client, loop

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        path = urllib.parse.urlsplit(req.full_url).path
        call = self.client.get(path, headers=dict(req.header_items()))
        response = asyncio.run_coroutine_threadsafe(call, self.loop).result(timeout=30)
        data = asyncio.run_coroutine_threadsafe(response.get_data(), self.loop).result(30)
        lines = [f"HTTP/1.1 {response.status_code} {http.client.responses[response.status_code]}"]
        lines += [f"{k}: {v}" for k, v in response.headers.items() if k != "Content-Length"]
        lines.append(f"Content-Length: {len(data)}")
        raw = "\r\n".join(lines).encode() + b"\r\n\r\n" + data
        answer = http.client.HTTPResponse(_Wire(raw), method=req.get_method())
        answer.begin()  # as urllib's own handler does after sending the request
        answer.url, answer.msg = req.full_url, answer.reason
        return answer


class _Wire:
    """A socket that has already received `raw`, the whole HTTP answer."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self.raw)


@pytest.fixture
def reader(client):
    """feedparser.parse(url, etag=..., modified=...) making real HTTP requests to the app."""

    async def parse(path: str, **conditions: str | None):
        handler = ThroughTestClient(client, asyncio.get_running_loop())
        url = f"http://localhost{path}"
        return await asyncio.to_thread(feedparser.parse, url, handlers=[handler], **conditions)

    return parse


async def test_a_feed_reader_gets_304_while_nothing_changed_and_the_feed_after_a_change(
    client, ada, write, reader
):
    await write(ada, "one", 1)
    first = await reader("/user/ada/feed.atom")
    assert (first.status, first.bozo, len(first.entries)) == (200, 0, 1)
    assert first.modified  # Last-Modified: when the feed was first served so

    again = await reader("/user/ada/feed.atom", etag=first.etag, modified=first.modified)
    assert again.status == 304 and again.entries == []
    assert again.headers["etag"] == first.etag
    by_date = await reader("/user/ada/feed.atom", modified=first.modified)
    assert by_date.status == 304

    await write(ada, "two", 2)
    changed = await reader("/user/ada/feed.atom", etag=first.etag, modified=first.modified)
    assert changed.status == 200 and [e.title for e in changed.entries] == ["two", "one"]
    assert changed.modified_parsed > first.modified_parsed
    # If-None-Match decides when both are sent (RFC 9110): a stale ETag is not saved by a date.
    both, _ = await fetch(
        client,
        "/user/ada/feed.atom",
        **{"If-None-Match": first.etag, "If-Modified-Since": changed.modified},
    )
    assert both.status_code == 200


async def test_deleting_the_newest_post_moves_last_modified_forward(
    client, ada, write, reader, session
):
    """The newest entry's time would go backwards when the newest post is deleted (and stay
    put when an older one is): Last-Modified is when the feed changed, so a reader asking by
    date alone gets the feed that lost an entry, never a stale 304."""
    from app.models import FeedVersion

    await write(ada, "one", 1)
    newest = await write(ada, "two", 2)
    seen = await reader("/user/ada/feed.atom")
    assert [e.title for e in seen.entries] == ["two", "one"]
    await client.login(ada)
    assert (await client.post(f"/posts/{newest}/delete")).status_code == 302

    after = await reader("/user/ada/feed.atom", modified=seen.modified)
    assert after.status == 200 and [e.title for e in after.entries] == ["one"]
    assert after.modified_parsed > seen.modified_parsed  # even within the same second
    again = await reader("/user/ada/feed.atom", modified=after.modified)
    assert again.status == 304
    session.expire_all()
    [version] = (await session.scalars(select(FeedVersion))).all()
    assert (version.feed, f'"{version.etag}"') == (f"user:{ada.id}", after.etag)


async def test_reading_an_unchanged_feed_writes_nothing(app, client, ada, write):
    """One write per change of a feed, on the first request that sees it; none after."""
    from tests.test_timeline import page_statements

    await write(ada, "one", 1)
    first = await page_statements(app, client, "/user/ada/feed.atom")
    assert any(s.lstrip().upper().startswith("INSERT") for s in first)
    for _ in range(2):
        statements = await page_statements(app, client, "/user/ada/feed.atom")
        assert all(s.lstrip().upper().startswith("SELECT") for s in statements), statements


async def test_a_tag_feed_lists_the_tags_posts_from_everyone(client, ada, make_user, write):
    grace = await make_user("grace")
    a = await write(ada, "Tea time #Tea", 1)
    await write(grace, "no tag here", 2)
    g = await write(grace, "More #tea", 3)
    response, text = await fetch(client, "/tags/TEA/feed.atom")
    assert response.status_code == 200
    feed = feedparser.parse(text)
    assert feed.bozo == 0
    assert feed.feed.title == "#Tea on Warble"
    assert feed.feed.id == f"{BASE}/tags/tea/feed.atom"
    assert [(e.id, e.author) for e in feed.entries] == [
        (f"{BASE}/posts/{g}", "grace"),
        (f"{BASE}/posts/{a}", "ada"),
    ]


@pytest.mark.parametrize(
    "path", ["/user/nobody/feed.atom", "/tags/never_used/feed.atom", "/tags/123/feed.atom"]
)
async def test_a_feed_of_nothing_is_404(client, path):
    assert (await client.get(path)).status_code == 404


async def test_a_suspended_or_waiting_accounts_feed_is_404(client, make_user, write):
    shunned = await make_user("shunned", suspended_at=T0)
    waiting = await make_user("waiting", approved=False)
    for user in (shunned, waiting):
        await write(user, "hello", 1)
        assert (await client.get(f"/user/{user.username}/feed.atom")).status_code == 404


async def test_an_empty_profile_feed_is_still_a_feed(client, ada):
    response, text = await fetch(client, "/user/ada/feed.atom")
    feed = feedparser.parse(text)
    assert response.status_code == 200 and feed.bozo == 0 and feed.entries == []
    assert response.headers["Last-Modified"] and response.headers["ETag"]


async def test_profile_and_tag_pages_advertise_their_feeds(client, ada, write):
    await write(ada, "#tea", 1)
    profile = await body(await client.get("/user/ada"))
    assert (
        '<link rel="alternate" type="application/atom+xml" title="ada’s posts" '
        'href="/user/ada/feed.atom">' in profile
    )
    tag = await body(await client.get("/tags/tea"))
    assert 'type="application/atom+xml" title="Posts tagged #tea" href="/tags/tea/feed.atom"' in tag


async def test_a_feed_is_the_same_logged_in_and_reads_no_session(client, ada, write):
    await write(ada, "hello", 1)
    anonymous = await fetch(client, "/user/ada/feed.atom")
    await client.login(ada)
    logged_in = await fetch(client, "/user/ada/feed.atom")
    assert anonymous[1] == logged_in[1]
    assert logged_in[0].headers["Cache-Control"] == "public, max-age=60"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "http://127.0.0.1:8000"),
        ("https://warble.example.org/", "https://warble.example.org"),
        ("http://10.0.0.5:8080", "http://10.0.0.5:8080"),
    ],
)
def test_base_url_comes_from_the_environment_without_a_trailing_slash(monkeypatch, raw, expected):
    monkeypatch.setenv("BASE_URL", raw)
    assert config.from_environment()["BASE_URL"] == expected


@pytest.mark.parametrize(
    "raw", ["warble.example.org", "ftp://x.org", "https://x.org/?a=1", "https://"]
)
def test_a_base_url_that_is_no_address_stops_the_app_at_start(monkeypatch, raw):
    monkeypatch.setenv("BASE_URL", raw)
    with pytest.raises(ValueError, match="BASE_URL must look like"):
        config.from_environment()


async def test_a_feeds_versions_never_share_a_date_and_one_change_has_one(session):
    """What two requests seeing a feed at once record: one date per version, always later
    than the version before (HTTP dates have whole seconds)."""
    from app.queries import feed_versions

    async def record(etag: str, at: datetime) -> datetime:
        recorded = await feed_versions.record(session, "user:1", etag, at)
        await session.commit()
        return recorded

    first = await record("a", T0)
    assert await record("a", T0 + timedelta(seconds=5)) == first == T0  # seen again: kept
    assert await record("b", T0) == T0 + timedelta(seconds=1)  # a change within the second
    assert await record("c", T0 + timedelta(minutes=1)) == T0 + timedelta(minutes=1)

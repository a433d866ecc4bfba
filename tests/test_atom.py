"""Atom feeds of a user and of a tag, read by feedparser: no parse errors, the right entries,
absolute URLs on BASE_URL, stable ids across an edit, and 304 on a conditional request."""

from __future__ import annotations

import feedparser

from app.queries import posts as post_queries
from tests.conftest import body


async def test_user_feed_parses_with_the_newest_posts_and_answers_304(
    client, make_user, make_post, session
):
    alice = await make_user("alice")
    made = [await make_post(alice, f"post {n} #tea") for n in range(25)]
    answer = await client.get("/user/alice/feed.atom")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(await answer.get_data())
    assert feed.bozo == 0, feed.bozo_exception
    assert len(feed.entries) == 20
    assert [e.id for e in feed.entries] == [
        f"http://127.0.0.1:8000/posts/{p.id}" for p in reversed(made[5:])
    ]
    assert feed.entries[0].link == f"http://127.0.0.1:8000/posts/{made[-1].id}"
    assert 'href="http://127.0.0.1:8000/tags/tea"' in feed.entries[0].content[0].value
    assert feed.feed.links[0].href == "http://127.0.0.1:8000/user/alice/feed.atom"

    etag = answer.headers["ETag"]
    again = await client.get("/user/alice/feed.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304
    modified = answer.headers["Last-Modified"]
    since = await client.get("/user/alice/feed.atom", headers={"If-Modified-Since": modified})
    assert since.status_code == 304

    # An edit: the entry keeps its id, gets a new `updated`, and the ETag changes.
    before = feed.entries[0]
    await post_queries.edit_post(session, made[-1].id, alice.id, "edited #tea")
    await session.commit()
    edited = await client.get("/user/alice/feed.atom", headers={"If-None-Match": etag})
    assert edited.status_code == 200
    entry = feedparser.parse(await edited.get_data()).entries[0]
    assert entry.id == before.id and entry.updated != before.updated


async def test_tag_feed_and_the_pages_advertise_their_feeds(client, make_user, session):
    alice = await make_user("alice")
    for words in ("about #Tea", "about coffee"):  # tagged as the app tags them
        await post_queries.create_post(session, alice, words)
    await session.commit()
    feed = feedparser.parse(await (await client.get("/tags/tea/feed.atom")).get_data())
    assert feed.bozo == 0
    assert [e.title for e in feed.entries] == ["about #Tea"]
    link = '<link rel="alternate" type="application/atom+xml"'
    assert link in await body(await client.get("/user/alice"))
    assert link in await body(await client.get("/tags/tea"))
    assert (await client.get("/user/nobody/feed.atom")).status_code == 404
    assert (await client.get("/tags/%20/feed.atom")).status_code == 404

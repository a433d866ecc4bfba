"""Hashtags: what is one, how it is linked, post_tags kept with the post, a tag's page, trending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from app import text
from app.models import Comment, Post, PostTag
from app.queries import posts, tags
from tests.conftest import body
from tests.test_timeline import next_link, post_ids

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def tag_link(key: str, shown: str) -> str:
    return f'<a class="hashtag" href="/tags/{key}">#{shown}</a>'


@pytest.fixture
def make_tagged(session):
    """A post written as the app writes one: the row, then its tags."""

    async def make(author, body: str, at: datetime | None = None) -> Post:
        post = Post(author_id=author.id, body=body, created_at=at or datetime.now(UTC))
        session.add(post)
        await session.flush()
        await tags.set_post_tags(session, post.id, body)
        await session.commit()
        session.expunge(post)
        return post

    return make


async def tag_rows(session, post_id: int | None = None) -> list[tuple[str, str]]:
    session.expire_all()
    stmt = select(PostTag.tag, PostTag.display).order_by(PostTag.post_id, PostTag.tag)
    if post_id is not None:
        stmt = stmt.where(PostTag.post_id == post_id)
    return [tuple(row) for row in await session.execute(stmt)]


# -- what a tag is -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("#Garden and #garden and #GARDEN", [("garden", "Garden")]),
        ("tea (#earl_grey), #tea.", [("earl_grey", "earl_grey"), ("tea", "tea")]),
        (
            "#日本語 #Ελλάδα #Ärger",
            [("日本語", "日本語"), ("ελλάδα", "Ελλάδα"), ("ärger", "Ärger")],
        ),
        ("#cafe\u0301 is one tag", [("café", "cafe\u0301")]),  # a combining accent; NFKC
        ("#ｃａｆé fullwidth", [("café", "ｃａｆé")]),  # NFKC
        ("#Straße #STRASSE", [("strasse", "Straße")]),  # casefold: ß is ss
        ("#2026 #123 #_ #9lives", [("9lives", "9lives")]),  # at least one letter
        ("C# and a#b and x##y", []),  # after a letter or another #
        ("&#x27; &#39; typed as text", []),
        ("https://example.org/page#section and https://x.org/#top", []),
        ("see /#fragment or path/#x", []),
        ("##double", []),
        ("#" + "a" * 100 + " #" + "b" * 101, [("a" * 100, "a" * 100)]),
        ("#\u202etag", [("tag", "tag")]),  # bidi controls are dropped, as on display
        ("#tag\u200d", [("tag", "tag")]),
        ("@bob#tag #ok@bob", [("ok", "ok")]),
    ],
)
def test_hashtags_are_words_with_a_letter_compared_in_their_normal_form(body, expected):
    assert [(t.key, t.display) for t in text.hashtags(body)] == expected


def test_a_tag_key_is_nfkc_casefold_so_every_spelling_meets():
    assert text.tag_key("Café") == text.tag_key("CAFÉ") == text.tag_key("ｃａｆé") == "café"
    assert text.is_tag("x1") and not text.is_tag("12") and not text.is_tag("a-b")
    assert not text.is_tag("") and not text.is_tag("a" * 101)


def urls(key: str) -> str:
    return f"/tags/{key}"


def linkify(body: str):
    return text.linkify(body, {}, lambda name: f"/user/{name}", urls)


def test_linkify_links_tags_as_written_to_their_key_and_escapes_the_rest():
    html = linkify("<b>#Garden</b> & #Café's 'x' https://example.org/#top #123")
    assert html == (
        f"&lt;b&gt;{tag_link('garden', 'Garden')}&lt;/b&gt; &amp; {tag_link('café', 'Café')}"
        "&#39;s &#39;x&#39; "
        '<a href="https://example.org/#top" rel="nofollow ugc noopener" target="_blank">'
        "https://example.org/#top</a> #123"
    )


def test_linkify_never_lets_a_tag_carry_markup():
    html = str(linkify('#x"><script>alert(1)</script> #a<img src=x onerror=alert(1)>'))
    assert "<script>" not in html and "<img" not in html
    assert tag_link("x", "x") in html and tag_link("a", "a") in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_typed_entities_stay_text():
    assert linkify("it&#x27;s &#39;") == "it&amp;#x27;s &amp;#39;"


# -- post_tags follows the post ----------------------------------------------------------------


async def test_set_post_tags_is_idempotent_and_replaces_what_the_text_lost(
    session, make_user, make_tagged
):
    john = await make_user("john")
    post = await make_tagged(john, "#One #two")
    await tags.set_post_tags(session, post.id, "#One #two")
    await session.commit()
    assert await tag_rows(session) == [("one", "One"), ("two", "two")]

    await tags.set_post_tags(session, post.id, "#ONE #three")  # an edit
    await session.commit()
    assert await tag_rows(session) == [("one", "ONE"), ("three", "three")]
    row = await session.scalar(select(PostTag).where(PostTag.tag == "three"))
    assert (row.author_id, row.created_at) == (john.id, post.created_at)

    await tags.set_post_tags(session, post.id, "no tags now")
    await session.commit()
    assert await tag_rows(session) == []


async def test_deleting_a_post_deletes_its_tags(session, make_user, make_tagged):
    post = await make_tagged(await make_user("john"), "#gone")
    await session.execute(delete(Post).where(Post.id == post.id))
    await session.commit()
    assert await tag_rows(session) == []


async def test_posting_stores_the_tags_and_links_them(client, make_user, session):
    await client.login(await make_user("john"))
    response = await client.post("/posts", {"body": "Spring in the #Garden #garden"}, htmx=True)
    assert response.status_code == 200
    assert tag_link("garden", "Garden") in await body(response)
    assert await tag_rows(session) == [("garden", "Garden")]
    html = await body(await client.get("/explore"))
    assert tag_link("garden", "Garden") + " " + tag_link("garden", "garden") in html


async def test_comment_tags_are_links_and_do_not_feed_the_tag_page(
    client, make_user, make_tagged, session
):
    john = await make_user("john")
    await client.login(john)
    post = await make_tagged(john, "plain post")
    response = await client.post(f"/posts/{post.id}/comments", {"body": "#Roses!"}, htmx=True)
    assert tag_link("roses", "Roses") in await body(response)
    assert await tag_rows(session) == []
    assert "No posts are tagged #roses yet." in await body(await client.get("/tags/roses"))


# -- a tag's page ------------------------------------------------------------------------------


async def test_tag_page_pages_newest_first_shown_as_first_written(
    client, make_user, make_tagged, make_post
):
    john, susan = await make_user("john"), await make_user("susan")
    first = await make_tagged(susan, "#GreenTea at dawn", at=T0)
    ids = [first.id]
    for n in range(1, 25):
        post = await make_tagged(john, f"cup {n} #greentea", at=T0 + timedelta(minutes=n))
        ids.append(post.id)
    await make_tagged(john, "#othertag", at=T0 + timedelta(hours=2))
    await make_post(john, "#greentea without its tags stored", at=T0 + timedelta(hours=3))
    newest_first = ids[::-1]

    response = await client.get("/tags/greentea")
    assert response.status_code == 200
    html = await body(response)
    assert "<h1>#GreenTea</h1>" in html and "<title>#GreenTea · Warble</title>" in html
    assert post_ids(html) == newest_first[:20]
    more = next_link(html)
    assert more.startswith("/tags/greentea?before=")

    fragment = await client.get(more, htmx=True)  # "Older posts" through htmx
    html = await body(fragment)
    assert fragment.status_code == 200 and "<html" not in html
    assert post_ids(html) == newest_first[20:]
    assert 'id="feed-end"' in html
    page = await body(await client.get(more))  # and without JavaScript
    assert "<html" in page and post_ids(page) == newest_first[20:]
    # Any spelling of the tag is the same page.
    for spelling in ("GREENTEA", "GreenTea", "%23greentea"):
        assert post_ids(await body(await client.get(f"/tags/{spelling}"))) == newest_first[:20]


@pytest.mark.parametrize("bad", ["123", "a-b", "%20", "x" * 101, "%23", "%E2%80%AE"])
async def test_what_cannot_be_a_tag_is_a_404_that_says_why(client, bad):
    response = await client.get(f"/tags/{bad}")
    assert response.status_code == 404
    assert "is not a hashtag" in await body(response)


async def test_a_tag_nobody_used_is_an_empty_page(client):
    response = await client.get("/tags/nothinghere")
    assert response.status_code == 200
    assert "No posts are tagged #nothinghere yet." in await body(response)


async def test_tagged_posts_follow_the_keyset_through_ties(session, make_user, make_tagged):
    john = await make_user("john")
    made = [await make_tagged(john, f"#tie {n}", at=T0) for n in range(45)]
    seen, cursor = [], posts.FIRST
    while True:
        page = await posts.tagged_posts(session, "tie", cursor)
        seen += [item.post.id for item in page.items]
        if page.next is None:
            break
        cursor = page.next
    assert seen == sorted((p.id for p in made), reverse=True)


# -- tags by prefix ----------------------------------------------------------------------------


async def test_tags_by_prefix_are_distinct_in_code_point_order_shown_as_first_written(
    session, make_user, make_tagged
):
    john = await make_user("john")
    await make_tagged(john, "#Garden", at=T0)
    await make_tagged(john, "#garden #gardening #gar_den #gArage", at=T0 + timedelta(1))
    for n in range(12):
        await make_tagged(john, f"#gar{n:02d}x", at=T0 + timedelta(2))
    await make_tagged(john, "#gas #ga", at=T0)
    found = await tags.tags_by_prefix(session, "gar")
    assert [t.key for t in found] == [
        "gar00x",
        "gar01x",
        "gar02x",
        "gar03x",
        "gar04x",
        "gar05x",
        "gar06x",
        "gar07x",
        "gar08x",
        "gar09x",
    ]
    found = await tags.tags_by_prefix(session, "gard")
    assert found == [tags.FoundTag("garden", "Garden"), tags.FoundTag("gardening", "gardening")]
    assert await tags.tags_by_prefix(session, "gar_") == [tags.FoundTag("gar_den", "gar_den")]
    assert await tags.tags_by_prefix(session, "zzz") == []


# -- trending ----------------------------------------------------------------------------------


async def test_trending_counts_distinct_authors_in_the_last_24_hours(
    session, make_user, make_tagged
):
    now = T0 + timedelta(days=10)
    people = [await make_user(f"user{n}") for n in range(5)]
    for n in range(6):  # one author, many posts: one person
        await make_tagged(people[0], f"#Loud {n}", at=now - timedelta(hours=1))
    for person in people[:3]:  # three people
        await make_tagged(person, "#Quiet", at=now - timedelta(hours=2))
    for person in people:  # everyone, but too long ago
        await make_tagged(person, "#old", at=now - timedelta(hours=24, seconds=1))
    await make_tagged(people[4], "#future", at=now + timedelta(minutes=1))
    await make_tagged(people[1], "#loud at the edge", at=now - timedelta(hours=23, minutes=59))
    trends = await tags.trending(session, now)
    assert [(t.key, t.display, t.authors, t.posts) for t in trends] == [
        ("quiet", "Quiet", 3, 3),
        ("loud", "loud", 2, 7),  # as first written: 23 h 59 min ago
    ]


async def test_explore_shows_trending_tags_but_not_in_its_next_pages(
    client, make_user, make_tagged
):
    john = await make_user("john")
    for n in range(21):
        await make_tagged(john, f"#spring post {n}")
    html = await body(await client.get("/explore"))
    assert 'id="trending"' in html and tag_link("spring", "spring") in html
    assert "1 person" in html
    more = next_link(html)
    assert 'id="trending"' not in await body(await client.get(more, htmx=True))


async def test_explore_says_when_nothing_is_trending(client):
    html = await body(await client.get("/explore"))
    assert 'id="trending-none"' in html


async def test_comments_are_not_in_post_tags(session, make_user, make_tagged):
    john = await make_user("john")
    post = await make_tagged(john, "no tag")
    session.add(Comment(post_id=post.id, author_id=john.id, body="#sneaky"))
    await session.commit()
    assert await tags.trending(session, datetime.now(UTC) + timedelta(minutes=1)) == []


async def test_an_edit_moves_the_post_to_the_tags_of_its_new_text(client, make_user, session):
    """post_tags is kept in the edit's transaction: the old tags lose the post, the new ones
    gain it, and search finds the new words."""
    john = await make_user("john")
    await client.login(john)
    await client.post("/posts", {"body": "first #Tea of the day"})
    post_id = (await session.scalars(select(Post.id).where(Post.author_id == john.id))).one()
    response = await client.post(f"/posts/{post_id}/edit", {"body": "first #Coffee instead"})
    assert response.status_code == 302
    assert await tag_rows(session, post_id) == [("coffee", "Coffee")]
    assert post_ids(await body(await client.get("/tags/tea"))) == []
    assert post_ids(await body(await client.get("/tags/coffee"))) == [post_id]
    assert post_ids(await body(await client.get("/search?q=coffee"))) == [post_id]
    assert post_ids(await body(await client.get("/search?q=tea"))) == []

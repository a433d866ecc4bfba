"""Search: one corpus with one set of answers on both databases, hostile input, windows, HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.models import Like, Post
from app.pagination import FIRST
from app.queries import search, search_author, tags
from tests.conftest import body
from tests.test_timeline import next_link, post_ids, statements_of

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


# -- reading a query ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "include", "exclude", "author"),
    [
        ("green tea", ("green", "tea"), (), None),
        ('"green tea" -black', ("green tea",), ("black",), None),
        ('tea -"earl grey" from:@Alice', ("tea",), ("earl grey",), "Alice"),
        ('"unbalanced quote', ("unbalanced quote",), (), None),
        ("bob@example.org", ("bob example org",), (), None),
        ("OR NEAR * AND ( ) ^", ("OR", "NEAR", "AND"), (), None),
        ("🌱 garden 🌷", ("garden",), (), None),
        ("from: tea", ("tea",), (), None),
        ("from:no-such-name tea", ("tea",), (), None),
        ("-tea -", (), ("tea",), None),
        ("tea\x00\ud800\u202e", ("tea",), (), None),
        ("e\u0301cole", ("\u00e9cole",), (), None),  # NFC
        ("tea tea TEA", ("tea", "TEA"), (), None),
    ],
)
def test_a_query_is_read_into_words_phrases_exclusions_and_an_author(raw, include, exclude, author):
    query = search.parse(raw)
    assert (query.include, query.exclude, query.author) == (include, exclude, author)


def test_a_query_keeps_the_first_200_characters_and_at_most_8_phrases_a_sign():
    query = search.parse(" ".join(f"w{n}" for n in range(5_000)))
    assert len(query.text) == search.QUERY_MAX
    assert query.include == tuple(f"w{n}" for n in range(8))


def test_one_word_is_also_a_name_prefix_and_a_tag_prefix():
    assert search.parse("Ali").name_prefix == "ali"
    assert search.parse("@Ali").name_prefix == "ali"
    assert search.parse("Ali").tag_prefix == "ali"
    assert search.parse("Café").name_prefix is None
    assert search.parse("Café").tag_prefix == "café"
    assert search.parse("two words").name_prefix is None
    assert search.parse('"ali"').name_prefix is None
    assert search.parse("#Garden").tag == "garden"
    assert search.parse("#123").tag is None


# -- the corpus: the same answers on SQLite and PostgreSQL -------------------------------------

CORPUS = [
    ("alice", "The quick brown fox jumps over the lazy dog"),
    ("bob", "A café in Paris serves naïve crêpes"),
    ("alice", "Cafe culture without accents"),
    ("bob", "GARDEN party tonight 🌱🌷"),
    ("alice", "green tea and black tea"),
    ("bob", "tea that is green"),
    ("bob", "Mail me at bob@example.org or see https://example.org/path/page.html"),
    ("alice", "well-known facts about tea"),
    ("bob", "OR NEAR AND NOT * are just words here"),
    ("alice", "Emoji only 🎉"),
    ("bob", "Ölfarben und ÄPFEL"),
    ("alice", "#hashtag words are words too, <b>bold</b> &amp; 3.14 -5"),
]
# query → the corpus rows it finds (1-based), newest first.
EXPECTED = {
    "tea": [8, 6, 5],
    "TEA": [8, 6, 5],
    "Tea tea": [8, 6, 5],
    '"green tea"': [5],
    "green tea": [6, 5],
    "tea -black": [8, 6],
    'tea -"green tea"': [8, 6],
    '"green tea': [5],
    "café": [2],
    "CAFÉ": [2],
    "cafe": [3],
    "naïve": [2],
    "garden": [4],
    "Garden 🌱": [4],
    "🌱": [],
    "🎉 emoji": [10],
    "example": [7],
    "bob@example.org": [7],
    "example.org/path": [7],
    "html": [7],
    "well-known": [8],
    "known": [8],
    "OR": [9, 7],  # "… or see …"
    "near": [9],
    "NOT AND": [9],
    "*": [],
    "ölfarben": [11],
    "äpfel": [11],
    "hashtag": [12],
    "bold": [12],
    "amp": [12],
    "14": [12],
    "5": [12],
    "from:alice tea": [8, 5],
    "tea from:BOB": [6],
    "from:alice": [12, 10, 8, 5, 3, 1],
    "from:alice -tea -dog": [12, 10, 3],
    "from:nobody tea": [],
    "-tea": [],
    "the the the": [1],
    "tea " * 3_000: [8, 6, 5],
    'tea "': [8, 6, 5],
    '"': [],
    "from:": [],
    "tea\x00": [8, 6, 5],
    "tea\ud800": [8, 6, 5],
}


@pytest.fixture
async def corpus(session, make_user, make_post) -> list[int]:
    people = {name: await make_user(name) for name in ("alice", "bob", "nobody")}
    ids = []
    for n, (author, text) in enumerate(CORPUS):
        post = await make_post(people[author], text, at=T0 + timedelta(minutes=n))
        ids.append(post.id)
    return ids


async def test_the_corpus_gives_the_same_answers_on_every_database(session, corpus):
    got = {}
    for raw in EXPECTED:
        page = await search.search_posts(session, search.parse(raw))
        got[raw] = [corpus.index(item.post.id) + 1 for item in page.items]
    assert got == EXPECTED


async def test_an_edited_post_is_found_by_its_new_words_and_a_deleted_one_not_at_all(
    session, corpus
):
    post = await session.get(Post, corpus[0])
    post.body = "The slow red fox"
    await session.commit()
    assert [i.post.id for i in (await search.search_posts(session, search.parse("red"))).items] == [
        corpus[0]
    ]
    assert (await search.search_posts(session, search.parse("quick"))).items == []
    await session.delete(post)
    await session.commit()
    assert (await search.search_posts(session, search.parse("red"))).items == []


async def walk(session, query: search.Query) -> list[int]:
    seen, cursor = [], FIRST
    while True:
        page = await search.search_posts(session, query, cursor)
        seen += [item.post.id for item in page.items]
        if page.next is None:
            return seen
        cursor = page.next


@pytest.mark.parametrize("windows", [(1, 2), (3, 5), (7,), (2_048, 32_768)])
async def test_windows_find_every_match_newest_first_page_after_page(
    session, make_user, make_post, monkeypatch, windows
):
    """However the windows fall (one id, a few, all at once), every match comes once, newest
    first: common words, rare ones, and one match in the oldest post only."""
    monkeypatch.setattr(search, "WINDOWS", windows)
    john = await make_user("john")
    ids = []
    for n in range(130):
        words = ["common"] + (["rare"] if n % 29 == 0 else []) + (["oldest"] if n == 0 else [])
        ids.append((await make_post(john, " ".join([*words, f"n{n}"]))).id)
    assert await walk(session, search.parse("common")) == ids[::-1]
    assert await walk(session, search.parse("rare")) == ids[::29][::-1]
    assert await walk(session, search.parse("oldest")) == [ids[0]]
    assert await walk(session, search.parse("nowhere")) == []


@pytest.mark.parametrize("dense", [0, 20_000])
@pytest.mark.parametrize("scan", [1, 3, 100])
async def test_from_finds_every_match_newest_first_from_the_author_or_the_words(
    session, make_user, make_post, monkeypatch, scan, dense
):
    """from:name reads the author's posts first (a quiet author and a common word stay cheap:
    each checked, or on SQLite their span of ids read when `dense`) and, past `scan` of them,
    the words' matches (a busy author and a rare word): every match comes once, newest first,
    whichever way it was read, and others' posts never."""
    monkeypatch.setattr(search_author, "AUTHOR_SCAN", scan)
    monkeypatch.setattr(search_author, "DENSE_SPAN", dense)
    quiet, busy = await make_user("quiet"), await make_user("busy")
    mine, theirs = [], []
    for n in range(60):
        words = ["common"] + (["rare"] if n % 13 == 0 else [])
        author, ids = (quiet, mine) if n % 4 == 0 else (busy, theirs)
        post = await make_post(author, " ".join([*words, f"n{n}"]), at=T0 + timedelta(minutes=n))
        ids.append((post.id, "rare" in words))
    newest = mine[::-1]
    assert await walk(session, search.parse("from:quiet common")) == [i for i, _ in newest]
    assert await walk(session, search.parse("from:quiet rare")) == [i for i, r in newest if r]
    busiest = theirs[::-1]
    assert await walk(session, search.parse("from:busy rare")) == [i for i, r in busiest if r]
    assert await walk(session, search.parse("from:busy common")) == [i for i, _ in busiest]
    assert await walk(session, search.parse("from:busy nowhere")) == []


async def test_from_a_muted_or_blocked_author_finds_nothing(session, make_user, make_post):
    from app.queries import blocks

    viewer, muted, blocker = [await make_user(n) for n in ("viewer", "muted", "blocker")]
    for author in (muted, blocker):
        await make_post(author, "common words")
    await blocks.mute(session, viewer.id, muted.id)
    await blocks.block(session, blocker.id, viewer.id)
    await session.commit()
    for name in ("muted", "blocker"):
        for raw in (f"from:{name} common", f"from:{name}", f"from:{name} -nothing"):
            found = await search.search_posts(session, search.parse(raw), viewer=viewer.id)
            assert found.items == [], raw
            assert len((await search.search_posts(session, search.parse(raw))).items) == 1


# -- people and tags by prefix -----------------------------------------------------------------


async def test_people_by_prefix_ignore_case_and_say_whom_the_viewer_follows(session, make_user):
    from app.queries import follows

    names = ["Alice", "alicia", "ali_baba", "alina", "aliz", "alix", "bob", "aly"]
    people = {name: await make_user(name) for name in names}
    await follows.follow(session, people["bob"].id, people["alicia"].id)
    await session.commit()
    found = await search.people_by_prefix(session, "ali", people["bob"].id)
    assert [(p.user.username, p.i_follow) for p in found] == [
        ("ali_baba", False),
        ("Alice", False),
        ("alicia", True),
        ("alina", False),
        ("alix", False),
    ]
    assert [p.user.username for p in await search.people_by_prefix(session, "ali_", None)] == [
        "ali_baba"
    ]
    assert await search.people_by_prefix(session, "zed", None) == []


# -- HTTP --------------------------------------------------------------------------------------


async def test_search_page_has_three_groups_and_follow_buttons(
    client, make_user, make_post, session
):
    viewer = await make_user("viewer")
    tea = await make_user("teaman")
    await client.login(viewer)
    post = await make_post(tea, "I like tea")
    tagged = Post(author_id=tea.id, body="#TeaTime again", created_at=T0)
    session.add(tagged)
    await session.flush()
    await tags.set_post_tags(session, tagged.id, tagged.body)
    await session.commit()

    response = await client.get("/search?q=tea")
    assert response.status_code == 200
    html = await body(response)
    assert "<html" in html and "Results for “tea”" in html
    assert 'id="search-q"' in html and 'value="tea"' in html  # the box keeps the query
    assert 'id="people-title"' in html and 'id="person-' in html
    assert f'id="follow-{tea.id}"' in html and 'name="next" value="/search?q=tea"' in html
    assert '<a class="hashtag" href="/tags/teatime">#TeaTime</a>' in html
    assert post_ids(html) == [post.id]


async def test_typing_gets_the_results_as_a_fragment_for_main(client, make_user, make_post):
    john = await make_user("john")
    post = await make_post(john, "Walking in the rain")
    response = await client.get("/search?q=rain", htmx=True)
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html and "<h1>Results for “rain”</h1>" in html
    assert post_ids(html) == [post.id]
    assert "Found 0 people, 0 tags, 1 post" in response.headers["HX-Trigger"]
    assert "HX-Request" in response.headers["Vary"]


async def test_more_results_page_through_htmx_and_without_javascript(client, make_user, make_post):
    john = await make_user("john")
    ids = [(await make_post(john, f"rain drop {n}")).id for n in range(45)]
    newest_first = ids[::-1]
    html = await body(await client.get("/search?q=rain"))
    assert post_ids(html) == newest_first[:20]
    more = next_link(html)
    assert more.startswith("/search?") and "q=rain" in more and "before=" in more
    assert ">More results</a>" in html

    fragment = await client.get(more, htmx=True)
    page2 = await body(fragment)
    assert "<html" not in page2 and post_ids(page2) == newest_first[20:40]
    assert 'id="people-title"' not in page2
    plain = await body(await client.get(more))
    assert "<html" in plain and post_ids(plain) == newest_first[20:40]
    last = await body(await client.get(next_link(page2), htmx=True))
    assert post_ids(last) == newest_first[40:] and 'id="search-end"' in last


async def test_a_submitted_hashtag_query_goes_to_the_tag_and_a_typed_one_finds_tags(client):
    response = await client.get("/search?q=%23Garden")
    assert response.status_code == 302
    assert response.headers["Location"] == "/tags/garden"
    live = await client.get("/search?q=%23Gar", htmx=True)
    assert live.status_code == 200
    assert "HX-Push-Url" not in live.headers  # the search's own address, as for any query
    html = await body(live)
    assert "<html" not in html and 'id="search-tags-none"' in html
    assert 'id="search-tag-go"' in html and 'href="/tags/gar"' in html
    # Back to the address typing pushed: htmx restores it as a whole page, still a search.
    restore = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    restored = await client.get("/search?q=%23Gar", headers=restore)
    assert restored.status_code == 200
    assert "<html" in (page := await body(restored)) and 'id="search-tag-go"' in page


async def test_typing_answers_with_the_title_and_the_navigation_out_of_band(client):
    html = await body(await client.get("/search?q=green+tea", htmx=True))
    assert html.lstrip().startswith("<title>Search: green tea · Warble</title>")
    assert '<ul class="nav-links" id="nav-links" hx-swap-oob="true">' in html
    assert 'aria-current="page"' not in html
    page = await body(await client.get("/search?q=green+tea"))
    assert "hx-swap-oob" not in page and "<title>Search: green tea · Warble</title>" in page


async def test_text_typed_with_combining_accents_is_found_by_either_spelling(
    client, session, make_user
):
    """Posts and edits are stored composed (NFC), as queries are read, so "cafe" + U+0301 and
    "café" find each other on both databases."""
    await client.login(await make_user("john"))
    await client.post("/posts", {"body": "Un cafe\u0301 au lait"})
    await client.post("/posts", {"body": "Na\u00efve"})
    (stored,) = (await session.execute(select(Post.body).where(Post.body.like("Un%")))).one()
    assert stored == "Un caf\u00e9 au lait"
    for raw in ("caf%C3%A9", "cafe%CC%81"):  # "café", "cafe" + U+0301
        html = await body(await client.get(f"/search?q={raw}"))
        assert len(post_ids(html)) == 1 and "Un café au lait" in html
    html = await body(await client.get("/search?q=nai%CC%88ve"))  # "naïve" decomposed
    assert len(post_ids(html)) == 1


async def test_an_empty_search_explains_itself(client):
    for path in ("/search", "/search?q=", "/search?q=%20%20"):
        html = await body(await client.get(path))
        assert 'id="search-help"' in html


async def test_a_search_with_no_words_says_so(client):
    html = await body(await client.get("/search?q=%F0%9F%8C%B1"))  # 🌱
    assert 'id="search-posts-none"' in html and "No words to search for" in html


@pytest.mark.parametrize(
    "raw",
    [
        '"unbalanced',
        "*",
        "NEAR(a b)",
        "a OR b AND NOT c",
        "x" * 10_000,
        "tea\x00",
        "from:",
        "from:@",
        "-",
        "^tea:*",
        "col:tea",
        "'tea''",
        "\\",
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
async def test_hostile_queries_are_ordinary_pages(client, make_user, make_post, raw, htmx):
    await make_post(await make_user("john"), "tea")
    response = await client.raw.get(
        "/search",
        query_string={"q": raw.encode("utf-8", "surrogatepass")},
        headers={"HX-Request": "true"} if htmx else {},
    )
    assert response.status_code == 200


async def test_a_lone_surrogate_in_the_address_is_an_ordinary_page(client):
    response = await client.get("/search?q=tea%ED%A0%80%00")
    assert response.status_code == 200


ANY_TEXT = st.lists(
    st.one_of(
        st.sampled_from(['"', "-", "*", "NEAR", "OR", "from:", "#", "\x00", "\ud800", " ", "é"]),
        st.characters(min_codepoint=0, max_codepoint=0x10FFFF),
    ),
    max_size=40,
).map("".join)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=ANY_TEXT, htmx=st.booleans())
async def test_any_query_is_answered(client, corpus, raw, htmx):
    sent = raw.encode("utf-8", "surrogatepass")
    response = await client.get(f"/search?q={quote_from_bytes(sent, safe='')}", htmx=htmx)
    received = sent.decode("utf-8", "replace")  # as the server reads the query string
    goes_to_tag = search.parse(received).tag is not None and not htmx
    assert response.status_code == (302 if goes_to_tag else 200)


async def test_a_search_costs_the_same_statements_whatever_it_finds(
    app, client, session, make_user, make_post
):
    john = await make_user("john")
    await client.login(john)

    async def tagged(text: str) -> None:
        post = await make_post(john, text)
        await tags.set_post_tags(session, post.id, text)
        liker = await make_user(f"liker{post.id}")
        session.add_all([Like(post_id=post.id, user_id=who.id) for who in (liker, john)])
        await session.commit()

    await tagged("one more @john #more")
    await client.get("/")  # the first request of a login also notes last_seen_at
    few = {
        path: await statements_of(app, client, path) for path in ("/search?q=more", "/tags/more")
    }
    for n in range(25):
        await tagged(f"more {n} @john @susan https://example.org #more #more{n}")
        await make_user(f"more{n}")
    assert {path: await statements_of(app, client, path) for path in few} == few
    assert few["/search?q=more"] <= 8
    for path in few:  # the counts and the viewer's own likes came in those statements
        html = await body(await client.get(path))
        assert html.count("2 likes</a>") == 20 and html.count('aria-pressed="true"') == 20


async def test_the_same_search_again_adds_no_history_entry(client):
    here = {"HX-Current-URL": "http://localhost/search?q=green%20tea"}
    again = await client.get("/search?q=green+tea", htmx=True, headers=here)
    assert again.headers["HX-Push-Url"] == "false"
    other = await client.get("/search?q=green", htmx=True, headers=here)
    assert "HX-Push-Url" not in other.headers

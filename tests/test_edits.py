"""Editing a post in place (page, htmx fragment, plain form), its history of earlier versions,
who may edit, what an edit may say, and whom it notifies."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from app import text
from app.models import Notification, Post, PostEdit
from app.queries import posts
from tests.conftest import body

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def john(make_user, client):
    user = await make_user("john")
    await client.login(user)
    return user


@pytest.fixture
async def post(make_post, john):
    return await make_post(john, "first words", at=T0)


async def stored(session, post_id: int) -> tuple[str, datetime | None, list[tuple[str, datetime]]]:
    """The post's text, its edited_at, and its earlier versions (body, written), oldest first."""
    session.expire_all()
    row = (await session.execute(select(Post.body, Post.edited_at).where(Post.id == post_id))).one()
    versions = await session.execute(
        select(PostEdit.body, PostEdit.created_at)
        .where(PostEdit.post_id == post_id)
        .order_by(PostEdit.id)
    )
    return row[0], row[1], [tuple(v) for v in versions.all()]


async def mentions_of(session, post_id: int) -> list[int]:
    session.expire_all()
    stmt = (
        select(Notification.recipient_id)
        .where(Notification.post_id == post_id, Notification.kind == "mention")
        .order_by(Notification.id)
    )
    return list(await session.scalars(stmt))


# -- queries ---------------------------------------------------------------------------------


async def test_edit_post_keeps_each_earlier_version_with_the_time_it_was_written(
    session, john, post
):
    assert await posts.edit_post(session, post.id, john.id, "second words")
    await session.commit()
    first_edit = (await stored(session, post.id))[1]
    assert first_edit is not None and first_edit > T0
    assert await posts.edit_post(session, post.id, john.id, "third words")
    await session.commit()
    body_now, edited_at, versions = await stored(session, post.id)
    assert body_now == "third words" and edited_at >= first_edit
    assert versions == [("first words", T0), ("second words", first_edit)]
    page = await posts.history(session, post.id)
    assert [v.body for v in page.items] == ["second words", "first words"]


async def test_edit_post_with_the_same_text_keeps_no_version(session, john, post):
    assert await posts.edit_post(session, post.id, john.id, "first words")
    await session.commit()
    assert await stored(session, post.id) == ("first words", None, [])


async def test_edit_post_of_someone_else_or_of_no_post_changes_nothing(
    session, john, post, make_user
):
    mary = await make_user("mary")
    assert not await posts.edit_post(session, post.id, mary.id, "hijacked")
    assert not await posts.edit_post(session, 999_999, john.id, "nothing")
    await session.commit()
    assert await stored(session, post.id) == ("first words", None, [])


async def test_history_is_keyset_paginated(session, john, post):
    for n in range(23):
        session.add(
            PostEdit(post_id=post.id, body=f"v{n}", created_at=T0 - timedelta(hours=23 - n))
        )
    await session.commit()
    first = await posts.history(session, post.id)
    assert [v.body for v in first.items] == [f"v{n}" for n in range(22, 2, -1)]
    rest = await posts.history(session, post.id, first.next)
    assert [v.body for v in rest.items] == ["v2", "v1", "v0"] and rest.next is None


# -- GET /posts/<id>/edit --------------------------------------------------------------------


async def test_edit_via_htmx_swaps_the_post_for_a_form_with_its_text(client, john, post):
    response = await client.get(f"/posts/{post.id}/edit", htmx=True)
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html
    assert html.startswith(f'<div class="post-editing card" id="post-{post.id}">')
    assert f'hx-post="/posts/{post.id}/edit" hx-target="#post-{post.id}"' in html
    assert ">first words</textarea>" in html
    assert f'hx-get="/posts/{post.id}/item" hx-target="#post-{post.id}"' in html  # Cancel
    assert 'name="standalone"' not in html


async def test_edit_from_the_posts_page_keeps_its_standalone_look(client, john, post):
    page = await body(await client.get(f"/posts/{post.id}"))
    assert f'hx-get="/posts/{post.id}/edit?standalone=1"' in page
    html = await body(await client.get(f"/posts/{post.id}/edit?standalone=1", htmx=True))
    assert 'class="post-editing card post-standalone"' in html
    assert '<input type="hidden" name="standalone" value="1">' in html
    assert f'hx-get="/posts/{post.id}/item?standalone=1"' in html
    cancel = await client.get(f"/posts/{post.id}/item?standalone=1", htmx=True)
    assert 'class="post post-standalone"' in await body(cancel)


async def test_edit_without_javascript_is_a_page_with_a_plain_form(client, john, post):
    feed = await body(await client.get("/explore"))
    assert f'<a class="edit-link" href="/posts/{post.id}/edit"' in feed
    response = await client.get(f"/posts/{post.id}/edit")
    assert response.status_code == 200
    html = await body(response)
    assert html.startswith("<!doctype html>") and "<h1>Edit your post</h1>" in html
    assert f'action="/posts/{post.id}/edit"' in html and "hx-post" not in html.split("<main")[1]
    assert f'<a class="button button-secondary edit-cancel" href="/posts/{post.id}">' in html


async def test_cancel_swaps_the_post_back_unchanged(client, john, post):
    response = await client.get(f"/posts/{post.id}/item", htmx=True)
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html
    assert html.lstrip().startswith(f'<article class="post" id="post-{post.id}"')
    assert "first words" in html and "edited" not in html
    plain = await client.get(f"/posts/{post.id}/item")
    assert plain.status_code == 302 and plain.headers["Location"] == f"/posts/{post.id}"
    assert (await client.get("/posts/999999/item", htmx=True)).status_code == 404


async def test_only_the_author_sees_edit_and_may_open_the_form(
    client, make_client, make_user, post
):
    assert 'class="edit-link"' in await body(await client.get("/explore"))
    mary = make_client()
    await mary.login(await make_user("mary"))
    assert 'class="edit-link"' not in await body(await mary.get("/explore"))
    refused = await mary.get(f"/posts/{post.id}/edit")
    assert refused.status_code == 403
    assert "You can only edit your own posts." in await body(refused)
    assert (await mary.get(f"/posts/{post.id}/edit", htmx=True)).status_code == 403
    anonymous = make_client()
    response = await anonymous.get(f"/posts/{post.id}/edit")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/posts/{post.id}/edit"


# -- POST /posts/<id>/edit -------------------------------------------------------------------


async def test_save_via_htmx_returns_the_edited_post_marked_edited(client, john, post, session):
    response = await client.post(f"/posts/{post.id}/edit", {"body": "  better words "}, htmx=True)
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html
    assert html.lstrip().startswith(f'<article class="post" id="post-{post.id}"')
    assert "better words" in html and "first words" not in html
    body_now, edited_at, versions = await stored(session, post.id)
    assert (body_now, versions) == ("better words", [("first words", T0)])
    marker = (
        f'<a class="edited" href="/posts/{post.id}/history">edited <time datetime="'
        f'{text.html_datetime(edited_at)}" title="{text.absolute(edited_at)}">just now</time></a>'
    )
    assert marker in html
    assert response.headers["HX-Trigger"] == '{"warble:announce": "Post saved"}'
    for path in ("/", "/explore", "/user/john", f"/posts/{post.id}"):
        page = await body(await client.get(path))
        assert "better words" in page and marker in page, path


async def test_save_without_javascript_redirects_to_the_post(client, john, post, session):
    response = await client.post(f"/posts/{post.id}/edit", {"body": "plain words"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/posts/{post.id}"
    assert (await stored(session, post.id))[0] == "plain words"
    page = await body(await client.get(f"/posts/{post.id}"))
    assert "Your post is saved." in page and "plain words" in page


async def test_saving_from_the_posts_page_answers_with_the_standalone_post(client, john, post):
    data = {"body": "on its page", "standalone": "1"}
    html = await body(await client.post(f"/posts/{post.id}/edit", data, htmx=True))
    assert html.lstrip().startswith(f'<article class="post post-standalone" id="post-{post.id}"')


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Write something first: an empty post cannot be sent."),
        (" \u200b\n ", "Write something first: an empty post cannot be sent."),
        ("x" * 501, "Keep it to 500 characters (this post has 501)."),
    ],
)
async def test_a_refused_edit_shows_the_form_again_and_changes_nothing(
    client, john, post, session, typed, message
):
    response = await client.post(f"/posts/{post.id}/edit", {"body": typed}, htmx=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == f"#post-{post.id}"
    assert response.headers["HX-Reswap"] == "outerHTML"
    html = await body(response)
    assert html.startswith(f'<div class="post-editing card" id="post-{post.id}">')
    assert message in html and f'id="edit-error-{post.id}"' in html
    assert 'aria-invalid="true"' in html

    plain = await client.post(f"/posts/{post.id}/edit", {"body": typed})
    assert plain.status_code == 422
    page = await body(plain)
    assert page.startswith("<!doctype html>") and message in page
    assert await stored(session, post.id) == ("first words", None, [])


async def test_a_500_character_edit_is_accepted(client, john, post, session):
    assert (await client.post(f"/posts/{post.id}/edit", {"body": "y" * 500})).status_code == 302
    assert (await stored(session, post.id))[0] == "y" * 500


async def test_nobody_but_the_author_may_save_an_edit(
    client, make_client, make_user, post, session
):
    mary = make_client()
    await mary.login(await make_user("mary"))
    for htmx in (False, True):
        response = await mary.post(f"/posts/{post.id}/edit", {"body": "hijacked"}, htmx=htmx)
        assert response.status_code == 403
    anonymous = make_client()
    response = await anonymous.post(f"/posts/{post.id}/edit", {"body": "hijacked"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert (
        await client.post(f"/posts/{post.id}/edit", {"body": "x"}, csrf=False)
    ).status_code == 403
    assert await stored(session, post.id) == ("first words", None, [])


@pytest.mark.parametrize(
    ("path", "posted"),
    [
        ("/posts/999999/edit", 404),
        ("/posts/abc/edit", 404),
        # An id its converter refuses (0, beyond 32 bits): Werkzeug's router answers a POST
        # to such a path with 405, as it always has for /posts/0/delete. A refusal all the same.
        ("/posts/0/edit", 405),
        ("/posts/99999999999/edit", 405),
    ],
)
async def test_editing_what_does_not_exist_is_refused(client, john, path, posted, session):
    assert (await client.get(path)).status_code == 404
    assert (await client.post(path, {"body": "words"})).status_code == posted
    assert (await client.post(path, {"body": "words"}, htmx=True)).status_code == posted
    session.expire_all()
    assert await session.scalar(select(func.count()).select_from(PostEdit)) == 0


async def test_an_edit_racing_the_posts_deletion_is_a_404(client, john, post, session, monkeypatch):
    from app.blueprints import edits as view

    real = view.own_post

    async def then_deleted(post_id: int, verb: str):
        item = await real(post_id, verb)
        await session.execute(delete(Post).where(Post.id == post_id))
        await session.commit()
        return item

    monkeypatch.setattr(view, "own_post", then_deleted)
    response = await client.post(f"/posts/{post.id}/edit", {"body": "too late"}, htmx=True)
    assert response.status_code == 404
    session.expire_all()
    assert await session.scalar(select(func.count()).select_from(PostEdit)) == 0


async def test_simultaneous_edits_keep_every_earlier_version(make_client, john, post, session):
    clients = [make_client() for _ in range(4)]
    for c in clients:
        await c.login(john)
    responses = await asyncio.gather(
        *(c.post(f"/posts/{post.id}/edit", {"body": f"edit {n}"}) for n, c in enumerate(clients))
    )
    assert [r.status_code for r in responses] == [302] * 4
    body_now, _, versions = await stored(session, post.id)
    texts = [b for b, _ in versions]
    # Each edit kept the text it replaced: the first text, then three of the four edits,
    # each once, and the fourth is the post's text now.
    assert texts[0] == "first words" and len(texts) == 4
    assert sorted([*texts[1:], body_now]) == [f"edit {n}" for n in range(4)]
    written = [at for _, at in versions]
    assert written == sorted(written)


# -- mentions --------------------------------------------------------------------------------


async def test_an_edit_notifies_only_the_people_it_newly_mentions(
    client, john, make_user, make_post, session
):
    ada, bea, cyd = [await make_user(n) for n in ("ada", "bea", "cyd")]
    await client.post("/posts", {"body": "hello @ada"})
    post_id = await session.scalar(select(Post.id).order_by(Post.id.desc()).limit(1))
    assert await mentions_of(session, post_id) == [ada.id]

    await client.post(f"/posts/{post_id}/edit", {"body": "hello @ada and @Bea and @john"})
    assert await mentions_of(session, post_id) == [ada.id, bea.id]  # not the author
    await client.post(f"/posts/{post_id}/edit", {"body": "just @cyd now"})
    assert await mentions_of(session, post_id) == [ada.id, bea.id, cyd.id]
    # Back to mentioning ada and bea: they heard of this post already.
    await client.post(f"/posts/{post_id}/edit", {"body": "@ada @bea @cyd @nobody again"})
    assert await mentions_of(session, post_id) == [ada.id, bea.id, cyd.id]
    html = await body(await client.get(f"/posts/{post_id}"))
    assert '<a class="mention" href="/user/cyd">@cyd</a>' in html and "@nobody" in html


# -- history ---------------------------------------------------------------------------------


async def test_history_page_lists_current_then_earlier_versions_newest_first(
    client, john, post, session
):
    await client.post(f"/posts/{post.id}/edit", {"body": "second, for @john"})
    await client.post(f"/posts/{post.id}/edit", {"body": "third"})
    response = await client.get(f"/posts/{post.id}/history")
    assert response.status_code == 200
    html = await body(response)
    assert html.startswith("<!doctype html>")
    bodies = re.findall(r'<p class="version-body">(.*?)</p>', html, re.S)
    assert bodies == [
        "third",
        'second, for <a class="mention" href="/user/john">@john</a>',
        "first words",
    ]
    assert html.index("Current version") < html.index("third")
    written = re.findall(
        r'<li class="version[^"]*" id="version-[^"]+">\s*<p class="meta">.*?'
        r'<time datetime="([^"]+)"',
        html,
        re.S,
    )
    assert written[2] == text.html_datetime(T0)
    assert written == sorted(written, reverse=True)


async def test_history_of_a_post_never_edited(client, post):
    html = await body(await client.get(f"/posts/{post.id}/history"))
    assert "Current version" in html and "Never edited: this is the only version." in html
    assert "edited <time" not in await body(await client.get(f"/posts/{post.id}"))
    assert (await client.get("/posts/999999/history")).status_code == 404
    assert (await client.get(f"/posts/{post.id}/history?before=x")).status_code == 400


async def test_history_pages_as_fragments_and_without_javascript(client, post, session):
    for n in range(21):
        session.add(
            PostEdit(post_id=post.id, body=f"v{n}", created_at=T0 - timedelta(hours=21 - n))
        )
    await session.commit()
    html = await body(await client.get(f"/posts/{post.id}/history"))
    assert html.count('<li class="version"') == 20
    more = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    fragment = await client.get(more, htmx=True)
    rest = await body(fragment)
    assert fragment.status_code == 200 and "<html" not in rest
    assert re.findall(r'<p class="version-body">(.*?)</p>', rest) == ["v0"]
    plain = await body(await client.get(more))
    assert plain.startswith("<!doctype html>") and "Current version" not in plain
    assert re.findall(r'<p class="version-body">(.*?)</p>', plain) == ["v0"]


async def test_deleting_a_post_deletes_its_history(client, john, post, count_rows):
    await client.post(f"/posts/{post.id}/edit", {"body": "edited"})
    assert await count_rows(PostEdit) == 1
    await client.post(f"/posts/{post.id}/delete")
    assert await count_rows(PostEdit) == 0

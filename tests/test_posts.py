"""Posting, reading, deleting posts, and comments, as pages and as htmx fragments."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from app.models import Comment, Post
from tests.conftest import body


@pytest.fixture
async def john(make_user, client):
    user = await make_user("john")
    await client.login(user)
    return user


async def test_create_post_plain_redirects_home_and_stores_it(client, john, count_rows):
    response = await client.post("/posts", {"body": "  first post  "})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert await count_rows(Post) == 1
    home = await body(await client.get("/"))
    assert "first post" in home and "Your post is live!" in home


async def test_create_post_htmx_returns_the_post_fragment(client, john, session):
    response = await client.post("/posts", {"body": "hello\nworld"}, htmx=True)
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html
    match = re.search(r'<article class="post[^"]*" id="post-(\d+)"', html)
    assert match
    assert f'href="/posts/{match.group(1)}"' in html
    assert "hello\nworld" in html
    assert '<time datetime="' in html


@pytest.mark.parametrize("text", ["", "   \n\t  ", "x" * 501])
async def test_invalid_post_htmx_is_422_with_the_form_in_place(client, john, count_rows, text):
    response = await client.post("/posts", {"body": text}, htmx=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#composer"
    assert response.headers["HX-Reswap"] == "outerHTML"
    html = await body(response)
    assert html.lstrip().startswith('<form id="composer"')
    assert 'id="composer-error"' in html
    assert await count_rows(Post) == 0


async def test_invalid_post_plain_renders_the_page_with_the_message(client, john, count_rows):
    response = await client.post("/posts", {"body": "x" * 501})
    assert response.status_code == 422
    html = await body(response)
    assert "<html" in html and "Keep it to 500 characters (this post has 501)" in html
    assert await count_rows(Post) == 0


@pytest.mark.parametrize(
    "text", ["\u200b", "\u200b\u200d\u2060\ufeff\u00ad", " \u3164\n\u2800 ", "\u202e\u2066"]
)
@pytest.mark.parametrize("htmx", [False, True])
async def test_post_with_nothing_visible_is_refused_as_empty(client, john, count_rows, text, htmx):
    response = await client.post("/posts", {"body": text}, htmx=htmx)
    assert response.status_code == 422
    assert "Write something first: an empty post cannot be sent." in await body(response)
    assert await count_rows(Post) == 0


async def test_emoji_joined_by_zero_width_joiners_are_kept(client, john, session):
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert (await client.post("/posts", {"body": family})).status_code == 302
    assert await session.scalar(select(Post.body)) == family


async def test_bidi_controls_are_dropped_so_a_link_shows_what_it_opens(client, john, session):
    response = await client.post("/posts", {"body": "see https://example.com/\u202egnp.exe now"})
    assert response.status_code == 302
    assert await session.scalar(select(Post.body)) == "see https://example.com/gnp.exe now"
    html = await body(await client.get("/explore"))
    assert "\u202e" not in html
    assert (
        '<a href="https://example.com/gnp.exe" rel="nofollow ugc noopener" '
        'target="_blank">https://example.com/gnp.exe</a> now'
    ) in html


async def test_a_bidi_override_stored_earlier_is_not_displayed(client, john, make_post):
    await make_post(john, "see https://example.com/\u202egnp.exe now")  # bypasses clean()
    html = await body(await client.get("/explore"))
    assert "\u202e" not in html and 'href="https://example.com/gnp.exe"' in html


async def test_post_of_exactly_500_characters_is_accepted(client, john, count_rows):
    assert (await client.post("/posts", {"body": "y" * 500})).status_code == 302
    assert await count_rows(Post) == 1


async def test_anonymous_cannot_post(client, count_rows):
    response = await client.post("/posts", {"body": "hi"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    fragment = await client.post("/posts", {"body": "hi"}, htmx=True)
    assert fragment.status_code == 401
    assert fragment.headers["HX-Redirect"].startswith("/login")
    assert await count_rows(Post) == 0


async def test_post_without_csrf_is_refused(client, john, count_rows):
    assert (await client.post("/posts", {"body": "hi"}, csrf=False)).status_code == 403
    assert await count_rows(Post) == 0


async def test_bodies_are_escaped_and_linkified(client, john, make_user, make_post):
    await make_user("susan")
    await make_post(
        john,
        "<script>alert(1)</script> <b>bold</b> see https://example.org/a?b=1&c=2. "
        "hi @susan and @ghost",
    )
    html = await body(await client.get("/explore"))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert (
        '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow ugc noopener" '
        'target="_blank">https://example.org/a?b=1&amp;c=2</a>.'
    ) in html
    assert '<a class="mention" href="/user/susan">@susan</a>' in html
    assert "@ghost" in html and 'href="/user/ghost"' not in html


async def test_javascript_urls_are_not_linked(client, john, make_post):
    await make_post(john, "javascript:alert(1) and data:text/html,x")
    html = await body(await client.get("/explore"))
    assert 'href="javascript' not in html and 'href="data' not in html


async def test_post_page_shows_comments_oldest_first_and_a_form(
    client, john, make_user, make_post, session
):
    post = await make_post(john, "the post")
    susan = await make_user("susan")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for n, who in enumerate((susan, john, susan)):
        session.add(
            Comment(
                post_id=post.id,
                author_id=who.id,
                body=f"c{n}",
                created_at=t0 + timedelta(minutes=n),
            )
        )
    await session.commit()
    html = await body(await client.get(f"/posts/{post.id}"))
    assert html.index(">c0<") < html.index(">c1<") < html.index(">c2<")
    assert 'id="comment-form"' in html
    assert f'<span id="comment-count-{post.id}">3 comments</span>' in html
    assert len(re.findall(r'<li class="comment" id="comment-\d+"', html)) == 3


async def test_unknown_post_is_404(client):
    response = await client.get("/posts/999999")
    assert response.status_code == 404
    assert "Post not found." in await body(response)


async def test_add_comment_htmx_returns_comment_and_count_out_of_band(
    client, john, make_post, count_rows
):
    post = await make_post(john)
    response = await client.post(f"/posts/{post.id}/comments", {"body": "nice"}, htmx=True)
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html
    assert re.search(r'<li class="comment" id="comment-\d+"', html)
    assert f'<span id="comment-count-{post.id}" hx-swap-oob="true">1 comment</span>' in html
    assert await count_rows(Comment) == 1


async def test_add_comment_plain_redirects_to_the_comment(client, john, make_post):
    post = await make_post(john)
    response = await client.post(f"/posts/{post.id}/comments", {"body": "nice"})
    assert response.status_code == 302
    assert re.fullmatch(rf"/posts/{post.id}#comment-\d+", response.headers["Location"])


@pytest.mark.parametrize("text", ["", "  ", "z" * 501])
async def test_invalid_comment_is_422_in_place_and_stores_nothing(
    client, john, make_post, count_rows, text
):
    post = await make_post(john)
    response = await client.post(f"/posts/{post.id}/comments", {"body": text}, htmx=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#comment-form"
    html = await body(response)
    assert html.lstrip().startswith('<form id="comment-form"') and 'id="comment-error"' in html
    plain = await client.post(f"/posts/{post.id}/comments", {"body": text})
    assert plain.status_code == 422 and "<html" in await body(plain)
    assert await count_rows(Comment) == 0


@pytest.mark.parametrize("text", ["\u200b", "\ufeff\u200c \uffa0", "\u2069"])
async def test_comment_with_nothing_visible_is_refused_as_empty(
    client, john, make_post, count_rows, text
):
    post = await make_post(john)
    response = await client.post(f"/posts/{post.id}/comments", {"body": text}, htmx=True)
    assert response.status_code == 422
    assert "Write something first: an empty comment cannot be sent." in await body(response)
    assert await count_rows(Comment) == 0


async def test_comment_bidi_controls_are_dropped(client, john, make_post, session):
    post = await make_post(john)
    response = await client.post(f"/posts/{post.id}/comments", {"body": "a\u202db\u2066c"})
    assert response.status_code == 302
    assert await session.scalar(select(Comment.body)) == "abc"


async def test_anonymous_comment_is_refused_and_sent_to_login(
    client, make_user, make_post, count_rows
):
    post = await make_post(await make_user("john"))
    response = await client.post(
        f"/posts/{post.id}/comments",
        {"body": "sneaky"},
        headers={"Referer": f"http://localhost/posts/{post.id}"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/posts/{post.id}"
    assert await count_rows(Comment) == 0


async def test_comment_on_unknown_post_is_404(client, john, count_rows):
    response = await client.post("/posts/424242/comments", {"body": "hi"})
    assert response.status_code == 404
    assert await count_rows(Comment) == 0


async def test_legacy_comments_without_author_or_time_still_display(
    client, make_user, make_post, session
):
    post = await make_post(await make_user("john"))
    await session.execute(
        insert(Comment).values(
            post_id=post.id, author_id=None, body="from the archive", created_at=None
        )
    )
    await session.commit()
    html = await body(await client.get(f"/posts/{post.id}"))
    assert "from the archive" in html
    assert "anonymous" in html
    assert "at an unknown time" in html


async def test_only_the_author_deletes_a_post(
    client, make_client, john, make_user, make_post, count_rows
):
    post_id = (await make_post(john)).id
    other = make_client()
    await other.login(await make_user("susan"))
    assert (await other.post(f"/posts/{post_id}/delete")).status_code == 403
    assert await count_rows(Post) == 1
    anonymous = make_client()
    assert (await anonymous.post(f"/posts/{post_id}/delete")).status_code == 302
    assert await count_rows(Post) == 1

    response = await client.post(f"/posts/{post_id}/delete", htmx=True)
    assert response.status_code == 200
    assert (await body(response)).strip() == ""
    assert await count_rows(Post) == 0


async def test_deleting_a_post_removes_its_comments(client, john, make_post, count_rows):
    post = await make_post(john)
    await client.post(f"/posts/{post.id}/comments", {"body": "soon gone"})
    response = await client.post(f"/posts/{post.id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert await count_rows(Comment) == 0


async def test_delete_confirmation_page_works_without_javascript(client, john, make_post):
    post = await make_post(john, "bye")
    html = await body(await client.get(f"/posts/{post.id}/delete"))
    assert "Delete this post?" in html
    assert f'action="/posts/{post.id}/delete"' in html


async def test_comment_delete_by_comment_author_or_post_author_only(
    client, make_client, john, make_user, make_post, count_rows
):
    post_id = (await make_post(john)).id
    susan_client, mary_client = make_client(), make_client()
    await susan_client.login(await make_user("susan"))
    await mary_client.login(await make_user("mary"))
    await susan_client.post(f"/posts/{post_id}/comments", {"body": "one"})
    await susan_client.post(f"/posts/{post_id}/comments", {"body": "two"})
    html = await body(await client.get(f"/posts/{post_id}"))
    first, second = (int(n) for n in re.findall(r'id="comment-(\d+)"', html)[:2])

    assert (await mary_client.post(f"/comments/{first}/delete")).status_code == 403
    assert await count_rows(Comment) == 2
    own = await susan_client.post(f"/comments/{first}/delete", htmx=True)
    assert own.status_code == 200
    assert f'<span id="comment-count-{post_id}" hx-swap-oob="true">1 comment</span>' in await body(
        own
    )
    by_post_author = await client.post(f"/comments/{second}/delete")
    assert by_post_author.status_code == 302
    assert await count_rows(Comment) == 0


async def test_more_comments_stops_where_the_page_was_shown(client, john, make_post, session):
    """A comment written after the page was shown is appended after "More comments" (by htmx or
    on reload): the link's pages stop at the page's time, so it never comes twice."""
    post = await make_post(john, "busy")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    session.add_all(
        Comment(post_id=post.id, author_id=john.id, body=f"old {n}", created_at=t0 + timedelta(n))
        for n in range(25)
    )
    await session.execute(
        insert(Comment).values(post_id=post.id, author_id=None, body="undated", created_at=None)
    )
    await session.commit()
    html = await body(await client.get(f"/posts/{post.id}"))
    assert re.findall(r'class="comment-body">([^<]+)<', html)[:2] == ["undated", "old 0"]
    more = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "until=" in more and "after=" in more

    response = await client.post(f"/posts/{post.id}/comments", {"body": "new"}, htmx=True)
    assert response.status_code == 200
    rest = await body(await client.get(more, htmx=True))
    assert "<html" not in rest
    assert re.findall(r'class="comment-body">([^<]+)<', rest) == [f"old {n}" for n in range(19, 25)]
    assert '<p id="comments-more" hx-swap-oob="delete"></p>' in rest  # the last page

    reloaded = await body(await client.get(f"/posts/{post.id}"))
    more = re.search(r'<a rel="next" href="([^"]+)"', reloaded).group(1).replace("&amp;", "&")
    rest = await body(await client.get(more, htmx=True))
    assert re.findall(r'class="comment-body">([^<]+)<', rest)[-1] == "new"

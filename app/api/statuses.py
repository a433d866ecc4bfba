"""Statuses (Warble's posts) in the client API: write, read, edit, delete, like, context.

https://docs.joinmastodon.org/methods/statuses/
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import NotFound, UnprocessableEntity

from app.api import entities, http
from app.api.auth import user_with, viewer_with
from app.api.load import context_for
from app.clock import utcnow
from app.db import read_session, write_session
from app.models import IDEMPOTENCY_KEY_MAX, POST_MAX, User
from app.pagination import FIRST, Cursor
from app.queries import comments, idempotency, likes, posts, users
from app.queries.likes import Liker
from app.queries.posts import FeedItem
from app.text import body_error, clean

bp = Blueprint("api_statuses", __name__)
VISIBILITIES = ("public", "unlisted")  # every Warble post is public; unlisted is shown as public
CONTEXT_PAGES_MAX = 3  # comments shown under a post in /context: 60


async def status_json(item: FeedItem) -> dict[str, Any]:
    return entities.status(item, await context_for([item]))


async def item_or_404(post_id: int, viewer: User | None) -> FeedItem:
    found = await posts.get_post(read_session(), post_id, viewer=viewer.id if viewer else None)
    if found is None or found.post.author.suspended_at is not None:
        raise NotFound("Record not found")
    return found


async def own_or_404(post_id: int, me: User) -> FeedItem:
    """Someone else's post is not found, as on Mastodon: nothing says it exists."""
    found = await item_or_404(post_id, me)
    if found.post.author_id != me.id:
        raise NotFound("Record not found")
    return found


def _body(found: http.Params) -> str:
    body = clean(http.text(found, "status") or "")
    if error := body_error(body, POST_MAX, "post"):
        raise UnprocessableEntity(f"Validation failed: {error}")
    if found.get("media_ids"):
        raise UnprocessableEntity("Warble posts have no media")
    if found.get("poll"):
        raise UnprocessableEntity("Warble posts have no polls")
    if found.get("scheduled_at"):
        raise UnprocessableEntity("Warble has no scheduled posts")
    visibility = http.text(found, "visibility") or "public"
    if visibility not in VISIBILITIES:
        raise UnprocessableEntity("Every Warble post is public (visibility: public)")
    return body


@bp.post("/api/v1/statuses")
async def create() -> ResponseReturnValue:
    me = await user_with("write:statuses")
    found = await http.params()
    if found.get("in_reply_to_id"):
        raise UnprocessableEntity("Replies are comments in Warble: comment on the web")
    body = _body(found)
    key = request.headers.get("Idempotency-Key", "")[:IDEMPOTENCY_KEY_MAX]
    session = await write_session()
    now = utcnow()
    if key and (done := await idempotency.post_of(session, me.id, key, now)) is not None:
        return await status_json(await item_or_404(done, me))
    try:
        post = await posts.create_post(session, me, body)
        if key:
            await idempotency.remember(session, me.id, key, post.id, now)
        await session.commit()
    except IntegrityError:  # the same key at the same time: the other request's post stands
        await session.rollback()
        done = await idempotency.post_of(session, me.id, key, now) if key else None
        if done is None:
            raise
        return await status_json(await item_or_404(done, me))
    return await status_json(await item_or_404(post.id, me))


@bp.get("/api/v1/statuses/<id:post_id>")
async def show(post_id: int) -> ResponseReturnValue:
    viewer = await viewer_with("read:statuses")
    return await status_json(await item_or_404(post_id, viewer))


@bp.delete("/api/v1/statuses/<id:post_id>")
async def delete(post_id: int) -> ResponseReturnValue:
    """The deleted status, with its source `text` (clients offer to redraft it)."""
    me = await user_with("write:statuses")
    item = await own_or_404(post_id, me)
    shown = await status_json(item)
    session = await write_session()
    await posts.delete_post(session, post_id)
    await session.commit()
    return shown | {"text": item.post.body}


@bp.put("/api/v1/statuses/<id:post_id>")
async def edit(post_id: int) -> ResponseReturnValue:
    me = await user_with("write:statuses")
    await own_or_404(post_id, me)
    body = _body(await http.params())
    session = await write_session()
    if not await posts.edit_post(session, post_id, me.id, body):
        raise NotFound("Record not found")
    await session.commit()
    return await status_json(await item_or_404(post_id, me))


@bp.get("/api/v1/statuses/<id:post_id>/source")
async def source(post_id: int) -> ResponseReturnValue:
    me = await user_with("read:statuses")
    item = await own_or_404(post_id, me)
    return {"id": str(post_id), "text": item.post.body, "spoiler_text": ""}


@bp.get("/api/v1/statuses/<id:post_id>/history")
async def history(post_id: int) -> ResponseReturnValue:
    """Every version, oldest first, the current one last (at most 40 earlier ones)."""
    viewer = await viewer_with("read:statuses")
    item = await item_or_404(post_id, viewer)
    session = read_session()
    page = await posts.history(session, post_id)
    versions = list(page.items)
    if page.next is not None:
        versions += (await posts.history(session, post_id, page.next)).items
    ctx = await context_for([item])
    author = entities.account(
        item.post.author, ctx.counts.get(item.post.author_id, entities.NO_COUNTS)
    )

    def version(body: str, at: Any) -> dict[str, Any]:
        shown = entities.status(item, ctx, body)
        return {
            "content": shown["content"],
            "spoiler_text": "",
            "sensitive": False,
            "created_at": entities.iso(at),
            "account": author,
            "poll": None,
            "media_attachments": [],
            "emojis": [],
        }

    current = version(item.post.body, item.post.edited_at or item.post.created_at)
    return [*(version(v.body, v.created_at) for v in reversed(versions)), current]


@bp.get("/api/v1/statuses/<id:post_id>/context")
async def context(post_id: int) -> ResponseReturnValue:
    """Ancestors: none (a post replies to nothing). Descendants: its comments, oldest first,
    as statuses replying to it (ids "c" + the comment's id: see entities.comment_status),
    but those of deleted accounts."""
    viewer = await viewer_with("read:statuses")
    item = await item_or_404(post_id, viewer)
    session = read_session()
    shown, cursor = [], None
    for _ in range(CONTEXT_PAGES_MAX):
        page = await comments.comments_for(
            session, post_id, cursor, viewer=viewer.id if viewer else None, authored=True
        )
        shown += page.items
        if (cursor := page.next) is None:
            break
    # A comment outlives its author's account (author SET NULL) on the web, but a Mastodon
    # status always has an account, and Mastodon deletes a deleted account's statuses: the
    # statement leaves them out (`authored`), so every comment here has its author.
    written = [(c, c.author) for c in shown if c.author is not None]
    counts = await users.counts_of(session, {author.id for _, author in written})
    ctx = entities.Context(counts)
    return {
        "ancestors": [],
        "descendants": [entities.comment_status(c, a, item.post, ctx) for c, a in written],
    }


async def _like(post_id: int, *, like: bool) -> ResponseReturnValue:
    me = await user_with("write:favourites")
    item = await item_or_404(post_id, me)
    session = await write_session()
    try:
        await (likes.like if like else likes.unlike)(session, me.id, item.post)
        await session.commit()
    except IntegrityError:  # deleted since we looked: store nothing
        raise NotFound("Record not found") from None
    return await status_json(await item_or_404(post_id, me))


@bp.post("/api/v1/statuses/<id:post_id>/favourite")
async def favourite(post_id: int) -> ResponseReturnValue:
    return await _like(post_id, like=True)


@bp.post("/api/v1/statuses/<id:post_id>/unfavourite")
async def unfavourite(post_id: int) -> ResponseReturnValue:
    return await _like(post_id, like=False)


def _liker_key(liker: Liker) -> Cursor:
    return Cursor(liker.liked_at, liker.user.id)


async def _no_lookup(_id: int) -> Cursor | None:
    raise UnprocessableEntity("Page through people with the Link header's max_id")


@bp.get("/api/v1/statuses/<id:post_id>/favourited_by")
async def favourited_by(post_id: int) -> ResponseReturnValue:
    viewer = await viewer_with("read:statuses")
    await item_or_404(post_id, viewer)
    paging = http.paging()
    cursor = await http.cursor_of(paging.max, _no_lookup, FIRST)
    session, me = read_session(), viewer.id if viewer else None

    async def fetch(c: Cursor) -> Any:
        return await likes.likers(session, post_id, viewer=me, cursor=c)

    found, next_cursor = await http.take(fetch, cursor, paging.limit, _liker_key)
    counts = await users.counts_of(session, {liker.user.id for liker in found})
    body = [entities.account(liker.user, counts[liker.user.id]) for liker in found]
    return body, 200, http.link_header(found, next_cursor, _liker_key, paging.limit)

"""Accounts in the client API: who the token is, profiles, their posts and people, follows.

https://docs.joinmastodon.org/methods/accounts/
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from quart import Blueprint, current_app, request
from quart.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from werkzeug.exceptions import Forbidden, NotFound, UnprocessableEntity

from app import accounts
from app.api import entities, http
from app.api.auth import user_with, viewer_with
from app.api.load import context_for
from app.db import read_session, write_session
from app.models import User
from app.pagination import FIRST, MAX_ID, PAGE_SIZE, Cursor, Page
from app.queries import blocks, follows, posts, users
from app.queries.follows import Person
from app.queries.posts import FeedItem

bp = Blueprint("api_accounts", __name__)
RELATIONSHIPS_MAX = 40


async def user_or_404(user_id: int) -> User:
    user = await users.get_user(read_session(), user_id)
    if user is None or user.suspended_at is not None or not user.approved:
        raise NotFound("Record not found")
    return user


@bp.get("/api/v1/accounts/verify_credentials")
async def verify_credentials() -> ResponseReturnValue:
    me = await user_with("read:accounts")
    counts = await users.counts_of(read_session(), {me.id})
    return entities.credential_account(me, counts[me.id])


async def account_json(user: User) -> dict[str, Any]:
    counts = await users.counts_of(read_session(), {user.id})
    return entities.account(user, counts[user.id])


@bp.get("/api/v1/accounts/lookup")
async def lookup() -> ResponseReturnValue:
    await viewer_with("read:accounts")
    name = local_name(request.args.get("acct", ""))
    user = await users.get_user_by_username(read_session(), name) if name else None
    if user is None or user.suspended_at is not None or not user.approved:
        raise NotFound("Record not found")
    return await account_json(user)


def local_name(acct: str) -> str | None:
    """`name`, `@name` or `name@this.domain` → name; an account elsewhere, or a name nobody
    can have, → None (and no query)."""
    name, _, domain = acct.strip().removeprefix("@").partition("@")
    if domain and domain.lower() != urlsplit(current_app.config["BASE_URL"]).netloc.lower():
        return None
    return name if accounts.username_error(name) is None else None  # else nobody's


@bp.get("/api/v1/accounts/relationships")
async def relationships() -> ResponseReturnValue:
    me = await user_with("read:follows")
    raw = request.args.getlist("id[]") or request.args.getlist("id")
    digits = [v for v in raw[:RELATIONSHIPS_MAX] if v.isascii() and v.isdigit() and len(v) < 11]
    ids = [int(v) for v in digits if int(v) <= MAX_ID]  # others are nobody
    wanted = set(ids)
    session = read_session()
    following = await follows.followed_among(session, me.id, wanted)
    followed_by = await follows.followers_among(session, me.id, wanted)
    standing = await blocks.standing_among(session, me.id, wanted)
    return [
        entities.relationship(
            i,
            following=i in following,
            followed_by=i in followed_by,
            blocking=i in standing.blocking,
            blocked_by=i in standing.blocked_by,
            muting=i in standing.muting,
        )
        for i in dict.fromkeys(ids)
    ]


@bp.get("/api/v1/accounts/<id:user_id>")
async def show(user_id: int) -> ResponseReturnValue:
    await viewer_with("read:accounts")
    return await account_json(await user_or_404(user_id))


def _post_key(item: FeedItem) -> Cursor:
    return Cursor(item.post.created_at, item.post.id)


async def post_cursor(post_id: int) -> Cursor | None:
    found = await posts.get_post(read_session(), post_id)
    return None if found is None else _post_key(found)


Fetch = Callable[[Cursor], Awaitable[Page[FeedItem]]]
FetchAfter = Callable[[Cursor], Awaitable[list[FeedItem]]]


async def statuses_page(fetch: Fetch, after: FetchAfter) -> ResponseReturnValue:
    """A page of posts, Mastodon's way: `fetch` reads a page from a cursor on (older posts),
    `after` the posts right after a cursor (min_id)."""
    paging = http.paging()
    if paging.min is not None:
        cursor = await http.cursor_of(paging.min, post_cursor, FIRST)
        newer = await after(cursor)
        items = newer[-min(paging.limit, PAGE_SIZE) :]  # the oldest of them, newest first
        next_cursor = _post_key(items[-1]) if items else None
    else:
        cursor = await http.cursor_of(paging.max, post_cursor, FIRST)
        since = await http.cursor_of(paging.since, post_cursor, FIRST) if paging.since else None
        items, next_cursor = await http.take(fetch, cursor, paging.limit, _post_key, since)
    ctx = await context_for(items)
    body = [entities.status(item, ctx) for item in items]
    return body, 200, http.link_header(items, next_cursor, _post_key, paging.limit)


@bp.get("/api/v1/accounts/<id:user_id>/statuses")
async def statuses(user_id: int) -> ResponseReturnValue:
    viewer = await viewer_with("read:statuses")
    user = await user_or_404(user_id)
    if http.flag(dict(request.args), "pinned") or http.flag(dict(request.args), "only_media"):
        return []  # Warble has no pinned posts and no media
    session, me = read_session(), viewer.id if viewer else None

    async def fetch(cursor: Cursor) -> Page[FeedItem]:
        return await posts.user_posts(session, user.id, cursor, viewer=me)

    async def after(cursor: Cursor) -> list[FeedItem]:
        return await posts.feed_after(session, posts.BY_AUTHOR_AFTER, cursor, me, author=user.id)

    return await statuses_page(fetch, after)


def _person_key(person: Person) -> Cursor:
    return Cursor(person.followed_at, person.user.id)


async def _no_lookup(_id: int) -> Cursor | None:
    raise UnprocessableEntity("Page through people with the Link header's max_id")


async def _people(user_id: int, lister: Any) -> ResponseReturnValue:
    viewer = await viewer_with("read:accounts")
    user = await user_or_404(user_id)
    paging = http.paging()
    cursor = await http.cursor_of(paging.max, _no_lookup, FIRST)
    session, me = read_session(), viewer.id if viewer else None

    async def fetch(c: Cursor) -> Any:
        return await lister(session, user.id, viewer=me, cursor=c)

    people, next_cursor = await http.take(fetch, cursor, paging.limit, _person_key)
    counts = await users.counts_of(session, {p.user.id for p in people})
    body = [entities.account(p.user, counts[p.user.id]) for p in people]
    return body, 200, http.link_header(people, next_cursor, _person_key, paging.limit)


@bp.get("/api/v1/accounts/<id:user_id>/followers")
async def followers(user_id: int) -> ResponseReturnValue:
    return await _people(user_id, follows.followers)


@bp.get("/api/v1/accounts/<id:user_id>/following")
async def following(user_id: int) -> ResponseReturnValue:
    return await _people(user_id, follows.following)


async def relationship_json(session: AsyncSession, me: User, user: User) -> dict[str, Any]:
    """How `me` stands with `user` now, as a Relationship."""
    standing = await follows.relations(session, user.id, me.id)
    return entities.relationship(
        user.id,
        following=standing.i_follow,
        followed_by=await follows.is_following(session, user.id, me.id),
        blocking=standing.i_block,
        blocked_by=standing.blocks_me,
        muting=standing.i_mute,
    )


async def _follow(user_id: int, *, follow: bool) -> ResponseReturnValue:
    me = await user_with("write:follows")
    user = await user_or_404(user_id)
    if user.id == me.id:
        raise Forbidden("You cannot follow yourself")
    if follow:  # the web's rule (app/blueprints/users.py): no follow across a block
        standing = await follows.relations(read_session(), user.id, me.id)
        if standing.i_block or standing.blocks_me:
            raise Forbidden("You cannot follow an account you blocked or that blocked you")
    session = await write_session()
    try:
        await (follows.follow if follow else follows.unfollow)(session, me.id, user.id)
        await session.commit()
    except IntegrityError:  # the account was deleted since we looked: store nothing
        raise NotFound("Record not found") from None
    return await relationship_json(session, me, user)


@bp.post("/api/v1/accounts/<id:user_id>/follow")
async def follow(user_id: int) -> ResponseReturnValue:
    return await _follow(user_id, follow=True)


@bp.post("/api/v1/accounts/<id:user_id>/unfollow")
async def unfollow(user_id: int) -> ResponseReturnValue:
    return await _follow(user_id, follow=False)


BLOCKS = {"block": blocks.block, "unblock": blocks.unblock}
MUTES = {"mute": blocks.mute, "unmute": blocks.unmute}


async def _shun(user_id: int, verb: str) -> ResponseReturnValue:
    """Block, unblock, mute or unmute, idempotently, as the profile's menu does."""
    me = await user_with("write:blocks" if verb in BLOCKS else "write:mutes")
    user = await user_or_404(user_id)
    if user.id == me.id:
        raise UnprocessableEntity(f"You cannot {verb} yourself")
    session = await write_session()
    try:
        await (BLOCKS | MUTES)[verb](session, me.id, user.id)
        await session.commit()
    except IntegrityError:  # the account was deleted since we looked: store nothing
        raise NotFound("Record not found") from None
    return await relationship_json(session, me, user)


@bp.post("/api/v1/accounts/<id:user_id>/block")
async def block(user_id: int) -> ResponseReturnValue:
    return await _shun(user_id, "block")


@bp.post("/api/v1/accounts/<id:user_id>/unblock")
async def unblock(user_id: int) -> ResponseReturnValue:
    return await _shun(user_id, "unblock")


@bp.post("/api/v1/accounts/<id:user_id>/mute")
async def mute(user_id: int) -> ResponseReturnValue:
    return await _shun(user_id, "mute")


@bp.post("/api/v1/accounts/<id:user_id>/unmute")
async def unmute(user_id: int) -> ResponseReturnValue:
    return await _shun(user_id, "unmute")


def _listed_key(listed: blocks.Listed) -> Cursor:
    return Cursor(listed.since, listed.user.id)


async def _shunned(scope: str, lister: Any) -> ResponseReturnValue:
    """The accounts the token's user blocks (mutes), most recent first, paged by the Link
    header's max_id as people lists are."""
    me = await user_with(scope)
    paging = http.paging()
    cursor = await http.cursor_of(paging.max, _no_lookup, FIRST)
    session = read_session()

    async def fetch(c: Cursor) -> Any:
        return await lister(session, me.id, c)

    found, next_cursor = await http.take(fetch, cursor, paging.limit, _listed_key)
    counts = await users.counts_of(session, {listed.user.id for listed in found})
    body = [entities.account(listed.user, counts[listed.user.id]) for listed in found]
    return body, 200, http.link_header(found, next_cursor, _listed_key, paging.limit)


@bp.get("/api/v1/blocks")
async def blocked() -> ResponseReturnValue:
    return await _shunned("read:blocks", blocks.blocked_by)


@bp.get("/api/v1/mutes")
async def muted() -> ResponseReturnValue:
    return await _shunned("read:mutes", blocks.muted_by)

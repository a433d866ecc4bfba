"""Finding people: the directory (newest, most followed) and suggestions of whom to follow."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import exists, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Follow, Post, User
from app.pagination import (
    FETCH,
    FIRST,
    FIRST_RANK,
    Cursor,
    Page,
    Rank,
    RankedPage,
    cut,
    cut_ranked,
)
from app.queries import visibility

SUGGESTIONS = 5


class Member(NamedTuple):
    user: User
    followers: int
    i_follow: bool  # does the viewer follow them?


_followers = (
    select(func.count()).where(Follow.followed_id == User.id).correlate(User).scalar_subquery()
)


def _viewer_follows(viewer: int | None) -> Any:
    return exists().where(Follow.follower_id == (viewer or 0), Follow.followed_id == User.id)


async def newest(session: AsyncSession, viewer: int | None, cursor: Cursor = FIRST) -> Page[Member]:
    """Everyone, newest account first."""
    stmt = (
        select(User, _followers, _viewer_follows(viewer))
        .where(
            tuple_(User.created_at, User.id) < (cursor.at, cursor.id),
            visibility.listed(User, viewer or 0),
        )
        .order_by(User.created_at.desc(), User.id.desc())
        .limit(FETCH)
    )
    rows = [Member(*row) for row in await session.execute(stmt)]
    return cut(rows, lambda m: Cursor(m.user.created_at, m.user.id))


async def most_followed(
    session: AsyncSession, viewer: int | None, cursor: Rank = FIRST_RANK
) -> RankedPage[Member]:
    """Everyone, most followers first (ties: newest account first)."""
    stmt = (
        select(User, _followers, _viewer_follows(viewer))
        .where(
            tuple_(_followers, User.id) < (cursor.count, cursor.id),
            visibility.listed(User, viewer or 0),
        )
        .order_by(_followers.desc(), User.id.desc())
        .limit(FETCH)
    )
    rows = [Member(*row) for row in await session.execute(stmt)]
    return cut_ranked(rows, lambda m: Rank(m.followers, m.user.id))


async def suggestions(session: AsyncSession, viewer: int) -> list[Member]:
    """Up to five people to follow: the most followed, then the most recently active, never
    the viewer, someone they follow or mute, nor anyone a list of people leaves out."""
    followed = select(Follow.followed_id).where(Follow.follower_id == viewer)
    last_post = (
        select(func.max(Post.created_at))
        .where(Post.author_id == User.id)
        .correlate(User)
        .scalar_subquery()
    )
    stmt = (
        select(User, _followers)
        .where(
            User.id != viewer,
            User.id.not_in(followed),
            visibility.listed(User, viewer),
            ~visibility.muted(User.id, viewer),
        )
        .order_by(_followers.desc(), last_post.desc().nulls_last(), User.id.desc())
        .limit(SUGGESTIONS)
    )
    return [Member(user, count, False) for user, count in await session.execute(stmt)]

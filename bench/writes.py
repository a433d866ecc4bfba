"""Time Warble's writes (post, follow, comment), each in its own session and commit."""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import Post, User
from app.queries import comments, follows, posts
from bench.common import Viewer, summary


async def measure(
    sessions: async_sessionmaker[AsyncSession], viewers: list[Viewer], samples: int, seed: int
) -> dict[str, dict[str, Any]]:
    """p50/p99 of each write as a request makes it (user already loaded); undone afterwards."""
    rng = random.Random(seed)
    timings: dict[str, list[float]] = {"post": [], "follow": [], "comment": []}
    post_ids: list[int] = []
    comment_ids: list[tuple[int, int]] = []
    follow_pairs: list[tuple[int, int]] = []
    async with sessions() as session:
        users = await session.scalar(select(func.max(User.id))) or 1
        last_post = await session.scalar(select(func.max(Post.id))) or 1
    try:
        for number in range(samples):
            viewer = viewers[number % len(viewers)]
            async with sessions() as session:
                me = await session.get_one(User, viewer.user_id)
                started = time.perf_counter()
                post = await posts.create_post(session, me, f"Benchmark post {number}.")
                await session.commit()
                timings["post"].append(time.perf_counter() - started)
                post_ids.append(post.id)

                target = rng.randint(1, users)
                while target == me.id or await follows.is_following(session, me.id, target):
                    target = rng.randint(1, users)
                await session.commit()
                started = time.perf_counter()
                await follows.follow(session, me.id, target)
                await session.commit()
                timings["follow"].append(time.perf_counter() - started)
                follow_pairs.append((me.id, target))

                post_id = rng.randint(1, last_post)
                started = time.perf_counter()
                author = await comments.post_author_id(session, post_id) or me.id
                comment = await comments.add_comment(
                    session, post_id, author, me, f"Benchmark {number}."
                )
                await session.commit()
                timings["comment"].append(time.perf_counter() - started)
                comment_ids.append((comment.id, post_id))
    finally:
        async with sessions() as session:
            for comment_id, post_id in comment_ids:
                await comments.delete_comment(session, comment_id, post_id, 0)
            for post_id in post_ids:
                await posts.delete_post(session, post_id)
            for follower, followed in follow_pairs:
                await follows.unfollow(session, follower, followed)
            await session.commit()
    return {name: summary(values) for name, values in timings.items() if values}

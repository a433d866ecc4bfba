"""What an event means for a page's stream (app/blueprints/live.py): the SSE messages it
sends, rendered for that stream's viewer, and whom the stream leaves out. The events each
page hears are listed in live.py's docstring.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from quart import current_app
from sqlalchemy.ext.asyncio import AsyncSession

from app import text
from app.events import Subscriber, hub_of
from app.models import Comment, Event, Post
from app.queries import blocks, comments, follows, likes, notifications, timeline, users
from app.web import render_template


async def load_relations(session: AsyncSession, subscriber: Subscriber) -> None:
    """Whom this stream leaves out (app/queries/visibility.py: blocks either way, mutes), and
    on home whose posts it announces: the followees the timeline shows."""
    if subscriber.page in {"home", "post"}:
        subscriber.hidden = await blocks.hidden_ids(session, subscriber.user_id)
    if subscriber.page == "home":
        subscriber.followees = await timeline.shown_followee_ids(session, subscriber.user_id)


async def _relation_changed(subscriber: Subscriber, event: Event) -> None:
    """A block or a mute between the viewer and someone: a new one leaves that person out at
    once; one undone is read again (another block or mute may still stand)."""
    me = subscriber.user_id
    if event.actor_id == me:
        other = event.user_id
    elif event.user_id == me and event.kind in {"block", "unblock"}:
        other = event.actor_id  # a mute is the muter's alone: the muted hear nothing
    else:
        return
    if event.kind in {"block", "mute"} and other is not None:
        subscriber.hidden.add(other)
        subscriber.followees.discard(other)
        return
    async with hub_of(current_app).sessions()() as session:
        await load_relations(session, subscriber)


def sse_message(event: Event, name: str, data: str) -> bytes:
    """One SSE message: every line of the payload behind its own `data:`."""
    lines = [f"id: {event.id}", f"event: {name}"]
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


async def render(subscriber: Subscriber, event: Event) -> AsyncIterator[bytes]:
    """What `event` means for this stream's page, as SSE messages (often nothing)."""
    me = subscriber.user_id
    kind = event.kind
    if kind in {"notify", "read"} and event.user_id == me:
        count = await hub_of(current_app).load_once(
            event, "unread", partial(notifications.unread_count, user_id=me)
        )
        html = await render_template("partials/notifications_count.html", unread=count)
        yield sse_message(event, "count", html)
    elif kind in {"block", "unblock", "mute", "unmute"}:
        await _relation_changed(subscriber, event)
    elif kind == "post" and subscriber.page == "home":
        if event.actor_id in subscriber.followees:  # your own posts are on your page already
            yield sse_message(event, "new-post", json.dumps({"id": event.post_id}))
    elif kind in {"follow", "unfollow"}:
        if event.actor_id == me and event.user_id is not None:
            if kind == "follow" and event.user_id not in subscriber.hidden:
                subscriber.followees.add(event.user_id)
            else:
                subscriber.followees.discard(event.user_id)
        if subscriber.page == "profile" and event.user_id == subscriber.subject:
            count = await hub_of(current_app).load_once(
                event, "followers", partial(follows.follower_count, user_id=subscriber.subject)
            )
            html = f'<strong id="followers-count" hx-swap-oob="true">{count}</strong>'
            yield sse_message(event, "followers", html)
    elif kind == "comment" and _on_post(subscriber, event):
        if event.actor_id in subscriber.hidden:
            return  # a comment the post's page would not show this viewer
        async for message in _comment_added(event):
            yield message
    elif kind in {"like", "unlike"} and _on_post(subscriber, event):
        count = await hub_of(current_app).load_once(
            event, "likes", partial(likes.like_count, post_id=subscriber.subject)
        )
        html = await render_template("partials/like_count.html", post_id=event.post_id, count=count)
        yield sse_message(event, "likes", html)
    elif kind == "edit" and _on_post(subscriber, event):
        if event.actor_id in subscriber.hidden:
            return  # an author the viewer does not see (a mute shows the post page, not this)
        edited = await hub_of(current_app).load_once(
            event, "edit", partial(_load_edited_post, post_id=subscriber.subject)
        )
        if edited is not None:
            html = await render_template("partials/post_edited.html", **edited)
            yield sse_message(event, "edit", html)
    elif kind == "comment_deleted" and _on_post(subscriber, event):
        count = await hub_of(current_app).load_once(
            event, "comments", partial(comments.comment_count, post_id=subscriber.subject)
        )
        html = await render_template(
            "partials/comment_removed.html",
            comment_id=event.comment_id,
            post_id=subscriber.subject,
            count=count,
        )
        yield sse_message(event, "comment-gone", html)


def _on_post(subscriber: Subscriber, event: Event) -> bool:
    """On this post's page, and not the viewer's own doing (their page changed as they did
    it: the form's answer swapped it in or out)."""
    on_page = subscriber.page == "post" and event.post_id == subscriber.subject
    return on_page and event.actor_id != subscriber.user_id


async def _load_edited_post(session: AsyncSession, post_id: int) -> dict[str, Any] | None:
    """An edited post's text as it is now, and the users it mentions (none: deleted since)."""
    post = await session.get(Post, post_id)
    if post is None:
        return None
    mentions = await users.existing_usernames(session, text.mentioned([post.body]))
    return {"post": post, "mentions": mentions}


@dataclass(frozen=True)
class _NewComment:
    comment: Comment
    count: int
    post_author_id: int | None
    mentions: dict[str, str]


async def _load_new_comment(session: AsyncSession, comment_id: int) -> _NewComment | None:
    comment = await comments.get_comment_with_author(session, comment_id)
    if comment is None:
        return None  # deleted meanwhile
    return _NewComment(
        comment,
        await comments.comment_count(session, comment.post_id),
        await comments.post_author_id(session, comment.post_id),
        await users.existing_usernames(session, text.mentioned([comment.body])),
    )


async def _comment_added(event: Event) -> AsyncIterator[bytes]:
    """The new comment, read once for every stream on its post (Hub.load_once), rendered
    for this stream's viewer (who may delete it)."""
    new = await hub_of(current_app).load_once(
        event, "comment", partial(_load_new_comment, comment_id=event.comment_id or 0)
    )
    if new is None or (new.comment.author and new.comment.author.suspended_at):
        return  # deleted meanwhile, or by a suspended account: shown to nobody
    html = await render_template(
        "partials/comment_added.html",
        comment=new.comment,
        post_id=new.comment.post_id,
        count=new.count,
        mentions=new.mentions,
        post_author_id=new.post_author_id,
    )
    yield sse_message(event, "comment", html)

"""GET /events: the logged-in user's Server-Sent Events stream (app/events.py feeds it).

Each page opens one stream (`sse-connect` on <body>, htmx-ext-sse) and names itself in the
query string: `page=home`, `page=post&id=N`, `page=profile&id=N`, else `page=other`. The
stream sends what that page shows and can change:

- `count`: the navigation's unread-notification count (`#notifications-count`), every page;
- `new-post`: `{"id": N}` (JSON, for static/app.js's "new posts" banner), on home, when
  someone the viewer follows posts (not someone they muted, blocked or are blocked by);
- `comment`: a new comment's <li> for `#comment-list`, with the post's count out of band
  (never one by someone hidden from the viewer: app/queries/visibility.py);
  `comment-gone`: a deleted comment, removed out of band, and the count;
- `followers`: a profile's follower count (`#followers-count`), out of band;
- `likes`: a post page's like count (`#like-count-N`), out of band, when someone else likes
  or unlikes it (the count only: whether the viewer liked it is theirs to change);
- `edit`: a post page's text and "edited" mark, out of band, when its author edits it.

Every event carries its id; a browser that reconnects sends Last-Event-ID and gets what it
missed from the events table (a page also passes `after`, the newest id when it was
rendered). The heartbeat carries the newest id the stream has been through, so that the
Last-Event-ID of a page that hears little stays recent. No database session stays open while
the stream waits.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from quart import Blueprint, Response, current_app, g, request, stream_with_context
from quart.typing import ResponseReturnValue
from quart_auth import current_user
from sqlalchemy.ext.asyncio import AsyncSession

from app import sessions, text
from app.clock import utcnow
from app.db import read_session, release_session
from app.events import Hub, Subscriber, hub_of
from app.models import Comment, Event, Post, User
from app.queries import (
    blocks,
    comments,
    events,
    follows,
    likes,
    notifications,
    timeline,
    user_sessions,
    users,
)
from app.web import render_template

bp = Blueprint("live", __name__)

HEARTBEAT = 20.0  # seconds: keeps proxies from closing an idle stream, and notices a gone one
REPLAY_BATCH = 500  # events read at a time for a page that reconnects
PAGES = {"home", "post", "profile", "other"}


def _int_arg(value: str | None) -> int:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 10 else 0


# Tells the page to stop listening (`sse-close="close"` on <body>): an EventSource would
# otherwise reconnect for ever, and htmx-ext-sse retries even after a 204 (htmx-extensions#134).
CLOSE_MESSAGE = b"event: close\ndata: \n\n"


@bp.get("/events")
async def stream() -> ResponseReturnValue:
    """The stream; for a page whose session has ended, one `close` message."""
    if g.get("user") is None:
        return _sse(_closing())
    me, login = sessions.signed_in_user(), sessions.current_login()
    page = request.args.get("page", "other")
    subscriber = Subscriber(
        user_id=me.id,
        session_id=login.id,
        page=page if page in PAGES else "other",
        subject=_int_arg(request.args.get("id")),
    )
    resume = max(
        _int_arg(request.headers.get("Last-Event-ID")), _int_arg(request.args.get("after"))
    )
    await _load_relations(read_session(), subscriber)
    await release_session()  # nothing held open while the stream waits
    hub = hub_of(current_app)
    hub.subscribe(subscriber)
    token = str(current_user.auth_id)
    return _sse(stream_with_context(_events)(me, subscriber, resume, token))


async def _load_relations(session: AsyncSession, subscriber: Subscriber) -> None:
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
        await _load_relations(session, subscriber)


def _sse(body: AsyncIterator[bytes]) -> Response:
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    response.timeout = None  # a stream lasts as long as the page
    return response


async def _closing() -> AsyncIterator[bytes]:
    yield CLOSE_MESSAGE


async def _events(
    me: User, subscriber: Subscriber, resume: int, token: str
) -> AsyncIterator[bytes]:
    g.user = me  # the stream's context has a g of its own: templates check the viewer there
    hub = hub_of(current_app)
    replayed: set[int] = set()
    told = resume  # the page's Last-Event-ID: where it would resume if cut now
    try:
        yield b"retry: 2000\n\n"
        if resume:
            async for old in _missed(hub, resume):
                replayed.add(old.id)
                async for message in _render(subscriber, old):
                    told = old.id
                    yield message
        # The heartbeat is due HEARTBEAT seconds after the last thing sent, not after the last
        # event read: most events mean nothing to a given page, and a stream that heard many
        # of them would otherwise stay silent for minutes (found by bench/soak.py).
        loop = asyncio.get_running_loop()
        heartbeat_at = loop.time() + HEARTBEAT
        considered = 0
        while True:
            if subscriber.queue.empty():
                # The hub puts an event on every queue before it moves last_id past it: with
                # nothing queued, every event up to last_id has been through this stream.
                considered = hub.last_id or 0
            try:
                # asyncio.timeout, never wait_for: on Python 3.11 wait_for can swallow the
                # cancellation of a disconnect that arrives as the queue hands over an event
                # (cpython gh-86296), and the stream would then live on, unsubscribed never.
                async with asyncio.timeout_at(heartbeat_at):
                    event = await subscriber.queue.get()
            except TimeoutError:
                yield _heartbeat(considered if considered > told else None)
                told = max(told, considered)
                heartbeat_at = loop.time() + HEARTBEAT
                continue
            if event is None:  # closed: shutdown, too many streams, or the session ended
                if subscriber.ended:  # expired (the hub checks every stream's each minute)
                    yield CLOSE_MESSAGE
                return
            if event.id in replayed:
                continue
            if event.kind == "session_end" and event.user_id == subscriber.user_id:
                if event.session_id in (None, subscriber.session_id) and not (
                    await _session_alive(token)
                ):
                    yield CLOSE_MESSAGE
                    return
                continue
            async for message in _render(subscriber, event):
                heartbeat_at = loop.time() + HEARTBEAT
                told = event.id
                yield message
    finally:
        hub.unsubscribe(subscriber)


async def _missed(hub: Hub, resume: int) -> AsyncIterator[Event]:
    """Every event after `resume`, a batch at a time (the table keeps a day of them). The
    heartbeat keeps a quiet page's Last-Event-ID recent, so a reconnection reads a few
    seconds' worth: a replay cut at one batch lost what came after it (bench/soak.py)."""
    while True:
        async with hub.sessions()() as session:
            batch = await events.after(session, resume, REPLAY_BATCH)
        for event in batch:
            yield event
        if len(batch) < REPLAY_BATCH:
            return
        resume = batch[-1].id


def _heartbeat(position: int | None) -> bytes:
    """An SSE comment; with `position`, also an id without data, which moves the browser's
    Last-Event-ID past the events that meant nothing to this page without firing one."""
    if position is None:
        return b": heartbeat\n\n"
    return b": heartbeat\nid: %d\n\n" % position


async def _session_alive(token: str) -> bool:
    async with hub_of(current_app).sessions()() as session:
        found = await user_sessions.active_session(session, sessions.token_hash(token), utcnow())
    return found is not None


def _message(event: Event, name: str, data: str) -> bytes:
    """One SSE message: every line of the payload behind its own `data:`."""
    lines = [f"id: {event.id}", f"event: {name}"]
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


async def _render(subscriber: Subscriber, event: Event) -> AsyncIterator[bytes]:
    """What `event` means for this stream's page, as SSE messages (often nothing)."""
    me = subscriber.user_id
    kind = event.kind
    if kind in {"notify", "read"} and event.user_id == me:
        count = await hub_of(current_app).load_once(
            event, "unread", partial(notifications.unread_count, user_id=me)
        )
        html = await render_template("partials/notifications_count.html", unread=count)
        yield _message(event, "count", html)
    elif kind in {"block", "unblock", "mute", "unmute"}:
        await _relation_changed(subscriber, event)
    elif kind == "post" and subscriber.page == "home":
        if event.actor_id in subscriber.followees:  # your own posts are on your page already
            yield _message(event, "new-post", json.dumps({"id": event.post_id}))
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
            yield _message(event, "followers", html)
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
        yield _message(event, "likes", html)
    elif kind == "edit" and _on_post(subscriber, event):
        if event.actor_id in subscriber.hidden:
            return  # an author the viewer does not see (a mute shows the post page, not this)
        edited = await hub_of(current_app).load_once(
            event, "edit", partial(_load_edited_post, post_id=subscriber.subject)
        )
        if edited is not None:
            html = await render_template("partials/post_edited.html", **edited)
            yield _message(event, "edit", html)
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
        yield _message(event, "comment-gone", html)


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
    yield _message(event, "comment", html)

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
from collections.abc import AsyncIterator

from quart import Blueprint, Response, current_app, g, request, stream_with_context
from quart.typing import ResponseReturnValue
from quart_auth import current_user

from app import sessions
from app.blueprints.live_messages import load_relations, render
from app.clock import utcnow
from app.db import read_session, release_session
from app.events import Hub, Subscriber, hub_of
from app.models import Event, User
from app.queries import events, user_sessions

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
    await load_relations(read_session(), subscriber)
    await release_session()  # nothing held open while the stream waits
    hub = hub_of(current_app)
    hub.subscribe(subscriber)
    token = str(current_user.auth_id)
    return _sse(stream_with_context(_events)(me, subscriber, resume, token))


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
                async for message in render(subscriber, old):
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
            async for message in render(subscriber, event):
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

"""Live delivery: each worker's hub reads new events and hands them to its open streams.

The path of an event (docs/architecture.md): a write records it in the `events` table in its
own transaction (app/queries/events.py) → on commit, PostgreSQL NOTIFYs every worker's
listener, a dedicated asyncpg connection (SQLite has no NOTIFY: each worker polls the table
every POLL_SQLITE seconds, one indexed query shared by all its streams) → the hub loads the
events after the last one it saw and puts them on the queue of each subscriber (one per open
stream) → the stream (app/blueprints/live.py) decides what the event means for its page and
renders it with the viewer's permissions.

Whatever happens to the listener, nothing is lost: the hub always reads the table by id, so
a reconnect (or a missed NOTIFY) only delays events, and a stream resumes after the browser's
Last-Event-ID in the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from quart import Quart
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import utcnow
from app.models import Event
from app.queries import events, user_sessions

log = logging.getLogger(__name__)

POLL_SQLITE = 0.1  # seconds between reads of the events table on SQLite (bench/streams.py)
POLL_SAFETY = 5.0  # PostgreSQL: read anyway this often, in case a NOTIFY went missing
# Sessions also end without an event (they expire): the hub checks its streams' sessions this
# often, in one query per SESSION_BATCH streams, and ends the streams of those that ended.
CHECK_SESSIONS_EVERY = 60.0
SESSION_BATCH = 500
PING_EVERY = 5.0  # PostgreSQL: a listener that stopped answering is replaced (asyncpg#519)
# An id that is missing may belong to a transaction that has not committed yet (ids are
# handed out before commit): the hub waits this long for it before moving past it.
GAP_PATIENCE = timedelta(seconds=3)
KEEP_EVENTS = timedelta(days=1)
BATCH = 500
MAX_STREAMS_PER_USER = 8
CLOSE = None  # put on a subscriber's queue: the stream ends
TASK_NAME = "warble-events"  # the hub's background tasks (the reader's is awaited first on stop)
LOADED_KEEP = 256  # what recent events' streams loaded, shared (Hub.load_once)

T = TypeVar("T")


@dataclass(eq=False)
class Subscriber:
    """One open stream: who it is for and what page it serves."""

    user_id: int
    session_id: int
    page: str  # home, post, profile or other
    subject: int = 0  # the post's or the profile's id
    followees: set[int] = field(default_factory=set)  # home: whose new posts it hears of
    hidden: set[int] = field(default_factory=set)  # blocked either way, or muted: unheard
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    ended: bool = False  # its session ended: the page is told to stop listening

    def close(self) -> None:
        self.queue.put_nowait(CLOSE)

    def end(self) -> None:
        self.ended = True
        self.close()


class Hub:
    def __init__(self, app: Quart) -> None:
        self.app = app
        self.subscribers: dict[int, list[Subscriber]] = defaultdict(list)
        self.last_id: int | None = None  # None: not read yet
        self.seen: set[int] = set()  # ids above last_id already delivered
        self.gaps: dict[int, datetime] = {}  # a missing id -> when it was first missed
        self.wake = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.listener: asyncpg.Connection | None = None
        self.stopping = False
        self.loaded: OrderedDict[tuple[int, str], asyncio.Future[Any]] = OrderedDict()

    # -- subscribers -------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> None:
        """Add a stream; a user's oldest stream closes beyond MAX_STREAMS_PER_USER."""
        streams = self.subscribers[subscriber.user_id]
        streams.append(subscriber)
        while len(streams) > MAX_STREAMS_PER_USER:
            streams.pop(0).close()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        streams = self.subscribers.get(subscriber.user_id, [])
        if subscriber in streams:
            streams.remove(subscriber)
        if not streams:
            self.subscribers.pop(subscriber.user_id, None)

    def close_all(self) -> None:
        for streams in list(self.subscribers.values()):
            for subscriber in streams:
                subscriber.close()

    @property
    def stream_count(self) -> int:
        return sum(len(streams) for streams in self.subscribers.values())

    async def load_once(
        self, event: Event, what: str, load: Callable[[AsyncSession], Awaitable[T]]
    ) -> T:
        """`load` read once per worker for this event, however many of its streams need it:
        a comment on a post that 1,000 people have open costs one read, not 1,000. Streams
        still render with their own viewer; only what is the same for everyone is shared."""
        key = (event.id, what)
        loading = self.loaded.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(load))
            self.loaded[key] = loading
            loading.add_done_callback(lambda done: self._forget_failed(key, done))
            while len(self.loaded) > LOADED_KEEP:
                self.loaded.popitem(last=False)
        result: T = await asyncio.shield(loading)
        return result

    def _forget_failed(self, key: tuple[int, str], done: asyncio.Future[Any]) -> None:
        """A failed read is not kept: the next stream that needs it tries again."""
        if (done.cancelled() or done.exception() is not None) and self.loaded.get(key) is done:
            del self.loaded[key]

    async def _load(self, load: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.sessions()() as session:
            return await load(session)

    # -- sessions that end without an event --------------------------------------------------

    async def _session_loop(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SESSIONS_EVERY)
            try:
                await self.end_streams_of_ended_sessions()
            except Exception:  # a database outage: the next round checks again
                log.warning("could not check the streams' sessions", exc_info=True)

    async def end_streams_of_ended_sessions(self) -> None:
        """End every stream whose session has expired or been deleted: one query per
        SESSION_BATCH streams, not one per stream."""
        streams = [s for user_streams in self.subscribers.values() for s in user_streams]
        ids = sorted({s.session_id for s in streams})
        alive: set[int] = set()
        for start in range(0, len(ids), SESSION_BATCH):
            async with self.sessions()() as session:
                batch = ids[start : start + SESSION_BATCH]
                alive |= await user_sessions.alive(session, batch, utcnow())
        for subscriber in streams:
            if subscriber.session_id not in alive:
                subscriber.end()

    # -- reading the table -------------------------------------------------------------------

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        maker: async_sessionmaker[AsyncSession] = self.app.extensions["db_reader"]
        return maker

    async def start(self) -> None:
        """Start reading (from the newest event at the first successful read: a worker that
        starts during a database outage starts anyway)."""
        self.tasks.append(asyncio.create_task(self._read_loop(), name=f"{TASK_NAME}-reader"))
        if self._dialect() == "postgresql":
            self.tasks.append(asyncio.create_task(self._listen_loop(), name=f"{TASK_NAME}-listen"))
        self.tasks.append(asyncio.create_task(_watch_shutdown(self), name=f"{TASK_NAME}-shutdown"))
        self.tasks.append(asyncio.create_task(self._session_loop(), name=f"{TASK_NAME}-sessions"))

    async def stop(self) -> None:
        """Close the streams and let the reader finish its read (cancelling it mid-query
        would leave the database driver calling back into a closed loop)."""
        self.close_all()
        self.stopping = True
        self.wake.set()
        reader, *others = self.tasks
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await asyncio.shield(reader)
        for task in (reader, *others):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.listener is not None:
            with contextlib.suppress(Exception):
                await self.listener.close()

    def _dialect(self) -> str:
        return str(self.app.extensions["db_engine"].dialect.name)

    async def _read_loop(self) -> None:
        """Read new events whenever woken (NOTIFY) or at the latest every poll interval."""
        every = POLL_SQLITE if self._dialect() == "sqlite" else POLL_SAFETY
        forgotten_at = utcnow()
        self.wake.set()  # read at once: the starting point
        while True:
            # asyncio.timeout, not wait_for, here and below: wait_for can swallow a
            # cancellation on Python 3.11 (cpython gh-86296), and stop() cancels these loops.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every):
                    await self.wake.wait()
            self.wake.clear()
            if self.stopping:
                return
            try:
                await self.read_new()
                if utcnow() - forgotten_at > timedelta(hours=1):
                    forgotten_at = utcnow()
                    await self._forget_old()
            except Exception:  # a database outage: try again at the next interval
                log.warning("could not read events; retrying", exc_info=True)

    async def read_new(self) -> None:
        """Deliver the events after last_id that have not been delivered yet.

        Ids are handed out before commit, so a lower id can commit after a higher one: an id
        missing below the newest one seen is waited for (GAP_PATIENCE), then given up (a
        rolled-back transaction leaves such a hole for ever).
        """
        if self.last_id is None:
            async with self.sessions()() as session:
                self.last_id = await events.last_id(session)
        while True:
            async with self.sessions()() as session:
                found = await events.after(session, self.last_id, BATCH)
            for event in found:
                if event.id not in self.seen:
                    self.seen.add(event.id)
                    self.deliver(event)
            self._advance(utcnow())
            if len(found) < BATCH:
                return

    def _advance(self, now: datetime) -> None:
        assert self.last_id is not None
        newest = max(self.seen, default=self.last_id)
        for missing in range(self.last_id + 1, newest):
            if missing not in self.seen:
                self.gaps.setdefault(missing, now)
        while self.last_id < newest:
            following = self.last_id + 1
            if following in self.seen:
                self.seen.discard(following)
            elif now - self.gaps.get(following, now) >= GAP_PATIENCE:
                self.gaps.pop(following, None)
            else:
                break
            self.last_id = following

    def deliver(self, event: Event) -> None:
        for streams in self.subscribers.values():
            for subscriber in streams:
                subscriber.queue.put_nowait(event)

    async def _forget_old(self) -> None:
        async with self.app.extensions["db_writer"]() as session:
            await events.forget_before(session, utcnow() - KEEP_EVENTS)
            await session.commit()

    # -- PostgreSQL's NOTIFY -----------------------------------------------------------------

    async def _listen_loop(self) -> None:
        """One dedicated connection per worker LISTENs (a pooled one would be handed to
        requests: asyncpg#189); a dead one is noticed by a termination callback or a failed
        ping, and replaced. After each (re)connect the hub reads the table: what was
        committed while nobody listened arrives then."""
        while True:
            lost = asyncio.Event()
            try:
                self.listener = await self._connect_listener(lost)
                self.wake.set()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(PING_EVERY):
                            await lost.wait()
                    if not lost.is_set():
                        async with asyncio.timeout(PING_EVERY):
                            await self.listener.fetchval("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event listener lost; reconnecting", exc_info=True)
            if self.listener is not None:
                with contextlib.suppress(Exception):
                    self.listener.terminate()
                self.listener = None
            await asyncio.sleep(0.5)

    async def _connect_listener(self, lost: asyncio.Event) -> asyncpg.Connection:
        url = make_url(self.app.config["DATABASE_URL"])
        settings = {"application_name": "warble-events"}
        if schema := self.app.config["DATABASE_SCHEMA"]:
            settings["search_path"] = schema
        connection: asyncpg.Connection = await asyncpg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database,
            server_settings=settings,
        )
        connection.add_termination_listener(lambda _c: lost.set())
        # The channel publish() notifies: named after the schema the tables are found in.
        channel = await connection.fetchval(
            "SELECT $1::text || current_schema()", events.CHANNEL_PREFIX
        )
        await connection.add_listener(channel, lambda *_args: self.wake.set())
        return connection


async def _watch_shutdown(hub: Hub) -> None:
    """Close every stream as soon as hypercorn starts shutting down.

    Hypercorn waits up to graceful_timeout for open responses before it stops a worker, and a
    stream never ends by itself: without this, every restart would take that long. Hypercorn
    tells its connections through its WorkerContext's `terminated` event, which an ASGI app is
    not handed; each worker has exactly one, made just after start-up (the lifespan), so it is
    looked for then, once. The browsers reconnect (to another worker, or to this one
    restarted) and resume after their Last-Event-ID.
    """
    for _ in range(50):  # the context appears right after start-up; give up after 5 s
        await asyncio.sleep(0.1)
        terminated = _hypercorn_terminated_event()
        if terminated is not None:
            await terminated.wait()
            hub.close_all()
            return


def _hypercorn_terminated_event() -> Any:
    with contextlib.suppress(ImportError):
        from hypercorn.asyncio.worker_context import WorkerContext

        for obj in gc.get_objects():
            if isinstance(obj, WorkerContext):
                return obj.terminated
    return None


def init_app(app: Quart) -> None:
    @app.template_global()
    def live_after() -> int:
        """The newest event this worker has read: a page's stream resumes after it."""
        hub: Hub | None = app.extensions.get("events_hub")
        return (hub.last_id or 0) if hub else 0

    @app.before_serving
    async def start_hub() -> None:
        hub = Hub(app)
        app.extensions["events_hub"] = hub
        await hub.start()

    @app.after_serving
    async def stop_hub() -> None:
        await app.extensions.pop("events_hub").stop()


def hub_of(app: Quart) -> Hub:
    hub: Hub = app.extensions["events_hub"]
    return hub

"""Fixtures: a fresh database per test on every backend, the app, a client, and factories."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol
from quart_auth import generate_auth_token
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app import create_app
from app.clock import utcnow
from app.db import Base, make_engine
from app.models import User
from app.queries import users
from app.sessions import issue_token
from tests.hashing import CHEAP_ARGON2, PASSWORD, PASSWORD_HASH

__all__ = ["PASSWORD", "PASSWORD_HASH"]  # tests import them from here

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgres"] if TEST_DATABASE_URL else ["sqlite"]
CSRF = "test-csrf-token"


def pytest_report_header() -> str:
    where = TEST_DATABASE_URL or "not set: PostgreSQL tests are not collected"
    return f"backends: {', '.join(BACKENDS)} (TEST_DATABASE_URL {where})"


def pytest_sessionstart(session: pytest.Session) -> None:
    """With TEST_DATABASE_URL set, an unreachable PostgreSQL fails the run, never skips it."""
    if not TEST_DATABASE_URL:
        return

    async def ping() -> None:
        engine = make_engine(TEST_DATABASE_URL)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(asyncio.wait_for(ping(), 10))
    except Exception as error:
        pytest.exit(f"TEST_DATABASE_URL={TEST_DATABASE_URL} is unreachable: {error!r}", 3)


@dataclass
class Database:
    backend: str
    url: str
    schema: str | None = None

    def engine(self, **options: Any) -> AsyncEngine:
        return make_engine(self.url, schema=self.schema, **options)

    def environ(self) -> dict[str, str]:
        """The environment that points the `warble` command at this database."""
        env = {"DATABASE_URL": self.url}
        if self.schema:
            env["DATABASE_SCHEMA"] = self.schema
        return env


@pytest.fixture(params=BACKENDS)
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no tables: a temp SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'warble.db'}")
        return
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(TEST_DATABASE_URL)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Database("postgres", TEST_DATABASE_URL, schema)
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def db(empty_db: Database) -> Database:
    """A database with Warble's tables (migrations are tested on their own in test_migrations)."""
    engine = empty_db.engine()
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()
    return empty_db


AppFactory = Callable[..., Awaitable[Any]]


@pytest.fixture
async def make_app(db: Database, tmp_path: Path) -> AsyncIterator[AppFactory]:
    """`await make_app(**overrides)`: Warble on this test's database with its startup hooks run
    (engine created inside the test's loop), shut down when the test ends.

    One test, one configuration: every app a test builds must have the same overrides (a second
    worker, say). So a test that also uses the default `app` (through `client`, `make_client`...)
    cannot quietly build a configured one beside it; a configured test builds its clients from
    the app it configured: `Client(configured.test_client())`.
    """
    base = {
        "DATABASE_URL": db.url,
        "DATABASE_SCHEMA": db.schema,
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": "test secret key",
        "SECURE_COOKIES": False,
        "REGISTRATION_OPEN": True,
        "RATE_LIMITS": False,
        "AVATARS": "identicon",
        **CHEAP_ARGON2,
    }
    configurations: list[dict[str, Any]] = []
    async with AsyncExitStack() as apps:

        async def make(**overrides: Any) -> Any:
            if configurations and configurations[0] != overrides:
                pytest.fail(
                    f"this test already has an app with overrides {configurations[0]}, and asked "
                    f"for one with {overrides}: use one configuration, and the clients of its app"
                )
            warble = create_app(base | overrides)
            configurations.append(overrides)
            return await apps.enter_async_context(warble.test_app())

        yield make


@pytest.fixture
async def app(make_app: AppFactory) -> Any:
    """The app with the test overrides only; tests that need other settings call `make_app`."""
    return await make_app()


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    """A session of our own, beside any app, to arrange data and to check what the app wrote."""
    engine = db.engine()
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as s:
            yield s
    finally:
        await engine.dispose()


class Client:
    """Quart's test client, plus the CSRF token, htmx headers and logging in."""

    def __init__(self, raw: TestClientProtocol) -> None:
        self.raw = raw

    @staticmethod
    def _headers(htmx: bool, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"HX-Request": "true"} if htmx else {}
        return headers | (extra or {})

    async def get(self, path: str, *, htmx: bool = False, headers: dict | None = None) -> Any:
        return await self.raw.get(path, headers=self._headers(htmx, headers))

    async def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        htmx: bool = False,
        csrf: bool = True,
        headers: dict | None = None,
    ) -> Any:
        form = dict(data or {})
        if csrf:
            await self.use_csrf()
            form.setdefault("csrf_token", CSRF)
        return await self.raw.post(path, form=form, headers=self._headers(htmx, headers))

    async def use_csrf(self) -> None:
        """Put a known token in the session (login and logout rotate it, as they must)."""
        async with self.raw.session_transaction() as s:
            s["csrf"] = CSRF

    async def login(self, user: User) -> None:
        """Log in by cookie, as a browser would after POST /login (without the argon2 cost):
        a session row of the user's, and the cookie that names it."""
        async with self.raw.app.extensions["db_writer"]() as session:
            token = await issue_token(
                session,
                user.id,
                remember=False,
                user_agent="test client",
                expires_at=utcnow() + timedelta(days=1),
            )
            await session.commit()
        self.raw.set_cookie("localhost", "warble_auth", generate_auth_token(self.raw, token))

    def logout(self) -> None:
        self.raw.delete_cookie("localhost", "warble_auth")


@pytest.fixture
def client(app: Any) -> Client:
    return Client(app.test_client())


@pytest.fixture
def make_client(app: Any) -> Callable[[], Client]:
    """A second (third...) browser: its own cookies."""
    return lambda: Client(app.test_client())


@pytest.fixture
def make_user(session: AsyncSession) -> Callable[..., Awaitable[User]]:
    async def make(username: str = "john", email: str | None = None, **fields: Any) -> User:
        user = await users.create_user(
            session, username, email or f"{username.lower()}@example.com", PASSWORD_HASH
        )
        for name, value in fields.items():
            setattr(user, name, value)
        await session.commit()
        session.expunge(user)  # detached: later expire_all() calls leave its attributes readable
        return user

    return make


async def body(response: Any) -> str:
    return (await response.get_data()).decode()


def csrf_from(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no csrf-token meta"
    return match.group(1)


@pytest.fixture
def make_post(session: AsyncSession) -> Callable[..., Awaitable[Any]]:
    """Create a post; `at` sets its time (timezone-aware), else now."""
    from app.models import Post

    async def make(author: User, body: str = "hello", at: Any = None) -> Post:
        post = Post(author_id=author.id, body=body)
        if at is not None:
            post.created_at = at
        session.add(post)
        await session.commit()
        session.expunge(post)
        return post

    return make


@pytest.fixture
def make_token(session: AsyncSession) -> Callable[..., Awaitable[str]]:
    """An app and a client API token of `user`'s with `scopes`, made in the database (the
    OAuth flow itself is tested in test_api.py): returns the raw token."""
    import secrets

    from app.api.auth import digest
    from app.queries import oauth

    async def make(user: User | None, scopes: str = "read write follow push") -> str:
        now = utcnow()
        app = await oauth.create_app(
            session,
            client_id=secrets.token_hex(8),
            secret_hash=digest("secret"),
            name="Test app",
            redirect_uris=["urn:ietf:wg:oauth:2.0:oob"],
            scopes=scopes,
            website=None,
            now=now,
        )
        raw = f"token-{app.id}"
        await oauth.create_token(
            session,
            token_hash=digest(raw),
            app_id=app.id,
            user_id=user.id if user else None,
            scopes=scopes,
            now=now,
        )
        await session.commit()
        return raw

    return make


@pytest.fixture
def count_rows(session: AsyncSession) -> Callable[[Any], Awaitable[int]]:
    """How many rows a table holds now, as the app committed them."""
    from sqlalchemy import func, select

    async def count(model: Any) -> int:
        session.expire_all()
        return await session.scalar(select(func.count()).select_from(model)) or 0

    return count

"""Warble as a user runs it: migrate, then hypercorn as a subprocess; and data written directly."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.clock import utcnow
from app.db import make_engine
from app.models import Comment, Post
from app.queries import follows, tags, users
from tests.hashing import PASSWORD_HASH, cheap_argon2_environ

BIN = Path(sys.executable).parent  # the virtualenv's bin: warble and hypercorn live here
MINUTE = timedelta(minutes=1)


def unique_name(prefix: str) -> str:
    """A username no other test uses (3-30 letters, digits, underscores)."""
    return f"{prefix[:18]}_{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running Warble: its base URL, the database it uses and its hypercorn process."""

    backend: str
    database_url: str
    schema: str | None
    folder: Path
    url: str = ""
    process: asyncio.subprocess.Process | None = None
    log: IO[bytes] | None = field(default=None, repr=False)

    def environ(self) -> dict[str, str]:
        env = (
            os.environ
            | cheap_argon2_environ()
            | {
                "DATABASE_URL": self.database_url,
                "SECRET_KEY": "browser tests secret key",
                "SECURE_COOKIES": "false",  # plain http: Chromium drops Secure cookies
                "RATE_LIMITS": "off",
                "REGISTRATION_OPEN": "true",
                "AVATARS": "identicon",
                "WARBLE_INSTANCE": str(self.folder),
            }
        )
        env.pop("DATABASE_SCHEMA", None)
        if self.schema:
            env["DATABASE_SCHEMA"] = self.schema
        return env

    def engine(self) -> AsyncEngine:
        return make_engine(self.database_url, schema=self.schema)

    def log_text(self) -> str:
        path = self.folder / "hypercorn.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def start(self) -> None:
        """Migrate as its own step, then serve with hypercorn and wait until it answers."""
        if self.schema:
            await _execute(self.database_url, f'CREATE SCHEMA "{self.schema}"')
        migrate = await asyncio.to_thread(
            subprocess.run,
            [str(BIN / "warble"), "db", "upgrade"],
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"warble db upgrade failed:\n{migrate.stdout}{migrate.stderr}")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = (self.folder / "hypercorn.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            *[str(BIN / "hypercorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            "app:create_app()",
            env=self.environ(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(30):
                while not await asyncio.to_thread(self._answers):
                    if self.process.returncode is not None:
                        raise RuntimeError(f"hypercorn exited early:\n{self.log_text()}")
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise RuntimeError(f"hypercorn did not answer in 30 s:\n{self.log_text()}") from None

    def _answers(self) -> bool:
        try:
            # Our own http://127.0.0.1 URL, never a user-supplied scheme.
            with urllib.request.urlopen(f"{self.url}/login", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    async def stop(self) -> None:
        """Stop hypercorn by its process id: SIGTERM, then SIGKILL if it lingers."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(15):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self.log is not None:
            self.log.close()
        if self.schema:
            await _execute(self.database_url, f'DROP SCHEMA "{self.schema}" CASCADE')

    # -- arranging data directly in the database (faster than clicking it together) ----------

    async def make_user(
        self, prefix: str = "user", about: str = "", *, exact: bool = False
    ) -> tuple[str, int]:
        """A new account with PASSWORD, named prefix_<random> (or prefix if exact); (name, id)."""
        username = prefix if exact else unique_name(prefix)
        engine = self.engine()
        try:
            async with async_sessionmaker(engine, expire_on_commit=False)() as session:
                user = await users.create_user(
                    session, username, f"{username.lower()}@example.com", PASSWORD_HASH
                )
                user.about_me = about
                await session.commit()
                return username, user.id
        finally:
            await engine.dispose()

    async def make_posts(
        self,
        author_id: int,
        bodies: list[str],
        newest: datetime | None = None,
        step: timedelta = MINUTE,
    ) -> list[int]:
        """Posts `step` apart, the first of `bodies` the oldest; returns their ids."""
        newest = newest or utcnow() - timedelta(minutes=1)
        start = newest - step * (len(bodies) - 1)
        engine = self.engine()
        try:
            async with async_sessionmaker(engine, expire_on_commit=False)() as session:
                posts = [
                    Post(author_id=author_id, body=body, created_at=start + step * i)
                    for i, body in enumerate(bodies)
                ]
                session.add_all(posts)
                await session.flush()
                for post in posts:  # as posting writes them
                    await tags.set_post_tags(session, post.id, post.body)
                await session.commit()
                return [post.id for post in posts]
        finally:
            await engine.dispose()

    async def make_comments(
        self, post_id: int, comments: list[tuple[int, str]], newest: datetime | None = None
    ) -> None:
        """Comments (author id, body) one minute apart, oldest first."""
        newest = newest or utcnow() - timedelta(minutes=1)
        start = newest - timedelta(minutes=len(comments) - 1)
        engine = self.engine()
        try:
            async with async_sessionmaker(engine)() as session:
                session.add_all(
                    Comment(
                        post_id=post_id,
                        author_id=author,
                        body=body,
                        created_at=start + timedelta(minutes=i),
                    )
                    for i, (author, body) in enumerate(comments)
                )
                await session.commit()
        finally:
            await engine.dispose()

    async def follow(self, follower_id: int, followed_id: int) -> None:
        engine = self.engine()
        try:
            async with async_sessionmaker(engine)() as session:
                await follows.follow(session, follower_id, followed_id)
                await session.commit()
        finally:
            await engine.dispose()

    async def execute(self, sql: str, **params: object) -> None:
        """Change the database behind the app's back (say, what another tab did)."""
        engine = self.engine()
        try:
            async with engine.begin() as connection:
                await connection.execute(text(sql), params)
        finally:
            await engine.dispose()

    async def scalar(self, sql: str, **params: object) -> object:
        """One value from the database, as the app committed it."""
        engine = self.engine()
        try:
            async with engine.connect() as connection:
                return (await connection.execute(text(sql), params)).scalar()
        finally:
            await engine.dispose()


async def _execute(url: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()

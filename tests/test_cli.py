"""The `warble` command, run as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from app.models import User
from app.passwords import verify_password
from tests.hashing import cheap_argon2_environ


def warble(db, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = os.environ | cheap_argon2_environ() | db.environ() | {"SECRET_KEY": "cli"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


async def test_db_upgrade_then_check(empty_db):
    result = warble(empty_db, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    result = warble(empty_db, "db", "check")
    assert result.returncode == 0, result.stderr


async def test_user_create_and_set_password(db, session):
    created = warble(
        db,
        "user",
        "create",
        "Susan",
        "--email",
        "s@example.com",
        "--password-stdin",
        stdin="first pass\n",
    )
    assert created.returncode == 0, created.stderr
    user = await session.scalar(select(User).where(User.username == "Susan"))
    assert user is not None and user.email == "s@example.com"
    assert await verify_password(user.password_hash, "first pass")

    changed = warble(db, "user", "set-password", "susan", "--password-stdin", stdin="second pass\n")
    assert changed.returncode == 0, changed.stderr
    session.expire_all()
    user = await session.scalar(select(User).where(User.username == "Susan"))
    assert await verify_password(user.password_hash, "second pass")


async def test_user_create_refuses_duplicates_and_bad_input(db, make_user):
    await make_user("susan")
    taken = warble(
        db,
        "user",
        "create",
        "SUSAN",
        "--email",
        "x@example.com",
        "--password-stdin",
        stdin="long enough\n",
    )
    assert taken.returncode == 1
    assert "taken" in taken.stderr
    short = warble(
        db,
        "user",
        "create",
        "newbie",
        "--email",
        "n@example.com",
        "--password-stdin",
        stdin="short\n",
    )
    assert short.returncode == 1 and "at least 8" in short.stderr
    bad = warble(
        db,
        "user",
        "create",
        "x!",
        "--email",
        "n@example.com",
        "--password-stdin",
        stdin="long enough\n",
    )
    assert bad.returncode == 1 and "username" in bad.stderr


async def test_set_password_for_unknown_user_fails(db):
    result = warble(db, "user", "set-password", "ghost", "--password-stdin", stdin="long enough\n")
    assert result.returncode == 1
    assert "no user named 'ghost'" in result.stderr


async def test_unreachable_database_is_a_clear_error(tmp_path):
    from tests.conftest import Database

    db = Database("postgres", "postgresql+asyncpg://nobody@127.0.0.1:9/none")
    result = warble(db, "db", "upgrade")
    assert result.returncode == 1
    assert result.stderr.startswith("warble: ")
    assert "Traceback" not in result.stderr

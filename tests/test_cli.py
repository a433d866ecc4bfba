"""The `warble` command, run as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import func, select

from app.clock import utcnow
from app.models import ModerationAction, User, UserSession
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


async def test_user_role_makes_the_first_admin_and_is_logged(db, session, make_user):
    await make_user("susan")
    result = warble(db, "user", "role", "Susan", "admin")
    assert result.returncode == 0, result.stderr
    assert "susan is now admin" in result.stdout.lower()
    user = await session.scalar(select(User).where(User.username == "susan"))
    assert user.role == "admin"
    line = await session.scalar(select(ModerationAction))
    assert (line.moderator_id, line.moderator_name, line.action, line.account_name) == (
        None,
        "command line",
        "role",
        "susan",
    )
    assert line.detail == "user → admin"
    bad = warble(db, "user", "role", "susan", "king")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


async def test_user_suspend_ends_sessions_and_unsuspend_lifts_it(db, session, make_user):
    susan = await make_user("susan")
    session.add(
        UserSession(user_id=susan.id, token_hash="x" * 64, expires_at=utcnow() + timedelta(days=1))
    )
    await session.commit()
    result = warble(db, "user", "suspend", "susan", "--reason", "spam")
    assert result.returncode == 0, result.stderr
    session.expire_all()
    assert (await session.get(User, susan.id)).suspended_at is not None
    assert await session.scalar(select(func.count()).select_from(UserSession)) == 0
    again = warble(db, "user", "suspend", "susan")
    assert again.returncode == 1 and "already suspended" in again.stderr
    listed = warble(db, "user", "list", "--suspended")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[:3] for line in listed.stdout.splitlines()] == [
        ["NAME", "ROLE", "STATE"],
        ["susan", "user", "suspended"],
    ]
    assert warble(db, "user", "unsuspend", "susan").returncode == 0
    session.expire_all()
    assert (await session.get(User, susan.id)).suspended_at is None
    actions = list(await session.scalars(select(ModerationAction.action)))
    assert actions == ["suspend", "unsuspend"]


async def test_user_delete_asks_first_unless_yes(db, session, make_user):
    susan = await make_user("susan")
    kept = warble(db, "user", "delete", "susan", stdin="n\n")
    assert kept.returncode == 1 and "nothing done" in kept.stderr
    assert await session.get(User, susan.id) is not None
    gone = warble(db, "user", "delete", "susan", "--yes", "--reason", "asked to")
    assert gone.returncode == 0, gone.stderr
    session.expire_all()
    assert await session.get(User, susan.id) is None
    line = await session.scalar(select(ModerationAction))
    assert (line.action, line.account_name, line.reason) == ("delete_account", "susan", "asked to")
    missing = warble(db, "user", "delete", "ghost", "--yes")
    assert missing.returncode == 1 and "no user named 'ghost'" in missing.stderr


async def test_user_list_filters_by_role(db, make_user):
    await make_user("alice", role="admin")
    await make_user("bob")
    await make_user("carol", role="moderator", approved=False)
    everyone = warble(db, "user", "list")
    assert [line.split()[:3] for line in everyone.stdout.splitlines()[1:]] == [
        ["alice", "admin", "active"],
        ["bob", "user", "active"],
        ["carol", "moderator", "waiting"],
    ]
    admins = warble(db, "user", "list", "--role", "admin")
    assert [line.split()[0] for line in admins.stdout.splitlines()[1:]] == ["alice"]

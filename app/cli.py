"""The `warble` command: database migrations and account administration."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import accounts, config, migrate, moderation, serve
from app.db import make_engine
from app.models import ROLES, User
from app.queries import moderation as moderation_queries
from app.queries import users


class CommandError(Exception):
    """A failure to report in one line, with a non-zero exit."""


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise CommandError("the passwords do not match")
    return password


async def create_user(url: str, username: str, email: str, password: str) -> None:
    engine = make_engine(url, schema=config.database_schema())
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            await accounts.create_account(session, username, email, password)
    except accounts.Rejected as rejected:
        raise CommandError(str(rejected)) from None
    finally:
        await engine.dispose()


async def set_password(url: str, username: str, password: str) -> None:
    engine = make_engine(url, schema=config.database_schema())
    try:
        async with async_sessionmaker(engine)() as session:
            user = await users.get_user_by_username(session, username)
            if user is None:
                raise CommandError(f"no user named {username!r}")
            await accounts.set_password(session, user.id, password)
    except accounts.Rejected as rejected:
        raise CommandError(str(rejected)) from None
    finally:
        await engine.dispose()


Moderate = Callable[[AsyncSession, User], Awaitable[None]]


async def moderate(url: str, username: str, action: Moderate) -> None:
    """Run a moderation action on an account, as the command line (logged as such)."""
    engine = make_engine(url, schema=config.database_schema())
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            user = await users.get_user_by_username(session, username)
            if user is None:
                raise CommandError(f"no user named {username!r}")
            await action(session, user)
    except moderation.Refused as refused:
        raise CommandError(str(refused)) from None
    finally:
        await engine.dispose()


async def list_users(url: str, role: str | None, suspended: bool) -> str:
    engine = make_engine(url, schema=config.database_schema())
    try:
        async with async_sessionmaker(engine)() as session:
            found = await moderation_queries.accounts(session, role=role, suspended=suspended)
    finally:
        await engine.dispose()
    rows = [("NAME", "ROLE", "STATE", "CREATED")]
    rows += [(u.username, u.role, state_of(u), f"{u.created_at:%Y-%m-%d %H:%M}") for u in found]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def state_of(user: User) -> str:
    if user.suspended_at is not None:
        return "suspended"
    return "active" if user.approved else "waiting"


def confirm(question: str, assume_yes: bool) -> None:
    if assume_yes:
        return
    if input(f"{question} [y/N] ").strip().lower() not in {"y", "yes"}:
        raise CommandError("nothing done")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="warble", description="Administer a Warble instance.")
    areas = p.add_subparsers(dest="area", required=True)

    db = areas.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply every pending migration (run before starting hypercorn)")
    down = db.add_parser("downgrade", help="step the schema back to REVISION")
    down.add_argument("revision")
    db.add_parser("check", help="fail if the models and the migrations disagree")
    rev = db.add_parser("revision", help="write a new migration from the models' changes")
    rev.add_argument("-m", "--message", required=True)

    user = areas.add_parser("user", help="accounts").add_subparsers(dest="action", required=True)
    create = user.add_parser("create", help="create an account")
    create.add_argument("username")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    setpw = user.add_parser("set-password", help="set an account's password")
    setpw.add_argument("username")
    setpw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    role = user.add_parser("role", help="give an account a role (the first admin is made so)")
    role.add_argument("username")
    role.add_argument("role", choices=ROLES)
    for name, text in (
        ("suspend", "suspend an account: it cannot log in, its sessions end"),
        ("unsuspend", "lift a suspension"),
    ):
        action = user.add_parser(name, help=text)
        action.add_argument("username")
        action.add_argument("--reason", default="", help="for the moderation log")
    remove = user.add_parser("delete", help="delete an account and everything it wrote")
    remove.add_argument("username")
    remove.add_argument("--reason", default="", help="for the moderation log")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    listing = user.add_parser("list", help="list accounts: name, role, state, created")
    listing.add_argument("--role", choices=ROLES)
    listing.add_argument("--suspended", action="store_true", help="only suspended accounts")

    server = areas.add_parser(
        "serve", help="serve Warble with hypercorn, each worker on a listening socket of its own"
    )
    server.add_argument("--config", default="hypercorn.toml", help="hypercorn's settings file")
    server.add_argument(
        "--bind", action="append", default=[], help="address to listen on (repeatable)"
    )
    server.add_argument("--workers", type=int, help="worker processes (default: the config's)")
    server.add_argument(
        "--app", default=serve.APPLICATION, help="the ASGI app (benchmarks serve others)"
    )
    return p


def run(args: argparse.Namespace) -> str:
    url = config.database_url()
    match (args.area, args.action):
        case ("db", "upgrade"):
            migrate.upgrade(url)
            return "database is up to date"
        case ("db", "downgrade"):
            migrate.downgrade(url, args.revision)
            return f"database downgraded to {args.revision}"
        case ("db", "check"):
            migrate.check(url)
            return "models and migrations agree"
        case ("db", "revision"):
            return f"wrote {migrate.revision(url, args.message)}"
        case ("user", "create"):
            password = read_password(args.password_stdin)
            asyncio.run(create_user(url, args.username.strip(), args.email.strip(), password))
            return f"created user {args.username}"
        case ("user", "set-password"):
            password = read_password(args.password_stdin)
            asyncio.run(set_password(url, args.username.strip(), password))
            return f"password changed for {args.username}"
        case ("user", "list"):
            return asyncio.run(list_users(url, args.role, args.suspended))
        case ("user", action) if action in MODERATION:
            name = args.username.strip()
            if action == "delete":
                confirm(f"Delete {name} and everything they wrote?", args.yes)
            asyncio.run(moderate(url, name, MODERATION[action](args)))
            return DONE[action].format(name=name, role=getattr(args, "role", ""))
    raise CommandError("unknown command")  # argparse rejects these first


def _role(args: argparse.Namespace) -> Moderate:
    return lambda session, user: moderation.set_role(session, moderation.CLI, user, args.role)


def _suspend(args: argparse.Namespace) -> Moderate:
    return lambda session, user: moderation.suspend(session, moderation.CLI, user, args.reason)


def _unsuspend(args: argparse.Namespace) -> Moderate:
    return lambda session, user: moderation.unsuspend(session, moderation.CLI, user, args.reason)


def _delete(args: argparse.Namespace) -> Moderate:
    return lambda session, user: moderation.delete_account(
        session, moderation.CLI, user, args.reason
    )


MODERATION: dict[str, Callable[[argparse.Namespace], Moderate]] = {
    "role": _role,
    "suspend": _suspend,
    "unsuspend": _unsuspend,
    "delete": _delete,
}
DONE = {
    "role": "{name} is now {role}",
    "suspend": "suspended {name}: their sessions have ended",
    "unsuspend": "{name} is no longer suspended",
    "delete": "deleted {name} and everything they wrote",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.area == "serve":  # runs until stopped; hypercorn reports its own errors
        return serve.serve(serve.load_config(args.config, args.bind, args.workers, args.app))
    try:
        print(run(args))
    except CommandError as error:
        print(f"warble: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a database that cannot be reached, a failed migration
        print(f"warble: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

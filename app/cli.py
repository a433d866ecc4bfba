"""The `warble` command: database migrations and account administration."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import async_sessionmaker

from app import accounts, config, migrate, serve
from app.db import make_engine
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
    raise CommandError("unknown command")  # argparse rejects these first


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

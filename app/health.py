"""Database outages: a friendly 503 instead of a 500, and GET /healthz for monitors."""

from __future__ import annotations

import asyncio
import socket

from quart import Quart
from quart.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import ServiceUnavailable

from app.db import get_engine
from app.web import Answer, error_response

UNAVAILABLE = "Warble is temporarily unavailable. Please try again in a moment."
# Errors that mean "the database cannot be reached", as opposed to a bug.
UNREACHABLE = (ConnectionError, TimeoutError, socket.gaierror, PoolTimeout)
# SQLSTATE classes of a server that is away rather than a statement that is wrong: 08,
# connection exceptions, and 57P, operator intervention ("the database system is shutting
# down", "... is starting up": a restart or a failover). SQLAlchemy's asyncpg dialect raises
# them as plain DBAPIErrors (found by bench/soak.py's restart).
UNREACHABLE_SQLSTATES = ("08", "57P")


def init_app(app: Quart) -> None:
    @app.get("/healthz")
    async def healthz() -> ResponseReturnValue:
        """Liveness plus one database round trip; says nothing about the configuration."""
        try:
            async with asyncio.timeout(3):
                async with get_engine().connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception:  # any failure to answer is "unavailable" to a monitor
            body, status = {"status": "unavailable", "database": "unreachable"}, 503
        else:
            body, status = {"status": "ok", "database": "ok"}, 200
        return body, status, {"Cache-Control": "no-store"}

    @app.errorhandler(DBAPIError)
    async def database_error(error: DBAPIError) -> ResponseReturnValue:
        if error.connection_invalidated or isinstance(error, OperationalError | InterfaceError):
            return await unavailable(error)
        if str(getattr(error.orig, "sqlstate", None) or "").startswith(UNREACHABLE_SQLSTATES):
            return await unavailable(error)
        raise error  # anything else is a bug: the 500 handler answers it

    for kind in UNREACHABLE:
        app.register_error_handler(kind, unavailable)


async def unavailable(_error: Exception) -> Answer:
    body, status, headers = await error_response(ServiceUnavailable(UNAVAILABLE))
    return body, status, headers | {"Retry-After": "5"}

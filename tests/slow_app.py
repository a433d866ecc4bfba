"""Warble plus one slow page, for the graceful-shutdown test (hypercorn imports this factory)."""

from __future__ import annotations

import asyncio

from quart import Quart

from app import create_app


def create() -> Quart:
    app = create_app()

    @app.get("/slow")
    async def slow() -> str:
        await asyncio.sleep(1.5)
        return "finished"

    return app

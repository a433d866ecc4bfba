"""Warble plus one slow page, for the graceful-shutdown test (hypercorn imports this factory)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from quart import Quart, request

from app import create_app

STARTED = "slow-started"  # dropped in the instance folder: the test now knows it is in flight


def create() -> Quart:
    app = create_app()
    folder = Path(app.config["INSTANCE_PATH"])

    @app.get("/slow")
    async def slow() -> str:
        (folder / STARTED).touch()
        # The slow work, long enough for SIGTERM to arrive meanwhile.
        await asyncio.sleep(float(request.args.get("seconds", "1.5")))
        return "finished"

    return app

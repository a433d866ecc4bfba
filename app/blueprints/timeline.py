"""The home timeline and explore."""

from __future__ import annotations

from quart import Blueprint
from quart.typing import ResponseReturnValue

from app.web import render

bp = Blueprint("timeline", __name__)


@bp.get("/")
async def index() -> ResponseReturnValue:
    return await render("pages/index.html", "pages/index.html")


@bp.get("/explore")
async def explore() -> ResponseReturnValue:
    return await render("pages/explore.html", "pages/explore.html")

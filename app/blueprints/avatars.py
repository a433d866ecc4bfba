"""Avatars: Warble's own identicons, served forever-cacheable, or Gravatar when opted in."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from quart import Blueprint, Response, current_app

from app.links import path_for
from app.models import User

bp = Blueprint("avatars", __name__)

ONE_YEAR = 365 * 24 * 3600


def identicon_svg(seed: str) -> str:
    """A symmetric 5x5 pattern and a colour, both derived from the seed: the same seed, the same
    picture, with no request to anyone else's server."""
    digest = hashlib.sha256(seed.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    cells = []
    for row in range(5):
        for col in range(3):
            if digest[2 + row * 3 + col] % 2:
                for x in {col, 4 - col}:
                    cells.append(f'<rect x="{x + 1}" y="{row + 1}" width="1" height="1"/>')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 7 7" shape-rendering="crispEdges">'
        f'<rect width="7" height="7" fill="hsl({hue} 45% 92%)"/>'
        f'<g fill="hsl({hue} 55% 45%)">{"".join(cells)}</g></svg>'
    )


def gravatar_url(email: str, size: int) -> str:
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://www.gravatar.com/avatar/{digest}?{urlencode({'d': 'identicon', 's': size})}"


@bp.app_template_global()
def avatar_url(user: User, size: int = 48) -> str:
    """Warble's own identicon, or Gravatar when the instance opts in with AVATARS=gravatar."""
    if current_app.config["AVATARS"] == "gravatar":
        return gravatar_url(user.email, size)
    return path_for("avatars.show", user_id=user.id)


@bp.get("/avatars/<id:user_id>.svg")
async def show(user_id: int) -> Response:
    """A user's identicon: derived from the id alone, so it never changes and caches forever."""
    response = Response(identicon_svg(f"warble:{user_id}"), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response

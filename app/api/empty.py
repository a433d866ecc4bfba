"""What apps ask for at start-up that Warble has none of: answered with Mastodon's empty
values rather than a 404, so an app built for Mastodon starts (docs/api.md lists them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Blueprint
from quart.typing import ResponseReturnValue

from app.api.auth import user_with

bp = Blueprint("api_empty", __name__)

# path → the scope a user's token needs (None: public)
EMPTY_LISTS = {
    "/api/v1/custom_emojis": None,
    "/api/v1/filters": "read:filters",
    "/api/v2/filters": "read:filters",
    "/api/v1/lists": "read:lists",
    "/api/v1/follow_requests": "read:follows",
    "/api/v1/bookmarks": "read:bookmarks",
    "/api/v1/announcements": None,
    "/api/v1/followed_tags": "read:follows",
}


def _empty_list(scope: str | None) -> Callable[[], Awaitable[ResponseReturnValue]]:
    async def view() -> ResponseReturnValue:
        if scope is not None:
            await user_with(scope)
        return []

    return view


for _path, _scope in EMPTY_LISTS.items():
    bp.add_url_rule(_path, _path.strip("/").replace("/", "_"), _empty_list(_scope))


@bp.get("/api/v1/preferences")
async def preferences() -> ResponseReturnValue:
    await user_with("read:accounts")
    return {
        "posting:default:visibility": "public",
        "posting:default:sensitive": False,
        "posting:default:language": None,
        "reading:expand:media": "default",
        "reading:expand:spoilers": False,
    }

"""The Mastodon-compatible client API (docs/api.md): OAuth 2 and /api/v1, /api/v2.

A thin layer: each module maps rows that app/queries/ reads (with their keyset pages and
rules) to Mastodon's entities (entities.py). Here: the blueprints, and what every API answer
gets: JSON errors (web.error_response asks `is_api_request`), CORS, the rate limit and its
headers, no caching.
"""

from __future__ import annotations

from quart import Quart, Response, g, request

from app.api import (
    accounts,
    auth,
    empty,
    instance,
    notifications,
    oauth,
    search,
    statuses,
    timelines,
)
from app.web import is_api_request

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key",
    "Access-Control-Expose-Headers": (
        "Link, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
    ),
    "Access-Control-Max-Age": "3600",
}


async def _limit_api_requests() -> None:
    if is_api_request() and request.method != "OPTIONS":
        await auth.rate_limit()


async def _api_headers(response: Response) -> Response:
    """CORS for any origin, without credentials: the API reads no cookie, so a page on
    another site gains nothing a token would not give it. The three X-RateLimit-* headers
    always together."""
    if not is_api_request():
        return response
    response.headers.update(CORS_HEADERS)
    response.headers["Cache-Control"] = "private, no-store"
    if (budget := g.get("api_budget")) is not None:
        response.headers["X-RateLimit-Limit"] = str(budget.limit)
        response.headers["X-RateLimit-Remaining"] = str(budget.remaining)
        response.headers["X-RateLimit-Reset"] = budget.reset.isoformat(timespec="milliseconds")
    return response


def init_app(app: Quart) -> None:
    modules = (oauth, instance, accounts, statuses, timelines, notifications, search, empty)
    for module in modules:
        app.register_blueprint(module.bp)
    app.before_request(_limit_api_requests)
    app.after_request(_api_headers)

"""The web layer every view relies on: page-or-fragment, CSRF, security headers, error pages."""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask.templating import _default_template_ctx_processor as flask_default_context
from markupsafe import Markup
from quart import Quart, Response, current_app, g, request, session, url_for
from quart_auth import QuartAuth
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    InternalServerError,
    NotFound,
)
from werkzeug.routing import IntegerConverter, Map

from app import accounts, links, text
from app.links import path_for
from app.models import (
    ABOUT_MAX,
    COMMENT_MAX,
    EMAIL_MAX,
    POST_MAX,
    REPORT_COMMENT_MAX,
    SIGNUP_REASON_MAX,
    USERNAME_MAX,
    USERNAME_MIN,
)
from app.pagination import FIRST, MAX_ID, Cursor, InvalidCursor, Page, RankedPage, decode

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Every page depends on these request headers: caches must keep one copy per value.
VARY = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request", "Cookie")


# The client API (app/api/): Bearer tokens only, never the session cookie, JSON errors.
# Bare "/api" is the API's too: a client that strips the slash gets the API's 404, not a page.
API_PREFIX = "/api/"
API_PATHS = frozenset({"/api", "/oauth/token", "/oauth/revoke"})


def is_api_request() -> bool:
    """A request to the client API: it never reads the session cookie (sessions.py), so CSRF
    cannot apply to it, and its errors are JSON. The OAuth consent form is not one of them."""
    return request.path.startswith(API_PREFIX) or request.path in API_PATHS


def is_htmx() -> bool:
    """True for an htmx request that wants a fragment, not a whole page."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


async def render_template(name: str, **context: Any) -> str:
    """Render a template with Quart's context (g, request, session, url_for...) in plain Jinja.

    Warble's templates do no I/O, so they need none of Quart's async Jinja, which wraps every
    expression in an await check: synchronous rendering takes about half the time of a page of
    posts (docs/benchmarks.md).
    """
    await current_app.update_template_context(context)
    html: str = current_app.extensions["jinja_sync"].get_template(name).render(context)
    return html


async def render(page: str, partial: str, status: int = 200, /, **context: Any) -> tuple[str, int]:
    """Render the full page, or its fragment for htmx; both take the same context."""
    return await render_template(partial if is_htmx() else page, **context), status


Answer = tuple[str, int, dict[str, str]]


def announce(message: str) -> dict[str, str]:
    """Headers that have static/app.js say what just happened in the page's polite live region
    ("Following alice"): an htmx answer that only swaps a button says nothing by itself."""
    return {"HX-Trigger": json.dumps({"warble:announce": message})}


async def form_again(partial: str, target: str, **context: Any) -> Answer:
    """A form htmx sent and the server rejected: re-rendered with its messages (422), swapped
    in place of `target` whatever the request's own hx-target was."""
    html = await render_template(partial, **context)
    return html, 422, {"HX-Retarget": target, "HX-Reswap": "outerHTML"}


def csrf_token() -> str:
    token = session.get("csrf")
    if token is None:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def rotate_csrf_token() -> None:
    """A new token on login and logout: a token seen before the switch is worth nothing after."""
    session["csrf"] = secrets.token_urlsafe(32)


async def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS or is_api_request():
        return
    # Browsers send it in lower case; whatever rewrote "Cross-Site" on the way still means it.
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        raise Forbidden("Cross-site requests are refused.")
    expected = session.get("csrf")
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        sent = (await request.form).get("csrf_token")
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise StalePage()


class StalePage(Forbidden):
    """The page's CSRF token is not the session's: most often the reader logged in or out in
    another tab since the page was shown. Reloading it gets the current token."""

    description = (
        "This page is out of date: you logged in or out in another tab. "
        "Reload it to carry on (what you typed is kept)."
    )


def content_security_policy(app: Quart) -> str:
    img = "'self' data:"
    if app.config["AVATARS"] == "gravatar":
        img += " https://www.gravatar.com"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )


async def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", current_app.extensions["csp"])
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if hsts := current_app.extensions["hsts"]:
        headers.setdefault("Strict-Transport-Security", hsts)
    if request.endpoint != "static":
        response.vary.update(VARY)
        if g.get("user") is not None:
            # Someone's own page (their email, their timeline): never stored, so that Back
            # after logging out shows nothing of it.
            headers["Cache-Control"] = "no-store"
        elif response.mimetype == "text/html":
            headers.setdefault("Cache-Control", "private, no-cache")
    return response


def strict_transport_security(app: Quart) -> str | None:
    """Browsers that saw it use https only: sent when cookies are Secure (served over TLS)."""
    max_age = app.config["HSTS_MAX_AGE"]
    if not app.config["SECURE_COOKIES"] or max_age <= 0:
        return None
    return f"max-age={max_age}"


ERROR_TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Too much data",
    422: "Please check your input",
    429: "Slow down",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


NOT_FOUND = "There is nothing here. The link may be mistyped, or what it pointed to is gone."
# Forms whose own page shows a refusal above the form, values kept (plain forms, not htmx).
FORM_PAGES = {
    "accounts.login": "pages/login.html",
    "accounts.register": "pages/register.html",
}


async def error_response(error: HTTPException) -> Answer:
    """A full error page, or for htmx a notice that replaces whatever the page's message area
    (#messages, fixed on screen by static/app.js) held."""
    if is_api_request():
        from app.api.http import json_error  # the API's own shape: {"error": "..."}

        return json_error(error)  # type: ignore[return-value]
    code = error.code or 500
    message = error.description
    if code == 500:
        message = InternalServerError.description  # never the details of a crash
    elif code == 404 and message == NotFound.description:
        message = NOT_FOUND  # Werkzeug's stock sentence speaks of "the server"
    elif code == 429:
        wait = getattr(error, "retry_after", 60)
        message = f"You are doing that too often. Please wait {wait} seconds and try again."
    message = message or ERROR_TITLES.get(code, error.name)
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if code == 429 and not is_htmx() and request.endpoint in FORM_PAGES:
        return await _form_refused(FORM_PAGES[request.endpoint], message), code, headers
    reload = None
    if isinstance(error, StalePage):
        current = request.headers.get("HX-Current-URL") or request.referrer or ""
        parts = urlsplit(current)
        local = parts.path + (f"?{parts.query}" if parts.query else "")
        reload = safe_next(local, url_for("timeline.index"))
    context = {
        "code": code,
        "title": ERROR_TITLES.get(code, error.name),
        "message": message,
        "reload": reload,
    }
    if is_htmx():
        headers |= {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}
    body, _ = await render("pages/error.html", "partials/error.html", **context)
    return body, code, headers


async def _form_refused(page: str, message: str) -> str:
    """The form's own page with the refusal above it and what was typed (but passwords)."""
    form = await request.form
    values = {"username": form.get("username", ""), "email": form.get("email", "")}
    next_url = safe_next(form.get("next") or request.args.get("next"))
    return await render_template(page, error=message, form=values, errors={}, next_url=next_url)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a local path is a safe place to send someone after a form (e.g. logging in)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def cursor_arg(name: str = "before") -> Cursor:
    """The page cursor in the query string; a malformed one is InvalidCursor (a 400)."""
    return decode(request.args.get(name), FIRST)


def optional_cursor_arg(name: str) -> Cursor | None:
    raw = request.args.get(name)
    return None if raw is None or raw == "" else decode(raw)


def next_page_url(
    page: Page[Any] | RankedPage[Any],
    param: str = "before",
    endpoint: str | None = None,
    **filters: str,
) -> str:
    """This page's URL for the page after `page`: the route's own arguments, the cursor and the
    named filters only — never whatever else the query string held. `endpoint`: another
    route's page, shown here (a tag's posts on the search page), with `filters` its arguments."""
    assert page.next is not None and request.endpoint is not None
    args: dict[str, Any] = filters | {param: page.next.encode()}
    if endpoint is None:
        endpoint, args = request.endpoint, dict(request.view_args or {}) | args
    return url_for(endpoint, **args)


def linkify(body: str, users: dict[str, str]) -> Markup:
    return text.linkify(body, users, _profile_url, _tag_url)


def _profile_url(name: str) -> str:
    return path_for("users.profile", username=name)


def _tag_url(key: str) -> str:
    return path_for("tags.show", tag=key)


async def invalid_cursor(_error: InvalidCursor) -> Answer:
    return await error_response(
        BadRequest("That page link is not valid. Start again from the first page.")
    )


# The limits the templates show and enforce, from the constants the server checks.
LIMITS = {
    "POST_MAX": POST_MAX,
    "COMMENT_MAX": COMMENT_MAX,
    "ABOUT_MAX": ABOUT_MAX,
    "EMAIL_MAX": EMAIL_MAX,
    "USERNAME_MIN": USERNAME_MIN,
    "USERNAME_MAX": USERNAME_MAX,
    "PASSWORD_MIN": accounts.PASSWORD_MIN,
    "SIGNUP_REASON_MAX": SIGNUP_REASON_MAX,
    "REPORT_COMMENT_MAX": REPORT_COMMENT_MAX,
}


def post_cursor(post: Any) -> str:
    """The cursor naming this post in a feed: what `?until=` carries."""
    return Cursor(post.created_at, post.id).encode()


class IdConverter(IntegerConverter):
    """<id:...> in a route: a positive id that fits the database's 32-bit INTEGER, else 404."""

    # ASCII digits only: IntegerConverter's \d matches every script's digits, and int() reads
    # them, so /posts/\u0661\u0662 was post 12 under a second URL.
    regex = "[0-9]+"

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def keep_context_processors_on_the_loop(app: Quart) -> None:
    """Drop the template context processors that would send every render to a thread.

    Quart runs a synchronous context processor in its thread pool (`run_sync`), and a page
    waited for two such hops per render: Flask's default processor, which every blueprint
    brings and which finds nothing under Quart (it reads Flask's own context variables), and
    Quart-Auth's `current_user`, which no template reads (they read `g.user`). Quart's own
    processor (g, request, session) is asynchronous and stays. docs/benchmarks.md, "The web
    layer", has what this bought; tests/test_web_layer.py keeps every processor asynchronous.
    """
    auths: list[QuartAuth] = app.extensions["QUART_AUTH"]
    unwanted = {flask_default_context, *(auth._template_context for auth in auths)}
    for name, processors in app.template_context_processors.items():
        app.template_context_processors[name] = [p for p in processors if p not in unwanted]


def init_app(app: Quart) -> None:
    app.url_map.converters["id"] = IdConverter
    app.extensions["csp"] = content_security_policy(app)  # fixed by the configuration
    app.extensions["hsts"] = strict_transport_security(app)
    links.init_app(app)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(InvalidCursor, invalid_cursor)
    app.jinja_env.globals.update(csrf_token=csrf_token, next_page_url=next_page_url, **LIMITS)
    app.jinja_env.filters.update(
        linkify=linkify,
        timeago=text.timeago,
        absolute=text.absolute,
        html_datetime=text.html_datetime,
        long_text=text.is_long,
        excerpt=text.excerpt,
        post_cursor=post_cursor,
    )
    # Shares the loader, globals and filters of Quart's environment; only the mode differs.
    app.extensions["jinja_sync"] = app.jinja_env.overlay(enable_async=False)

"""OAuth 2 as Mastodon does it: apps register (POST /api/v1/apps), a logged-in user consents
(GET/POST /oauth/authorize, a CSRF-protected form), the app trades the code for a token
(POST /oauth/token, PKCE S256 checked) and may revoke it (POST /oauth/revoke).

https://docs.joinmastodon.org/methods/apps/ and https://docs.joinmastodon.org/methods/oauth/
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from quart import Blueprint, current_app, redirect, request
from quart.typing import ResponseReturnValue
from quart_auth import login_required
from werkzeug.exceptions import BadRequest, Unauthorized, UnprocessableEntity

from app.api import http, scopes
from app.api.auth import digest, load_caller
from app.clock import utcnow
from app.db import read_session, write_session
from app.models import APP_NAME_MAX, REDIRECT_URIS_MAX, WEBSITE_MAX, OAuthApp
from app.queries import oauth, users
from app.sessions import signed_in_user
from app.web import render_template

bp = Blueprint("oauth", __name__)
OOB = "urn:ietf:wg:oauth:2.0:oob"
CODE_LIFETIME = timedelta(minutes=10)
CHALLENGE = re.compile("[A-Za-z0-9_-]{43,128}")  # base64url of a SHA-256 (RFC 7636)
URI = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: what a URI is made of


def _redirect_uris(raw: Any) -> list[str]:
    """One or more redirect URIs (a list, or one per line): the out-of-band one, or absolute
    URIs of any scheme but those a browser would run (apps use their own, e.g. `toot://`)."""
    found = raw if isinstance(raw, list) else (raw.split() if isinstance(raw, str) else None)
    if not found or not all(isinstance(uri, str) and URI.fullmatch(uri) for uri in found):
        raise UnprocessableEntity("redirect_uris must be one or more URIs")
    if sum(len(uri) for uri in found) > REDIRECT_URIS_MAX:
        raise UnprocessableEntity("redirect_uris is too long")
    for uri in found:
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if uri != OOB and (
            not scheme or scheme in ("javascript", "data", "vbscript") or parts.fragment
        ):
            raise UnprocessableEntity(f"redirect_uris: {uri[:100]!r} is not an absolute URI")
    return found


@bp.post("/api/v1/apps")
async def create_app() -> ResponseReturnValue:
    found = await http.params()
    name = (http.text(found, "client_name") or "").strip()
    if not name or len(name) > APP_NAME_MAX:
        raise UnprocessableEntity(f"client_name must be 1 to {APP_NAME_MAX} characters")
    uris = _redirect_uris(found.get("redirect_uris"))
    granted = scopes.parse(http.text(found, "scopes"))
    if granted is None:
        raise UnprocessableEntity("scopes: unknown scope")
    website = (http.text(found, "website") or "").strip() or None
    if website is not None and len(website) > WEBSITE_MAX:
        raise UnprocessableEntity("website is too long")
    client_id, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session = await write_session()
    app = await oauth.create_app(
        session,
        client_id=client_id,
        secret_hash=digest(secret),
        name=name,
        redirect_uris=uris,
        scopes=scopes.text(granted),
        website=website,
        now=utcnow(),
    )
    await session.commit()
    return {
        "id": str(app.id),
        "name": app.name,
        "website": app.website,
        "scopes": sorted(granted),
        "redirect_uri": "\n".join(uris),
        "redirect_uris": uris,
        "client_id": client_id,
        "client_secret": secret,  # shown this once: only its digest is kept
        "client_secret_expires_at": 0,
        "vapid_key": None,
    }


@bp.get("/api/v1/apps/verify_credentials")
async def verify_app() -> ResponseReturnValue:
    """The app a token belongs to (any token: the app's own, or a user's)."""
    caller = await load_caller()
    if caller is None:
        raise Unauthorized("The access token is invalid")
    app = caller.token.app
    return {
        "id": str(app.id),
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes.split(),
        "redirect_uri": app.redirect_uris,
        "redirect_uris": app.redirect_uris.split("\n"),
        "vapid_key": None,
    }


class Refused(BadRequest):
    """An authorization request Warble cannot send back to the app (unknown app, a redirect
    URI it did not register): said on the page, never redirected."""


async def _request_of(args: Any) -> tuple[OAuthApp, dict[str, str], frozenset[str]]:
    """The app and the checked parameters of an authorization request (the consent page and
    its form send the same ones); junk extra parameters are ignored."""
    app = None
    client_id = args.get("client_id", "")
    if client_id and len(client_id) <= 64 and client_id.isascii() and client_id.isprintable():
        app = await oauth.app_by_client_id(read_session(), client_id)
    if app is None:
        raise Refused("This app is not registered here (unknown client_id).")
    redirect_uri = args.get("redirect_uri", "")
    if not redirect_uri or redirect_uri not in app.redirect_uris.split("\n"):
        raise Refused("The app asked to return to an address it did not register.")
    if args.get("response_type", "code") != "code":
        raise Refused("Only response_type=code is supported.")
    asked = scopes.parse(args.get("scope") or app.scopes)
    if asked is None or not scopes.covers_all(frozenset(app.scopes.split()), asked):
        raise Refused("The app asked for scopes it did not register.")
    challenge = args.get("code_challenge", "")
    method = args.get("code_challenge_method", "S256" if challenge else "")
    if challenge and (method != "S256" or not CHALLENGE.fullmatch(challenge)):
        raise Refused("Only PKCE code challenges with code_challenge_method=S256 are supported.")
    fields = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scopes.text(asked),
        "state": args.get("state", "")[:1000],
        "code_challenge": challenge,
    }
    return app, fields, asked


@bp.get("/oauth/authorize")
@bp.get("/oauth/authorize/")
@login_required
async def authorize_form() -> ResponseReturnValue:
    app, fields, asked = await _request_of(request.args)
    html = await render_template(
        "pages/oauth_authorize.html", app=app, fields=fields, scopes=sorted(asked), code=None
    )
    return html, 200, {"Content-Security-Policy": _policy_for(fields["redirect_uri"])}


def _policy_for(redirect_uri: str) -> str:
    """The consent form's answer redirects to the app: CSP form-action must allow it."""
    policy: str = current_app.extensions["csp"]
    if redirect_uri == OOB:
        return policy
    parts = urlsplit(redirect_uri)
    target = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
    return policy.replace("form-action 'self'", f"form-action 'self' {target}")


@bp.post("/oauth/authorize")
@bp.post("/oauth/authorize/")
@login_required
async def authorize() -> ResponseReturnValue:
    """Authorize or Deny (the form is CSRF-checked like every cookie form: web._check_csrf)."""
    me = signed_in_user()
    form = await request.form
    app, fields, _ = await _request_of(form)
    uri, state = fields["redirect_uri"], fields["state"]
    if form.get("decision") != "authorize":
        if uri == OOB:
            return await render_template("pages/oauth_denied.html", app=app)
        return redirect(_with_query(uri, {"error": "access_denied", "state": state}))
    code, now = secrets.token_urlsafe(32), utcnow()
    session = await write_session()
    await oauth.prune_codes(session, me.id, now)
    await oauth.create_code(
        session,
        code_hash=digest(code),
        app_id=app.id,
        user_id=me.id,
        redirect_uri=uri,
        scopes=fields["scope"],
        code_challenge=fields["code_challenge"] or None,
        now=now,
        expires_at=now + CODE_LIFETIME,
    )
    await session.commit()
    if uri == OOB:
        return await render_template(
            "pages/oauth_authorize.html", app=app, fields=fields, scopes=[], code=code
        )
    return redirect(_with_query(uri, {"code": code, "state": state}))


def _with_query(uri: str, values: dict[str, str]) -> str:
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in values.items() if v})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def oauth_error(error: str, description: str, status: int = 400) -> ResponseReturnValue:
    return {"error": error, "error_description": description}, status


async def _client(found: dict[str, Any]) -> OAuthApp | None:
    """The app that authenticates with its id and secret (in the body, or HTTP Basic)."""
    client_id, secret = http.text(found, "client_id"), http.text(found, "client_secret")
    if request.authorization is not None and request.authorization.type == "basic":
        client_id = request.authorization.username
        secret = request.authorization.password
    if not client_id or not secret or len(client_id) > 64 or not client_id.isascii():
        return None
    app = await oauth.app_by_client_id(read_session(), client_id)
    if app is None or not hmac.compare_digest(app.client_secret_hash, digest(secret)):
        return None
    return app


@bp.post("/oauth/token")
async def token() -> ResponseReturnValue:
    found = await http.params()
    app = await _client(found)
    if app is None:
        return oauth_error("invalid_client", "Client authentication failed", 401)
    grant = http.text(found, "grant_type")
    if grant == "authorization_code":
        return await _code_grant(app, found)
    if grant == "client_credentials":
        asked = scopes.parse(http.text(found, "scope"))
        if asked is None or not scopes.covers_all(frozenset(app.scopes.split()), asked):
            return oauth_error("invalid_scope", "The requested scope is invalid")
        return await _issue(app, None, scopes.text(asked))
    return oauth_error(
        "unsupported_grant_type", "Supported: authorization_code, client_credentials"
    )


async def _code_grant(app: OAuthApp, found: dict[str, Any]) -> ResponseReturnValue:
    code = http.text(found, "code") or ""
    session = await write_session()
    taken = await oauth.take_code(session, digest(code), app.id) if len(code) <= 100 else None
    await session.commit()  # used once, whether the rest is right or not
    invalid = oauth_error("invalid_grant", "The authorization code is invalid, used or expired")
    if taken is None or taken.expires_at <= utcnow():
        return invalid
    if http.text(found, "redirect_uri") != taken.redirect_uri:
        return invalid
    if taken.code_challenge is not None:
        verifier = http.text(found, "code_verifier") or ""
        sent = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(sent).rstrip(b"=").decode()
        if not hmac.compare_digest(expected, taken.code_challenge):
            return invalid
    user = await users.get_user(read_session(), taken.user_id)
    if user is None or user.suspended_at is not None or not user.approved:
        return invalid  # suspended (or still waiting) since they consented
    return await _issue(app, taken.user_id, taken.scopes)


async def _issue(app: OAuthApp, user_id: int | None, granted: str) -> ResponseReturnValue:
    raw, now = secrets.token_urlsafe(32), utcnow()
    session = await write_session()
    await oauth.create_token(
        session, token_hash=digest(raw), app_id=app.id, user_id=user_id, scopes=granted, now=now
    )
    await session.commit()
    return {
        "access_token": raw,
        "token_type": "Bearer",
        "scope": granted,
        "created_at": int(now.timestamp()),
    }


@bp.post("/oauth/revoke")
async def revoke() -> ResponseReturnValue:
    """RFC 7009: an unknown token is no error; an app revokes only its own tokens."""
    found = await http.params()
    app = await _client(found)
    if app is None:
        return oauth_error("unauthorized_client", "Client authentication failed", 403)
    raw = http.text(found, "token") or ""
    if raw and len(raw) <= 100:
        session = await write_session()
        await oauth.revoke_token(session, digest(raw), app.id)
        await session.commit()
    return {}

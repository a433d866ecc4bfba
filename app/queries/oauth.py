"""OAuth 2 for the client API: registered apps, authorization codes, access tokens.

Every secret arrives here as its SHA-256 (app/api/oauth.py hashes it): the tables hold
nothing that opens an account.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from app.models import OAuthApp, OAuthCode, OAuthToken, User


async def create_app(
    session: AsyncSession,
    *,
    client_id: str,
    secret_hash: str,
    name: str,
    redirect_uris: list[str],
    scopes: str,
    website: str | None,
    now: datetime,
) -> OAuthApp:
    app = OAuthApp(
        client_id=client_id,
        client_secret_hash=secret_hash,
        name=name,
        redirect_uris="\n".join(redirect_uris),
        scopes=scopes,
        website=website,
        created_at=now,
    )
    session.add(app)
    await session.flush()
    return app


async def app_by_client_id(session: AsyncSession, client_id: str) -> OAuthApp | None:
    return await session.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))


async def create_code(
    session: AsyncSession,
    *,
    code_hash: str,
    app_id: int,
    user_id: int,
    redirect_uri: str,
    scopes: str,
    code_challenge: str | None,
    now: datetime,
    expires_at: datetime,
) -> None:
    session.add(
        OAuthCode(
            code_hash=code_hash,
            app_id=app_id,
            user_id=user_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            code_challenge=code_challenge,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()


class TakenCode(NamedTuple):
    user_id: int
    redirect_uri: str
    scopes: str
    code_challenge: str | None
    expires_at: datetime


async def take_code(session: AsyncSession, code_hash: str, app_id: int) -> TakenCode | None:
    """Delete the app's code and return what it granted: a code is used once, whatever the
    outcome of the trade (a wrong verifier burns it too, as RFC 6749 §10.5 asks)."""
    stmt = (
        delete(OAuthCode)
        .where(OAuthCode.code_hash == code_hash, OAuthCode.app_id == app_id)
        .returning(
            OAuthCode.user_id,
            OAuthCode.redirect_uri,
            OAuthCode.scopes,
            OAuthCode.code_challenge,
            OAuthCode.expires_at,
        )
    )
    row = (await session.execute(stmt)).first()
    return TakenCode(*row) if row else None


async def prune_codes(session: AsyncSession, user_id: int, now: datetime) -> None:
    """The user's expired codes go when they authorize again: no table grows unread."""
    await session.execute(
        delete(OAuthCode).where(OAuthCode.user_id == user_id, OAuthCode.expires_at <= now)
    )


async def create_token(
    session: AsyncSession,
    *,
    token_hash: str,
    app_id: int,
    user_id: int | None,
    scopes: str,
    now: datetime,
) -> OAuthToken:
    token = OAuthToken(
        token_hash=token_hash,
        app_id=app_id,
        user_id=user_id,
        scopes=scopes,
        created_at=now,  # last_used_at stays empty until the first API request: "never used"
    )
    session.add(token)
    await session.flush()
    return token


async def token_by_hash(
    session: AsyncSession, token_hash: str
) -> tuple[OAuthToken, User | None] | None:
    """The token with its app and its user (None for an app's own token), in one statement."""
    stmt = (
        select(OAuthToken, User)
        .join(OAuthToken.app)
        .options(contains_eager(OAuthToken.app))
        .outerjoin(User, User.id == OAuthToken.user_id)
        .where(OAuthToken.token_hash == token_hash)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def touch_token(session: AsyncSession, token_id: int, now: datetime) -> None:
    await session.execute(
        update(OAuthToken).where(OAuthToken.id == token_id).values(last_used_at=now)
    )


async def revoke_token(session: AsyncSession, token_hash: str, app_id: int) -> bool:
    stmt = (
        delete(OAuthToken)
        .where(OAuthToken.token_hash == token_hash, OAuthToken.app_id == app_id)
        .returning(OAuthToken.id)
    )
    return (await session.execute(stmt)).first() is not None


async def revoke_app(session: AsyncSession, user_id: int, app_id: int) -> bool:
    """Every token (and waiting code) the user gave this app; False when there was none."""
    await session.execute(
        delete(OAuthCode).where(OAuthCode.user_id == user_id, OAuthCode.app_id == app_id)
    )
    stmt = (
        delete(OAuthToken)
        .where(OAuthToken.user_id == user_id, OAuthToken.app_id == app_id)
        .returning(OAuthToken.id)
    )
    return bool((await session.execute(stmt)).all())


async def revoke_all(session: AsyncSession, user_id: int) -> None:
    """Every token and code of the user's (a new password: no app keeps its access)."""
    await session.execute(delete(OAuthCode).where(OAuthCode.user_id == user_id))
    await session.execute(delete(OAuthToken).where(OAuthToken.user_id == user_id))


class AuthorizedApp(NamedTuple):
    app: OAuthApp
    scopes: str  # of its newest token
    tokens: int
    authorized_at: datetime
    last_used_at: datetime | None


async def authorized_apps(session: AsyncSession, user_id: int) -> list[AuthorizedApp]:
    """The apps holding tokens of the user's, most recently used first (never used ones last,
    on both databases): one statement, on ix_oauth_tokens_user_id_app_id."""
    newest = (
        select(OAuthToken.scopes)
        .where(OAuthToken.user_id == user_id, OAuthToken.app_id == OAuthApp.id)
        .order_by(OAuthToken.id.desc())
        .limit(1)
        .correlate(OAuthApp)
        .scalar_subquery()
    )
    last_used = func.max(OAuthToken.last_used_at)
    stmt = (
        select(OAuthApp, newest, func.count(), func.min(OAuthToken.created_at), last_used)
        .join(OAuthToken, OAuthToken.app_id == OAuthApp.id)
        .where(OAuthToken.user_id == user_id)
        .group_by(OAuthApp.id)
        .order_by(last_used.desc().nulls_last(), OAuthApp.id.desc())
    )
    return [AuthorizedApp(*row) for row in await session.execute(stmt)]

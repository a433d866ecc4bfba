"""Invites: sign-up codes for REGISTRATION=invite, with a use count and an expiry."""

from __future__ import annotations

import secrets
import string
from datetime import datetime

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import INVITE_CODE_LENGTH, Invite, User

ALPHABET = string.ascii_letters + string.digits
MINE_SHOWN = 100  # a person's invites on the settings page, newest first


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(INVITE_CODE_LENGTH))


async def create_invite(
    session: AsyncSession,
    creator_id: int,
    *,
    max_uses: int | None,
    expires_at: datetime | None,
    now: datetime,
) -> Invite:
    invite = Invite(
        code=new_code(),
        creator_id=creator_id,
        max_uses=max_uses,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(invite)
    await session.flush()
    return invite


async def invites_of(session: AsyncSession, creator_id: int) -> list[Invite]:
    stmt = (
        select(Invite)
        .where(Invite.creator_id == creator_id)
        .order_by(Invite.created_at.desc(), Invite.id.desc())
        .limit(MINE_SHOWN)
    )
    return list(await session.scalars(stmt))


# An invite speaks for its creator: once they are suspended, it admits nobody.
_CREATOR_IN_GOOD_STANDING = exists().where(
    User.id == Invite.creator_id, User.suspended_at.is_(None)
)


async def find_invite(session: AsyncSession, code: str) -> Invite | None:
    """The invite with this code, unless its creator is suspended."""
    stmt = select(Invite).where(Invite.code == code, _CREATOR_IN_GOOD_STANDING)
    return await session.scalar(stmt)


async def use_invite(session: AsyncSession, code: str, now: datetime) -> int | None:
    """Count one use of the code, if it has one left, has not expired and its creator is not
    suspended: one statement, so two sign-ups at once cannot both take its last use. The
    invite's id, or None."""
    stmt = (
        update(Invite)
        .where(
            Invite.code == code,
            _CREATOR_IN_GOOD_STANDING,
            or_(Invite.max_uses.is_(None), Invite.uses < Invite.max_uses),
            or_(Invite.expires_at.is_(None), Invite.expires_at > now),
        )
        .values(uses=Invite.uses + 1)
        .returning(Invite.id)
    )
    return await session.scalar(stmt)


async def expire_invite(
    session: AsyncSession, invite_id: int, creator_id: int, now: datetime
) -> bool:
    """Make one of the creator's invites expire now; False when it is not theirs."""
    stmt = (
        update(Invite)
        .where(Invite.id == invite_id, Invite.creator_id == creator_id)
        .values(expires_at=now)
        .returning(Invite.id)
    )
    return await session.scalar(stmt) is not None

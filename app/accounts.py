"""Account rules shared by the web forms and the `warble` CLI: what a valid username, email
address and password are, which are taken, and creating accounts and setting passwords.

Field checks return a message or None; the async functions return every message by field, so
each front door shows them its own way (a form beside its fields, the CLI on one line).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import NoReturn

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.models import ABOUT_MAX, EMAIL_MAX, SIGNUP_REASON_MAX, USERNAME_MAX, USERNAME_MIN, User
from app.passwords import hash_password
from app.queries import invites, moderation, notifications, oauth, user_sessions, users
from app.text import normalize_email

USERNAME_RE = re.compile(rf"[A-Za-z0-9_]{{{USERNAME_MIN},{USERNAME_MAX}}}")
EMAIL_RE = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]+")
PASSWORD_MIN, PASSWORD_MAX = 8, 1024

USERNAME_TAKEN = "That username is taken. Please choose another."
EMAIL_TAKEN = "That email address is already registered."

Errors = dict[str, str]
log = logging.getLogger(__name__)


def normalize_username(username: str) -> str:
    """What someone typed as a username, in the form the rules check: compatibility characters
    (fullwidth letters, ligatures) folded by NFKC, surrounding space dropped. Usernames stay
    ASCII: a name that is not ASCII after this is refused by username_error."""
    return unicodedata.normalize("NFKC", username).strip()


def username_error(username: str) -> str | None:
    if not username:
        return "Choose a username."
    if not USERNAME_RE.fullmatch(username):
        return (
            f"Use {USERNAME_MIN}–{USERNAME_MAX} characters: letters, digits and underscores only."
        )
    return None


def email_error(email: str) -> str | None:
    if not email:
        return "Enter your email address."
    if len(email) > EMAIL_MAX or not EMAIL_RE.fullmatch(email):
        return "Enter a valid email address, like name@example.com."
    return None


def password_error(password: str) -> str | None:
    if len(password) < PASSWORD_MIN:
        return f"Use at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"Use at most {PASSWORD_MAX} characters."
    return None


def about_error(about: str) -> str | None:
    if len(about) > ABOUT_MAX:
        return f"Keep it to {ABOUT_MAX} characters (you have {len(about)})."
    return None


def _found(*checks: tuple[str, str | None]) -> Errors:
    return {field: message for field, message in checks if message}


async def registration_errors(
    session: AsyncSession, username: str, email: str, password: str
) -> Errors:
    errors = _found(
        ("username", username_error(username)),
        ("email", email_error(email)),
        ("password", password_error(password)),
    )
    if "username" not in errors and await users.username_taken(session, username):
        errors["username"] = USERNAME_TAKEN
    if "email" not in errors and await users.email_taken(session, email):
        errors["email"] = EMAIL_TAKEN
    return errors


class Rejected(Exception):
    """The account could not be created or changed; `errors` says why, by field."""

    def __init__(self, errors: Errors) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


async def create_account(
    session: AsyncSession,
    username: str,
    email: str,
    password: str,
    *,
    signup_reason: str | None = None,
    invite_code: str | None = None,
) -> User:
    """Check and create an account, committed; raises Rejected with the messages by field.

    signup_reason (REGISTRATION=approval): the account waits for an admin's approval, and
    every admin is notified. invite_code (REGISTRATION=invite): one of its uses is taken in
    the same transaction, or nothing is created.
    """
    username = normalize_username(username)
    errors = await registration_errors(session, username, email, password)
    if signup_reason is not None and (message := signup_reason_error(signup_reason)):
        errors["signup_reason"] = message
    if invite_code is not None and (message := await invite_error(session, invite_code)):
        errors["invite"] = message
    if errors:
        raise Rejected(errors)
    password_hash = await hash_password(password)
    try:
        user = await users.create_user(session, username, email, password_hash)
        await _admit(session, user, signup_reason, invite_code)
        await session.commit()
    except IntegrityError:  # someone took the name or address a moment ago
        await session.rollback()
        raise Rejected(await registration_errors(session, username, email, password)) from None
    return user


async def _admit(
    session: AsyncSession, user: User, signup_reason: str | None, invite_code: str | None
) -> None:
    if invite_code is not None and await invites.use_invite(session, invite_code, utcnow()) is None:
        await session.rollback()  # its last use went to someone else a moment ago
        raise Rejected({"invite": await invite_error(session, invite_code) or INVITE_USED_UP})
    if signup_reason is not None:
        user.approved, user.signup_reason = False, signup_reason
        await session.flush()
        admins = await moderation.staff_ids(session, ("admin",))
        await notifications.waiting_for_approval(session, user.id, admins, utcnow())


def signup_reason_error(reason: str) -> str | None:
    if not reason:
        return "Tell the admins why you want to join."
    if len(reason) > SIGNUP_REASON_MAX:
        return f"Keep it to {SIGNUP_REASON_MAX} characters (you have {len(reason)})."
    return None


INVITE_USED_UP = "That invite has already been used as many times as it allows."


async def invite_error(session: AsyncSession, code: str) -> str | None:
    """Why this invite code cannot be used now, or None."""
    if not code:
        return "Registration needs an invite: enter the code from your invite link."
    invite = await invites.find_invite(session, code) if len(code) <= 32 else None
    if invite is None:
        return "That invite code is not valid. Check the link you were sent."
    if invite.expires_at is not None and invite.expires_at <= utcnow():
        return "That invite has expired. Ask for a new one."
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        return INVITE_USED_UP
    return None


async def save_profile(session: AsyncSession, user: User, about_me: str, email: str) -> None:
    """Check and save a profile, committed; raises Rejected with the messages by field.

    An address that belongs to another account is refused, and the attempt logged: without
    mail, Warble cannot let the owner of an address prove it, so the answer says it is taken
    (docs/security.md: the view limits how often it can be asked).
    """
    if errors := _found(("about_me", about_error(about_me)), ("email", email_error(email))):
        raise Rejected(errors)
    if normalize_email(email) != user.email_normalized and await users.email_taken(
        session, email, except_user_id=user.id
    ):
        _refuse_taken_email(user)
    try:
        await users.update_profile(session, user.id, about_me=about_me, email=email)
        await session.commit()
    except IntegrityError:  # registered a moment ago
        await session.rollback()
        _refuse_taken_email(user)


def _refuse_taken_email(user: User) -> NoReturn:
    log.warning("user %s asked for an email address another account has", user.id)
    raise Rejected({"email": EMAIL_TAKEN})


async def set_password(session: AsyncSession, user_id: int, password: str) -> None:
    """A new password, committed: every session of the account ends (a caller who keeps
    theirs starts a new one), and so does every app's access (its OAuth tokens)."""
    if message := password_error(password):
        raise Rejected({"password": message})
    await users.set_password_hash(session, user_id, await hash_password(password))
    await user_sessions.end_sessions(session, user_id)
    await oauth.revoke_all(session, user_id)
    await session.commit()

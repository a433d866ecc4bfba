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

from app.models import ABOUT_MAX, EMAIL_MAX, USERNAME_MAX, USERNAME_MIN, User
from app.passwords import hash_password
from app.queries import oauth, user_sessions, users
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


async def create_account(session: AsyncSession, username: str, email: str, password: str) -> User:
    """Check and create an account, committed; raises Rejected with the messages by field."""
    username = normalize_username(username)
    if errors := await registration_errors(session, username, email, password):
        raise Rejected(errors)
    password_hash = await hash_password(password)
    try:
        user = await users.create_user(session, username, email, password_hash)
        await session.commit()
    except IntegrityError:  # someone took the name or address a moment ago
        await session.rollback()
        raise Rejected(await registration_errors(session, username, email, password)) from None
    return user


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

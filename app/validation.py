"""Input rules shared by the views and the CLI: each returns an error message or None."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from app.models import ABOUT_MAX, EMAIL_MAX, USERNAME_MAX, USERNAME_MIN

USERNAME_RE = re.compile(rf"[A-Za-z0-9_]{{{USERNAME_MIN},{USERNAME_MAX}}}")
EMAIL_RE = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]+")
PASSWORD_MIN, PASSWORD_MAX = 8, 1024


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


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a local path is a safe place to send someone after logging in."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def body_error(body: str, limit: int, what: str) -> str | None:
    """For a post or comment body, already cleaned."""
    if not body:
        return f"Write something first: an empty {what} cannot be sent."
    if len(body) > limit:
        return f"Keep it to {limit} characters (this {what} has {len(body)})."
    return None

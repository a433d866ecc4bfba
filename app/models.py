"""Warble's schema as typed ORM classes: no I/O and no queries here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

USERNAME_MIN, USERNAME_MAX = 3, 30
ABOUT_MAX = 280
EMAIL_MAX = 254


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    password_hash: Mapped[str] = mapped_column(String(255))
    about_me: Mapped[str] = mapped_column(Text, default="", server_default="")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # "Susan" and "susan" are the same person: uniqueness ignores case.
        Index("ix_users_lower_username", func.lower(username), unique=True),
        Index("ix_users_lower_email", func.lower(email), unique=True),
        CheckConstraint(
            f"length(username) BETWEEN {USERNAME_MIN} AND {USERNAME_MAX}", name="username_length"
        ),
    )

    def __repr__(self) -> str:
        return f"<User {self.username}>"

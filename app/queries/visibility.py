"""Who sees whose posts and comments: blocks (either way), mutes and suspended accounts.

Each rule is a SQL condition on an author column for a viewer (a bound parameter or another
column), written into the statement that loads a page: a correlated NOT EXISTS on a primary
key (`blocks (blocker_id, blocked_id)`, `mutes (muter_id, muted_id)`, `users (id)`), so
hiding costs a page no statement of its own and no row is filtered in Python
(docs/architecture.md, "Visibility"). The rules:

- a block hides each from the other everywhere (posts, comments, people, notifications);
- a mute hides the muted one's posts and comments from the muter's timelines, comment lists
  and notifications, not their profile or post pages (the muter went looking);
- a suspended account's posts, comments and name are hidden from everyone;
- lists of people (the directory, followers and following, people search, suggestions) leave
  out whom a block separates from the viewer, suspended accounts and accounts still waiting
  for approval; a mute keeps a name listed (the muter can find them again to unmute).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Integer, and_, bindparam, exists, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.models import Block, Mute, User

# Who is looking: the page statements bind it (0 for nobody, whom nobody blocks or mutes).
VIEWER = bindparam("viewer", type_=Integer)


def _blocks(author: Any, viewer: Any) -> tuple[Any, Any]:
    """`viewer` blocked `author`; `author` blocked `viewer`: each a probe of the key."""
    return (
        exists().where(Block.blocker_id == viewer, Block.blocked_id == author),
        exists().where(Block.blocker_id == author, Block.blocked_id == viewer),
    )


def blocked_either_way(author: Any, viewer: Any = VIEWER) -> Any:
    """`viewer` blocked `author`, or `author` blocked `viewer`."""
    return or_(*_blocks(author, viewer))


def muted(author: Any, viewer: Any = VIEWER) -> Any:
    """`viewer` muted `author`."""
    return exists().where(Mute.muter_id == viewer, Mute.muted_id == author)


def suspended(author: Any) -> Any:
    """`author`'s account is suspended (a probe of the users' key)."""
    account = aliased(User)
    return exists().where(account.id == author, account.suspended_at.is_not(None))


def shown(author: Any, viewer: Any = VIEWER, *, mutes: bool = True, unless: Any = None) -> Any:
    """What `viewer` may see of `author` here: not blocked either way, not suspended, and
    (with `mutes`: timelines, comments, notifications) not muted. `unless`: a condition on
    the enclosing row under which nothing is hidden (staff hear of a report whoever sent it)."""
    # One NOT EXISTS per rule, ANDed: each can be planned as an anti-join (PostgreSQL turns
    # only top-level NOT EXISTS into one, never a NOT (... OR ...)); so `unless` goes inside
    # each probe rather than around them.
    hidden = [*_blocks(author, viewer), suspended(author)]
    if mutes:
        hidden.append(muted(author, viewer))
    if unless is not None:
        hidden = [rule.where(not_(unless)) for rule in hidden]
    return and_(*(not_(rule) for rule in hidden))


def shown_or_nobody(author: Any, viewer: Any = VIEWER) -> Any:
    """`shown`, for a column that may be NULL (a comment whose author is gone): shown."""
    return or_(author.is_(None), shown(author, viewer))


def listed(person: Any = User, viewer: Any = VIEWER) -> Any:
    """Whether `person` (the User entity, or an alias of it, in the enclosing statement)
    appears in a list of people that `viewer` reads."""
    hidden = [*_blocks(person.id, viewer), ~person.approved, person.suspended_at.is_not(None)]
    return and_(*(not_(rule) for rule in hidden))


class Between(NamedTuple):
    """How the viewer and an account stand (a profile's "…" menu and notices)."""

    i_block: bool
    blocks_me: bool
    i_mute: bool


def between(viewer: Any, user_id: Any) -> tuple[Any, Any, Any]:
    """The three columns of `Between`, for a statement that reads more (follows.relations)."""
    return (
        exists().where(Block.blocker_id == viewer, Block.blocked_id == user_id),
        exists().where(Block.blocker_id == user_id, Block.blocked_id == viewer),
        exists().where(Mute.muter_id == viewer, Mute.muted_id == user_id),
    )


async def standing(session: AsyncSession, viewer: int, user_id: int) -> Between:
    """How the viewer stands with the user, in one statement (a follow asks before writing)."""
    row = (await session.execute(select(*between(viewer, user_id)))).one()
    return Between(*(bool(b) for b in row))

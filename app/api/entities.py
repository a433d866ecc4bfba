"""Warble's rows as the entities of Mastodon's client API (https://docs.joinmastodon.org/entities/):
ids as strings, times in ISO 8601 with their offset, every field clients read even when empty.

What has no counterpart in Warble is its empty value: no media, polls, cards, emojis, boosts,
bookmarks, pins, content warnings (spoiler_text ""), and every post is public.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from app import text
from app.blueprints.avatars import avatar_url
from app.links import absolute, absolute_url
from app.models import Comment, Notification, Post, Report, User
from app.queries.posts import FeedItem
from app.queries.users import Counts

Json = dict[str, Any]
NO_COUNTS = Counts(0, 0, 0)


def iso(when: datetime | None) -> str | None:
    """ISO 8601 with the offset, in milliseconds as Mastodon: 2026-12-06T02:50:00.123+00:00."""
    return None if when is None else when.isoformat(timespec="milliseconds")


def profile_url(name: str) -> str:
    return absolute_url("users.profile", username=name)


def tag_url(key: str) -> str:
    return absolute_url("tags.show", tag=key)


def post_url(post_id: int) -> str:
    return absolute_url("posts.show", post_id=post_id)


@dataclass
class Context:
    """What a page of entities needs beside its rows, read once per page: each author's counts
    and the users its posts mention (lower-cased name → user)."""

    counts: dict[int, Counts] = field(default_factory=dict)
    mentioned: dict[str, User] = field(default_factory=dict)


def account(user: User, counts: Counts = NO_COUNTS) -> Json:
    avatar = avatar_url(user, 400)
    if avatar.startswith("/"):
        avatar = absolute(avatar)
    url = profile_url(user.username)
    return {
        "id": str(user.id),
        "username": user.username,
        "acct": user.username,  # a local account: the bare name
        "display_name": user.username,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "indexable": True,
        "group": False,
        "noindex": False,
        "created_at": iso(user.created_at),
        "note": _paragraphs(user.about_me, {}),
        "url": url,
        "uri": url,
        "avatar": avatar,
        "avatar_static": avatar,
        "header": "",
        "header_static": "",
        "followers_count": counts.followers,
        "following_count": counts.following,
        "statuses_count": counts.posts,
        "last_status_at": None,
        "hide_collections": False,
        "emojis": [],
        "fields": [],
        "roles": [],
    }


def credential_account(user: User, counts: Counts) -> Json:
    """The token's own account (verify_credentials): with `source`, what the user typed."""
    return account(user, counts) | {
        "source": {
            "privacy": "public",
            "sensitive": False,
            "language": None,
            "note": user.about_me,
            "fields": [],
            "follow_requests_count": 0,
            "hide_collections": False,
            "discoverable": True,
            "indexable": True,
        }
    }


def _paragraphs(body: str, users: dict[str, str]) -> str:
    """Sanitised HTML: the text escaped (web.linkify's links, with absolute URLs) in <p>,
    lines broken with <br>."""
    if not body:
        return ""
    html = text.linkify(body, users, profile_url, tag_url)
    lines = Markup("<br>").join(html.split("\n"))  # Markup's split keeps each piece Markup
    return str(Markup("<p>{0}</p>").format(lines))


def status(item: FeedItem, ctx: Context, body: str | None = None) -> Json:
    """`body`: an earlier text of the post (its history), in place of the current one."""
    post = item.post
    body = post.body if body is None else body
    names = text.mentioned([body])
    mentioned = [ctx.mentioned[name] for name in sorted(names) if name in ctx.mentioned]
    url = post_url(post.id)
    return {
        "id": str(post.id),
        "uri": url,
        "url": url,
        "created_at": iso(post.created_at),
        "edited_at": iso(post.edited_at),
        "account": account(post.author, ctx.counts.get(post.author_id, NO_COUNTS)),
        "content": _paragraphs(body, {u.username.lower(): u.username for u in mentioned}),
        "visibility": "public",
        "sensitive": False,
        "spoiler_text": "",
        "media_attachments": [],
        "application": None,
        "mentions": [
            {
                "id": str(u.id),
                "username": u.username,
                "acct": u.username,
                "url": profile_url(u.username),
            }
            for u in mentioned
        ],
        "tags": [{"name": tag.key, "url": tag_url(tag.key)} for tag in _unique_tags(body)],
        "emojis": [],
        "reblogs_count": 0,
        "favourites_count": item.like_count,
        "replies_count": item.comment_count,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "reblog": None,
        "poll": None,
        "card": None,
        "language": None,
        "text": None,
        "favourited": item.liked,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "pinned": False,
        "filtered": [],
    }


def _unique_tags(body: str) -> list[text.Tag]:
    seen: dict[str, text.Tag] = {}
    for tag in text.hashtags(body):
        seen.setdefault(tag.key, tag)
    return list(seen.values())


def comment_status(comment: Comment, author: User, post: Post, ctx: Context) -> Json:
    """A comment as a reply to its post (GET /api/v1/statuses/:id/context only): its id is
    "c" + the comment's id, since comments are numbered apart from posts; the statuses
    methods do not take it. Only a comment with an author is one: Mastodon always sends the
    account."""
    url = post_url(post.id) + f"#comment-{comment.id}"
    return {
        "id": f"c{comment.id}",
        "uri": url,
        "url": url,
        "created_at": iso(comment.created_at or post.created_at),
        "edited_at": None,
        "account": account(author, ctx.counts.get(author.id, NO_COUNTS)),
        "content": _paragraphs(comment.body, {}),
        "visibility": "public",
        "sensitive": False,
        "spoiler_text": "",
        "media_attachments": [],
        "application": None,
        "mentions": [],
        "tags": [],
        "emojis": [],
        "reblogs_count": 0,
        "favourites_count": 0,
        "replies_count": 0,
        "in_reply_to_id": str(post.id),
        "in_reply_to_account_id": str(post.author_id),
        "reblog": None,
        "poll": None,
        "card": None,
        "language": None,
        "text": None,
        "favourited": False,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "pinned": False,
        "filtered": [],
    }


def relationship(
    user_id: int,
    *,
    following: bool,
    followed_by: bool,
    blocking: bool = False,
    blocked_by: bool = False,
    muting: bool = False,
) -> Json:
    return {
        "id": str(user_id),
        "following": following,
        "showing_reblogs": following,
        "notifying": False,
        "languages": [],
        "followed_by": followed_by,
        "blocking": blocking,
        "blocked_by": blocked_by,
        "muting": muting,
        "muting_notifications": muting,  # a Warble mute hides notifications too
        "requested": False,
        "requested_by": False,
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }


# Warble's kinds → Mastodon's types. A comment is a reply to the user's post: a "mention"
# carrying the post, as the closest type clients show (Mastodon has no comment). A report
# and an account waiting for approval are what Mastodon tells its staff as admin.report
# (the account: the reporter) and admin.sign_up (the account: the newcomer).
NOTIFICATION_TYPES = {
    "follow": "follow",
    "like": "favourite",
    "mention": "mention",
    "comment": "mention",
    "report": "admin.report",
    "signup": "admin.sign_up",
}

# Warble's report reasons → Mastodon's categories. Mastodon's "violation" names the server
# rules broken (rule_ids); Warble has no rules, so abuse is "other" (as Mastodon files a
# report that names no rule), and the reporter's words are in `comment`.
REPORT_CATEGORIES = {"spam": "spam", "abuse": "other", "illegal": "legal", "other": "other"}


def report(r: Report, ctx: Context) -> Json:
    """https://docs.joinmastodon.org/entities/Report/ — `status_ids` holds the reported post
    (a comment is no status of its own: a comment's report names none); no rules, never
    forwarded (no federation). Resolved, dismissed or not, is `action_taken` as on Mastodon."""
    return {
        "id": str(r.id),
        "action_taken": r.resolved_at is not None,
        "action_taken_at": iso(r.resolved_at),
        "category": REPORT_CATEGORIES.get(r.reason, "other"),
        "comment": r.comment,
        "forwarded": False,
        "created_at": iso(r.created_at),
        "status_ids": [str(r.post_id)] if r.post_id is not None and r.comment_id is None else [],
        "rule_ids": [],
        "target_account": account(r.account, ctx.counts.get(r.account_id, NO_COUNTS)),
    }


def notification(n: Notification, st: Json | None, rep: Json | None, ctx: Context) -> Json:
    return {
        "id": str(n.id),
        "type": NOTIFICATION_TYPES.get(n.kind, n.kind),
        "created_at": iso(n.created_at),
        "group_key": f"ungrouped-{n.id}",
        "account": account(n.actor, ctx.counts.get(n.actor_id, NO_COUNTS)),
        "status": st,
        "report": rep,
    }


def tag(key: str, display: str | None = None) -> Json:
    return {"name": display or key, "url": tag_url(key), "history": [], "following": False}


def escape_text(value: str) -> str:
    return str(escape(value))

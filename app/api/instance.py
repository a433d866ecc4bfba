"""The instance's description: GET /api/v1/instance and /api/v2/instance."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

from quart import Blueprint, current_app
from sqlalchemy import func, select

from app.db import read_session
from app.links import absolute
from app.models import POST_MAX, Post, User

bp = Blueprint("api_instance", __name__)
MASTODON_VERSION = "4.3.0"  # the API Warble follows; clients compare it to decide what to call
API_VERSION = 2  # api_versions.mastodon: Mastodon 4.3's


def warble_version() -> str:
    try:
        return version("warble")
    except PackageNotFoundError:  # pragma: no cover - running from a tree that is not installed
        return "0.0.0"


def _common() -> dict[str, Any]:
    config = current_app.config
    return {
        "domain": urlsplit(config["BASE_URL"]).netloc,
        "title": "Warble",
        "version": f"{MASTODON_VERSION} (compatible; Warble {warble_version()})",
        "source_url": config["BASE_URL"],
        "description": "A self-hosted microblog.",
        "languages": ["en"],
        "rules": [],
        "api_versions": {"mastodon": API_VERSION},
    }


_configuration: dict[str, dict[str, Any]] = {
    "statuses": {
        "max_characters": POST_MAX,
        "max_media_attachments": 0,
        "characters_reserved_per_url": 0,
    },
    "media_attachments": {
        "supported_mime_types": [],
        "image_size_limit": 0,
        "image_matrix_limit": 0,
        "video_size_limit": 0,
        "video_frame_rate_limit": 0,
        "video_matrix_limit": 0,
    },
    "polls": {
        "max_options": 0,
        "max_characters_per_option": 0,
        "min_expiration": 0,
        "max_expiration": 0,
    },
    "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
    "translation": {"enabled": False},
}


@bp.get("/api/v1/instance")
@bp.get("/api/v1/instance/")
async def v1() -> dict[str, Any]:
    session = read_session()
    users = await session.scalar(select(func.count()).select_from(User)) or 0
    posts = await session.scalar(select(func.count()).select_from(Post)) or 0
    config = current_app.config
    common = _common()
    return common | {
        "uri": common["domain"],
        "short_description": common["description"],
        "email": "",
        "urls": {"streaming_api": ""},
        "stats": {"user_count": users, "status_count": posts, "domain_count": 0},
        "thumbnail": None,
        "registrations": config["REGISTRATION_OPEN"],
        "approval_required": False,
        "invites_enabled": False,
        "configuration": _configuration,
        "contact_account": None,
    }


@bp.get("/api/v2/instance")
@bp.get("/api/v2/instance/")
async def v2() -> dict[str, Any]:
    config = current_app.config
    return _common() | {
        "usage": {"users": {"active_month": 0}},
        "thumbnail": {"url": absolute("/static/favicon.svg")},
        "icon": [],
        "configuration": _configuration
        | {
            "urls": {"streaming": None, "status": None},
            "vapid": {"public_key": ""},
            "statuses": _configuration["statuses"] | {"supported_mime_types": ["text/plain"]},
        },
        "registrations": {
            "enabled": config["REGISTRATION_OPEN"],
            "approval_required": False,
            "message": None,
            "url": None,
        },
        "contact": {"email": "", "account": None},
    }

"""Warble, a self-hosted microblog: the application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypercorn.middleware import ProxyFixMiddleware
from quart import Quart

from app import api, config, db, events, health, limits, passwords, sessions, web

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict[str, Any] | None = None) -> Quart:
    """Build Warble: settings from the environment, then `overrides` (tests pass a dict)."""
    app = Quart(
        __name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static")
    )
    app.config.update(config.from_environment())
    app.config.update(overrides or {})
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = config.load_secret_key(Path(app.config["INSTANCE_PATH"]))
    app.config.update(config.derived(app.config))

    db.init_app(app)
    web.init_app(app)  # CSRF is checked before anything else reads the request
    _register_blueprints(app)
    api.init_app(app)  # the client API and OAuth (app/api/)
    limits.init_app(app)  # wraps the blueprints' limited views, so it comes after them
    sessions.init_app(app)
    health.init_app(app)
    passwords.init_app(app)
    events.init_app(app)
    web.keep_context_processors_on_the_loop(app)  # last: after every blueprint brought its own
    if hops := app.config["PROXY_HOPS"]:
        # Behind a reverse proxy: take the client address from the last `hops` X-Forwarded-For
        # entries, which the proxies themselves wrote. Without it, the header is ignored.
        proxied = ProxyFixMiddleware(app.asgi_app, mode="legacy", trusted_hops=hops)
        app.asgi_app = proxied  # type: ignore[method-assign]  # the documented way to wrap
    return app


def _register_blueprints(app: Quart) -> None:
    from app.blueprints import (
        accounts,
        admin,
        apps,
        atom,
        avatars,
        blocks,
        edits,
        invites,
        likes,
        live,
        notifications,
        posts,
        reports,
        search,
        tags,
        timeline,
        users,
    )

    blueprints = (
        *(accounts, avatars, live, notifications, timeline, posts, likes, edits, users),
        *(tags, search, atom, reports, admin, invites, apps, blocks),
    )
    for blueprint in (module.bp for module in blueprints):
        app.register_blueprint(blueprint)

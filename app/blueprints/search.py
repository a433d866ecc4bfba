"""Search (`GET /search?q=`): people, tags and posts, from the box in the navigation."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from quart import Blueprint, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from app.blueprints.feeds import mentions
from app.db import read_session
from app.pagination import Page
from app.queries import search, tags
from app.sessions import viewer_id
from app.web import announce, cursor_arg, is_htmx, render, render_template

bp = Blueprint("search", __name__)


@bp.get("/search")
async def index() -> ResponseReturnValue:
    """The whole page; for htmx (typing in the box) what goes in <main>; with `before`, the
    next page of posts."""
    query = search.parse(request.args.get("q", ""))
    # A #tag submitted goes to the tag; typed (htmx), or come back to by Back (htmx restoring
    # the page that typing left: /search?q=%23tag), it is a prefix like any word.
    restoring = request.headers.get("HX-History-Restore-Request") == "true"
    if query.tag is not None and not is_htmx() and not restoring:
        return redirect(url_for("tags.show", tag=query.tag))
    page = await search.search_posts(read_session(), query, cursor_arg(), viewer=viewer_id())
    continued = "before" in request.args
    context: dict[str, Any] = {
        "query": query,
        "search_text": query.text,
        "page": page,
        "continued": continued,
        "mentions": await mentions([item.post.body for item in page.items]),
        "people": Page([], None),
        "found_tags": [],
    }
    if continued:
        if is_htmx():
            html = await render_template("partials/search_posts.html", **context)
            return html, 200, announce(f"Loaded {len(page.items)} more posts")
    else:
        context |= await _prefix_groups(query)
    html, status = await render("pages/search.html", "partials/search_answer.html", **context)
    if not is_htmx():
        return html, status
    headers = announce(_summary(context))
    if _already_there():
        headers["HX-Push-Url"] = "false"
    return html, status, headers


def _already_there() -> bool:
    """Is the page already at this search's address (Enter after the results came, a second
    click on the clear button)? Then it gets no second entry in the history."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    asked = parse_qs(request.query_string.decode(errors="replace"))
    return current.path == request.path and parse_qs(current.query) == asked


async def _prefix_groups(query: search.Query) -> dict[str, Any]:
    """People and tags whose names start with the query, when it is one word."""
    session = read_session()
    viewer = g.user.id if g.user else None
    people = []
    if query.name_prefix is not None:
        people = await search.people_by_prefix(session, query.name_prefix, viewer)
    found = []
    if query.tag_prefix is not None:
        found = await tags.tags_by_prefix(session, query.tag_prefix)
    return {"people": Page(people, None), "found_tags": found}


def _summary(context: dict[str, Any]) -> str:
    """What a screen reader hears once the results are in: the count of each group shown."""
    query = context["query"]
    if not query.text:
        return "Search cleared"
    found = []
    if query.name_prefix is not None:
        found.append(_count(len(context["people"].items), "person", "people"))
    if query.tag_prefix is not None:
        found.append(_count(len(context["found_tags"]), "tag", "tags"))
    if query.tag is None:
        found.append(_count(len(context["page"].items), "post", "posts"))
    return "Found " + ", ".join(found) + (", and more posts" if context["page"].next else "")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"

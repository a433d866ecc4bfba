"""Links for the templates, built from the URL map's own rules without Quart's per-call work.

A page of posts builds over a hundred links (each post's permalink, author, avatar, like form,
likers...). Quart's `url_for` spends about 6 µs on each: it finds the request context, injects
URL defaults, then werkzeug picks the rule and builds it; here a path is the rule's text with
the converted values put in, about a third of that (docs/benchmarks.md, "The web layer"). The same
converters convert the values and the same rule is chosen, so the links are the ones `url_for`
makes (tests/test_links.py checks every route); anything this does not handle — query
arguments, `_external`, rules with defaults or converter arguments — goes to `url_for`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from quart import Quart, current_app, url_for
from quart.globals import _cv_request
from werkzeug.routing import Map, Rule

# A variable part of a rule: <name>, <converter:name>; with converter arguments, not handled.
VARIABLE = re.compile(r"<(?:([a-zA-Z_][a-zA-Z0-9_]*)(\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>")

# A compiled rule: its path with a {} for each variable part, and (name, to_url) for each.
Compiled = tuple[str, tuple[tuple[str, Callable[[Any], str]], ...]]


def compile_rule(url_map: Map, rule: Rule) -> Compiled | None:
    """The rule's path as a format string, or None when url_for must build it."""
    if rule.defaults or rule.host or rule.subdomain or rule.websocket:
        return None
    pieces, slots, position = [], [], 0
    for variable in VARIABLE.finditer(rule.rule):
        converter, arguments, name = variable.groups()
        if arguments:
            return None
        pieces.append(rule.rule[position : variable.start()].replace("{", "{{").replace("}", "}}"))
        pieces.append("{}")
        slots.append((name, url_map.converters[converter or "default"](url_map).to_url))
        position = variable.end()
    pieces.append(rule.rule[position:].replace("{", "{{").replace("}", "}}"))
    return "".join(pieces), tuple(slots)


class Links:
    """`path(endpoint, **values)`: url_for's path, for the rules compiled above."""

    def __init__(self, app: Quart) -> None:
        self.url_map = app.url_map
        self.compiled: dict[tuple[str, tuple[str, ...]], Compiled | None] = {}

    def chosen(self, endpoint: str, names: tuple[str, ...]) -> Compiled | None:
        """The rule werkzeug would build for these argument names (GET first, as it does),
        compiled, if it takes exactly these arguments; else None."""
        key = (endpoint, names)
        if key not in self.compiled:
            rules = self.url_map._rules_by_endpoint.get(endpoint, [])
            values = dict.fromkeys(names, "")
            rule = next((r for r in rules if r.suitable_for(values, "GET")), None)
            if rule is None:
                rule = next((r for r in rules if r.suitable_for(values)), None)
            fits = rule is not None and rule.arguments == set(names) and endpoint[0] != "."
            self.compiled[key] = compile_rule(self.url_map, rule) if fits and rule else None
        return self.compiled[key]

    def path(self, endpoint: str, **values: Any) -> str:
        if None in values.values():  # url_for leaves those out
            values = {name: value for name, value in values.items() if value is not None}
        compiled = self.chosen(endpoint, tuple(values))
        context = _cv_request.get(None)  # what `request` proxies, without the proxy's cost
        if compiled is None or context is None:
            return url_for(endpoint, **values)
        path, slots = compiled
        root = context.request.root_path.rstrip("/")
        return root + path.format(*[to_url(values[name]) for name, to_url in slots])


def path_for(endpoint: str, **values: Any) -> str:
    """The templates' `url_for`: the path from the compiled rule, or Quart's url_for."""
    links: Links = current_app.extensions["links"]
    return links.path(endpoint, **values)


def absolute(path: str) -> str:
    """An absolute URL on BASE_URL, the only source of them: never the request's Host header
    (which anyone can forge, or a proxy rewrite)."""
    base: str = current_app.config["BASE_URL"]
    return base + path


def absolute_url(endpoint: str, **values: Any) -> str:
    """The address of a Warble page as the world knows it: BASE_URL and url_for's path."""
    return absolute(url_for(endpoint, **values))


def init_app(app: Quart) -> None:
    links = Links(app)
    app.extensions["links"] = links
    app.jinja_env.globals["url_for"] = links.path

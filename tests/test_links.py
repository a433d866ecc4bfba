"""The templates' links (app/links.py) are exactly the ones Quart's url_for builds."""

from __future__ import annotations

import pytest
from quart import Quart, url_for

from app import create_app
from app.links import Links

# Values that need quoting, or that a converter turns into something else.
STRINGS = ["alice", "Zoë_1", "a b/c?d#e%f", "名前", "#tag"]
NUMBERS = [1, 42, 2_147_483_647]
HOT = {  # what a page of posts builds many times: these must not fall back to url_for
    "posts.show": {"post_id"},
    "users.profile": {"username"},
    "avatars.show": {"user_id"},
    "likes.like": {"post_id"},
    "likes.unlike": {"post_id"},
    "likes.likers": {"post_id"},
    "edits.edit": {"post_id"},
    "edits.history": {"post_id"},
    "posts.confirm_delete": {"post_id"},
    "posts.delete": {"post_id"},
    "users.follow": {"username"},
    "users.unfollow": {"username"},
    "tags.show": {"tag"},
}


@pytest.fixture(scope="module")
def warble() -> Quart:
    return create_app({"SECRET_KEY": "links", "DATABASE_URL": "sqlite+aiosqlite:///:memory:"})


def calls(warble: Quart) -> list[tuple[str, dict[str, object]]]:
    """Every rule, with each sample value in each of its arguments, and with extras."""
    found = []
    for rule in warble.url_map.iter_rules():
        numeric = {
            name for name, converter in rule._converters.items() if converter.regex == "[0-9]+"
        } | {name for name, converter in rule._converters.items() if "\\d" in converter.regex}
        samples = [
            {name: (NUMBERS[i % 3] if name in numeric else STRINGS[i]) for name in rule.arguments}
            for i in range(len(STRINGS))
        ]
        found += [(rule.endpoint, values) for values in samples]
        extra: dict[str, object] = {"page": "2", "standalone": None}
        found.append((rule.endpoint, samples[0] | extra))
    return found


@pytest.mark.parametrize("root_path", ["", "/warble"])
async def test_every_route_builds_as_url_for_does(warble: Quart, root_path: str) -> None:
    links = Links(warble)
    async with warble.test_request_context("/", root_path=root_path):
        checked = 0
        for endpoint, values in calls(warble):
            assert links.path(endpoint, **values) == url_for(endpoint, **values), (
                endpoint,
                values,
            )
            checked += 1
    assert checked > 5 * len(HOT)


def test_the_links_of_a_page_of_posts_are_compiled(warble: Quart) -> None:
    links = Links(warble)
    for endpoint, names in HOT.items():
        assert links.chosen(endpoint, tuple(names)) is not None, endpoint
    # Query arguments and relative endpoints are url_for's.
    assert links.chosen("posts.show", ("post_id", "page")) is None

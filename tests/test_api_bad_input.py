"""Property tests of the client API: whatever arrives in a query string or a body (form or
JSON), it answers JSON below 500, and writes nothing when it refuses."""

from __future__ import annotations

import json
from urllib.parse import quote_from_bytes

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.models import Block, Follow, Mute, OAuthApp, OAuthToken, Post, PostEdit
from tests.test_api import bearer
from tests.test_bad_input import FIELD, PROPERTY, encode

# Account 1 is the token's (alice), 2 someone else (bob); post 1 is alice's.
GETS = [
    "/api/v1/timelines/home",
    "/api/v1/timelines/public",
    "/api/v1/timelines/tag/{value}",
    "/api/v1/notifications",
    "/api/v1/notifications/{value}",
    "/api/v1/accounts/lookup",
    "/api/v1/accounts/relationships",
    "/api/v1/accounts/1/statuses",
    "/api/v1/accounts/1/followers",
    "/api/v1/accounts/1/following",
    "/api/v1/blocks",
    "/api/v1/mutes",
    "/api/v1/statuses/1/favourited_by",
    "/api/v1/statuses/1/context",
    "/api/v1/statuses/1/history",
    "/api/v2/search",
]
PARAMS = ["max_id", "since_id", "min_id", "limit", "q", "acct", "type", "id[]", "offset", "local"]
BODIES = [
    ("POST", "/api/v1/statuses"),
    ("PUT", "/api/v1/statuses/1"),
    ("POST", "/api/v1/apps"),
    ("POST", "/oauth/token"),
    ("POST", "/oauth/revoke"),
    ("POST", "/api/v1/accounts/2/follow"),
    ("POST", "/api/v1/accounts/2/block"),
    ("POST", "/api/v1/accounts/2/mute"),
]
FIELDS = [
    "status",
    "client_name",
    "redirect_uris",
    "scopes",
    "grant_type",
    "visibility",
    "client_id",
    "client_secret",
    "code",
    "token",
    "in_reply_to_id",
    "website",
    "reblogs",
    "notify",
    "languages[]",
    "notifications",
    "duration",
]
# Twice the examples of the other property tests: twice the places to reach.
WIDE = settings(PROPERTY, max_examples=60)


def q(value: str) -> str:
    return quote_from_bytes(value.encode("utf-8", "surrogatepass"), safe="")


async def counts(session) -> tuple[int, ...]:
    session.expire_all()
    models = (Post, PostEdit, OAuthApp, OAuthToken, Follow, Block, Mute)
    return tuple([await session.scalar(select(func.count()).select_from(m)) for m in models])


async def token_of(session, make_user) -> str:
    from app.api.auth import digest
    from app.clock import utcnow
    from app.queries import oauth, posts

    user = await make_user("alice")
    await make_user("bob")
    await posts.create_post(session, user, "hello")
    now = utcnow()
    app = await oauth.create_app(
        session,
        client_id="cid",
        secret_hash=digest("secret"),
        name="x",
        redirect_uris=["urn:ietf:wg:oauth:2.0:oob"],
        scopes="read write follow",
        website=None,
        now=now,
    )
    await oauth.create_token(
        session,
        token_hash=digest("tok"),
        app_id=app.id,
        user_id=user.id,
        scopes="read write follow",
        now=now,
    )
    await session.commit()
    return "tok"


@WIDE
@given(path=st.sampled_from(GETS), param=st.sampled_from(PARAMS), value=FIELD)
async def test_any_query_string(client, session, make_user, path, param, value):
    if not await session.scalar(select(func.count()).select_from(OAuthToken)):
        await token_of(session, make_user)
    url = path.format(value=q(value) or "x") + f"?{q(param)}={q(value)}"
    answer = await client.raw.get(url, headers=bearer("tok"))
    assert answer.status_code < 500, url
    assert answer.mimetype == "application/json"


@WIDE
@given(
    target=st.sampled_from(BODIES),
    fields=st.dictionaries(st.sampled_from(FIELDS), FIELD, max_size=4),
    as_json=st.booleans(),
)
async def test_any_body(client, session, make_user, target, fields, as_json):
    method, path = target
    if not await session.scalar(select(func.count()).select_from(OAuthToken)):
        await token_of(session, make_user)
    before = await counts(session)
    headers = bearer("tok")
    if as_json:
        data = json.dumps(fields).encode()
        headers["Content-Type"] = "application/json"
    else:
        data = encode(fields)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    answer = await client.raw.open(path, method=method, data=data, headers=headers)
    assert answer.status_code < 500, fields
    assert answer.mimetype == "application/json"
    if answer.status_code >= 400:
        assert await counts(session) == before

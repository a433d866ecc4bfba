"""The client API and its OAuth 2 through Quart's test client, on every backend: the flow,
tokens and scopes, who may use them, CSRF, paging, limits, CORS and bad input."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from app.api.auth import digest
from app.clock import utcnow
from app.models import IdempotencyKey, OAuthCode, OAuthToken, Post, User
from tests.conftest import Client, body

OOB = "urn:ietf:wg:oauth:2.0:oob"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def api(client: Client, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
    headers = bearer(token) if token else {}
    return await client.raw.open(path, method=method, headers=headers | kw.pop("headers", {}), **kw)


async def register(client: Client, **fields: Any) -> dict:
    answer = await client.raw.post(
        "/api/v1/apps",
        json={"client_name": "toot", "redirect_uris": OOB, "scopes": "read write follow"} | fields,
    )
    assert answer.status_code == 200, await body(answer)
    return await answer.get_json()


def pkce() -> tuple[str, str]:
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


async def consent(client: Client, app: dict, **extra: str) -> str:
    """GET the consent page, POST Authorize; the code shown in #oauth-code."""
    query = {
        "client_id": app["client_id"],
        "redirect_uri": OOB,
        "response_type": "code",
        "scope": "read write follow",
        "force_login": "False",  # junk Mastodon.py sends: ignored
        "state": "None",
        **extra,
    }
    page = await client.raw.get("/oauth/authorize/", query_string=query)
    html = await body(page)
    assert page.status_code == 200, html
    assert "Authorize toot?" in html and "<code>write</code>" in html
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', html))
    fields.pop("csrf_token")
    answer = await client.post("/oauth/authorize", fields | {"decision": "authorize"})
    html = await body(answer)
    assert answer.status_code == 200, html
    return re.search(r'<code id="oauth-code"[^>]*>([^<]+)</code>', html).group(1)


async def test_authorization_code_flow_with_pkce_gives_a_token_once(client, make_user, session):
    alice = await make_user("alice")
    await client.login(alice)
    app = await register(client)
    assert app["vapid_key"] is None and app["redirect_uri"] == OOB
    verifier, challenge = pkce()
    code = await consent(client, app, code_challenge=challenge, code_challenge_method="S256")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "redirect_uri": OOB,
        "code_verifier": verifier,
    }
    answer = await client.raw.post("/oauth/token", form=form)
    token = await answer.get_json()
    assert answer.status_code == 200, token
    assert token["token_type"] == "Bearer" and token["scope"] == "read write follow"
    me = await api(client, "GET", "/api/v1/accounts/verify_credentials", token["access_token"])
    assert (await me.get_json())["acct"] == "alice"

    again = await client.raw.post("/oauth/token", form=form)
    assert again.status_code == 400
    assert (await again.get_json())["error"] == "invalid_grant"
    stored = await session.scalar(select(OAuthToken.token_hash))
    assert stored == digest(token["access_token"])  # only the hash is kept


async def test_a_wrong_verifier_or_an_expired_code_gets_no_token_and_burns_the_code(
    client, make_user, session
):
    await client.login(await make_user("alice"))
    app = await register(client)
    _, challenge = pkce()
    code = await consent(client, app, code_challenge=challenge)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "redirect_uri": OOB,
        "code_verifier": "wrong",
    }
    assert (await client.raw.post("/oauth/token", form=form)).status_code == 400
    assert await session.scalar(select(OAuthCode.id)) is None  # burned

    code = await consent(client, app)
    await session.execute(update(OAuthCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    await session.commit()
    form |= {"code": code, "code_verifier": ""}
    answer = await client.raw.post("/oauth/token", form=form)
    assert answer.status_code == 400
    assert await session.scalar(select(OAuthToken.id)) is None


async def test_consent_form_keeps_its_csrf_check_and_deny_gives_no_code(client, make_user):
    await client.login(await make_user("alice"))
    app = await register(client)
    fields = {"client_id": app["client_id"], "redirect_uri": OOB, "scope": "read"}
    refused = await client.post("/oauth/authorize", fields | {"decision": "authorize"}, csrf=False)
    assert refused.status_code == 403
    denied = await client.post("/oauth/authorize", fields | {"decision": "deny"})
    html = await body(denied)
    assert denied.status_code == 200 and "oauth-code" not in html


async def test_consent_redirects_with_code_and_state_to_a_registered_uri_only(client, make_user):
    await client.login(await make_user("alice"))
    app = await register(client, redirect_uris="https://app.example/cb")
    fields = {
        "client_id": app["client_id"],
        "redirect_uri": "https://app.example/cb",
        "scope": "read",
        "state": "xyz",
    }
    answer = await client.post("/oauth/authorize", fields | {"decision": "authorize"})
    assert answer.status_code == 302
    assert re.fullmatch(
        r"https://app\.example/cb\?code=[\w-]+&state=xyz", answer.headers["Location"]
    )
    elsewhere = await client.raw.get(
        "/oauth/authorize", query_string=fields | {"redirect_uri": "https://evil.example/"}
    )
    assert elsewhere.status_code == 400 and "Location" not in elsewhere.headers


async def test_client_credentials_token_has_no_user(client):
    app = await register(client)
    form = {
        "grant_type": "client_credentials",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "scope": "read",
    }
    token = await (await client.raw.post("/oauth/token", form=form)).get_json()
    assert token["scope"] == "read"
    public = await api(client, "GET", "/api/v1/timelines/public", token["access_token"])
    assert public.status_code == 200
    me = await api(client, "GET", "/api/v1/accounts/verify_credentials", token["access_token"])
    assert me.status_code == 401
    mine = await api(client, "GET", "/api/v1/apps/verify_credentials", token["access_token"])
    assert (await mine.get_json())["name"] == "toot"
    bad = await client.raw.post("/oauth/token", form=form | {"client_secret": "nope"})
    assert bad.status_code == 401 and (await bad.get_json())["error"] == "invalid_client"


async def test_revoked_token_is_refused(client, make_user, session):
    app = await register(client)
    await client.login(await make_user("alice"))
    code = await consent(client, app)
    creds = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    form = creds | {"grant_type": "authorization_code", "code": code, "redirect_uri": OOB}
    token = (await (await client.raw.post("/oauth/token", form=form)).get_json())["access_token"]
    revoked = await client.raw.post("/oauth/revoke", form=creds | {"token": token})
    assert revoked.status_code == 200
    answer = await api(client, "GET", "/api/v1/accounts/verify_credentials", token)
    assert answer.status_code == 401
    assert (await answer.get_json()) == {"error": "The access token is invalid"}


async def test_the_api_never_accepts_the_session_cookie(client, make_user):
    await client.login(await make_user("alice"))
    answer = await client.raw.get("/api/v1/accounts/verify_credentials")
    assert answer.status_code == 401
    posted = await client.raw.post("/api/v1/statuses", form={"status": "hi"})
    assert posted.status_code == 401


async def test_bearer_posts_need_no_csrf_token(client, make_user, make_token, count_rows):
    token = await make_token(await make_user("alice"))
    answer = await api(client, "POST", "/api/v1/statuses", token, form={"status": "hello"})
    assert answer.status_code == 200, await body(answer)
    assert await count_rows(Post) == 1


async def test_scopes_are_enforced_per_endpoint(client, make_user, make_token, count_rows):
    token = await make_token(await make_user("alice"), "read")
    answer = await api(client, "POST", "/api/v1/statuses", token, form={"status": "hello"})
    assert answer.status_code == 403
    assert (await answer.get_json()) == {"error": "This action is outside the authorized scopes"}
    assert await count_rows(Post) == 0
    granular = await make_token(await make_user("bob"), "write:statuses")
    answer = await api(client, "POST", "/api/v1/statuses", granular, form={"status": "hi"})
    assert answer.status_code == 200
    timeline = await api(client, "GET", "/api/v1/timelines/home", granular)
    assert timeline.status_code == 403


async def test_password_change_suspension_and_waiting_approval_end_tokens(
    client, make_user, make_token, session
):
    alice = await make_user("alice")
    token = await make_token(alice)
    await client.login(alice)
    changed = await client.post(
        "/settings/password",
        {"current_password": "correct horse battery", "new_password": "another good one 123"},
    )
    assert changed.status_code == 302
    answer = await api(client, "GET", "/api/v1/accounts/verify_credentials", token)
    assert answer.status_code == 401

    bob = await make_user("bob")
    token = await make_token(bob)
    await session.execute(update(User).where(User.id == bob.id).values(suspended_at=utcnow()))
    await session.commit()
    answer = await api(client, "GET", "/api/v1/timelines/home", token)
    assert answer.status_code == 401
    assert (await answer.get_json())["error"] == "Your login is currently disabled"

    carol = await make_user("carol", approved=False)
    token = await make_token(carol)
    answer = await api(client, "GET", "/api/v1/timelines/home", token)
    assert answer.status_code == 401


async def test_authorized_apps_says_never_used_until_a_token_is_used_then_notes_it_sparingly(
    client, make_user, make_token, session
):
    alice = await make_user("alice")
    token = await make_token(alice, "read write")
    await client.login(alice)
    html = await body(await client.get("/settings/apps"))
    assert "never used" in html and "last used" not in html

    async def last_used() -> Any:
        session.expire_all()
        return await session.scalar(select(OAuthToken.last_used_at))

    assert await last_used() is None
    await api(client, "GET", "/api/v1/timelines/home", token)
    first = await last_used()
    assert first is not None
    html = await body(await client.get("/settings/apps"))
    assert "last used" in html and "never used" not in html
    a_minute_ago = utcnow() - timedelta(minutes=1)
    await session.execute(update(OAuthToken).values(last_used_at=a_minute_ago))
    await session.commit()
    await api(client, "GET", "/api/v1/timelines/home", token)
    assert await last_used() == a_minute_ago  # not written on every request
    await session.execute(update(OAuthToken).values(last_used_at=utcnow() - timedelta(minutes=6)))
    await session.commit()
    await api(client, "GET", "/api/v1/timelines/home", token)
    assert await last_used() > a_minute_ago


async def test_settings_lists_authorized_apps_and_revoke_ends_their_tokens(
    client, make_user, make_token
):
    alice = await make_user("alice")
    token = await make_token(alice, "read write")
    await api(client, "GET", "/api/v1/timelines/home", token)
    await client.login(alice)
    page = await client.get("/settings/apps")
    html = await body(page)
    assert page.status_code == 200
    assert "Test app" in html and "read write" in html and "last used" in html
    app_id = re.search(r'id="app-(\d+)"', html).group(1)
    refused = await client.post(f"/settings/apps/{app_id}/revoke", csrf=False)
    assert refused.status_code == 403
    revoked = await client.post(f"/settings/apps/{app_id}/revoke")
    assert revoked.status_code == 302 and revoked.headers["Location"] == "/settings/apps"
    answer = await api(client, "GET", "/api/v1/timelines/home", token)
    assert answer.status_code == 401
    assert 'id="authorized-apps-empty"' in await body(await client.get("/settings/apps"))


async def test_home_timeline_pages_by_link_header_each_post_once(
    client, make_user, make_post, make_token
):
    alice = await make_user("alice")
    posts = [await make_post(alice, f"post {n}") for n in range(45)]
    token = await make_token(alice)
    seen, url, pages = [], "/api/v1/timelines/home?limit=20", 0
    while url:
        answer = await api(client, "GET", url, token)
        assert answer.status_code == 200
        seen += [status["id"] for status in await answer.get_json()]
        link = answer.headers.get("Link", "")
        assert link == "" or link.startswith("<http://127.0.0.1:8000/api/v1/timelines/home?")
        match = re.match(r'<([^>]+)>; rel="next"', link)
        url = match.group(1).removeprefix("http://127.0.0.1:8000") if match else None
        pages += 1
    assert seen == [str(p.id) for p in reversed(posts)]
    assert pages == 3


async def test_limit_and_max_id_since_id_by_status_id(client, make_user, make_post, make_token):
    alice = await make_user("alice")
    posts = [await make_post(alice, f"post {n}") for n in range(50)]
    token = await make_token(alice)
    answer = await api(client, "GET", "/api/v1/timelines/public?limit=100", token)
    assert len(await answer.get_json()) == 40
    older = await api(client, "GET", f"/api/v1/timelines/public?max_id={posts[10].id}", token)
    assert [s["id"] for s in await older.get_json()] == [str(p.id) for p in reversed(posts[:10])]
    newer = await api(client, "GET", f"/api/v1/timelines/public?since_id={posts[45].id}", token)
    assert [s["id"] for s in await newer.get_json()] == [str(p.id) for p in reversed(posts[46:])]
    for timeline in ("public", "home", "tag/nothing"):
        path = f"/api/v1/timelines/{timeline}?min_id={posts[10].id}&limit=5"
        right_after = await (await api(client, "GET", path, token)).get_json()
        expected = [] if timeline == "tag/nothing" else reversed(posts[11:16])
        assert [s["id"] for s in right_after] == [str(p.id) for p in expected], timeline
    mine = f"/api/v1/accounts/{alice.id}/statuses?min_id={posts[47].id}"
    assert len(await (await api(client, "GET", mine, token)).get_json()) == 2


async def test_status_entity_has_what_clients_read(client, make_user, make_token):
    alice = await make_user("alice")
    await make_user("bob")
    token = await make_token(alice)
    answer = await api(
        client, "POST", "/api/v1/statuses", token, json={"status": "hi @bob #Tea <b>"}
    )
    status = await answer.get_json()
    assert status["content"] == (
        '<p>hi <a class="mention" href="http://127.0.0.1:8000/user/bob">@bob</a> '
        '<a class="hashtag" href="http://127.0.0.1:8000/tags/tea">#Tea</a> &lt;b&gt;</p>'
    )
    assert [m["acct"] for m in status["mentions"]] == ["bob"]
    assert status["tags"] == [{"name": "tea", "url": "http://127.0.0.1:8000/tags/tea"}]
    for empty in ("media_attachments", "emojis"):
        assert status[empty] == []
    assert status["spoiler_text"] == "" and status["visibility"] == "public"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", status["created_at"])
    assert status["account"]["statuses_count"] == 1 and status["account"]["acct"] == "alice"
    assert isinstance(status["id"], str)


async def test_idempotency_key_makes_one_post(client, make_user, make_token, count_rows):
    token = await make_token(await make_user("alice"))
    headers = {"Idempotency-Key": "abc"}
    first = await api(
        client, "POST", "/api/v1/statuses", token, form={"status": "x"}, headers=headers
    )
    again = await api(
        client, "POST", "/api/v1/statuses", token, form={"status": "x"}, headers=headers
    )
    assert (await first.get_json())["id"] == (await again.get_json())["id"]
    assert await count_rows(Post) == 1 and await count_rows(IdempotencyKey) == 1


async def test_instance_with_and_without_trailing_slash(client):
    for path in ("/api/v1/instance", "/api/v1/instance/", "/api/v2/instance", "/api/v2/instance/"):
        answer = await client.raw.get(path)
        data = await answer.get_json()
        assert answer.status_code == 200, path
        assert re.fullmatch(r"4\.3\.0 \(compatible; Warble \d+\.\d+\.\d+\)", data["version"])
        assert data["api_versions"] == {"mastodon": 2}


async def test_rate_limit_headers_together_and_429_json(make_app):
    app = await make_app(RATE_LIMITS=True, RATE_LIMIT_API="2/minute")
    client = app.test_client()
    for remaining in ("1", "0"):
        answer = await client.get("/api/v1/timelines/public")
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Limit"] == "2"
        assert answer.headers["X-RateLimit-Remaining"] == remaining
        assert "X-RateLimit-Reset" in answer.headers
    refused = await client.get("/api/v1/timelines/public")
    assert refused.status_code == 429
    assert (await refused.get_json()) == {"error": "Too many requests"}
    assert refused.headers["X-RateLimit-Remaining"] == "0"


async def test_one_token_from_many_addresses_is_limited_per_token(make_app, make_user, make_token):
    """Behind a proxy each request comes from another address, so only the token's own budget
    can refuse the third one."""
    app = await make_app(RATE_LIMITS=True, RATE_LIMIT_API="2/minute", PROXY_HOPS=1)
    client = Client(app.test_client())
    token = await make_token(await make_user("alice"))

    async def from_address(n: int) -> Any:
        forwarded = {"X-Forwarded-For": f"192.0.2.{n}"}
        return await api(client, "GET", "/api/v1/timelines/home", token, headers=forwarded)

    for n, remaining in ((1, "1"), (2, "0")):
        answer = await from_address(n)
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Remaining"] == remaining
    refused = await from_address(3)
    assert refused.status_code == 429
    assert (await refused.get_json()) == {"error": "Too many requests"}
    assert refused.headers["X-RateLimit-Limit"] == "2"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in refused.headers
    assert int(refused.headers["Retry-After"]) > 0
    # Another token from the same address is not refused: the budget spent was the token's.
    other = await make_token(await make_user("bob"))
    forwarded = {"X-Forwarded-For": "192.0.2.4"}
    answer = await api(client, "GET", "/api/v1/timelines/home", other, headers=forwarded)
    assert answer.status_code == 200


async def test_cors_on_api_and_token_without_credentials(client):
    answer = await client.raw.options(
        "/api/v1/timelines/public", headers={"Origin": "https://app.example"}
    )
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    token = await client.raw.post("/oauth/token", form={})
    assert token.headers["Access-Control-Allow-Origin"] == "*"
    page = await client.raw.get("/")
    assert "Access-Control-Allow-Origin" not in page.headers


async def test_follow_unfollow_relationships_and_notifications(client, make_user, make_token):
    alice, bob = await make_user("alice"), await make_user("bob")
    a, b = await make_token(alice), await make_token(bob)
    followed = await api(client, "POST", f"/api/v1/accounts/{bob.id}/follow", a)
    assert (await followed.get_json())["following"] is True
    rel = await api(client, "GET", f"/api/v1/accounts/relationships?id[]={bob.id}", a)
    assert [(r["id"], r["following"]) for r in await rel.get_json()] == [(str(bob.id), True)]
    notes = await (await api(client, "GET", "/api/v1/notifications", b)).get_json()
    assert [(n["type"], n["account"]["acct"]) for n in notes] == [("follow", "alice")]
    dismissed = await api(client, "POST", f"/api/v1/notifications/{notes[0]['id']}/dismiss", b)
    assert dismissed.status_code == 200
    assert await (await api(client, "GET", "/api/v1/notifications", b)).get_json() == []
    unfollowed = await api(client, "POST", f"/api/v1/accounts/{bob.id}/unfollow", a)
    assert (await unfollowed.get_json())["following"] is False
    self_follow = await api(client, "POST", f"/api/v1/accounts/{alice.id}/follow", a)
    assert self_follow.status_code == 403


async def test_edit_history_context_and_likes(client, make_user, make_token):
    alice, bob = await make_user("alice"), await make_user("bob")
    a, b = await make_token(alice), await make_token(bob)
    status = await (
        await api(client, "POST", "/api/v1/statuses", a, json={"status": "one"})
    ).get_json()
    sid = status["id"]
    edited = await api(client, "PUT", f"/api/v1/statuses/{sid}", a, json={"status": "two"})
    assert (await edited.get_json())["content"] == "<p>two</p>"
    history = await (await api(client, "GET", f"/api/v1/statuses/{sid}/history", a)).get_json()
    assert [h["content"] for h in history] == ["<p>one</p>", "<p>two</p>"]
    not_mine = await api(client, "PUT", f"/api/v1/statuses/{sid}", b, json={"status": "x"})
    assert not_mine.status_code == 404
    await client.login(bob)
    await client.post(f"/posts/{sid}/comments", {"body": "nice"})
    ctx = await (await api(client, "GET", f"/api/v1/statuses/{sid}/context", b)).get_json()
    assert [(d["content"], d["in_reply_to_id"]) for d in ctx["descendants"]] == [
        ("<p>nice</p>", sid)
    ]
    liked = await (await api(client, "POST", f"/api/v1/statuses/{sid}/favourite", b)).get_json()
    assert liked["favourited"] is True and liked["favourites_count"] == 1
    by = await (await api(client, "GET", f"/api/v1/statuses/{sid}/favourited_by", a)).get_json()
    assert [acc["acct"] for acc in by] == ["bob"]


async def test_context_leaves_out_the_comments_of_deleted_accounts(
    client, make_user, make_post, make_token
):
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    post = await make_post(alice, "tea?")
    for commenter, words in ((bob, "yes"), (carol, "always")):
        await client.login(commenter)
        await client.post(f"/posts/{post.id}/comments", {"body": words})
    await client.login(await make_user("boss", role="admin"))
    deleted = await client.post("/admin/accounts/bob/delete", {"reason": "asked to leave"})
    assert deleted.status_code == 302
    answer = await api(
        client, "GET", f"/api/v1/statuses/{post.id}/context", await make_token(alice)
    )
    assert answer.status_code == 200
    descendants = (await answer.get_json())["descendants"]
    assert [(d["account"]["acct"], d["content"]) for d in descendants] == [
        ("carol", "<p>always</p>")
    ]


BAD_INPUT = [
    ("GET", "/api/v1/nothing/here", None, 404),
    ("GET", "/api", None, 404),
    ("POST", "/api", {"status": "x"}, 404),
    ("GET", "/api/v1/accounts/999999", None, 404),
    ("GET", "/api/v1/accounts/abc", None, 404),
    ("GET", "/api/v1/accounts/99999999999999", None, 404),
    ("GET", "/api/v1/accounts/lookup?acct=nobody", None, 404),
    ("GET", "/api/v1/accounts/lookup?acct=bob@elsewhere.example", None, 404),
    ("GET", "/api/v1/statuses/999999", None, 404),
    ("GET", "/api/v1/statuses/999999/context", None, 404),
    ("DELETE", "/api/v1/statuses/999999", None, 404),
    ("POST", "/api/v1/statuses", {"status": ""}, 422),
    ("POST", "/api/v1/statuses", {"status": "x" * 501}, 422),
    ("POST", "/api/v1/statuses", {"status": 5}, 422),
    ("POST", "/api/v1/statuses", {"status": ["a"]}, 422),
    ("POST", "/api/v1/statuses", {"status": "x", "visibility": "direct"}, 422),
    ("POST", "/api/v1/statuses", {"status": "x", "in_reply_to_id": "1"}, 422),
    ("POST", "/api/v1/statuses/999999/favourite", None, 404),
    ("POST", "/api/v1/accounts/999999/follow", None, 404),
    ("GET", "/api/v1/timelines/home?limit=abc", None, 422),
    ("GET", "/api/v1/timelines/home?max_id=abc", None, 404),
    ("GET", "/api/v1/timelines/home?max_id=1.2.3", None, 422),
    ("GET", "/api/v1/timelines/home?max_id=999999", None, 404),
    ("GET", "/api/v1/timelines/tag/%20", None, 404),
    ("GET", "/api/v1/notifications?max_id=999999", None, 404),
    ("POST", "/api/v1/notifications/999999/dismiss", None, 404),
    ("GET", "/api/v2/search?q=x&type=nope", None, 422),
    ("GET", "/api/v2/search?q=x&offset=-1", None, 422),
    ("POST", "/api/v1/apps", {"client_name": "", "redirect_uris": OOB}, 422),
    ("POST", "/api/v1/apps", {"client_name": "x", "redirect_uris": "javascript:alert(1)"}, 422),
    ("POST", "/api/v1/apps", {"client_name": "x", "redirect_uris": OOB, "scopes": "admin"}, 422),
    ("POST", "/api/v1/apps", {"client_name": ["x"], "redirect_uris": OOB}, 422),
    ("POST", "/oauth/token", {"grant_type": "password"}, 401),
    ("POST", "/oauth/revoke", {"token": "x"}, 403),
    ("PATCH", "/api/v1/statuses/1", None, 405),
]


async def test_bare_api_is_the_apis_json_404_not_a_page(client):
    answer = await client.raw.get("/api")
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/json"
    assert await answer.get_json() == {"error": "Record not found"}
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


async def test_bad_input_is_4xx_json_never_500(client, make_user, make_token):
    token = await make_token(await make_user("alice"))
    for method, path, payload, status in BAD_INPUT:
        extra = {} if payload is None else {"json": payload}
        answer = await api(client, method, path, token, **extra)
        data = await answer.get_json()
        assert (answer.status_code, path) == (status, path), data
        assert isinstance(data["error"], str), path
    for junk in ("Bearer", "Bearer x" * 50, "Basic abc", "Bearer nope"):
        answer = await client.raw.get("/api/v1/timelines/home", headers={"Authorization": junk})
        assert answer.status_code == 401
        assert "error" in await answer.get_json()
    garbled = await client.raw.post(
        "/api/v1/statuses",
        data=b"{not json",
        headers=bearer(token) | {"Content-Type": "application/json"},
    )
    assert garbled.status_code == 400 and "error" in await garbled.get_json()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/timelines/home",
        "/api/v1/timelines/public",
        "/api/v1/accounts/{alice}/statuses",
        "/api/v1/timelines/tag/tea",
        "/api/v1/notifications",
    ],
)
async def test_an_api_page_costs_the_same_statements_whatever_its_length(
    app, client, make_user, make_token, session, path
):
    from sqlalchemy import event

    from app.queries import follows
    from app.queries import posts as post_queries
    from tests.test_timeline import StatementCounter

    alice, bob = await make_user("alice"), await make_user("bob")
    token = await make_token(alice)
    path = path.format(alice=alice.id)

    async def statements() -> int:
        counter = StatementCounter()
        engine = app.app.extensions["db_engine"].sync_engine
        event.listen(engine, "before_cursor_execute", counter)
        try:
            answer = await api(client, "GET", path, token)
            assert answer.status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", counter)
        return counter.count

    async def post(author: User, words: str) -> None:
        await post_queries.create_post(session, author, words)
        await session.commit()

    await follows.follow(session, alice.id, bob.id)
    await post(alice, "one #tea @bob")
    await post(bob, "hi @alice")
    await api(client, "GET", path, token)  # the token's first use notes last_used_at
    few = await statements()
    for n in range(25):
        await post(alice, f"more {n} #tea @bob")
        await post(bob, f"and {n} @alice #tea")
    assert await statements() == few
    assert few <= 6


async def test_app_tokens_and_narrow_scopes_are_refused_where_they_do_not_reach(
    client, make_user, make_token
):
    alice = await make_user("alice")
    app_only = await make_token(None, "read write")
    reader = await make_token(alice, "read:statuses")
    for method, path, token, status in [
        ("GET", "/api/v1/timelines/home", app_only, 401),
        ("POST", "/api/v1/statuses", app_only, 401),
        ("GET", "/api/v1/notifications", reader, 403),
        ("POST", f"/api/v1/accounts/{alice.id}/follow", reader, 403),
        ("GET", "/api/v1/accounts/relationships?id[]=1", reader, 403),
        ("POST", "/api/v1/statuses/1/favourite", reader, 403),
        ("POST", "/api/v1/notifications/clear", reader, 403),
        ("GET", "/api/v1/accounts/verify_credentials", reader, 403),
        ("GET", "/api/v2/search?q=alice", reader, 403),
    ]:
        answer = await api(client, method, path, token)
        assert (answer.status_code, path) == (status, path)
        assert "error" in await answer.get_json()


MORE_BAD_INPUT = [
    ("GET", "/api/v1/accounts/999999/followers"),
    ("GET", "/api/v1/accounts/999999/following"),
    ("GET", "/api/v1/accounts/999999/statuses"),
    ("GET", "/api/v1/statuses/999999/history"),
    ("GET", "/api/v1/statuses/999999/favourited_by"),
    ("GET", "/api/v1/statuses/999999/source"),
    ("PUT", "/api/v1/statuses/999999"),
    ("POST", "/api/v1/statuses/999999/unfavourite"),
    ("POST", "/api/v1/accounts/999999/unfollow"),
    ("GET", "/api/v1/notifications/999999"),
    ("GET", "/api/v1/statuses/c1"),
    ("GET", "/api/v1/accounts/relationships/extra"),
]


async def test_unknown_ids_everywhere_are_404_json(client, make_user, make_token):
    token = await make_token(await make_user("alice"))
    for method, path in MORE_BAD_INPUT:
        answer = await api(client, method, path, token, json={"status": "x"})
        assert (answer.status_code, path) == (404, path)
        assert "error" in await answer.get_json()
    for path in (
        "/api/v1/accounts/1/followers?max_id=5",
        "/api/v1/accounts/relationships?id[]=99999999999&id[]=x",
        "/api/v1/timelines/public?limit=0",
        "/api/v1/timelines/public?local=maybe",
        "/api/v2/search?q=%00%22",
    ):
        answer = await api(client, "GET", path, token)
        assert answer.status_code < 500, path
        assert answer.headers["Content-Type"] == "application/json", path


async def test_nul_and_lone_surrogates_never_reach_the_database(client, make_user, make_token):
    token = await make_token(await make_user("alice"))
    await client.login(await make_user("bob"))
    for path, status in (
        ("/api/v1/accounts/lookup?acct=%00", 404),
        ("/api/v2/search?q=%00%22", 200),
        ("/oauth/authorize?client_id=%00&redirect_uri=x", 400),
    ):
        answer = await api(client, "GET", path, token)
        assert (answer.status_code, path) == (status, path)
    for payload in (
        {"client_name": "x\x00", "redirect_uris": OOB},
        {"client_name": "x", "redirect_uris": "https://a.example/\x00"},
    ):
        answer = await client.raw.post("/api/v1/apps", form=payload)
        assert answer.status_code == 422, payload
    lone = b'{"client_name": "x", "redirect_uris": "%s", "website": "\\ud800"}' % OOB.encode()
    answer = await client.raw.post(
        "/api/v1/apps", data=lone, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    posted = await api(client, "POST", "/api/v1/statuses", token, form={"status": "a\x00b"})
    assert posted.status_code == 422


async def test_the_same_idempotency_key_at_once_makes_one_post(
    make_app, make_user, make_token, count_rows
):
    import asyncio

    app = await make_app()
    client = Client(app.test_client())
    token = await make_token(await make_user("alice"))
    headers = {"Idempotency-Key": "same"}
    answers = await asyncio.gather(
        *(
            api(client, "POST", "/api/v1/statuses", token, form={"status": "x"}, headers=headers)
            for _ in range(4)
        )
    )
    ids = {(await answer.get_json())["id"] for answer in answers}
    assert [answer.status_code for answer in answers] == [200] * 4
    assert len(ids) == 1 and await count_rows(Post) == 1


async def test_absolute_urls_come_from_base_url_never_the_host_header(
    make_app, make_user, make_token
):
    app = await make_app(BASE_URL="https://warble.example.org")
    client = Client(app.test_client())
    alice = await make_user("alice")
    token = await make_token(alice)
    headers = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    posted = await api(client, "POST", "/api/v1/statuses", token, json={"status": "hi"})
    status_id = (await posted.get_json())["id"]
    answer = await api(client, "GET", "/api/v1/timelines/public?limit=1", token, headers=headers)
    [status] = await answer.get_json()
    assert status["url"] == f"https://warble.example.org/posts/{status_id}"
    assert status["account"]["url"] == "https://warble.example.org/user/alice"
    assert "evil" not in answer.headers.get("Link", "") and "evil" not in str(status)
    feed = await client.get("/user/alice/feed.atom", headers=headers)
    assert "evil" not in await body(feed)
    assert "https://warble.example.org/posts/" in await body(feed)


async def test_consent_asks_a_visitor_to_log_in_first_and_refuses_a_suspended_trade(
    client, make_user, session
):
    app = await register(client)
    query = f"client_id={app['client_id']}&redirect_uri={OOB}&response_type=code&scope=read"
    visitor = await client.raw.get(f"/oauth/authorize?{query}")
    assert visitor.status_code == 302
    assert visitor.headers["Location"].startswith("/login?next=/oauth/authorize")

    alice = await make_user("alice")
    await client.login(alice)
    code = await consent(client, app)
    await session.execute(update(User).where(User.id == alice.id).values(suspended_at=utcnow()))
    await session.commit()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "redirect_uri": OOB,
    }
    answer = await client.raw.post("/oauth/token", form=form)
    assert answer.status_code == 400
    assert (await answer.get_json())["error"] == "invalid_grant"


async def test_suspension_from_admin_ends_the_users_tokens_for_good(
    client, make_user, make_token, count_rows
):
    moderator = await make_user("mod", role="moderator")
    alice = await make_user("alice")
    token = await make_token(alice)
    await client.login(moderator)
    answer = await client.post("/admin/accounts/alice/suspend", {"reason": "spam"})
    assert answer.status_code == 302
    assert await count_rows(OAuthToken) == 0
    await client.post("/admin/accounts/alice/unsuspend", {"reason": "appeal"})
    refused = await api(client, "GET", "/api/v1/timelines/home", token)
    assert refused.status_code == 401  # unsuspending brings no token back


async def test_a_moderators_notifications_read_their_reports_in_one_statement(
    app, client, make_user, make_post, make_token, session
):
    from sqlalchemy import event

    from app.models import Notification, Report
    from tests.test_timeline import StatementCounter

    mod = await make_user("mod", role="moderator")
    token = await make_token(mod)

    async def reported(n: int) -> None:
        for i in range(n):
            author = await make_user(f"spam{n}x{i}")
            post = await make_post(author, "buy")
            report = Report(
                reporter_id=mod.id, account_id=author.id, post_id=post.id, reason="spam"
            )
            session.add(report)
            await session.flush()
            session.add(
                Notification(
                    recipient_id=mod.id, kind="report", actor_id=author.id, report_id=report.id
                )
            )
        await session.commit()

    async def statements() -> int:
        counter = StatementCounter()
        engine = app.app.extensions["db_engine"].sync_engine
        event.listen(engine, "before_cursor_execute", counter)
        try:
            answer = await api(client, "GET", "/api/v1/notifications", token)
            assert answer.status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", counter)
        return counter.count

    await reported(1)
    await api(client, "GET", "/api/v1/notifications", token)  # the first use notes last_used_at
    one = await statements()
    await reported(4)
    assert await statements() == one


async def test_staff_hear_of_reports_and_sign_ups_as_mastodons_admin_types(
    make_app, make_user, make_post, make_token
):
    client = Client((await make_app(REGISTRATION="approval")).test_client())
    admin = await make_user("boss", role="admin")
    alice, bob = await make_user("alice"), await make_user("bob")
    post = await make_post(bob, "buy my stuff")
    await client.login(alice)
    form = {"reason": "spam", "comment": "an advert"}
    assert (await client.post(f"/posts/{post.id}/report", form)).status_code == 302
    await client.post("/user/bob/report", {"reason": "abuse", "comment": "rude"})
    client.logout()
    signup = {"username": "newbie", "email": "n@example.com", "password": "long enough"}
    signup["signup_reason"] = "I like tea"
    assert (await client.post("/register", signup)).status_code == 200  # "waiting" page
    token = await make_token(admin)

    notes = await (await api(client, "GET", "/api/v1/notifications", token)).get_json()
    assert [(n["type"], n["account"]["acct"]) for n in notes] == [
        ("admin.sign_up", "newbie"),
        ("admin.report", "alice"),
        ("admin.report", "alice"),
    ]
    assert notes[0]["report"] is None and notes[0]["status"] is None
    about_bob, about_post = notes[1]["report"], notes[2]["report"]
    assert about_post["category"] == "spam" and about_post["comment"] == "an advert"
    assert about_post["status_ids"] == [str(post.id)]
    assert about_post["target_account"]["acct"] == "bob"
    assert (about_post["action_taken"], about_post["action_taken_at"]) == (False, None)
    assert about_post["forwarded"] is False and about_post["rule_ids"] == []
    assert (about_bob["category"], about_bob["status_ids"]) == ("other", [])
    assert notes[1]["status"] is None
    only = await api(client, "GET", "/api/v1/notifications?types[]=admin.sign_up", token)
    assert [n["type"] for n in await only.get_json()] == ["admin.sign_up"]
    one = await api(client, "GET", f"/api/v1/notifications/{notes[2]['id']}", token)
    assert (await one.get_json())["report"]["id"] == about_post["id"]


async def test_what_warble_has_none_of_is_an_empty_answer_with_its_scope(
    client, make_user, make_token
):
    token = await make_token(await make_user("alice"))
    narrow = await make_token(await make_user("bob"), "read:statuses")
    for path in ("/api/v1/custom_emojis", "/api/v1/filters", "/api/v2/filters", "/api/v1/lists"):
        answer = await api(client, "GET", path, token)
        assert (answer.status_code, await answer.get_json()) == (200, [])
    assert (await api(client, "GET", "/api/v1/lists", narrow)).status_code == 403
    assert (await client.raw.get("/api/v1/lists")).status_code == 401
    prefs = await (await api(client, "GET", "/api/v1/preferences", token)).get_json()
    assert prefs["posting:default:visibility"] == "public"


async def test_notifications_page_by_link_and_min_id(client, make_user, make_token, session):
    from app.queries import follows

    alice = await make_user("alice")
    fans = [await make_user(f"fan{n}") for n in range(25)]
    for fan in fans:
        await follows.follow(session, fan.id, alice.id)
        await session.commit()
    token = await make_token(alice)
    seen, url = [], "/api/v1/notifications?limit=10"
    while url:
        answer = await api(client, "GET", url, token)
        seen += [n["account"]["acct"] for n in await answer.get_json()]
        match = re.match(r'<([^>]+)>; rel="next"', answer.headers.get("Link", ""))
        url = match.group(1).removeprefix("http://127.0.0.1:8000") if match else None
    assert seen == [fan.username for fan in reversed(fans)]
    everything = await (
        await api(client, "GET", "/api/v1/notifications?limit=40", token)
    ).get_json()
    oldest = everything[-1]["id"]
    after = await api(client, "GET", f"/api/v1/notifications?min_id={oldest}&limit=3", token)
    assert [n["account"]["acct"] for n in await after.get_json()] == ["fan3", "fan2", "fan1"]


async def test_blocks_and_mutes_through_the_api_as_through_the_profile_menu(
    client, make_user, make_token, make_post
):
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    a, b = await make_token(alice), await make_token(bob)
    bob_post = await make_post(bob, "from bob")
    await make_post(carol, "from carol")
    assert (await api(client, "POST", f"/api/v1/accounts/{alice.id}/follow", b)).status_code == 200

    blocked = await (await api(client, "POST", f"/api/v1/accounts/{bob.id}/block", a)).get_json()
    assert (blocked["blocking"], blocked["followed_by"], blocked["following"]) == (
        True,
        False,  # a block ends the follows both ways
        False,
    )
    muted = await (await api(client, "POST", f"/api/v1/accounts/{carol.id}/mute", a)).get_json()
    assert (muted["muting"], muted["blocking"]) == (True, False)
    rel = await api(client, "GET", f"/api/v1/accounts/relationships?id[]={alice.id}", b)
    assert [(r["blocked_by"], r["blocking"]) for r in await rel.get_json()] == [(True, False)]

    listed = await api(client, "GET", "/api/v1/blocks", a)
    assert [x["acct"] for x in await listed.get_json()] == ["bob"]
    listed = await api(client, "GET", "/api/v1/mutes", a)
    assert [x["acct"] for x in await listed.get_json()] == ["carol"]

    # What the web hides, the API hides: the public timeline, the post, its author's posts.
    public = await (await api(client, "GET", "/api/v1/timelines/public", a)).get_json()
    assert public == []
    hidden = await api(client, "GET", f"/api/v1/statuses/{bob_post.id}", a)
    assert hidden.status_code == 404
    # min_id reads forwards through the same rules.
    after = await api(client, "GET", "/api/v1/timelines/public?min_id=1", a)
    assert await after.get_json() == []
    refused = await api(client, "POST", f"/api/v1/accounts/{alice.id}/follow", b)
    assert refused.status_code == 403 and "error" in await refused.get_json()
    self_block = await api(client, "POST", f"/api/v1/accounts/{alice.id}/block", a)
    assert self_block.status_code == 422

    undone = await api(client, "POST", f"/api/v1/accounts/{bob.id}/unblock", a)
    assert (await undone.get_json())["blocking"] is False
    assert await (await api(client, "GET", "/api/v1/blocks", a)).get_json() == []
    read_only = await make_token(alice, "read")
    assert (
        await api(client, "POST", f"/api/v1/accounts/{bob.id}/block", read_only)
    ).status_code == 403

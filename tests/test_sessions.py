"""Sessions: server-side rows that logout ends, lists and idle expiry, cookies, /healthz."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.clock import utcnow
from app.models import UserSession
from app.sessions import describe_user_agent
from tests.conftest import PASSWORD, Client, body


async def real_login(client, username: str = "john") -> None:
    response = await client.post("/login", {"username": username, "password": PASSWORD})
    assert response.status_code == 302


def cookie(client, name: str) -> str | None:
    return next((c.value for c in client.raw.cookie_jar if c.name == name), None)


async def test_changing_password_logs_out_every_other_session(make_client, make_user):
    await make_user("john")
    laptop, phone = make_client(), make_client()
    await real_login(laptop)
    await real_login(phone)
    assert "@john" in await body(await phone.get("/"))

    response = await laptop.post(
        "/settings/password", {"current_password": PASSWORD, "new_password": "a brand new one"}
    )
    assert response.status_code == 302
    assert "@john" in await body(await laptop.get("/"))  # this session goes on
    assert "@john" not in await body(await phone.get("/"))  # the other one is over
    assert (await phone.get("/settings/profile")).status_code == 302

    relogin = await phone.post("/login", {"username": "john", "password": "a brand new one"})
    assert relogin.status_code == 302


async def test_password_change_needs_the_current_password(client, make_user):
    await client.login(await make_user("john"))
    wrong = await client.post(
        "/settings/password", {"current_password": "guess", "new_password": "whatever123"}
    )
    assert wrong.status_code == 422
    assert "That is not your current password." in await body(wrong)
    short = await client.post(
        "/settings/password", {"current_password": PASSWORD, "new_password": "x"}
    )
    assert short.status_code == 422 and "at least 8" in await body(short)


async def test_cli_set_password_also_ends_sessions(db, client, make_user):
    from tests.test_cli import warble

    await make_user("john")
    await real_login(client)
    result = warble(
        db, "user", "set-password", "john", "--password-stdin", stdin="new password 1\n"
    )
    assert result.returncode == 0, result.stderr
    assert "@john" not in await body(await client.get("/"))


async def test_login_issues_fresh_cookies(client, make_user):
    await make_user("john")
    await client.get("/login")
    session_before = cookie(client, "warble_session")
    await real_login(client)
    assert cookie(client, "warble_session") != session_before
    assert cookie(client, "warble_auth") is not None


async def test_a_forged_or_stale_auth_cookie_is_ignored(client, make_user):
    user = await make_user("john")
    client.raw.set_cookie("localhost", "warble_auth", "not-a-signed-token")
    assert "@john" not in await body(await client.get("/"))
    from quart_auth import generate_auth_token

    stale = generate_auth_token(client.raw, f"{user.id}.99")  # an epoch that never existed
    client.raw.set_cookie("localhost", "warble_auth", stale)
    assert "@john" not in await body(await client.get("/"))


async def test_healthz_reports_ok_without_secrets(app, client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    data = json.loads(await body(response))
    assert data == {"status": "ok", "database": "ok"}
    text = await body(response)
    assert (
        app.app.config["SECRET_KEY"] not in text and "sqlite" not in text and "postgres" not in text
    )
    assert response.headers["Cache-Control"] == "no-store"


FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


async def login_as(client, username: str = "john", *, agent: str = FIREFOX, remember: bool = False):
    data = {"username": username, "password": PASSWORD} | ({"remember": "on"} if remember else {})
    response = await client.post("/login", data, headers={"User-Agent": agent})
    assert response.status_code == 302
    return response


async def logins(session, user) -> list[UserSession]:
    session.expire_all()
    stmt = select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
    return list(await session.scalars(stmt))


async def test_logout_makes_a_copied_cookie_worthless(make_client, make_user):
    await make_user("john")
    owner, thief = make_client(), make_client()
    await real_login(owner)
    thief.raw.set_cookie("localhost", "warble_auth", cookie(owner, "warble_auth"))
    assert "@john" in await body(await thief.get("/"))

    assert (await owner.post("/logout")).status_code == 302
    assert "@john" not in await body(await thief.get("/"))
    assert (await thief.get("/settings/profile")).status_code == 302


async def test_the_cookie_names_a_random_token_whose_hash_alone_is_stored(
    client, make_user, session
):
    john = await make_user("john")
    await login_as(client)
    (login,) = await logins(session, john)
    (auth,) = client.raw.app.extensions["QUART_AUTH"]
    token = auth.load_token(cookie(client, "warble_auth"), client.raw.app)
    assert len(token) >= 43  # 32 random bytes
    assert login.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {login.token_hash, str(john.id)}
    assert login.user_agent == FIREFOX


async def test_sessions_page_lists_each_device_and_ends_one_in_place(
    make_client, make_user, session
):
    john = await make_user("john")
    laptop, phone = make_client(), make_client()
    await login_as(laptop, agent=FIREFOX)
    await login_as(phone, agent=PHONE)
    page = await laptop.get("/settings/sessions")
    assert page.status_code == 200
    html = await body(page)
    assert "Firefox on Linux" in html and "Chrome on Android" in html
    assert html.count('<span class="badge">this session</span>') == 1

    mine, other = await logins(session, john)
    response = await laptop.post(f"/settings/sessions/{other.id}/end", htmx=True)
    assert response.status_code == 200
    assert await body(response) == ""
    assert [login.id for login in await logins(session, john)] == [mine.id]
    assert "@john" not in await body(await phone.get("/"))
    assert "@john" in await body(await laptop.get("/"))


async def test_ending_a_session_without_javascript_redirects_to_the_list(
    make_client, make_user, session
):
    john = await make_user("john")
    laptop, phone = make_client(), make_client()
    await login_as(laptop)
    await login_as(phone, agent=PHONE)
    _, other = await logins(session, john)
    response = await laptop.post(f"/settings/sessions/{other.id}/end")
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/sessions"
    assert len(await logins(session, john)) == 1


async def test_nobody_ends_another_accounts_session(make_client, make_user, session):
    await make_user("john")
    susan = await make_user("susan")
    johns, susans = make_client(), make_client()
    await login_as(johns)
    await login_as(susans, "susan")
    (target,) = await logins(session, susan)
    response = await johns.post(f"/settings/sessions/{target.id}/end")
    assert response.status_code == 404
    assert len(await logins(session, susan)) == 1
    assert "@susan" in await body(await susans.get("/"))


async def test_ending_this_session_from_the_list_logs_out(client, make_user, session):
    john = await make_user("john")
    await login_as(client)
    (here,) = await logins(session, john)
    response = await client.post(f"/settings/sessions/{here.id}/end")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert await logins(session, john) == []
    assert "@john" not in await body(await client.get("/"))


async def test_log_out_everywhere_else_keeps_only_this_session(make_client, make_user, session):
    john = await make_user("john")
    clients = [make_client() for _ in range(3)]
    for each in clients:
        await login_as(each)
    response = await clients[0].post("/settings/sessions/end-others")
    assert response.status_code == 302
    assert len(await logins(session, john)) == 1
    assert "@john" in await body(await clients[0].get("/"))
    for each in clients[1:]:
        assert "@john" not in await body(await each.get("/"))


async def test_a_session_without_remember_me_ends_after_the_idle_time(client, make_user, session):
    john = await make_user("john")
    before = utcnow()
    response = await login_as(client)
    assert "Expires" not in response.headers.get("Set-Cookie", "")  # a browser-session cookie
    (login,) = await logins(session, john)
    idle = timedelta(hours=24)
    assert before + idle <= login.expires_at <= utcnow() + idle

    # Used a while later: the idle time counts again from then.
    await session.execute(update(UserSession).values(last_used_at=utcnow() - timedelta(minutes=10)))
    await session.commit()
    used = utcnow()
    assert "@john" in await body(await client.get("/"))
    (login,) = await logins(session, john)
    assert used + idle <= login.expires_at

    # Not used for longer than the idle time: over.
    await session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    await session.commit()
    assert "@john" not in await body(await client.get("/"))


async def test_remember_me_lasts_remember_days_and_use_does_not_extend_it(
    client, make_user, session
):
    john = await make_user("john")
    before = utcnow()
    response = await login_as(client, remember=True)
    set_cookie = next(v for k, v in response.headers.items() if "warble_auth=" in v)
    assert f"Max-Age={30 * 24 * 3600}" in set_cookie
    (login,) = await logins(session, john)
    assert before + timedelta(days=30) <= login.expires_at <= utcnow() + timedelta(days=30)
    fixed = login.expires_at
    await session.execute(update(UserSession).values(last_used_at=utcnow() - timedelta(minutes=10)))
    await session.commit()
    assert "@john" in await body(await client.get("/"))
    assert (await logins(session, john))[0].expires_at == fixed


async def test_session_lengths_are_settings(make_app, make_user, session):
    app = await make_app(SESSION_IDLE_HOURS=2, REMEMBER_DAYS=7)
    john = await make_user("john")
    client = Client(app.test_client())
    before = utcnow()
    await login_as(client)
    await login_as(client, remember=True)
    idle, remembered = await logins(session, john)
    assert before + timedelta(hours=2) <= idle.expires_at <= utcnow() + timedelta(hours=2)
    assert before + timedelta(days=7) <= remembered.expires_at <= utcnow() + timedelta(days=7)


async def test_hsts_is_sent_only_when_cookies_are_secure(make_app):
    app = await make_app(SECURE_COOKIES=True, HSTS_MAX_AGE=600)
    response = await Client(app.test_client()).get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=600"


async def test_no_hsts_over_plain_http(client):
    response = await client.get("/login")
    assert "Strict-Transport-Security" not in response.headers


async def test_pages_of_a_logged_in_user_are_never_stored(client, make_user):
    await client.login(await make_user("john"))
    for path in ("/settings/profile", "/", "/user/john"):
        response = await client.get(path)
        assert response.headers["Cache-Control"] == "no-store"
        assert "Cookie" in response.headers["Vary"]
    client.logout()
    response = await client.get("/")
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "Cookie" in response.headers["Vary"]


@pytest.mark.parametrize(
    ("agent", "described"),
    [
        (FIREFOX, "Firefox on Linux"),
        (PHONE, "Chrome on Android"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on Windows",
        ),
        ("curl/8.5.0", "curl"),
        ("", "Unknown device"),
        ("Mozilla/5.0 (compatible)", "Unknown device"),
    ],
)
def test_devices_are_named_from_the_user_agent(agent, described):
    assert describe_user_agent(agent) == described

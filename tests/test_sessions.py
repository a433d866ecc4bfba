"""Sessions: password changes end other sessions, cookies rotate on login, /healthz."""

from __future__ import annotations

import json

from tests.conftest import PASSWORD, body


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
    client.login(await make_user("john"))
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

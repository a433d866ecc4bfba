"""Registration, login and logout through HTTP."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.models import User
from app.passwords import verify_password
from tests.conftest import PASSWORD, PASSWORD_HASH, Client, body


async def users(session) -> list[User]:
    session.expire_all()
    return list((await session.scalars(select(User).order_by(User.id))).all())


async def test_register_creates_account_and_logs_in(client, session):
    response = await client.post(
        "/register", {"username": "Susan", "email": "susan@example.com", "password": "s3cret-pass"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    [user] = await users(session)
    assert (user.username, user.email) == ("Susan", "susan@example.com")
    assert user.created_at.tzinfo is not None
    assert "s3cret-pass" not in user.password_hash
    assert await verify_password(user.password_hash, "s3cret-pass")

    home = await body(await client.get("/"))
    assert "Welcome to Warble, Susan!" in home
    assert "@Susan" in home  # the navigation says who is logged in
    assert 'action="/logout"' in home


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"username": "ab"}, "username", "3–30 characters"),
        ({"username": "no spaces"}, "username", "letters, digits and underscores"),
        ({"username": "x" * 31}, "username", "3–30 characters"),
        ({"username": "émile"}, "username", "letters, digits and underscores"),
        ({"username": ""}, "username", "Choose a username."),
        ({"email": "not-an-email"}, "email", "valid email address"),
        ({"email": ""}, "email", "Enter your email address."),
        ({"password": "short"}, "password", "at least 8 characters"),
        ({"password": "x" * 1025}, "password", "at most 1024 characters"),
    ],
)
async def test_register_rejects_bad_input_with_field_message(client, session, form, field, message):
    data = {"username": "valid_name", "email": "ok@example.com", "password": "long enough"} | form
    response = await client.post("/register", data)
    assert response.status_code == 422
    html = await body(response)
    assert f'id="{field}-error"' in html
    assert message in html
    assert await users(session) == []


async def test_register_accepts_a_password_of_1024_characters(client, session):
    data = {"username": "maxed", "email": "m@example.com", "password": "p" * 1024}
    assert (await client.post("/register", data)).status_code == 302
    assert len(await users(session)) == 1


@pytest.mark.parametrize("taken", ["susan", "SUSAN", "Susan"])
async def test_username_is_unique_ignoring_case(client, session, make_user, taken):
    await make_user("Susan")
    data = {"username": taken, "email": "other@example.com", "password": "long enough"}
    response = await client.post("/register", data)
    assert response.status_code == 422
    assert "That username is taken" in await body(response)
    assert len(await users(session)) == 1


async def test_email_is_unique_ignoring_case(client, session, make_user):
    await make_user("susan", email="susan@example.com")
    data = {"username": "other", "email": "SUSAN@Example.com", "password": "long enough"}
    response = await client.post("/register", data)
    assert response.status_code == 422
    assert "already registered" in await body(response)
    assert len(await users(session)) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [("Ärger@example.com", "ärger@example.com"), ("ÉMILE@example.com", "émile@EXAMPLE.com")],
)
async def test_email_is_unique_ignoring_case_in_every_script(
    client, session, make_user, first, second
):
    await make_user("susan", email=first)
    data = {"username": "other", "email": second, "password": "long enough"}
    response = await client.post("/register", data)
    assert response.status_code == 422
    assert "already registered" in await body(response)
    assert len(await users(session)) == 1


async def test_email_written_with_compatibility_characters_is_the_same_address(
    client, session, make_user
):
    await make_user("susan", email="susan@example.com")
    data = {"username": "other", "email": "ｓｕｓａｎ@example.com", "password": "long enough"}
    response = await client.post("/register", data)
    assert response.status_code == 422
    assert len(await users(session)) == 1


async def test_fullwidth_username_is_the_ascii_name(client, session, make_user):
    await make_user("susan")
    taken = await client.post(
        "/register", {"username": "ＳＵＳＡＮ", "email": "x@example.com", "password": "long enough"}
    )
    assert taken.status_code == 422
    assert "taken" in await body(taken)
    fresh = await client.post(
        "/register", {"username": "ｊｏｈｎ", "email": "j@example.com", "password": "long enough"}
    )
    assert fresh.status_code == 302
    assert [u.username for u in await users(session)] == ["susan", "john"]


async def test_login_folds_a_fullwidth_username(client, make_user):
    await make_user("john")
    response = await client.post("/login", {"username": "ｊｏｈｎ", "password": PASSWORD})
    assert response.status_code == 302


async def test_register_keeps_typed_values_escaped(client):
    data = {"username": "<b>x", "email": '"><script>x</script>', "password": "long enough"}
    html = await body(await client.post("/register", data))
    assert "<script>x</script>" not in html
    assert 'name="username" type="text" value="&lt;b&gt;x"' in html
    assert 'name="email" type="email" value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in html


async def test_registration_can_be_closed(make_app, session):
    client = Client((await make_app(REGISTRATION_OPEN=False)).test_client())
    page = await body(await client.get("/register"))
    assert "Registration is closed" in page
    assert 'id="register-form"' not in page
    data = {"username": "late", "email": "late@example.com", "password": "long enough"}
    response = await client.post("/register", data)
    assert response.status_code == 403
    assert "Registration is closed" in await body(response)
    assert await users(session) == []


async def test_login_with_right_password(client, make_user):
    await make_user("john")
    response = await client.post("/login", {"username": "john", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert _auth_cookie(response)
    assert "@john" in await body(await client.get("/"))


async def test_login_is_case_insensitive_on_username(client, make_user):
    await make_user("John")
    response = await client.post("/login", {"username": "JOHN", "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("username", "password"), [("john", "wrong password"), ("nobody", PASSWORD), ("", "")]
)
async def test_login_failure_says_the_same_for_both_causes(client, make_user, username, password):
    await make_user("john")
    response = await client.post("/login", {"username": username, "password": password})
    assert response.status_code == 422
    html = await body(response)
    assert "Incorrect username or password" in html
    assert not any("warble_auth" in c for c in response.headers.get_all("Set-Cookie"))


def _auth_cookie(response) -> str:
    [cookie] = [c for c in response.headers.get_all("Set-Cookie") if c.startswith("warble_auth=")]
    return cookie


async def test_auth_cookie_is_httponly_lax_and_a_session_cookie_without_remember(client, make_user):
    await make_user("john")
    cookie = _auth_cookie(await client.post("/login", {"username": "john", "password": PASSWORD}))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Max-Age" not in cookie and "Expires" not in cookie


async def test_remember_me_keeps_the_cookie_for_remember_days(client, make_user):
    await make_user("john")
    response = await client.post(
        "/login", {"username": "john", "password": PASSWORD, "remember": "on"}
    )
    max_age = re.search(r"Max-Age=(\d+)", _auth_cookie(response))
    assert max_age and int(max_age.group(1)) == 30 * 24 * 3600


@pytest.mark.filterwarnings("ignore:Secure cookies will be ignored")
async def test_auth_cookie_is_secure_when_secure_cookies_is_on(make_app, make_user):
    client = Client((await make_app(SECURE_COOKIES=True)).test_client())
    await make_user("john")
    response = await client.post("/login", {"username": "john", "password": PASSWORD})
    assert "Secure" in _auth_cookie(response)


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/explore", "/explore"),
        ("/user/john?x=1", "/user/john?x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
async def test_login_redirects_only_to_local_next(client, make_user, next_url, expected):
    await make_user("john")
    response = await client.post(
        "/login", {"username": "john", "password": PASSWORD, "next": next_url}
    )
    assert response.headers["Location"] == expected


async def test_login_form_carries_next_from_query(client):
    html = await body(await client.get("/login?next=/explore"))
    assert 'name="next" value="/explore"' in html


async def test_login_keeps_a_hash_made_with_the_current_parameters(client, session, make_user):
    user_id = (await make_user("john")).id
    assert (
        await client.post("/login", {"username": "john", "password": PASSWORD})
    ).status_code == 302
    session.expire_all()
    assert (await session.get(User, user_id)).password_hash == PASSWORD_HASH


async def test_login_rehashes_when_parameters_change(client, session, make_user):
    from argon2 import PasswordHasher

    older = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    user_id = (await make_user("john", password_hash=older)).id
    response = await client.post("/login", {"username": "john", "password": PASSWORD})
    assert response.status_code == 302
    session.expire_all()
    fresh = (await session.get(User, user_id)).password_hash
    assert fresh.startswith("$argon2id$v=19$m=8,t=1,p=1$")  # the app's (test) parameters
    assert await verify_password(fresh, PASSWORD)


async def test_logout_is_a_post_that_ends_the_session(client, make_user):
    await make_user("john")
    await client.post("/login", {"username": "john", "password": PASSWORD})
    assert (await client.get("/logout")).status_code == 405
    response = await client.post("/logout")
    assert response.status_code == 302
    assert "warble_auth=;" in " ".join(response.headers.get_all("Set-Cookie"))
    home = await body(await client.get("/"))
    assert "@john" not in home
    assert "You have logged out." in home


async def test_csrf_token_rotates_on_login_and_logout(client, make_user):
    await make_user("john")
    before = await _csrf(client)
    await client.raw.post(
        "/login", form={"username": "john", "password": PASSWORD, "csrf_token": before}
    )
    after_login = await _csrf(client)
    assert after_login != before
    await client.raw.post("/logout", form={"csrf_token": after_login})
    assert await _csrf(client) != after_login


async def _csrf(client) -> str:
    from tests.conftest import csrf_from

    return csrf_from(await body(await client.get("/explore")))


async def test_logged_in_user_visiting_login_or_register_goes_home(client, make_user):
    user = await make_user("john")
    await client.login(user)
    assert (await client.get("/login")).headers["Location"] == "/"
    assert (await client.get("/register")).headers["Location"] == "/"


async def test_usernames_count_by_lowercase_in_the_database(session, make_user):
    await make_user("Mary")
    count = await session.scalar(select(func.count()).where(func.lower(User.username) == "mary"))
    assert count == 1

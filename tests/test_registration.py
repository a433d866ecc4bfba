"""Sign-up modes (REGISTRATION=open|approval|invite|closed) and invites: the setting, each
mode's form and answers, invite codes used up or expired, two sign-ups racing for one code,
and Settings → Invites."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import config, create_app
from app.clock import utcnow
from app.models import Invite, Notification, User
from tests.conftest import PASSWORD, Client, body

FORM = {"username": "newbie", "email": "newbie@example.com", "password": "long enough"}


async def user_count(session) -> int:
    session.expire_all()
    return await session.scalar(select(func.count()).select_from(User)) or 0


async def make_invite(session, creator, code="abcdefABCDEF", **fields) -> Invite:
    invite = Invite(code=code, creator_id=creator.id, **fields)
    session.add(invite)
    await session.commit()
    session.expunge(invite)  # detached: later expire_all() calls leave it readable
    return invite


# -- the setting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "mode"),
    [
        ({}, "open"),
        ({"REGISTRATION_OPEN": "false"}, "closed"),
        ({"REGISTRATION": "approval"}, "approval"),
        ({"REGISTRATION": " Invite "}, "invite"),
        ({"REGISTRATION": "open", "REGISTRATION_OPEN": "false"}, "open"),
    ],
)
def test_registration_mode_comes_from_the_environment(monkeypatch, environ, mode):
    monkeypatch.delenv("REGISTRATION", raising=False)
    monkeypatch.delenv("REGISTRATION_OPEN", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings = config.from_environment()
    assert config.derived(settings)["REGISTRATION"] == mode


@pytest.mark.parametrize("name", ["REGISTRATION", "INVITES"])
def test_a_bad_mode_is_a_clear_startup_error(monkeypatch, name):
    monkeypatch.setenv(name, "sometimes")
    with pytest.raises(ValueError, match=f"{name} must be one of"):
        create_app({"DATABASE_URL": "sqlite+aiosqlite://", "SECRET_KEY": "x"})


# -- approval -----------------------------------------------------------------------------------


async def test_approval_asks_why_and_the_account_waits(make_app, make_user, session):
    client = Client((await make_app(REGISTRATION="approval")).test_client())
    admin = await make_user("admin", role="admin")
    form_page = await body(await client.get("/register"))
    assert 'name="signup_reason"' in form_page and "Why do you want to join?" in form_page
    response = await client.post("/register", FORM)
    assert response.status_code == 422
    assert "Tell the admins why you want to join." in await body(response)
    assert await user_count(session) == 1

    response = await client.post("/register", FORM | {"signup_reason": "I watch birds"})
    assert response.status_code == 200
    assert 'id="waiting-for-approval"' in await body(response)
    assert (await client.get("/settings/profile")).status_code == 302  # no session started
    newbie = await session.scalar(select(User).where(User.username == "newbie"))
    assert (newbie.approved, newbie.signup_reason) == (False, "I watch birds")
    kinds = select(Notification.recipient_id, Notification.kind, Notification.actor_id)
    assert [tuple(r) for r in await session.execute(kinds)] == [(admin.id, "signup", newbie.id)]

    response = await client.post("/login", {"username": "newbie", "password": "long enough"})
    assert response.status_code == 403
    assert "waiting for an administrator" in await body(response)

    staff = Client(client.raw.app.test_client())
    await staff.login(admin)
    assert "I watch birds" in await body(await staff.get("/admin"))
    assert "waiting for approval" in await body(await staff.get("/notifications"))
    assert (await staff.post("/admin/accounts/newbie/approve")).status_code == 302
    response = await client.post("/login", {"username": "newbie", "password": "long enough"})
    assert response.status_code == 302


# -- invites ------------------------------------------------------------------------------------


async def test_invite_mode_needs_a_valid_code(make_app, make_user, session):
    client = Client((await make_app(REGISTRATION="invite")).test_client())
    alice = await make_user("alice")
    now = utcnow()
    await make_invite(session, alice, "expiredcode1", expires_at=now - timedelta(minutes=1))
    await make_invite(session, alice, "usedupcode12", max_uses=2, uses=2)
    good = await make_invite(session, alice, "goodcode1234", max_uses=5)
    cases = [
        ("", "Registration needs an invite"),
        ("nosuchcode", "That invite code is not valid"),
        ("expiredcode1", "That invite has expired"),
        ("usedupcode12", "already been used as many times"),
    ]
    for code, message in cases:
        response = await client.post("/register", FORM | {"invite": code})
        assert response.status_code == 422, code
        assert message in await body(response), code
    assert await user_count(session) == 1

    page = await body(await client.get("/register?invite=goodcode1234"))
    assert 'name="invite" type="text" value="goodcode1234"' in page
    response = await client.post("/register", FORM | {"invite": "goodcode1234"})
    assert response.status_code == 302
    session.expire_all()
    assert (await session.get(Invite, good.id)).uses == 1
    assert await user_count(session) == 2


async def test_two_sign_ups_racing_for_a_one_use_code_let_one_in(make_app, make_user, session):
    app = await make_app(REGISTRATION="invite")
    alice = await make_user("alice")
    invite = await make_invite(session, alice, "onlyonce1234", max_uses=1)
    clients = [Client(app.test_client()) for _ in range(2)]
    forms = [
        {"username": f"racer{n}", "email": f"r{n}@example.com", "password": "long enough"}
        for n in range(2)
    ]
    responses = await asyncio.gather(
        *(
            c.post("/register", f | {"invite": "onlyonce1234"})
            for c, f in zip(clients, forms, strict=True)
        )
    )
    assert sorted(r.status_code for r in responses) == [302, 422]
    loser = next(r for r in responses if r.status_code == 422)
    assert "already been used as many times" in await body(loser)
    session.expire_all()
    assert (await session.get(Invite, invite.id)).uses == 1
    assert await user_count(session) == 2


async def test_closed_registration_says_so_and_refuses(make_app, session):
    client = Client((await make_app(REGISTRATION="closed")).test_client())
    assert "Registration is closed" in await body(await client.get("/register"))
    assert (await client.post("/register", FORM)).status_code == 403
    assert await user_count(session) == 0


# -- Settings → Invites -------------------------------------------------------------------------


async def test_creating_listing_and_expiring_invites(client, make_user, session):
    me = await make_user("alice")
    await client.login(me)
    page = await body(await client.get("/settings/invites"))
    assert '<form id="invite-form"' in page
    response = await client.post("/settings/invites", {"max_uses": "5", "expires_in": "1d"})
    assert response.status_code == 302
    invite = await session.scalar(select(Invite))
    assert (invite.max_uses, invite.uses, invite.creator_id) == (5, 0, me.id)
    assert timedelta(hours=23) < invite.expires_at - utcnow() <= timedelta(days=1)
    page = await body(await client.get("/settings/invites"))
    assert f"/register?invite={invite.code}" in page
    bad = await client.post("/settings/invites", {"max_uses": "7", "expires_in": "1d"})
    assert bad.status_code == 422

    response = await client.post(f"/settings/invites/{invite.id}/expire", htmx=True)
    assert response.status_code == 200
    html = await body(response)
    assert html.startswith(f'<li class="session" id="invite-{invite.id}">') and "expired" in html
    other = Client(client.raw.app.test_client())
    await other.login(await make_user("bob"))
    assert (await other.post(f"/settings/invites/{invite.id}/expire")).status_code == 404


@pytest.mark.parametrize(
    "forged", [{"Host": "evil.example"}, {"X-Forwarded-Host": "evil.example"}], ids=str
)
async def test_an_invite_link_is_on_base_url_whatever_host_the_page_was_asked_with(
    make_app, make_user, session, forged
):
    app = await make_app(BASE_URL="https://warble.example.org", PROXY_HOPS=1)
    client = Client(app.test_client())
    me = await make_user("alice")
    await client.login(me)
    await client.post("/settings/invites", {"max_uses": "5", "expires_in": "1d"})
    invite = await session.scalar(select(Invite))
    page = await body(await client.get("/settings/invites", headers=forged))
    assert f'value="https://warble.example.org/register?invite={invite.code}"' in page
    assert "evil.example" not in page
    expired = await client.post(f"/settings/invites/{invite.id}/expire", htmx=True, headers=forged)
    html = await body(expired)
    assert f"https://warble.example.org/register?invite={invite.code}" in html
    assert "evil.example" not in html


async def test_invites_admins_only_lets_only_admins_create_them(make_app, make_user, session):
    client = Client((await make_app(INVITES="admins")).test_client())
    await client.login(await make_user("alice"))
    assert "Only administrators create invites" in await body(await client.get("/settings/invites"))
    response = await client.post("/settings/invites", {"max_uses": "1", "expires_in": "1d"})
    assert response.status_code == 403
    await client.login(await make_user("boss", role="admin"))
    response = await client.post("/settings/invites", {"max_uses": "1", "expires_in": "never"})
    assert response.status_code == 302
    assert (await session.scalar(select(Invite))).expires_at is None


async def test_a_plain_password_login_still_works_in_open_mode(client, make_user):
    await make_user("susan")
    response = await client.post("/login", {"username": "susan", "password": PASSWORD})
    assert response.status_code == 302


async def test_invites_keep_their_csrf_check(client, make_user, session):
    me = await make_user("alice")
    await client.login(me)
    refused = await client.post("/settings/invites", {"max_uses": "5"}, csrf=False)
    assert refused.status_code == 403
    assert await session.scalar(select(func.count()).select_from(Invite)) == 0
    session.add(Invite(code="keepmealive1", creator_id=me.id))
    await session.commit()
    invite_id = await session.scalar(select(Invite.id))
    expire = await client.post(f"/settings/invites/{invite_id}/expire", csrf=False)
    assert expire.status_code == 403
    session.expire_all()
    assert (await session.get(Invite, invite_id)).expires_at is None

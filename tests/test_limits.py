"""Abuse limits: per address, per username, per account; 429 with Retry-After; per worker;
concurrent requests; bounded keys that expire; one budget for the forms that check passwords."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from datetime import UTC, datetime, timedelta
from tracemalloc import Filter

import pytest

from app.limits import MemoryStore, Step
from app.models import Post, User
from tests.conftest import CSRF, PASSWORD, Client, body

LIMITED = {
    "RATE_LIMITS": True,
    "RATE_LIMIT_AUTH": "3/minute",
    "RATE_LIMIT_LOGIN_USER": "4/minute",
    "RATE_LIMIT_WRITE": "3/minute",
    "RATE_LIMIT_FOLLOW": "2/minute",
}


async def limited_client(make_app, **overrides) -> Client:
    """A client of an app with small limits (the default test app has none)."""
    return Client((await make_app(**LIMITED, **overrides)).test_client())


async def attempt(client, address: str = "10.0.0.1", username: str = "john", **headers):
    await client.use_csrf()
    return await client.raw.post(
        "/login",
        form={"username": username, "password": "wrong password", "csrf_token": "test-csrf-token"},
        headers=headers,
        scope_base={"client": (address, 40000)},
    )


async def test_login_is_limited_per_address_with_retry_after(make_app, make_user):
    client = await limited_client(make_app)
    await make_user("john")
    for _ in range(3):
        assert (await attempt(client)).status_code == 422
    refused = await attempt(client)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "You are doing that too often" in await body(refused)
    # Another address is not affected.
    assert (await attempt(client, "10.0.0.2", "someone")).status_code == 422


async def test_limited_htmx_request_gets_a_fragment_where_the_user_looks(make_app, make_user):
    client = await limited_client(make_app)
    for _ in range(3):
        await attempt(client)
    refused = await attempt(client, **{"HX-Request": "true"})
    assert refused.status_code == 429
    html = await body(refused)
    assert "<html" not in html and 'role="alert"' in html
    assert refused.headers["HX-Retarget"] == "#messages"


async def test_login_is_limited_per_username_across_addresses(make_app, make_user):
    client = await limited_client(make_app)
    await make_user("john")
    statuses = [(await attempt(client, f"10.0.1.{n}")).status_code for n in range(5)]
    assert statuses == [422, 422, 422, 422, 429]


async def test_spoofed_forwarded_for_does_not_escape_the_limit(make_app):
    client = await limited_client(make_app)
    statuses = [
        (
            await attempt(client, "10.0.0.9", f"user{n}", **{"X-Forwarded-For": f"192.0.2.{n}"})
        ).status_code
        for n in range(4)
    ]
    assert statuses == [422, 422, 422, 429]


async def test_behind_a_proxy_the_forwarded_address_is_the_key(make_app):
    client = await limited_client(make_app, PROXY_HOPS=1)
    statuses = [
        (
            await attempt(client, "127.0.0.1", f"user{n}", **{"X-Forwarded-For": f"192.0.2.{n}"})
        ).status_code
        for n in range(4)
    ]
    assert statuses == [422, 422, 422, 422]  # four clients, one attempt each


async def test_registration_is_limited_per_address(make_app, count_rows):
    client = await limited_client(make_app)
    statuses = []
    for n in range(4):
        await client.use_csrf()
        response = await client.raw.post(
            "/register",
            form={
                "username": f"new{n}",
                "email": f"n{n}@example.com",
                "password": "long enough",
                "csrf_token": "test-csrf-token",
            },
        )
        statuses.append(response.status_code)
        client.logout()
    assert statuses == [302, 302, 302, 429]
    assert await count_rows(User) == 3


async def test_posting_is_limited_per_account_and_the_refused_post_is_not_stored(
    make_app, make_user, count_rows
):
    client = await limited_client(make_app)
    await client.login(await make_user("john"))
    statuses = [(await client.post("/posts", {"body": f"post {n}"})).status_code for n in range(4)]
    assert statuses == [302, 302, 302, 429]
    assert await count_rows(Post) == 3


async def test_follow_toggles_are_limited_per_account(make_app, make_user):
    client = await limited_client(make_app)
    await make_user("susan")
    await client.login(await make_user("john"))
    follows = [(await client.post("/user/susan/follow", htmx=True)).status_code for _ in range(3)]
    assert follows == [200, 200, 429]
    # Follow and unfollow count separately (each is its own endpoint).
    assert (await client.post("/user/susan/unfollow", htmx=True)).status_code == 200


async def test_rate_limits_off_lets_everything_through(client, make_user):
    await make_user("john")
    statuses = {(await attempt(client)).status_code for _ in range(15)}
    assert statuses == {422}


async def test_each_worker_counts_on_its_own(make_app, make_user):
    """As documented: counters live in each worker's memory, so W workers allow up to W x."""
    client = await limited_client(make_app)
    other_worker = await limited_client(make_app)  # a second app with the same settings
    await make_user("john")
    for _ in range(3):
        assert (await attempt(client)).status_code == 422
    assert (await attempt(client)).status_code == 429
    assert (await attempt(other_worker)).status_code == 422


async def test_malformed_limit_setting_fails_at_start(make_app):
    with pytest.raises(ValueError, match="10/minute"):
        await make_app(RATE_LIMIT_WRITE="lots")


async def test_unknown_limit_store_fails_at_start(make_app):
    with pytest.raises(ValueError, match="redis://"):
        await make_app(RATE_LIMIT_STORE="memcached://127.0.0.1:11211")


async def test_successful_login_still_works_under_the_limit(make_app, make_user):
    client = await limited_client(make_app)
    await make_user("john")
    response = await client.post("/login", {"username": "john", "password": PASSWORD})
    assert response.status_code == 302


async def test_concurrent_logins_from_one_address_pass_at_most_the_limit(make_app):
    """The CSRF token in a header leaves the body unread until a limit's key needs it: 40
    logins at once must still be counted one by one."""
    client = await limited_client(make_app)
    await client.use_csrf()
    logins = [
        client.raw.post(
            "/login",
            form={"username": f"user{n}", "password": "wrong password"},
            headers={"X-CSRF-Token": CSRF},
            scope_base={"client": ("10.0.0.1", 40000)},
        )
        for n in range(40)
    ]
    statuses = sorted(response.status_code for response in await asyncio.gather(*logins))
    assert statuses == [422] * 3 + [429] * 37


async def test_concurrent_logins_to_one_username_pass_exactly_its_limit(make_app, make_user):
    client = await limited_client(make_app)
    await make_user("john")
    await client.use_csrf()
    logins = [
        client.raw.post(
            "/login",
            form={"username": "john", "password": "wrong password"},
            headers={"X-CSRF-Token": CSRF},
            scope_base={"client": (f"10.0.2.{n}", 40000)},
        )
        for n in range(40)
    ]
    statuses = sorted(response.status_code for response in await asyncio.gather(*logins))
    assert statuses == [422] * 4 + [429] * 36


async def test_long_usernames_do_not_grow_the_limiter(make_app):
    """Each log-in names a username the limiter keys on: 50 names of 60 KB must not be kept."""
    client = await limited_client(make_app)

    async def log_in_as(n: int) -> int:  # each from its own address: only the username counts
        username = f"{n:03d}" + "x" * 60_000
        return (await attempt(client, f"10.3.0.{n}", username)).status_code

    assert await log_in_as(0) == 422  # templates and statements compiled before measuring
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        statuses = [await log_in_as(n) for n in range(1, 51)]
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert statuses == [422] * 50
    # What the limiter's code allocated and still holds: keys, counts, the store.
    limiter = [Filter(True, "*/app/limits.py"), Filter(True, "*/quart_rate_limiter/*")]
    kept = after.filter_traces(limiter).compare_to(before.filter_traces(limiter), "filename")
    assert sum(stat.size_diff for stat in kept) < 100_000  # the names alone would be 3 MB


async def test_every_spelling_of_a_username_shares_its_count(make_app, make_user):
    client = await limited_client(make_app)
    await make_user("john")
    spellings = ["john", "JOHN", " john ", "\uff4a\uff4f\uff48\uff4e", "John"]  # fullwidth 4th
    statuses = [
        (await attempt(client, f"10.0.5.{n}", name)).status_code for n, name in enumerate(spellings)
    ]
    assert statuses == [422, 422, 422, 422, 429]


async def test_memory_store_drops_entries_whose_time_has_passed():
    store = MemoryStore()
    start = datetime.now(UTC)
    for n in range(1000):
        assert await store.check_and_record([Step(f"key{n}", 6.0, 54.0)], start) == 0
    assert len(store) == 1000
    later = start + timedelta(seconds=7)  # every entry's time (start + 6 s) has passed
    assert await store.check_and_record([Step("another", 6.0, 54.0)], later) == 0
    assert len(store) == 1


async def test_password_and_address_forms_share_one_budget_per_address(make_app, make_user):
    """Log-in, registration and the password form each cost an argon2 hash, and registration and
    the profile form both tell whether an address is taken: one address gets RATE_LIMIT_AUTH of
    them in all, not that many of each."""
    app = await make_app(**(LIMITED | {"RATE_LIMIT_AUTH": "4/minute"}))
    client = Client(app.test_client())
    await make_user("john")
    address = {"client": ("10.0.4.1", 40000)}

    async def send(path: str, **form: str) -> int:
        await client.use_csrf()
        form["csrf_token"] = CSRF
        return (await client.raw.post(path, form=form, scope_base=address)).status_code

    async def forms() -> list[int]:
        return [
            await send("/login", username="john", password="wrong password"),
            await send(
                "/register", username="newbie", email="new@example.com", password="long enough"
            ),
            await send(
                "/settings/password", current_password="wrong", new_password="long enough too"
            ),
            await send("/settings/profile", about_me="", email="new@example.com"),
        ]

    assert await forms() == [422, 302, 422, 302]  # registering logs newbie in for the settings
    assert await forms() == [429, 429, 429, 429]

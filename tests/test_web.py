"""The web layer: CSRF, security headers, page-or-fragment, error pages, body limit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Comment, Post, User
from tests.conftest import CSRF, Client, body

REGISTRATION = {"username": "mallory", "email": "m@example.com", "password": "long enough"}


async def user_count(session) -> int:
    return await session.scalar(select(func.count()).select_from(User))


async def test_post_without_csrf_token_is_refused_and_writes_nothing(client, session):
    response = await client.post("/register", REGISTRATION, csrf=False)
    assert response.status_code == 403
    assert "This page is out of date" in await body(response)
    assert await user_count(session) == 0


async def test_post_with_wrong_csrf_token_is_refused(client, session):
    response = await client.post("/register", REGISTRATION | {"csrf_token": "forged"})
    assert response.status_code == 403
    assert await user_count(session) == 0


async def test_csrf_header_is_accepted_for_htmx(client, session):
    await client.use_csrf()
    response = await client.raw.post(
        "/register",
        form=REGISTRATION,
        headers={"X-CSRF-Token": "test-csrf-token", "HX-Request": "true"},
    )
    assert response.status_code == 302
    assert await user_count(session) == 1


async def test_cross_site_post_is_refused_even_with_a_token(client, session):
    response = await client.post(
        "/register", REGISTRATION, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    assert "Cross-site requests are refused." in await body(response)
    assert await user_count(session) == 0


@pytest.mark.parametrize("value", ["Cross-Site", "CROSS-SITE", "cross-Site"])
async def test_cross_site_is_refused_whatever_its_case(client, session, value):
    response = await client.post("/register", REGISTRATION, headers={"Sec-Fetch-Site": value})
    assert response.status_code == 403
    assert "Cross-site requests are refused." in await body(response)
    assert await user_count(session) == 0


async def test_same_origin_post_with_token_passes(client, session):
    response = await client.post(
        "/register", REGISTRATION, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert response.status_code == 302


async def test_every_form_carries_the_token(client):
    for path in ("/login", "/register"):
        html = await body(await client.get(path))
        assert 'name="csrf_token" value="' in html
        assert '<meta name="csrf-token" content="' in html


def assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


async def test_security_headers_on_a_page(client):
    response = await client.get("/explore")
    assert_security_headers(response)
    for header in ("HX-Request", "HX-Boosted", "HX-History-Restore-Request"):
        assert header in response.headers["Vary"]


async def test_security_headers_on_a_fragment(client):
    response = await client.get("/explore", htmx=True)
    assert response.status_code == 200
    assert "<html" not in await body(response)
    assert_security_headers(response)
    assert "HX-Request" in response.headers["Vary"]


async def test_security_headers_on_an_error_and_a_static_file(client):
    assert_security_headers(await client.get("/no/such/page"))
    assert_security_headers(await client.get("/static/app.css"))


async def test_page_links_the_vendored_htmx_and_configures_it_for_the_csp(client):
    html = await body(await client.get("/explore"))
    assert '<script src="/static/htmx-2.0.11.min.js" defer></script>' in html
    assert '"allowEval": false' in html and '"includeIndicatorStyles": false' in html
    assert "<script>" not in html  # no inline script anywhere
    assert (await client.get("/static/htmx-2.0.11.min.js")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"HX-Request": "true", "HX-Boosted": "true"},
        {"HX-Request": "true", "HX-History-Restore-Request": "true"},
        {},
    ],
)
async def test_boosted_and_history_restore_requests_get_full_pages(client, headers):
    html = await body(await client.get("/login", headers=headers))
    assert html.startswith("<!doctype html>")


async def test_not_found_page_and_fragment(client):
    page = await client.get("/no/such/page")
    assert page.status_code == 404
    html = await body(page)
    assert "<html" in html and "Not found" in html

    fragment = await client.get("/no/such/page", htmx=True)
    assert fragment.status_code == 404
    html = await body(fragment)
    assert "<html" not in html and 'role="alert"' in html
    assert fragment.headers["HX-Retarget"] == "#messages"


def allowed(response) -> set[str]:
    return set(response.headers["Allow"].split(", "))


async def test_unsafe_method_without_a_token_is_refused_before_routing(client):
    assert (await client.raw.delete("/login")).status_code == 403
    assert (await client.raw.put("/explore", headers={"X-CSRF-Token": "x"})).status_code == 403


async def test_method_not_allowed_page_keeps_allow_header(client):
    await client.use_csrf()  # past the CSRF check, which runs first for unsafe methods
    response = await client.raw.delete("/login", headers={"X-CSRF-Token": CSRF})
    assert response.status_code == 405
    assert allowed(response) == {"GET", "HEAD", "OPTIONS", "POST"}
    response = await client.raw.put("/explore", headers={"X-CSRF-Token": CSRF})
    assert response.status_code == 405
    assert allowed(response) == {"GET", "HEAD", "OPTIONS"}
    response = await client.get("/logout")
    assert response.status_code == 405
    assert allowed(response) == {"OPTIONS", "POST"}
    assert "Method not allowed" in await body(response)


async def test_forbidden_fragment_for_htmx(client):
    response = await client.post("/register", REGISTRATION, htmx=True, csrf=False)
    assert response.status_code == 403
    html = await body(response)
    assert "<html" not in html and "Reload the page" in html


async def test_oversized_body_is_413_and_writes_nothing(client, session):
    huge = REGISTRATION | {"about": "x" * (70 * 1024)}
    response = await client.post("/register", huge)
    assert response.status_code == 413
    assert "Too much data" in await body(response)
    assert await user_count(session) == 0


async def test_unexpected_error_is_a_friendly_500(make_app):
    broken = await make_app(PROPAGATE_EXCEPTIONS=False)  # as in production, not as in tests
    client = Client(broken.test_client())

    async def boom() -> str:
        raise RuntimeError("secret detail")

    broken.app.add_url_rule("/boom", "boom", boom)
    response = await client.get("/boom")
    assert response.status_code == 500
    html = await body(response)
    assert "Something went wrong" in html and "secret detail" not in html
    fragment = await client.get("/boom", htmx=True)
    assert fragment.status_code == 500 and "<html" not in await body(fragment)


async def test_explore_answers_everyone(client):
    assert (await client.get("/explore")).status_code == 200


# The same number in other scripts' digits: Arabic-Indic, Devanagari, fullwidth, mathematical bold.
ZEROS = [0x0660, 0x0966, 0xFF10, 0x1D7CE]


@pytest.mark.parametrize("zero", ZEROS, ids=["arabic-indic", "devanagari", "fullwidth", "bold"])
async def test_ids_in_paths_are_ascii_digits_only(client, make_user, make_post, count_rows, zero):
    john = await make_user("john")
    await client.login(john)
    post = await make_post(john, "the post")
    assert (await client.get(f"/posts/{post.id}")).status_code == 200
    foreign = "".join(chr(zero + int(digit)) for digit in str(post.id))
    assert (await client.get(f"/posts/{foreign}")).status_code == 404
    assert (await client.post(f"/posts/{foreign}/delete")).status_code == 404
    assert (await client.post(f"/posts/{foreign}/comments", {"body": "hi"})).status_code == 404
    assert await count_rows(Post) == 1
    assert await count_rows(Comment) == 0

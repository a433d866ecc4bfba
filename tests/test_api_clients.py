"""The client API proven with software Warble's team did not write: Mastodon.py and the toot
CLI, against hypercorn on a free port, on every backend. The consent page is driven over HTTP
by a logged-in user, as a browser would."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import pytest
import requests
from mastodon import Mastodon
from sqlalchemy import text

from tests.browser.server import free_port
from tests.conftest import PASSWORD, Database
from tests.hashing import cheap_argon2_environ
from tests.live_client import Hypercorn

ROOT = Path(__file__).resolve().parent.parent
OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ["read", "write", "follow", "push"]


class Server(Hypercorn):
    """`make run`'s hypercorn on a free port, BASE_URL its own address."""

    def __init__(self, db: Database, folder: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            **cheap_argon2_environ(),
            **db.environ(),
            "SECRET_KEY": "api clients test",
            "WARBLE_INSTANCE": str(folder),
            "SECURE_COOKIES": "false",
            "RATE_LIMITS": "on",  # the X-RateLimit-* headers reach the clients
            "RATE_LIMIT_API": "100000/5 minutes",
            "RATE_LIMIT_WRITE": "1000/minute",
            "BASE_URL": self.base,
        }
        command = [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(
            [*command, "--workers", "1", "app:create_app()"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


@pytest.fixture
async def server(db: Database, tmp_path: Path) -> AsyncIterator[Server]:
    warble = Server(db, tmp_path / "instance")
    try:
        await warble.ready()
        yield warble
    finally:
        warble.stop()


@pytest.fixture
def users(make_user):
    async def make(*names: str) -> None:
        for name in names:
            await make_user(name)

    return make


def browser_login(base: str, username: str) -> requests.Session:
    """A browser's session: logged in through the login form."""
    browser = requests.Session()
    page = browser.get(f"{base}/login").text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    answer = browser.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf},
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    return browser


def consent(browser: requests.Session, url: str) -> str:
    """Open the authorize URL, press Authorize, read the code from #oauth-code."""
    page = browser.get(url)
    assert page.status_code == 200, page.text[:500]
    form = re.search(r'<form id="oauth-form".*?</form>', page.text, re.S).group(0)
    fields = {
        unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form)
    }
    fields["decision"] = "authorize"
    action = unescape(re.search(r'action="([^"]+)"', form).group(1))
    answer = browser.post(url.split("/oauth/")[0] + action, data=fields)
    assert answer.status_code == 200, answer.text[:500]
    return re.search(r'id="oauth-code"[^>]*>([^<]+)<', answer.text).group(1)


def mastodon_py_flow(base: str) -> dict:
    """Everything the issue lists, through Mastodon.py's own calls; returns what it saw."""
    client_id, client_secret = Mastodon.create_app(
        "Mastodon.py test", scopes=SCOPES, redirect_uris=OOB, api_base_url=base
    )
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
    url = api.auth_request_url(redirect_uris=OOB, scopes=SCOPES)
    code = consent(browser_login(base, "alice"), url)
    api.log_in(code=code, redirect_uri=OOB, scopes=SCOPES)

    me = api.account_verify_credentials()
    assert me.acct == "alice"
    first = api.status_post("hello from Mastodon.py #python")
    assert first.content.startswith("<p>hello from Mastodon.py")

    # 45 more posts, then the home timeline to the end: each exactly once, newest first.
    posted = [first.id] + [api.status_post(f"post {n}").id for n in range(45)]
    seen = []
    page = api.timeline_home()
    while page:
        seen += [status.id for status in page]
        page = api.fetch_next(page)
    assert seen == list(reversed(posted))

    bob = api.account_lookup("bob")
    relationship = api.account_follow(bob.id)
    assert relationship.following is True
    return {"api": api, "first": first, "bob": bob, "alice": me}


async def test_mastodon_py_logs_in_posts_pages_follows_searches_likes_and_deletes(
    server, users, db
):
    await users("alice", "bob")
    seen = await asyncio.to_thread(mastodon_py_flow, server.base)
    api, first = seen["api"], seen["first"]

    # bob's side: his own token, through the same flow; he likes alice's post.
    def bob_likes_and_reads() -> list:
        client_id, secret = Mastodon.create_app(
            "bob's app", scopes=SCOPES, redirect_uris=OOB, api_base_url=server.base
        )
        bob = Mastodon(client_id=client_id, client_secret=secret, api_base_url=server.base)
        code = consent(browser_login(server.base, "bob"), bob.auth_request_url(scopes=SCOPES))
        bob.log_in(code=code, scopes=SCOPES)
        liked = bob.status_favourite(first.id)
        assert liked.favourited is True and liked.favourites_count == 1
        return bob.notifications()

    notes = await asyncio.to_thread(bob_likes_and_reads)
    assert [(n.type, n.account.acct) for n in notes] == [("follow", "alice")]

    def alice_reads() -> None:
        notes = api.notifications()
        assert [(n.type, n.account.acct, n.status.id) for n in notes] == [
            ("favourite", "bob", first.id)
        ]
        found = api.search_v2("bob", result_type="accounts")
        assert [a.acct for a in found.accounts] == ["bob"]
        found = api.search_v2("Mastodon.py")
        assert [s.id for s in found.statuses] == [first.id]
        gone = api.status_delete(first.id)
        assert gone.id == first.id

    await asyncio.to_thread(alice_reads)
    engine = db.engine()
    try:
        async with engine.connect() as connection:
            left = await connection.scalar(
                text("SELECT count(*) FROM posts WHERE id = :i"), {"i": int(first.id)}
            )
    finally:
        await engine.dispose()
    assert left == 0


def toot(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    return subprocess.run(
        [sys.executable, "-m", "toot", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def toot_login(home: Path, base: str, username: str) -> None:
    """`toot login`: it registers itself, prints the URL, and asks for the code."""
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    process = subprocess.Popen(
        [sys.executable, "-m", "toot", "login", "--instance", base],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    url = None
    for line in process.stdout:
        if line.startswith("http"):
            url = line.strip()
            break
    assert url is not None and "/oauth/authorize/?" in url
    code = consent(browser_login(base, username), url)
    out, err = process.communicate(f"n\n{code}\n", timeout=60)
    assert process.returncode == 0, out + err
    assert "Successfully logged in" in out


async def test_toot_logs_in_posts_reads_the_timeline_and_follows(server, users, tmp_path):
    await users("carol", "dave")
    home = tmp_path / "home"
    home.mkdir()
    await asyncio.to_thread(toot_login, home, server.base, "carol")

    posted = await asyncio.to_thread(toot, home, "post", "hello from toot")
    assert posted.returncode == 0, posted.stdout + posted.stderr
    shown = await asyncio.to_thread(toot, home, "timeline", "--once")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "hello from toot" in shown.stdout
    followed = await asyncio.to_thread(toot, home, "follow", "dave")
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert "following dave" in followed.stdout.lower()

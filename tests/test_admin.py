"""/admin: who may see and do what (every route for every role), the open reports with their
context, each action (page, htmx fragment, plain form) and its line in the moderation log,
suspension ending sessions at once, and deleting, approving and rejecting accounts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.models import (
    Block,
    Comment,
    Event,
    Invite,
    ModerationAction,
    Mute,
    Notification,
    Post,
    Report,
    User,
    UserSession,
)
from app.pagination import FIRST
from app.queries import moderation as queries
from tests.conftest import PASSWORD, body

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def people(make_user):
    """A plain user, a moderator, an admin, and alice, whose post is reported by the user."""
    return {
        "user": await make_user("plain"),
        "moderator": await make_user("mod", role="moderator"),
        "admin": await make_user("admin", role="admin"),
        "alice": await make_user("alice"),
        "waiting": await make_user("newbie", approved=False, signup_reason="I like birds"),
    }


@pytest.fixture
async def report(session, people, make_post):
    post = await make_post(people["alice"], "reported text", at=T0)
    report = Report(
        reporter_id=people["user"].id,
        account_id=people["alice"].id,
        post_id=post.id,
        reason="spam",
        created_at=T0,
    )
    session.add(report)
    await session.commit()
    session.expunge(report)  # detached: later expire_all() calls leave it readable
    return report


async def log_lines(session) -> list[tuple]:
    session.expire_all()
    stmt = select(
        ModerationAction.moderator_name,
        ModerationAction.action,
        ModerationAction.account_name,
        ModerationAction.report_id,
        ModerationAction.detail,
        ModerationAction.reason,
    ).order_by(ModerationAction.id)
    return [tuple(row) for row in (await session.execute(stmt)).all()]


async def user_state(session, user_id: int) -> tuple | None:
    session.expire_all()
    stmt = select(User.role, User.approved, User.suspended_at.is_not(None)).where(
        User.id == user_id
    )
    row = (await session.execute(stmt)).first()
    return tuple(row) if row else None


async def snapshot(session) -> dict[str, object]:
    """What any admin action could change: row counts, and every account's state."""
    session.expire_all()
    counts = {}
    tables = (User, Post, Comment, Report, ModerationAction, UserSession, Notification, Block, Mute)
    for model in tables:
        counts[model.__tablename__] = await session.scalar(select(func.count()).select_from(model))
    states = select(User.id, User.role, User.approved, User.suspended_at).order_by(User.id)
    resolved = select(Report.id, Report.resolved_at).order_by(Report.id)
    counts["users_state"] = [tuple(r) for r in (await session.execute(states)).all()]
    counts["reports_state"] = [tuple(r) for r in (await session.execute(resolved)).all()]
    return counts


# Each admin URL, and who gets what: 404 for anyone not staff, 403 for what a moderator may
# not do, else the answer of a plain form (302) or a page (200).
ROUTES = [
    ("GET", "/admin", 200, 200),
    ("GET", "/admin/log", 200, 200),
    ("GET", "/admin/accounts/alice", 200, 200),
    ("POST", "/admin/reports/{report}/dismiss", 302, 302),
    ("POST", "/admin/reports/{report}/delete", 302, 302),
    ("POST", "/admin/accounts/alice/suspend", 302, 302),
    ("POST", "/admin/accounts/alice/unsuspend", 409, 409),
    ("POST", "/admin/accounts/alice/delete", 403, 302),
    ("POST", "/admin/accounts/newbie/approve", 403, 302),
    ("POST", "/admin/accounts/newbie/reject", 403, 302),
    ("POST", "/admin/accounts/alice/role", 403, 302),
]


@pytest.mark.parametrize(("method", "path", "as_moderator", "as_admin"), ROUTES)
@pytest.mark.parametrize("who", ["anonymous", "user", "moderator", "admin"])
async def test_every_admin_route_checks_the_role_on_the_server(
    client, people, report, session, who, method, path, as_moderator, as_admin
):
    if who != "anonymous":
        await client.login(people[who])
    url = path.format(report=report.id)
    before = await snapshot(session)
    if method == "GET":
        response = await client.get(url)
    else:
        response = await client.post(url, {"reason": "test", "role": "moderator"})
    expected = {"anonymous": 404, "user": 404, "moderator": as_moderator, "admin": as_admin}
    assert response.status_code == expected[who]
    if response.status_code >= 400:
        assert await snapshot(session) == before
    if response.status_code == 404:
        assert "Moderation" not in await body(response)


@pytest.mark.parametrize(("method", "path", "as_moderator", "as_admin"), ROUTES[3:])
async def test_every_admin_action_keeps_its_csrf_check(
    client, people, report, session, method, path, as_moderator, as_admin
):
    await client.login(people["admin"])
    before = await snapshot(session)
    url = path.format(report=report.id)
    response = await client.post(url, {"reason": "test", "role": "moderator"}, csrf=False)
    assert response.status_code == 403
    assert await snapshot(session) == before


async def test_only_staff_see_the_moderation_link(client, people):
    await client.login(people["user"])
    assert 'href="/admin"' not in await body(await client.get("/"))
    await client.login(people["moderator"])
    assert 'href="/admin"' in await body(await client.get("/"))


async def test_admin_lists_open_reports_with_the_post_its_neighbours_and_actions(
    client, people, report, make_post, session
):
    alice = people["alice"]
    await make_post(alice, "the one before", at=T0 - timedelta(hours=1))
    await make_post(alice, "the one after", at=T0 + timedelta(hours=1))
    await make_post(alice, "much later", at=T0 + timedelta(hours=2))
    await client.login(people["moderator"])
    html = await body(await client.get("/admin"))
    item = re.search(rf'<li class="report card" id="report-{report.id}">.*?</li>\n', html, re.S)
    assert item
    text = item.group(0)
    assert text.index("the one before") < text.index("reported text") < text.index("the one after")
    neighbours, latest = text.split("<details>")
    assert "much later" not in neighbours
    assert "much later" in latest and "reported text" in latest  # the account's latest posts
    assert "@plain" in text
    assert f'action="/admin/reports/{report.id}/dismiss"' in text
    assert f'action="/admin/reports/{report.id}/delete"' in text
    assert 'action="/admin/accounts/alice/suspend"' in text
    assert "Waiting for approval" in html and "I like birds" in html


async def test_the_reports_page_costs_the_same_statements_whatever_its_length(
    app, client, people, make_post, make_user, session
):
    """Each report brings its post or comment, their neighbours and the account's latest
    posts: read for the whole page at once, never per report."""
    from tests.test_timeline import statements_of

    async def reports(n: int) -> None:
        for i in range(n):
            author = await make_user(f"spammer{n}x{i}")
            for k in range(3):
                await make_post(author, f"spam {k}", at=T0 + timedelta(minutes=k))
            post = await make_post(author, "reported", at=T0 + timedelta(seconds=90))
            comment = Comment(post_id=post.id, author_id=author.id, body="and a comment")
            session.add(comment)
            await session.flush()
            for target in ({"post_id": post.id}, {"comment_id": comment.id}, {}):
                session.add(
                    Report(
                        reporter_id=people["user"].id,
                        account_id=author.id,
                        reason="spam",
                        created_at=T0,
                        **target,
                    )
                )
        await session.commit()

    await client.login(people["moderator"])
    await reports(1)
    await client.get("/admin")  # the first request of a login also notes last_seen_at
    one = await statements_of(app, client, "/admin")
    await reports(5)
    assert await statements_of(app, client, "/admin") == one


async def test_open_reports_are_oldest_first_and_keyset_paginated(session, people):
    for n in range(25):
        session.add(
            Report(
                reporter_id=people["user"].id,
                account_id=people["alice"].id,
                reason="spam",
                created_at=T0 + timedelta(minutes=n // 2),
            )
        )
    await session.commit()
    seen, cursor = [], queries.OLDEST_FIRST
    while True:
        page = await queries.open_reports(session, cursor)
        seen += [(r.created_at, r.id) for r in page.items]
        if page.next is None:
            break
        cursor = page.next
    assert seen == sorted(seen) and len(seen) == 25


async def test_dismiss_via_htmx_replaces_the_report_and_is_logged(client, people, report, session):
    await client.login(people["moderator"])
    response = await client.post(
        f"/admin/reports/{report.id}/dismiss",
        {"reason": "fine", "slot": f"report-{report.id}"},
        htmx=True,
    )
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html
    assert html.startswith(f'<li id="report-{report.id}" class="report resolved"')
    assert await log_lines(session) == [("mod", "dismiss", "alice", report.id, "", "fine")]
    session.expire_all()
    resolved = await session.get(Report, report.id)
    assert resolved.resolution == "dismissed" and resolved.resolved_by_id == people["moderator"].id
    again = await client.post(f"/admin/reports/{report.id}/dismiss", {"slot": "report-1"})
    assert again.status_code == 409


async def test_deleting_the_reported_post_keeps_its_text_in_the_log(
    client, people, report, session
):
    await client.login(people["moderator"])
    response = await client.post(f"/admin/reports/{report.id}/delete", {"reason": "spam"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin"
    session.expire_all()
    assert await session.get(Post, report.post_id) is None
    assert await log_lines(session) == [
        ("mod", "delete_post", "alice", report.id, "reported text", "spam")
    ]
    log = await body(await client.get("/admin/log"))
    assert "deleted a post by" in log and "reported text" in log


async def test_a_suspended_authors_reported_post_can_still_be_deleted(
    client, people, report, session
):
    """Suspending hides the author's posts from everyone; a moderator deleting one afterwards
    still finds it (the suspension resolved the report: its actions stay available)."""
    await client.login(people["moderator"])
    suspended = await client.post("/admin/accounts/alice/suspend", {"report": str(report.id)})
    assert suspended.status_code == 302
    response = await client.post(f"/admin/reports/{report.id}/delete", {"reason": "spam"})
    assert response.status_code == 302
    session.expire_all()
    assert await session.get(Post, report.post_id) is None
    assert [line[1] for line in await log_lines(session)] == ["suspend", "delete_post"]


async def test_a_report_keeps_what_the_post_said_when_its_author_edits_or_deletes_it(
    client, make_client, people, make_post, session
):
    alice = people["alice"]
    edited, deleted = await make_post(alice, "spam one"), await make_post(alice, "spam two")
    await client.login(people["user"])
    for post in (edited, deleted):
        response = await client.post(f"/posts/{post.id}/report", {"reason": "spam"})
        assert response.status_code == 302
    author = make_client()
    await author.login(alice)
    assert (await author.post(f"/posts/{edited.id}/edit", {"body": "harmless"})).status_code == 302
    assert (await author.post(f"/posts/{deleted.id}/delete")).status_code == 302

    await client.login(people["moderator"])
    html = await body(await client.get("/admin"))
    items = re.findall(r'<li class="report card" id="report-\d+">.*?</li>\n', html, re.S)
    was_edited, was_deleted = sorted(items, key=lambda item: "spam two" in item)
    assert "harmless" in was_edited and "since edited" in was_edited and "spam one" in was_edited
    assert "A post or comment by" in was_deleted and "since deleted" in was_deleted
    assert "spam two" in was_deleted


async def test_deleting_a_reported_comment(client, people, session, make_post):
    post = await make_post(people["user"], "fine post")
    comment = Comment(post_id=post.id, author_id=people["alice"].id, body="nasty")
    session.add(comment)
    await session.commit()
    report = Report(
        reporter_id=people["user"].id,
        account_id=people["alice"].id,
        comment_id=comment.id,
        reason="abuse",
    )
    session.add(report)
    await session.commit()
    comment_id, report_id = comment.id, report.id
    await client.login(people["admin"])
    assert (await client.post(f"/admin/reports/{report_id}/delete")).status_code == 302
    session.expire_all()
    assert await session.get(Comment, comment_id) is None
    assert await session.get(Post, post.id) is not None
    assert (await log_lines(session))[0][1:5] == ("delete_comment", "alice", report_id, "nasty")


async def test_suspension_ends_every_session_at_once_and_is_reversible(
    client, make_client, people, report, session
):
    alice = people["alice"]
    victim = make_client()
    await victim.login(alice)
    assert (await victim.get("/settings/profile")).status_code == 200
    await client.login(people["moderator"])
    response = await client.post(
        "/admin/accounts/alice/suspend", {"reason": "spam bot", "report": str(report.id)}
    )
    assert response.status_code == 302
    assert (await victim.get("/settings/profile")).status_code == 302  # logged out
    session.expire_all()
    assert (
        await session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.user_id == alice.id)
        )
        == 0
    )
    ended = select(Event.user_id).where(Event.kind == "session_end")
    assert list(await session.scalars(ended)) == [alice.id]
    assert (await session.get(Report, report.id)).resolution == "suspend"
    assert await log_lines(session) == [("mod", "suspend", "alice", report.id, "", "spam bot")]
    assert "This account is suspended." in await body(await client.get("/user/alice"))

    login = make_client()
    await login.use_csrf()
    response = await login.post("/login", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert "This account is suspended." in await body(response)

    assert (await client.post("/admin/accounts/alice/unsuspend")).status_code == 302
    assert await user_state(session, alice.id) == ("user", True, False)
    response = await login.post("/login", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


async def test_a_session_row_left_by_a_race_does_not_let_a_suspended_user_in(
    client, people, session
):
    alice = people["alice"]
    await client.login(alice)
    user = await session.get(User, alice.id)
    user.suspended_at = T0
    await session.commit()
    assert (await client.get("/settings/profile")).status_code == 302


async def test_moderators_cannot_act_on_admins_or_themselves(client, people, session):
    await client.login(people["moderator"])
    before = await snapshot(session)
    for path in ("/admin/accounts/admin/suspend", "/admin/accounts/mod/suspend"):
        response = await client.post(path)
        assert response.status_code == 403, path
    assert await snapshot(session) == before
    html = await body(await client.get("/admin/accounts/admin"))
    assert 'action="/admin/accounts/admin/suspend"' not in html


async def test_admin_deletes_an_account_with_its_content(client, people, report, session):
    await client.login(people["admin"])
    response = await client.post("/admin/accounts/alice/delete", {"reason": "spam only"})
    assert response.status_code == 302
    session.expire_all()
    assert await session.get(User, people["alice"].id) is None
    assert await session.scalar(select(func.count()).select_from(Post)) == 0
    assert await log_lines(session) == [("admin", "delete_account", "alice", None, "", "spam only")]


async def test_approving_and_rejecting_sign_ups(client, people, make_user, session):
    other = await make_user("hopeful", approved=False, signup_reason="hello")
    await client.login(people["admin"])
    response = await client.post(
        "/admin/accounts/newbie/approve", {"slot": f"waiting-{people['waiting'].id}"}, htmx=True
    )
    assert response.status_code == 200
    assert (await body(response)).startswith(f'<li id="waiting-{people["waiting"].id}"')
    assert await user_state(session, people["waiting"].id) == ("user", True, False)
    assert (await client.post("/admin/accounts/hopeful/reject")).status_code == 302
    assert await user_state(session, other.id) is None
    assert [line[1:3] for line in await log_lines(session)] == [
        ("approve", "newbie"),
        ("reject", "hopeful"),
    ]


async def test_an_account_waiting_for_approval_is_not_public(client, people, make_user):
    """Not on its profile, the directory, people search nor suggestions, and not followed,
    until it is approved; moderators and admins open its profile from /admin."""
    await make_user("newbie2")  # a name that search for "newbie" would list beside it
    await client.login(people["user"])
    assert (await client.get("/user/newbie")).status_code == 404
    assert (await client.post("/user/newbie/follow")).status_code == 404
    for page in ("/people", "/search?q=newbie", "/"):
        assert 'href="/user/newbie"' not in await body(await client.get(page)), page
    assert 'href="/user/newbie2"' in await body(await client.get("/search?q=newbie"))
    await client.login(people["moderator"])
    assert (await client.get("/user/newbie")).status_code == 200
    assert (await client.post("/admin/accounts/newbie/approve")).status_code == 403  # admins'
    await client.login(people["admin"])
    assert (await client.post("/admin/accounts/newbie/approve")).status_code == 302
    await client.login(people["user"])
    assert (await client.get("/user/newbie")).status_code == 200
    assert 'href="/user/newbie"' in await body(await client.get("/people"))


async def test_a_suspended_accounts_invites_admit_nobody_until_it_is_unsuspended(
    make_app, people, session
):
    from tests.conftest import Client

    app = await make_app(REGISTRATION="invite")
    staff, visitor = Client(app.test_client()), Client(app.test_client())
    session.add(Invite(code="alicesinvite", creator_id=people["alice"].id, max_uses=5))
    await session.commit()
    await staff.login(people["admin"])
    assert (await staff.post("/admin/accounts/alice/suspend")).status_code == 302
    form = {"username": "carl", "email": "carl@example.com", "password": "long enough"}
    await visitor.use_csrf()
    refused = await visitor.post("/register", form | {"invite": "alicesinvite"})
    assert refused.status_code == 422
    assert "That invite code is not valid" in await body(refused)
    assert await user_state(session, people["alice"].id) == ("user", True, True)
    session.expire_all()
    assert await session.scalar(select(User.id).where(User.username == "carl")) is None
    assert (await session.scalar(select(Invite.uses))) == 0
    assert (await staff.post("/admin/accounts/alice/unsuspend")).status_code == 302
    admitted = await visitor.post("/register", form | {"invite": "alicesinvite"})
    assert admitted.status_code == 302


async def test_staff_are_told_of_reports_and_sign_ups_whoever_they_mute_or_are_blocked_by(
    client, people, report, session
):
    mod, reporter, waiting = people["moderator"], people["user"], people["waiting"]
    session.add_all(
        [
            Mute(muter_id=mod.id, muted_id=reporter.id),
            Block(blocker_id=waiting.id, blocked_id=mod.id),
            Notification(
                recipient_id=mod.id, kind="report", actor_id=reporter.id, report_id=report.id
            ),
            Notification(recipient_id=mod.id, kind="signup", actor_id=waiting.id),
        ]
    )
    await session.commit()
    await client.login(mod)
    page = await body(await client.get("/notifications"))
    assert f'href="/admin#report-{report.id}">a report</a>' in page
    assert "newbie" in page


async def test_admins_change_roles_and_the_log_pages_newest_first(client, people, session):
    await client.login(people["admin"])
    response = await client.post("/admin/accounts/alice/role", {"role": "moderator"})
    assert response.status_code == 302
    assert (await user_state(session, people["alice"].id))[0] == "moderator"
    assert (await client.post("/admin/accounts/plain/role", {"role": "king"})).status_code == 403
    for n in range(22):
        session.add(
            ModerationAction(
                moderator_name="admin",
                action="dismiss",
                account_name=f"n{n}",
                created_at=T0 + timedelta(minutes=n),
            )
        )
    await session.commit()
    first = await queries.log_page(session, FIRST)
    assert first.items[0].action == "role" and first.next is not None
    html = await body(await client.get("/admin/log"))
    assert 'id="log-more"' in html
    more = re.search(r'hx-get="([^"]+)"', html.split('id="log-more"')[1]).group(1)
    fragment = await body(await client.get(more.replace("&amp;", "&"), htmx=True))
    assert "<html" not in fragment and "@n1<" in fragment and "@n0<" in fragment


async def test_suspending_from_a_report_via_htmx_replaces_it(client, people, report, session):
    await client.login(people["admin"])
    slot = f"report-{report.id}"
    response = await client.post(
        "/admin/accounts/alice/suspend",
        {"slot": slot, "report": str(report.id), "reason": "bot"},
        htmx=True,
    )
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html and html.startswith(f'<li id="{slot}" class="report resolved"')
    assert "alice is suspended" in html
    assert response.headers["HX-Trigger"] == '{"warble:announce": "alice is suspended"}'
    assert await user_state(session, people["alice"].id) == ("user", True, True)
    assert await log_lines(session) == [("admin", "suspend", "alice", report.id, "", "bot")]


async def test_the_next_page_of_reports_is_a_fragment(client, people, session):
    for n in range(21):
        session.add(
            Report(
                reporter_id=people["user"].id,
                account_id=people["alice"].id,
                reason="spam",
                comment=f"number {n}",
                created_at=T0 + timedelta(minutes=n),
            )
        )
    await session.commit()
    await client.login(people["moderator"])
    html = await body(await client.get("/admin"))
    assert "number 0" in html and "number 19" in html and "number 20" not in html
    more = re.search(r'<li class="more" id="reports-more"><a rel="next" href="([^"]+)"', html)
    assert more
    fragment = await body(await client.get(more.group(1).replace("&amp;", "&"), htmx=True))
    assert "<html" not in fragment and "number 20" in fragment and "number 19" not in fragment
    page = await body(await client.get(more.group(1).replace("&amp;", "&")))
    assert "<html" in page and "number 20" in page


async def test_a_suspended_users_open_stream_ends(make_client, make_user):
    from tests.test_live import stream

    admin, victim = make_client(), make_client()
    await admin.login(await make_user("boss", role="admin"))
    await victim.login(await make_user("carol"))
    async with stream(victim) as live:
        await admin.post("/admin/accounts/carol/suspend")
        await live.message("close")

"""Reports: the form for a post, a comment or an account (page, htmx fragment, plain form),
what a bad report gets, the rate limit, and the notification every moderator and admin gets."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Comment, Event, Notification, Report
from tests.conftest import Client, body


@pytest.fixture
async def alice(make_user):
    return await make_user("alice")


@pytest.fixture
async def bob(make_user, client):
    user = await make_user("bob")
    await client.login(user)
    return user


@pytest.fixture
async def post(make_post, alice):
    return await make_post(alice, "buy cheap stuff")


async def reports(session) -> list[tuple]:
    session.expire_all()
    stmt = select(
        Report.reporter_id,
        Report.account_id,
        Report.post_id,
        Report.comment_id,
        Report.reason,
        Report.comment,
    ).order_by(Report.id)
    return [tuple(row) for row in (await session.execute(stmt)).all()]


async def comment_of(session, post, author, text="rude words") -> Comment:
    comment = Comment(post_id=post.id, author_id=author.id, body=text)
    session.add(comment)
    await session.commit()
    session.expunge(comment)  # detached: later expire_all() calls leave it readable
    return comment


async def test_the_report_form_is_a_page_with_a_reason_group(client, bob, post):
    response = await client.get(f"/posts/{post.id}/report")
    assert response.status_code == 200
    html = await body(response)
    assert "<html" in html and '<form id="report-form"' in html
    for reason in ("spam", "abuse", "illegal", "other"):
        assert f'type="radio" name="reason" value="{reason}"' in html
    assert "buy cheap stuff" in html
    assert f'hx-post="/posts/{post.id}/report"' in html


async def test_reporting_a_post_without_javascript_says_it_was_received(
    client, bob, alice, post, session
):
    response = await client.post(f"/posts/{post.id}/report", {"reason": "spam", "comment": "ads"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/posts/{post.id}"
    assert await reports(session) == [(bob.id, alice.id, post.id, None, "spam", "ads")]
    page = await body(await client.get(f"/posts/{post.id}"))
    assert "your report was received" in page


async def test_reporting_via_htmx_swaps_the_form_for_a_thank_you(client, bob, alice, post, session):
    response = await client.post(f"/posts/{post.id}/report", {"reason": "abuse"}, htmx=True)
    assert response.status_code == 200
    html = await body(response)
    assert "<html" not in html
    assert html.startswith('<div id="report-form" class="report-received"')
    assert "your report was received" in html
    assert response.headers["HX-Trigger"] == '{"warble:announce": "Report sent"}'
    assert await reports(session) == [(bob.id, alice.id, post.id, None, "abuse", "")]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, "Choose a reason."),
        ({"reason": "boring"}, "Choose a reason."),
        ({"reason": "other"}, "Say what is wrong"),
        ({"reason": "spam", "comment": "x" * 1001}, "Keep it to 1000 characters"),
    ],
)
async def test_a_bad_report_is_refused_with_a_message_and_nothing_written(
    client, bob, post, session, form, message
):
    response = await client.post(f"/posts/{post.id}/report", form)
    assert response.status_code == 422
    html = await body(response)
    assert "<html" in html and message in html
    response = await client.post(f"/posts/{post.id}/report", form, htmx=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#report-form"
    assert (await body(response)).startswith('<form id="report-form"')
    assert await reports(session) == []


async def test_nobody_reports_themselves(client, make_user, make_post, session):
    me = await make_user("myself")
    await client.login(me)
    mine = await make_post(me, "mine")
    comment = await comment_of(session, mine, me)
    for path in (
        f"/posts/{mine.id}/report",
        f"/comments/{comment.id}/report",
        "/user/myself/report",
    ):
        assert (await client.get(path)).status_code == 400, path
        response = await client.post(path, {"reason": "spam"})
        assert response.status_code == 400, path
        assert "You cannot report yourself." in await body(response)
    assert await reports(session) == []


async def test_logged_out_readers_are_sent_to_log_in(client, post, session):
    response = await client.post(f"/posts/{post.id}/report", {"reason": "spam"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert await reports(session) == []


async def test_a_report_without_the_csrf_token_is_refused(client, bob, alice, post, session):
    comment = await comment_of(session, post, alice)
    for path in (
        f"/posts/{post.id}/report",
        f"/comments/{comment.id}/report",
        "/user/alice/report",
    ):
        response = await client.post(path, {"reason": "spam"}, csrf=False)
        assert response.status_code == 403, path
    assert await reports(session) == []


async def test_reporting_a_comment_and_an_account(client, bob, alice, post, session):
    comment = await comment_of(session, post, alice)
    form = await body(await client.get(f"/comments/{comment.id}/report"))
    assert "rude words" in form
    response = await client.post(f"/comments/{comment.id}/report", {"reason": "abuse"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/posts/{post.id}#comment-{comment.id}"
    response = await client.post("/user/alice/report", {"reason": "other", "comment": "a bot"})
    assert response.headers["Location"] == "/user/alice"
    assert await reports(session) == [
        (bob.id, alice.id, None, comment.id, "abuse", ""),
        (bob.id, alice.id, None, None, "other", "a bot"),
    ]
    assert (await client.post("/comments/999/report", {"reason": "spam"})).status_code == 404
    assert (await client.post("/user/nobody/report", {"reason": "spam"})).status_code == 404


async def test_report_links_sit_on_the_posts_page_the_comments_and_the_profile(
    client, bob, alice, post, session, make_post
):
    comment = await comment_of(session, post, alice)
    page = await body(await client.get(f"/posts/{post.id}"))
    assert f'href="/posts/{post.id}/report"' in page
    assert f'href="/comments/{comment.id}/report"' in page
    assert 'href="/user/alice/report">Report @alice</a>' in await body(
        await client.get("/user/alice")
    )
    assert f"/posts/{post.id}/report" not in await body(await client.get("/explore"))
    own = await make_post(bob, "my own")
    assert f"/posts/{own.id}/report" not in await body(await client.get(f"/posts/{own.id}"))
    assert "/user/bob/report" not in await body(await client.get("/user/bob"))


async def test_reports_are_rate_limited_with_one_budget_for_every_kind(
    make_app, make_user, make_post, session
):
    app = await make_app(RATE_LIMITS=True, RATE_LIMIT_REPORT="2/hour")
    client = Client(app.test_client())
    alice = await make_user("alice")
    await client.login(await make_user("bob"))
    post = await make_post(alice, "spam")
    assert (await client.post(f"/posts/{post.id}/report", {"reason": "spam"})).status_code == 302
    assert (await client.post("/user/alice/report", {"reason": "spam"})).status_code == 302
    response = await client.post(f"/posts/{post.id}/report", {"reason": "spam"})
    assert response.status_code == 429
    assert len(await reports(session)) == 2


async def test_a_report_notifies_every_moderator_and_admin(
    make_client, make_user, bob, client, alice, post, session
):
    mod = await make_user("mod", role="moderator")
    admin = await make_user("admin", role="admin")
    await make_user("gone", role="admin", suspended_at=post.created_at)
    await client.post(f"/posts/{post.id}/report", {"reason": "spam"})
    report_id = (await session.scalars(select(Report.id))).one()
    stmt = select(Notification.recipient_id, Notification.kind, Notification.actor_id).where(
        Notification.report_id == report_id
    )
    notified = sorted(tuple(row) for row in (await session.execute(stmt)).all())
    assert notified == [(mod.id, "report", bob.id), (admin.id, "report", bob.id)]
    pushed = select(Event.user_id).where(Event.kind == "notify").order_by(Event.id)
    assert list(await session.scalars(pushed)) == [mod.id, admin.id]  # their open pages hear it
    staff = make_client()
    await staff.login(mod)
    home = await body(await staff.get("/"))
    assert 'id="notifications-count"' in home and ">1<" in home
    page = await body(await staff.get("/notifications"))
    assert f'href="/admin#report-{report_id}">a report</a>' in page


async def test_a_report_reaches_a_moderators_open_page_as_a_count(make_client, make_user, post):
    from tests.test_live import stream

    mod, reporter = make_client(), make_client()
    await mod.login(await make_user("mod", role="moderator"))
    await reporter.login(await make_user("carol"))
    async with stream(mod) as live:
        await reporter.post(f"/posts/{post.id}/report", {"reason": "spam"})
        message = await live.message("count")
        assert ">1</span>" in message["data"]


async def test_a_moderator_is_not_told_of_a_report_about_themselves(
    client, bob, make_user, session
):
    await make_user("mod", role="moderator")
    admin = await make_user("admin", role="admin")
    assert (await client.post("/user/mod/report", {"reason": "abuse"})).status_code == 302
    recipients = select(Notification.recipient_id).where(Notification.kind == "report")
    assert list(await session.scalars(recipients)) == [admin.id]

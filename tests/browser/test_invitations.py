"""Invitations end to end in a real browser: an owner invites by email (locmem mail), the
person opens the link, creates a login and lands on the team's board; revoked and expired
links get a page saying why (issue 12, people)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Invitation, Membership
from audit.models import AuditEvent
from tests.browser.helpers import SCREENSHOTS, login

pytestmark = pytest.mark.browser

LINK = re.compile(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+/)")
NEW_PASSWORD = "a long new pass phrase 41"


@pytest.fixture
def mailed(settings, live_server):
    """Mail configured (locmem: the test reads mail.outbox); links point at the live server."""
    settings.EMAIL_ENABLED = True
    settings.SITE_URL = live_server.url
    mail.outbox = []
    return mail.outbox


def _invite(page, team, email: str, role: str) -> None:
    login(page, "alice", reverse("members", args=[team.code]))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role", exact=True).select_option(label=role)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".messages")).to_contain_text(f"Invitation sent to {email} as {role}.")


def _link(outbox, to: str) -> str:
    (message,) = [m for m in outbox if m.to == [to]]
    return LINK.search(message.body).group(1)


def test_invited_by_email_a_new_person_creates_a_login_and_lands_on_the_board(
    page, new_context, team, mailed
):
    _invite(page, team, "dana@example.org", "Member")
    pending = page.locator("#invitations")
    expect(pending).to_contain_text("dana@example.org")
    expect(pending).to_contain_text("Member")
    link = _link(mailed, "dana@example.org")
    assert mailed[0].subject == "smsdesk: alice invited you to Alpha QA"

    # Dana, in a browser of her own, with no smsdesk login.
    dana = new_context().new_page()
    dana.goto(link)
    expect(dana.get_by_role("heading", level=1)).to_have_text("Join Alpha QA")
    expect(dana.locator("#invitation")).to_contain_text("as Member")
    dana.get_by_label("Username").fill("dana")
    dana.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    dana.get_by_label("Password confirmation").fill(NEW_PASSWORD)
    dana.get_by_role("button", name="Create login and join").click()

    expect(dana).to_have_url(re.compile(reverse("board", args=[team.code]) + "$"))
    expect(dana.locator(".messages")).to_contain_text("Welcome to Alpha QA, dana: you are Member.")
    expect(dana.locator(".usermenu")).to_contain_text("dana · Member")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    dana.screenshot(path=str(SCREENSHOTS / "invitation-landed-on-board.png"))
    assert Membership.objects.get(team=team, user__username="dana").role == "member"

    # The link worked once.
    dana.goto(link)
    expect(dana.locator("#invitation-problem")).to_contain_text("This invitation was used already")

    # The owner's members page: dana is a member, nothing is pending, the audit says who.
    page.reload()
    expect(page.get_by_label("Role of dana")).to_have_value("member")
    expect(page.locator("#invitations")).to_have_count(0)
    actions = set(AuditEvent.objects.filter(team=team).values_list("action", flat=True))
    assert {"invitation.sent", "invitation.accepted", "member.added"} <= actions


def test_someone_with_a_login_joins_after_logging_in(page, new_context, team, mailed):
    from tests.base import make_user

    make_user("erin")
    _invite(page, team, "erin@example.org", "Viewer")
    link = _link(mailed, "erin@example.org")

    erin = new_context().new_page()
    erin.goto(link)
    erin.get_by_role("link", name="Log in to join with it", exact=True).click()
    erin.get_by_label("Username").fill("erin")
    erin.get_by_label("Password").fill("correct horse battery staple")
    erin.get_by_role("button", name="Log in").click()
    expect(erin).to_have_url(re.compile(re.escape(link) + "$"))
    erin.get_by_role("button", name="Join Alpha QA as erin").click()
    expect(erin).to_have_url(re.compile(reverse("board", args=[team.code]) + "$"))
    assert Membership.objects.get(team=team, user__username="erin").role == "viewer"


def test_a_revoked_invitation_link_says_so(page, new_context, team, mailed):
    _invite(page, team, "fred@example.org", "Member")
    link = _link(mailed, "fred@example.org")
    page.get_by_role("button", name="Revoke invitation to fred@example.org").click()
    expect(page.locator(".messages")).to_contain_text(
        "Invitation to fred@example.org revoked; its link no longer works."
    )
    expect(page.locator("#invitations")).to_have_count(0)

    fred = new_context().new_page()
    response = fred.goto(link)
    assert response.status == 410
    expect(fred.locator("#invitation-problem")).to_contain_text("This invitation was withdrawn")
    expect(fred.get_by_label("Username")).to_have_count(0)
    assert AuditEvent.objects.filter(action="invitation.revoked").count() == 1


def test_an_expired_link_says_so_and_a_resent_one_works(page, new_context, team, mailed):
    _invite(page, team, "gina@example.org", "Member")
    old = _link(mailed, "gina@example.org")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=5))

    gina = new_context().new_page()
    gina.goto(old)
    expect(gina.locator("#invitation-problem")).to_contain_text("This invitation expired on")
    expect(gina.locator("#invitation-problem")).to_contain_text("Ask alice to send a new one.")

    page.reload()
    expect(page.locator("#invitations")).to_contain_text("expired")
    page.get_by_role("button", name="Resend to gina@example.org").click()
    expect(page.locator(".messages")).to_contain_text("Invitation sent to gina@example.org")
    new = LINK.search(mailed[-1].body).group(1)
    assert new != old
    gina.goto(old)
    expect(gina.locator("#invitation-problem")).to_contain_text("not valid")
    gina.goto(new)
    expect(gina.get_by_role("button", name="Create login and join")).to_be_visible()

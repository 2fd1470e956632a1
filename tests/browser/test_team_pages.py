"""Logging in, the dashboard and the team pages, in a real browser."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from audit.models import AuditEvent
from tests.browser.helpers import login

pytestmark = pytest.mark.browser


def test_login_through_the_form_lands_on_the_team_dashboard(page, team):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))  # anonymous: sent to log in

    login(page, "bob")

    expect(page).to_have_url(re.compile(reverse("dashboard", args=[team.code]) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Alpha QA")
    expect(page.get_by_text("3 members · you are member")).to_be_visible()
    members = page.locator("section.card", has=page.get_by_role("heading", name="Members"))
    for username, role in (("alice", "Owner"), ("bob", "Member"), ("vic", "Viewer")):
        expect(members.get_by_role("row", name=re.compile(username))).to_contain_text(role)


def test_a_wrong_password_is_refused_in_plain_words(page, team):
    page.goto(reverse("login"))
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".notice.error")).to_contain_text("correct username and password")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_an_owner_invites_someone_changes_a_role_and_the_audit_log_shows_both(page, team, settings):
    settings.EMAIL_ENABLED = True
    login(page, "alice", reverse("members", args=[team.code]))
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")

    page.get_by_label("Email").fill("dave@example.org")
    page.get_by_label("Role", exact=True).select_option(label="Viewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".messages")).to_contain_text(
        "Invitation sent to dave@example.org as Viewer."
    )
    expect(page.locator("#invitations")).to_contain_text("dave@example.org")
    role = page.get_by_label("Role of bob")
    expect(role).to_have_value("member")

    # The role select submits itself on change (data-autosubmit): no Save button.
    role.select_option(label="Viewer")
    expect(page.locator(".messages")).to_contain_text("bob is now Viewer.")
    expect(page.get_by_label("Role of bob")).to_have_value("viewer")
    assert Membership.objects.get(user__username="bob").role == "viewer"

    page.get_by_role("link", name="Audit log").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    rows = page.locator("table tbody tr")
    expect(rows.filter(has_text="member.role_changed")).to_have_count(1)
    expect(rows.filter(has_text="invitation.sent")).to_have_count(1)
    changed = rows.filter(has_text="member.role_changed")
    expect(changed).to_contain_text("alice")
    expect(changed).to_contain_text("bob")
    # Newest first: the role change sits above the invitation.
    actions = rows.locator("code").all_inner_texts()
    assert actions.index("member.role_changed") < actions.index("invitation.sent")
    assert AuditEvent.objects.filter(action="member.role_changed").count() == 1

"""Removing a member goes through a page that says what happens; a viewer reads the cost
reports and, refused something, gets a page naming the role that may (issue 12, people)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from tests.browser.helpers import login

pytestmark = pytest.mark.browser


def test_removing_a_member_is_confirmed_on_a_page_that_says_what_happens(page, team):
    login(page, "alice", reverse("members", args=[team.code]))
    page.get_by_role("link", name="Remove bob").click()
    confirm = page.locator("#confirm-remove")
    expect(confirm.get_by_role("heading")).to_have_text("Remove bob from Alpha QA?")
    expect(confirm).to_contain_text("Spent this month: 0.00 USD")
    expect(confirm).to_contain_text("This cannot be undone")
    assert Membership.objects.filter(team=team, user__username="bob").exists()

    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(reverse("members", args=[team.code]) + "$"))
    assert Membership.objects.filter(team=team, user__username="bob").exists()

    page.get_by_role("link", name="Remove bob").click()
    page.get_by_role("button", name="Remove bob").click()
    expect(page.locator(".messages")).to_contain_text("bob removed from the team.")
    expect(page.get_by_label("Role of bob")).to_have_count(0)
    assert not Membership.objects.filter(team=team, user__username="bob").exists()


def test_a_viewer_reads_reports_and_is_told_which_role_may_add_an_account(page, team):
    login(page, "vic", reverse("dashboard", args=[team.code]))
    page.get_by_role("link", name="Costs").click()
    expect(page).to_have_url(re.compile(reverse("reports", args=[team.code])))
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    response = page.goto(reverse("provider_add", args=[team.code]))
    assert response.status == 403
    forbidden = page.locator("#forbidden")
    expect(forbidden.get_by_role("heading")).to_have_text("Your role cannot do this")
    expect(forbidden).to_contain_text("This needs the Owner or Manager role; you are Viewer")
    expect(forbidden).to_contain_text("ask an owner: alice")
    forbidden.get_by_role("link", name="Back to Alpha QA").click()
    expect(page).to_have_url(re.compile(reverse("dashboard", args=[team.code]) + "$"))

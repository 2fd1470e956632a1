"""The portal's pages work under the Content-Security-Policy: no violation reaches the
console on the board, the order form, a rental's page or the settings."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from tests.browser.helpers import login, place
from tests.conftest import sandbox_account

pytestmark = pytest.mark.browser


def test_the_console_reports_a_violation_when_there_is_one(page, team, policy_violations):
    """The check below can fail: an inline script injected into a page is refused."""
    login(page, "bob")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = 1'; document.body.append(s); }"
    )
    expect(page.locator("body")).to_be_visible()
    page.wait_for_timeout(200)  # the console message arrives asynchronously
    assert page.evaluate("window.ran") is None
    assert any("Content Security Policy" in v for v in policy_violations), policy_violations
    policy_violations.clear()


def test_no_violation_on_the_main_pages(page, team, sandbox, policy_violations):
    account = sandbox_account(team, sandbox, "smspool")
    alice = Membership.objects.get(team=team, user__username="alice").user
    order = place(team, alice, account)
    login(page, "alice")

    # The board, with an order and its live polling.
    page.goto(reverse("board", args=[team.code]))
    expect(page.locator(f"#order-{order.code}")).to_contain_text("waiting…")
    with page.expect_response(lambda r: "/orders/live/" in r.url):
        pass  # one htmx poll went out and came back

    # The order form, offers loaded over htmx.
    query = urlencode({"service": "WhatsApp", "country": "United States"})
    page.goto(reverse("order_new", args=[team.code]) + "?" + query)
    expect(page.locator("#offers table.offers")).to_contain_text("smspool sandbox")
    page.get_by_label("smspool sandbox").check()
    page.get_by_text("Options", exact=True).click()

    # A rental: the offers, the review, then its page with the inbox polling.
    page.goto(reverse("rental_new", args=[team.code]) + "?country=US")
    page.locator("table.rental-offers input[name=choice]").first.check()
    page.get_by_label("Label").fill("QA line")
    page.get_by_role("button", name="Review the price").click()
    page.get_by_role("button", name=re.compile(r"^Rent for ")).click()
    expect(page.locator("#inbox")).to_contain_text("No messages yet.")
    with page.expect_response(lambda r: "/inbox/" in r.url):
        pass  # one htmx poll of the inbox

    # Settings, members, dashboard, reports, the password pages.
    for name in ("team_settings", "members", "dashboard", "reports", "audit_log"):
        page.goto(reverse(name, args=[team.code]))
        expect(page.locator("h1")).to_be_visible()
    page.goto(reverse("password_change"))
    expect(page.locator("h1")).to_have_text("Change your password")
    page.goto(reverse("admin:login"))  # the admin's own templates and scripts
    expect(page.locator("#login-form")).to_be_visible()

    assert policy_violations == []


def test_the_board_polls_only_while_the_page_is_visible(page, team):
    """The visibility check lives in smsdesk.js (an htmx trigger filter would need eval)."""
    polls = []
    page.on("request", lambda r: polls.append(r.url) if "/orders/live/" in r.url else None)
    login(page, "bob", reverse("board", args=[team.code]))
    with page.expect_request(lambda r: "/orders/live/" in r.url):
        pass
    page.evaluate(
        "() => Object.defineProperty(document, 'visibilityState',"
        " {get: () => 'hidden', configurable: true})"
    )
    page.wait_for_timeout(300)  # a request already on its way may still land
    seen = len(polls)
    page.wait_for_timeout(4500)  # two poll intervals
    assert len(polls) == seen, "the board polled while hidden"
    page.evaluate("() => { delete document.visibilityState; }")
    with page.expect_request(lambda r: "/orders/live/" in r.url):
        pass

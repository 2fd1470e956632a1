"""The live board in a real browser: codes appear and cancels resolve without a reload."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Order, State
from sync import engine
from tests.browser.helpers import assert_same_document, deliver, login, mark_document, place
from tests.conftest import sandbox_account, start_sandbox

pytestmark = pytest.mark.browser


def test_a_code_reaches_the_board_of_everyone_watching_without_a_reload(
    page, new_context, live_server, team, sandbox
):
    account = sandbox_account(team, sandbox, "smspool")
    board_url = reverse("board", args=[team.code])

    # A viewer is already watching the board in another browser.
    viewer = new_context().new_page()
    login(viewer, "vic", board_url)
    expect(viewer.get_by_text("No active numbers.")).to_be_visible()
    mark_document(viewer)

    # bob orders through the form: type-ahead fields, offers arrive over htmx.
    login(page, "bob", reverse("order_new", args=[team.code]))
    page.get_by_label("Service").press_sequentially("WhatsApp")
    page.get_by_label("Country").press_sequentially("United States")
    offers = page.locator("#offers table.offers")
    expect(offers).to_contain_text("smspool sandbox")
    page.get_by_label("Let smsdesk pick: cheapest in stock").check()
    page.get_by_role("button", name="Buy number").click()

    expect(page).to_have_url(re.compile(board_url + "$"))
    order = Order.objects.get()
    assert order.state == State.WAITING
    row = page.locator(f"#order-{order.code}")
    expect(row.locator(".phone")).to_have_text(order.international_number)
    expect(row).to_contain_text("waiting…")
    expect(page.locator(".messages")).to_contain_text(f"{order.international_number} ordered")
    mark_document(page)

    # The viewer's board picks the new order up by itself.
    viewer_row = viewer.locator(f"#order-{order.code}")
    expect(viewer_row).to_contain_text("waiting…")

    # The SMS arrives upstream; one sync cycle records it.
    deliver(sandbox, order, "Your WhatsApp code is 482-913")
    engine.run_cycle(account)
    order.refresh_from_db()
    assert order.last_code == "482913"

    # Both boards show the code within a poll or two, without navigating.
    expect(row.locator(".code-value")).to_have_text("482913", timeout=6000)
    expect(viewer_row.locator(".code-value")).to_have_text("482913", timeout=6000)
    assert_same_document(page)
    assert_same_document(viewer)
    expect(row.get_by_text("full SMS")).to_be_visible()
    expect(row.get_by_role("button", name="Done")).to_be_visible()
    # The viewer may copy but not act: no Done / Another code / New number there.
    expect(viewer_row.locator("button.copy")).to_have_count(3)
    expect(viewer_row.locator("button:not(.copy)")).to_have_count(0)

    # The copy button puts the code on the clipboard and says so.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    copy = row.locator("td[data-label=Code] button.copy")
    expect(copy).to_have_attribute("data-copy", "482913")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "482913"
    expect(copy).to_have_text("copy")  # the label comes back


def test_cancel_when_allowed_counts_down_then_the_row_leaves_the_board(page, team):
    from accounts.models import Membership

    # SMSCode tells its cancel lock at purchase; two minutes leave the test room.
    sandbox = start_sandbox(cancel_lock_seconds=120)
    try:
        account = sandbox_account(team, sandbox, "smscode")
        bob = Membership.objects.get(team=team, user__username="bob").user
        order = place(team, bob, account)
        assert order.state == State.WAITING and order.cancel_wait_seconds() > 60

        login(page, "bob", reverse("board", args=[team.code]))
        mark_document(page)
        row = page.locator(f"#order-{order.code}")
        button = row.get_by_role("button", name=re.compile(r"^Cancel when allowed"))
        # Rendered "(in 120s)", then counted down by smsdesk.js as "(in 1 min 59 s)".
        expect(button).to_have_text(re.compile(r"Cancel when allowed \(in \d min \d+ s\)"))
        first = _seconds(button.text_content())
        expect(button).not_to_have_text(button.text_content(), timeout=3000)  # it ticks
        assert 60 < _seconds(button.text_content()) < first

        button.click()
        expect(row).to_contain_text("cancelling when allowed")
        expect(row.get_by_role("button", name=re.compile("Cancel"))).to_have_count(0)
        expect(page.locator(".messages")).to_contain_text("smsdesk will cancel it then")
        order.refresh_from_db()
        assert order.cancel_requested and order.state == State.WAITING

        # The lock ends upstream; the next cycle cancels, and the board drops the row.
        state = sandbox.state
        state.clock.advance(state.scaled(180))
        engine.run_cycle(account, now=timezone.now() + timedelta(seconds=180))
        order.refresh_from_db()
        assert order.state == State.CANCELLED
        expect(row).to_have_count(0, timeout=6000)
        expect(page.get_by_text("No active numbers.")).to_be_visible()
        assert_same_document(page)
    finally:
        sandbox.stop()


def _seconds(label: str) -> int:
    """Seconds left on a countdown label: "in 1 min 59 s" is 119."""
    match = re.search(r"in (\d+) min (\d+) s", label)
    assert match, label
    return int(match.group(1)) * 60 + int(match.group(2))

"""A scheduled cancel stays on the board row, with its countdown, through every live
update until it happens or is dropped, and the row says why it was dropped; providers
that lock cancelling without saying for how long get no plain "Cancel" that is then
refused (issue 12, bug 3)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from audit.models import AuditEvent
from orders.models import State
from sync import engine
from tests.browser.helpers import assert_same_document, deliver, login, mark_document, place
from tests.conftest import sandbox_account, start_sandbox

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("kind", ["smspool", "numpool", "smsactivate"])
def test_the_scheduled_cancel_stays_on_the_row_until_a_code_drops_it(page, team, kind):
    sandbox = start_sandbox(cancel_lock_seconds=600)  # locked for the whole test
    try:
        account = sandbox_account(team, sandbox, kind)
        bob = Membership.objects.get(team=team, user__username="bob").user
        order = place(team, bob, account)
        assert order.cancel_available_at is None  # the provider does not say for how long

        login(page, "bob", reverse("board", args=[team.code]))
        mark_document(page)
        row = page.locator(f"#order-{order.code}")
        expect(row).to_contain_text("waiting…")
        # No plain "Cancel" the provider would refuse: "when allowed" cancels at once
        # if it may, and otherwise schedules.
        expect(row.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
        row.get_by_role("button", name="Cancel when allowed").click()

        scheduled = row.locator("[data-cancel-scheduled]")
        expect(scheduled).to_contain_text("cancelling when allowed")
        flash = page.locator("#flash")
        expect(flash).to_contain_text("smsdesk will cancel it then")
        order.refresh_from_db()
        assert order.cancel_requested and order.cancel_refusals == 1

        # The poller tries again whenever the next try is due; the provider still
        # refuses. The live board re-renders the row each time (a refusal changes no
        # `updated`): the schedule, its count and its countdown stay up to date.
        for tries in (2, 3):
            engine.run_cycle(account, now=order.cancel_available_at + timedelta(seconds=1))
            order.refresh_from_db()
            assert order.cancel_requested and order.cancel_refusals == tries
            expect(row).to_contain_text(f"still refuses to cancel ({tries} tries)", timeout=6000)
        expect(scheduled).to_contain_text("cancelling when allowed")
        countdown = scheduled.locator("[data-until]")
        expect(countdown).to_have_text(re.compile(r"^next try in \d+ (min|s)"))

        # A code arrives before the lock ends: the number is used, the cancel is dropped,
        # and the row says why; the notice that promised the cancel goes.
        deliver(sandbox, order, "Your code is 551-204")
        engine.run_cycle(account)
        order.refresh_from_db()
        assert order.state == State.RECEIVED and not order.cancel_requested
        expect(row.locator(".code-value")).to_have_text("551204", timeout=6000)
        expect(row.locator("[data-cancel-dropped]")).to_have_text("cancel dropped: a code arrived")
        expect(scheduled).to_have_count(0)
        expect(flash).not_to_contain_text("will cancel it then")
        event = AuditEvent.objects.get(action="order.cancel_dropped", target_code=str(order.code))
        assert event.payload == {"reason": "a code arrived"}
        assert_same_document(page)

        # The order's own page says the same.
        page.goto(reverse("order_detail", args=[order.code]))
        expect(page.locator("[data-cancel-dropped]")).to_contain_text(
            "The scheduled cancel was dropped: a code arrived"
        )
    finally:
        sandbox.stop()


def test_a_provider_that_says_when_cancelling_opens_gets_a_plain_cancel_after(page, team):
    sandbox = start_sandbox(cancel_lock_seconds=0)
    try:
        account = sandbox_account(team, sandbox, "smscode")
        bob = Membership.objects.get(team=team, user__username="bob").user
        order = place(team, bob, account)
        assert order.cancel_wait_seconds() == 0  # SMSCode says so: no time, no lock

        login(page, "bob", reverse("board", args=[team.code]))
        row = page.locator(f"#order-{order.code}")
        row.get_by_role("button", name="Cancel", exact=True).click()
        expect(row).to_have_count(0, timeout=6000)
        order.refresh_from_db()
        assert order.state == State.CANCELLED
    finally:
        sandbox.stop()

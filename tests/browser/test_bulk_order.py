"""Several numbers in one order: every one is bought (in one purchase where SMSPool sells
several, else one by one), each is its own row with its own charge, and the result says
how many were bought and why any were not (issue 12, bug 2)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orders.models import Order, State
from reports.models import LedgerEntry, SpendHold
from tests.browser.helpers import login
from tests.conftest import sandbox_account, start_sandbox

pytestmark = pytest.mark.browser

PURCHASE = "/purchase/sms"


def _order_several(page, team, quantity: int) -> None:
    """bob orders `quantity` WhatsApp numbers in the US from SMSPool through the form."""
    login(page, "bob", reverse("order_new", args=[team.code]) + "?service=WhatsApp&country=US")
    page.get_by_label("smspool sandbox").check()
    page.get_by_text("Options", exact=True).click()  # open the <details>
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Buy number").click()
    expect(page).to_have_url(re.compile(reverse("board", args=[team.code]) + "$"))


def _purchase_calls(sandbox, account) -> int:
    counts = sandbox.state.stats.counts.get(("smspool", account.api_key, PURCHASE))
    return counts[0] if counts else 0


def _assert_one_row_and_one_charge_per_number(account, count: int) -> list[Order]:
    bought = list(Order.objects.filter(account=account).exclude(upstream_id=""))
    assert len(bought) == count
    assert all(o.state == State.WAITING and o.phone_number for o in bought)
    assert len({o.upstream_id for o in bought}) == count
    for order in bought:
        (charge,) = LedgerEntry.objects.filter(order=order)
        assert charge.kind == "purchase" and charge.amount == order.cost
    assert not SpendHold.objects.filter(released_at__isnull=True).exists()
    return bought


@pytest.mark.parametrize(
    ("dialect", "calls"),
    [("postman", 1), ("seed", 5)],
    ids=["quantity sold in one purchase", "host ignores quantity: one by one"],
)
def test_five_numbers_from_smspool_are_five_numbers(page, team, dialect, calls):
    sandbox = start_sandbox(dialects={"smspool": dialect})
    try:
        account = sandbox_account(team, sandbox, "smspool")
        _order_several(page, team, 5)

        expect(page.locator(".messages")).to_contain_text("5 numbers ordered (smspool sandbox)")
        bought = _assert_one_row_and_one_charge_per_number(account, 5)
        assert _purchase_calls(sandbox, account) == calls
        upstream = sandbox.state.account("smspool", account.api_key)
        assert len(upstream.orders) == 5  # nothing bought beyond what was asked
        for order in bought:
            expect(page.locator(f"#order-{order.code}")).to_contain_text("waiting…")
    finally:
        sandbox.stop()


@pytest.mark.parametrize("dialect", ["postman", "seed"])
def test_a_shortfall_says_how_many_were_bought_and_why_not_the_rest(page, team, dialect):
    sandbox = start_sandbox(dialects={"smspool": dialect})
    try:
        account = sandbox_account(team, sandbox, "smspool")
        price = Decimal("0.79")  # WhatsApp in the US, pool Oscar (the sandbox catalogue)
        with sandbox.state.lock:
            upstream = sandbox.state.account("smspool", account.api_key)
            sandbox.state.set_balance(upstream, price * 3 + Decimal("0.10"))
        _order_several(page, team, 5)

        flash = page.locator(".messages")
        expect(flash).to_contain_text("3 of 5 numbers ordered (smspool sandbox)")
        expect(flash).to_contain_text("the other 2 were not: smspool sandbox has 0.10 USD left")
        _assert_one_row_and_one_charge_per_number(account, 3)
        # The purchase that bought nothing stays on record, with the reason, uncharged.
        (refused,) = Order.objects.filter(account=account, upstream_id="")
        assert refused.state == State.FAILED and "0.10 USD left" in refused.error
        assert not LedgerEntry.objects.filter(order=refused).exists()
        assert len(sandbox.state.account("smspool", account.api_key).orders) == 3
    finally:
        sandbox.stop()

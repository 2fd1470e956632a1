"""Removing a provider account in a real browser: the owner confirms on a page that states
what happens and what the account was charged; members then see it nowhere to order from,
and its history stays (issue 12, people)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from orders import quotes
from orders.models import Order
from providers.forms import new_idempotency_key
from providers.models import Country, ProviderAccount, Service
from sync import engine
from tests.browser.helpers import SCREENSHOTS, deliver, login
from tests.conftest import sandbox_account

pytestmark = pytest.mark.browser


def test_an_owner_removes_an_account_and_members_no_longer_order_from_it(
    page, new_context, team, sandbox
):
    pool = sandbox_account(team, sandbox, "smspool", label="Pool main")
    sandbox_account(team, sandbox, "smscode", label="Code backup")
    order = _finished_order(team, pool, sandbox)

    login(page, "alice", reverse("team_settings", args=[team.code]))
    page.get_by_role("link", name="Remove Pool main").click()
    confirm = page.locator("#confirm-remove-account")
    expect(confirm.get_by_role("heading")).to_have_text("Remove Pool main?")
    expect(confirm).to_contain_text("Its history stays: 1 order, charged")
    expect(confirm).to_contain_text("This cannot be undone")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "account-removal-confirm.png"))
    page.get_by_role("button", name="Remove Pool main").click()

    expect(page).to_have_url(re.compile(reverse("team_settings", args=[team.code]) + "$"))
    expect(page.locator(".messages")).to_contain_text(
        "Pool main removed. Its orders, rentals, charges and audit log stay."
    )
    accounts = page.locator("#provider-accounts table")
    expect(accounts).not_to_contain_text("Pool main")
    expect(accounts).to_contain_text("Code backup")
    page.get_by_text("Removed accounts (1)").click()
    expect(page.locator("#removed-accounts")).to_contain_text("removed by alice")
    assert ProviderAccount.objects.get(pk=pool.pk).removed_at is not None

    # Bob orders: only Code backup is offered; his old order still shows Pool main.
    member = new_context().new_page()
    login(member, "bob", reverse("order_new", args=[team.code]))
    member.get_by_label("Service").press_sequentially("WhatsApp")
    member.get_by_label("Country").press_sequentially("United States")
    offers = member.locator("#offers table.offers")
    expect(offers).to_contain_text("Code backup")
    expect(offers).not_to_contain_text("Pool main")
    member.goto(reverse("order_detail", args=[order.code]))
    expect(member.locator("main")).to_contain_text("Pool main")
    member.goto(reverse("dashboard", args=[team.code]))
    cards = member.locator(
        "section.card", has=member.get_by_role("heading", name="Provider accounts")
    )
    expect(cards).to_contain_text("Code backup")
    expect(cards).not_to_contain_text("Pool main")


def _finished_order(team, pool, sandbox) -> Order:
    """Bob's earlier number at Pool main: got its code and marked done (history to keep)."""
    bob = team.memberships.get(user__username="bob").user
    offers = quotes.offers_for(
        team, Service.objects.get(slug="whatsapp"), Country.objects.get(iso="US")
    )
    client = Client()
    client.force_login(bob)
    response = client.post(
        reverse("order_new", args=[team.code]),
        {
            "service": "WhatsApp",
            "country": "United States",
            "offer": next(o.key for o in offers if o.account == pool),
            "idempotency_key": new_idempotency_key(),
            "quantity": 1,
            "activation_type": "SMS",
            "failover": "",
        },
    )
    assert response.status_code == 302, response.content[:500]
    order = Order.objects.get(account=pool)
    deliver(sandbox, order, "Your code is 482913")
    engine.run_cycle(ProviderAccount.objects.get(pk=pool.pk))
    client.post(reverse("order_complete", args=[order.code]))
    order.refresh_from_db()
    assert order.state == "completed", order.state
    return order

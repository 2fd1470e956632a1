"""The board for a shift's work, in a real browser: search and filters in the URL, bulk
actions on selected rows, and live updates that keep working (and keep the selection)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Membership
from orders import quotes
from orders.models import Order, State
from providers.forms import new_idempotency_key
from providers.models import Country, ProviderAccount, Service
from sync import engine
from tests.browser.helpers import (
    SCREENSHOTS,
    assert_same_document,
    deliver,
    login,
    mark_document,
)
from tests.conftest import sandbox_account, start_sandbox

pytestmark = pytest.mark.browser


def user(team, username):
    return Membership.objects.get(team=team, user__username=username).user


def place_on(team, member, account) -> Order:
    """Order a WhatsApp number in the United States from `account`, through the portal."""
    service, country = (
        Service.objects.get(slug="whatsapp"),
        Country.objects.get(name="United States"),
    )
    offer = next(o for o in quotes.offers_for(team, service, country) if o.account == account)
    before = set(Order.objects.values_list("pk", flat=True))
    client = Client()
    client.force_login(member)
    response = client.post(
        reverse("order_new", args=[team.code]),
        {
            "service": "WhatsApp",
            "country": "United States",
            "offer": offer.key,
            "idempotency_key": new_idempotency_key(),
            "quantity": 1,
            "activation_type": "SMS",
            "failover": "",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    (order,) = Order.objects.exclude(pk__in=before)
    assert order.account == account and order.state == State.WAITING
    return order


def desk_order(team, account, member, n: int, **fields) -> Order:
    """An order made in the database on an account no sync cycle visits."""
    values = {
        "team": team,
        "account": account,
        "ordered_by": member,
        "idempotency_key": f"desk-{n}",
        "service_upstream_id": "1",
        "country_upstream_id": "1",
        "service_name": "WhatsApp",
        "country_name": "United States",
        "state": State.WAITING,
        "upstream_id": f"DESK{n}",
        "phone_number": f"1555000{n:04d}",
        "dial_code": "1",
        "cost": Decimal("0.50"),
        "currency": "USD",
        "expires_at": timezone.now() + timedelta(minutes=20),
    }
    return Order.objects.create(**{**values, **fields})


def offline_account(team) -> ProviderAccount:
    account = ProviderAccount(
        team=team, kind="numpool", label="Desk pool", base_url="https://api.example.com"
    )
    account.set_api_key("desk-key-1234")
    account.save()
    return account


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def shown(page) -> list[str]:
    return [
        row.get_attribute("id").removeprefix("order-")
        for row in page.locator("#board-rows tr.order-row").all()
    ]


def test_search_and_filters_live_in_the_url_and_survive_live_updates(page, team):
    sandbox = start_sandbox()
    try:
        account = sandbox_account(team, sandbox, "smspool")
        bob, alice = user(team, "bob"), user(team, "alice")
        desk = offline_account(team)
        mine = place_on(team, bob, account)
        telegram = desk_order(team, desk, alice, 1, service_name="Telegram", note="Berlin")
        theirs = desk_order(team, desk, alice, 2)

        login(page, "bob", reverse("board", args=[team.code]))
        expect(page.locator("#board-rows tr.order-row")).to_have_count(3)

        # Mine only: bookmarkable, and only bob's row.
        page.get_by_label("Whose", exact=True).select_option("mine")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#board-rows tr.order-row")).to_have_count(1)
        assert query_of(page)["who"] == ["mine"]
        assert shown(page) == [str(mine.code)]
        expect(page.locator(".board-count")).to_contain_text("1 active number matches")

        # Search finds by service and by note, with everyone's rows again.
        page.get_by_label("Whose", exact=True).select_option("")
        page.get_by_label("Search", exact=True).fill("telegram")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#board-rows tr.order-row")).to_have_count(1)
        assert shown(page) == [str(telegram.code)]
        page.get_by_label("Search", exact=True).fill("berlin")
        page.get_by_label("Search", exact=True).press("Enter")
        expect(page).to_have_url(re.compile(r"q=berlin"))
        assert shown(page) == [str(telegram.code)]

        # Provider and state filters, from the select lists.
        page.get_by_label("Search", exact=True).fill("")
        page.get_by_label("Provider", exact=True).select_option(label="Desk pool")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#board-rows tr.order-row")).to_have_count(2)
        assert set(shown(page)) == {str(telegram.code), str(theirs.code)}

        # A bad value in the URL: said in plain words, and no rows (never "everything").
        page.goto(reverse("board", args=[team.code]) + "?state=bogus")
        expect(page.get_by_role("alert")).to_contain_text("These filters cannot be used")
        expect(page.get_by_role("alert")).to_contain_text("“bogus” is not a state")
        expect(page.locator("#board-rows tr.order-row")).to_have_count(0)

        # The filtered board stays live: bob's code arrives, a new order of bob's
        # enters, alice's new order (not his) does not, and nothing reloads.
        page.goto(reverse("board", args=[team.code]) + "?who=mine&sort=newest")
        expect(page.locator("#board-rows tr.order-row")).to_have_count(1)
        mark_document(page)
        deliver(sandbox, mine, "Your WhatsApp code is 551-204")
        engine.run_cycle(account)
        row = page.locator(f"#order-{mine.code}")
        expect(row.locator(".code-value")).to_have_text("551204", timeout=6000)
        newer = desk_order(team, desk, bob, 3)
        desk_order(team, desk, alice, 4)
        expect(page.locator(f"#order-{newer.code}")).to_be_visible(timeout=6000)
        page.wait_for_timeout(2500)  # one more poll: alice's order still not shown
        assert shown(page) == [str(newer.code), str(mine.code)]  # newest first
        expect(page.locator(".board-count")).to_contain_text("2 active numbers match")
        assert_same_document(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "board-filtered-mine.png"), full_page=True)
    finally:
        sandbox.stop()


def test_bulk_cancel_keeps_the_selection_through_live_updates_and_says_what_it_did(page, team):
    # SMSCode allows cancelling at once here; SMSPool locks it for 30 s without saying.
    sandbox = start_sandbox(cancel_lock_by_protocol={"smscode": 0.0})
    try:
        code_account = sandbox_account(team, sandbox, "smscode")
        pool_account = sandbox_account(team, sandbox, "smspool")
        bob = user(team, "bob")
        first, second, used = (place_on(team, bob, code_account) for _ in range(3))
        locked = place_on(team, bob, pool_account)
        untouched = place_on(team, bob, code_account)

        login(page, "bob", reverse("board", args=[team.code]))
        mark_document(page)
        expect(page.locator("#board-rows tr.order-row")).to_have_count(5)

        # Select all shown rows, then leave one out.
        page.get_by_label("Select all shown rows").check()
        expect(page.locator("[data-bulk-count]")).to_have_text("5 selected")
        page.locator(f"#order-{untouched.code}").get_by_role("checkbox").uncheck()
        expect(page.locator("[data-bulk-count]")).to_have_text("4 selected")

        # Live updates swap selected rows: a code arrives for one of them. Its new row
        # comes ticked, as it was.
        page.locator(f"#order-{used.code}").evaluate("el => el.dataset.before = '1'")
        deliver(sandbox, used, "Your WhatsApp code is 700-100")
        engine.run_cycle(code_account)
        used_row = page.locator(f"#order-{used.code}")
        expect(used_row.locator(".code-value")).to_have_text("700100", timeout=6000)
        expect(page.locator(f"#order-{used.code}[data-before]")).to_have_count(0)
        expect(used_row.get_by_role("checkbox")).to_be_checked()
        expect(page.locator(f"#order-{untouched.code}").get_by_role("checkbox")).not_to_be_checked()
        expect(page.locator("[data-bulk-count]")).to_have_text("4 selected")

        page.get_by_role("button", name="Cancel selected").click()
        flash = page.locator(".messages")
        expect(flash).to_contain_text("2 cancelled")
        expect(flash).to_contain_text("1 scheduled to cancel as soon as the provider allows")
        expect(flash).to_contain_text(
            f"1 refused: {used.international_number}: This order is code received"
        )
        for order in (first, second):
            order.refresh_from_db()
            assert order.state == State.CANCELLED
            expect(page.locator(f"#order-{order.code}")).to_have_count(0)
        locked.refresh_from_db()
        assert locked.cancel_requested and locked.state == State.WAITING
        expect(page.locator(f"#order-{locked.code}")).to_contain_text("cancelling when allowed")
        used.refresh_from_db()
        assert used.state == State.RECEIVED

        # The board is still live after the bulk action.
        mark_document(page)
        deliver(sandbox, untouched, "Your WhatsApp code is 313-377")
        engine.run_cycle(code_account)
        expect(page.locator(f"#order-{untouched.code} .code-value")).to_have_text(
            "313377", timeout=6000
        )
        assert_same_document(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "board-after-bulk-cancel.png"), full_page=True)

        # A row's own button swaps the row; it keeps its place in the board's order.
        used_row = page.locator(f"#order-{used.code}")
        key = used_row.get_attribute("data-sort-key")
        assert key
        used_row.get_by_role("button", name="Another code").click()
        expect(used_row).to_contain_text("new code requested")
        expect(used_row).to_have_attribute("data-sort-key", key)
    finally:
        sandbox.stop()

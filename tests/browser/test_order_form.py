"""The order form shows only the options the picked provider supports, and confirms an
offer whose price is known only after purchase."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.conftest import sandbox_account, start_sandbox

pytestmark = pytest.mark.browser

# Quantity is offered for every provider: one purchase where it sells several, else one by one.
SMSPOOL_ONLY = ("area_codes", "carrier", "voice", "max_price")


def test_options_follow_the_capabilities_of_the_selected_offer(page, team, sandbox):
    sandbox_account(team, sandbox, "smspool")
    sandbox_account(team, sandbox, "numpool")
    query = urlencode({"service": "WhatsApp", "country": "United States"})
    login(page, "bob", reverse("order_new", args=[team.code]) + "?" + query)

    offers = page.locator("#offers table.offers")
    expect(offers).to_contain_text("numpool sandbox")
    expect(offers).to_contain_text("smspool sandbox")
    page.get_by_text("Options", exact=True).click()  # open the <details>

    def option(needs: str):
        return page.locator(f"#order-form [data-needs={needs}]")

    # "Let smsdesk pick" considers every provider: every option is offered.
    expect(page.get_by_label("Let smsdesk pick: cheapest in stock")).to_be_checked()
    for needs in (*SMSPOOL_ONLY, "operator"):
        expect(option(needs)).to_be_visible()

    # NumPool knows operators only: area codes, carrier, voice... disappear.
    page.get_by_label("numpool sandbox").check()
    for needs in SMSPOOL_ONLY:
        expect(option(needs)).to_be_hidden()
    expect(page.get_by_label("Area codes", exact=True)).to_be_hidden()
    expect(page.get_by_label("Carrier", exact=True)).to_be_hidden()
    expect(option("operator")).to_be_visible()

    # SMSPool has them (and no operator choice).
    page.get_by_label("smspool sandbox").check()
    for needs in SMSPOOL_ONLY:
        expect(option(needs)).to_be_visible()
    expect(page.get_by_label("Area codes", exact=True)).to_be_visible()
    expect(page.get_by_label("Carrier", exact=True)).to_be_visible()
    expect(option("operator")).to_be_hidden()

    # Back to "let smsdesk pick": everything again.
    page.get_by_label("Let smsdesk pick: most reliable").check()
    for needs in (*SMSPOOL_ONLY, "operator"):
        expect(option(needs)).to_be_visible()


def test_picking_an_offer_priced_after_purchase_confirms_it(page, team):
    sandbox = start_sandbox(dialects={"smsactivate": "minimal"})  # no getPrices
    try:
        sandbox_account(team, sandbox, "numpool")
        sandbox_account(team, sandbox, "smsactivate")
        query = urlencode({"service": "WhatsApp", "country": "United States"})
        login(page, "bob", reverse("order_new", args=[team.code]) + "?" + query)

        unpriced = page.locator("#offers tr.unpriced")
        expect(unpriced).to_contain_text("smsactivate sandbox")
        expect(unpriced).to_contain_text("price known after purchase")
        confirm = page.locator("#offer-confirm")
        expect(confirm).not_to_contain_text("price is known after purchase")  # auto: priced

        page.get_by_text("Options", exact=True).click()  # open the <details>
        page.get_by_label("smsactivate sandbox").check()
        expect(confirm).to_contain_text("You are ordering from smsactivate sandbox")
        expect(confirm).to_contain_text("the price is known after purchase")
        expect(page.locator("#order-form [data-needs=max_price]")).to_be_visible()

        page.get_by_label("numpool sandbox").check()
        expect(confirm).not_to_contain_text("price is known after purchase")
    finally:
        sandbox.stop()

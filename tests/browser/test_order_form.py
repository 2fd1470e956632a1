"""The order form shows only the options the picked provider supports."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.conftest import sandbox_account

pytestmark = pytest.mark.browser

SMSPOOL_ONLY = ("area_codes", "carrier", "voice", "quantity", "max_price")


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

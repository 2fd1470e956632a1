"""A rental's inbox updates by itself while the page is open."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from rentals import services
from rentals.models import Rental, RentalState
from tests.browser.helpers import assert_same_document, login, mark_document
from tests.conftest import sandbox_account

pytestmark = pytest.mark.browser


def test_renting_through_the_ui_then_a_message_appears_in_the_open_inbox(page, team, sandbox):
    account = sandbox_account(team, sandbox, "smspool")
    query = urlencode({"country": "United States"})
    login(page, "bob", reverse("rental_new", args=[team.code]) + "?" + query)

    # The offers table: pick a length of the first offer, label it, review the price.
    page.locator("table.rental-offers input[name=choice]").first.check()
    page.get_by_label("Label").fill("QA line")
    page.get_by_role("button", name="Review the price").click()
    expect(page.get_by_role("heading", name="Confirm the rental")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Rent for ")).click()

    rental = Rental.objects.get(account=account)
    assert rental.state == RentalState.ACTIVE
    expect(page).to_have_url(re.compile(reverse("rental_detail", args=[rental.code]) + "$"))
    expect(page.locator("h1 .phone")).to_have_text(rental.international_number)
    inbox = page.locator("#inbox")
    expect(inbox).to_contain_text("No messages yet.")
    mark_document(page)

    # A message reaches the number upstream; the portal reads the inbox once.
    upstream = sandbox.state.rental(account.kind, account.api_key, rental.upstream_id)
    with sandbox.state.lock:
        sandbox.state.rental_message(upstream, text="Your Discord code is 553311")
    services.rental_refresh(rental=rental)
    assert rental.messages.get().code == "553311"

    # The open page polls every 5 s: the message shows up without a reload.
    expect(inbox.locator(".code-value")).to_have_text("553311", timeout=8000)
    expect(inbox).to_contain_text("Your Discord code is 553311")
    expect(inbox.get_by_role("button", name="copy")).to_have_attribute("data-copy", "553311")
    assert_same_document(page)

"""The order form buys from the offer the member picked, says what it will charge, and
never puts its CSRF token or idempotency key into a URL (issue 12, bugs 1 and 5)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orders import quotes
from orders.models import Order
from providers.models import Country, Service
from tests.browser.helpers import login
from tests.conftest import sandbox_account

pytestmark = pytest.mark.browser

SECRETS_IN_URL = ("csrfmiddlewaretoken", "idempotency_key")


def _smspool_offer(team, smspool, smscode):
    """SMSPool's one offer, which "let smsdesk pick: cheapest" would not take (SMSCode's
    cheapest product is cheaper): the case where the pick was lost to SMSCode."""
    offers = quotes.sort_offers(
        quotes.offers_for(team, Service.objects.get(slug="whatsapp"), Country.objects.get(iso="US"))
    )
    assert offers[0].account == smscode, offers[0]
    (picked,) = [o for o in offers if o.account == smspool]
    return picked


def test_a_provider_picked_straight_from_the_country_field_is_the_one_charged(page, team, sandbox):
    smspool = sandbox_account(team, sandbox, "smspool")
    smscode = sandbox_account(team, sandbox, "smscode")
    dearer = _smspool_offer(team, smspool, smscode)
    urls = []
    page.on("request", lambda request: urls.append(request.url))
    login(page, "bob", reverse("order_new", args=[team.code]))

    page.get_by_label("Service").press_sequentially("WhatsApp")
    page.get_by_label("Country").press_sequentially("United States")
    expect(page.locator("#offers table.offers")).to_contain_text(dearer.account.label)
    expect(page.get_by_label("Let smsdesk pick: cheapest in stock")).to_be_checked()

    # Clicking the radio leaves the Country field, whose "change" re-fetches the whole
    # table with the choice as it was before the click: the pick must survive it.
    def refetch(response):
        return "/orders/offers/" in response.url and (
            response.request.headers.get("hx-target") == "offers"
        )

    with page.expect_response(refetch):
        page.get_by_label(dearer.account.label).check()
    page.wait_for_timeout(500)  # the re-fetched table is swapped in
    radio = page.get_by_label(dearer.account.label)
    expect(radio).to_be_checked()
    expect(page.get_by_label("Let smsdesk pick: cheapest in stock")).not_to_be_checked()

    # The confirmation names the provider and the price that will be charged.
    confirm = page.locator("#offer-confirm")
    price = f"{dearer.price.normalize()} {dearer.currency}"
    expect(confirm).to_contain_text(f"You are ordering from {dearer.account.label} at {price}")

    page.get_by_role("button", name="Buy number").click()
    expect(page).to_have_url(re.compile(reverse("board", args=[team.code]) + "$"))
    order = Order.objects.get()
    assert order.account == dearer.account
    assert order.cost == dearer.price
    # The offers table was fetched without the form's secrets in its URL.
    offers_urls = [u for u in urls if "/orders/offers/" in u]
    assert offers_urls and not [u for u in offers_urls if any(s in u for s in SECRETS_IN_URL)]


def test_let_smsdesk_pick_names_the_provider_and_price_it_will_charge(page, team, sandbox):
    smspool = sandbox_account(team, sandbox, "smspool")
    smscode = sandbox_account(team, sandbox, "smscode")
    dearer = _smspool_offer(team, smspool, smscode)
    login(page, "bob", reverse("order_new", args=[team.code]) + "?service=WhatsApp&country=US")

    confirm = page.locator("#offer-confirm")
    expect(confirm).to_contain_text(f"smsdesk will order from {smscode.label} at ")
    expect(confirm).to_contain_text("the cheapest in stock now")
    page.get_by_label(dearer.account.label).check()
    expect(confirm).to_contain_text(f"You are ordering from {dearer.account.label} at ")


def test_enter_in_the_order_form_shows_offers_by_post_and_buys_nothing(page, team, sandbox):
    sandbox_account(team, sandbox, "smspool")
    login(page, "bob", reverse("order_new", args=[team.code]))
    page.get_by_label("Service").fill("WhatsApp")
    country = page.get_by_label("Country")
    country.fill("United States")

    with page.expect_navigation() as navigation:
        country.press("Enter")
    assert navigation.value.request.method == "POST"
    assert not [s for s in SECRETS_IN_URL if s in page.url], page.url
    expect(page.locator("#offers table.offers")).to_contain_text("smspool sandbox")
    expect(page.get_by_label("Country")).to_have_value("United States")
    assert Order.objects.count() == 0

    # The same form then buys, once, with the button meant for it.
    page.get_by_role("button", name="Buy number").click()
    expect(page).to_have_url(re.compile(reverse("board", args=[team.code]) + "$"))
    assert Order.objects.count() == 1

"""Pages say what they mean: countdowns read as durations, a rental's length follows its
extensions, the rentals' country filter takes names and refuses what it does not know,
and a note too long is refused, never cut (issue 12, bug 5)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from rentals.models import Rental, RentalOffer
from tests.browser.helpers import login, place
from tests.conftest import sandbox_account

pytestmark = pytest.mark.browser

LONG_NOTE = "The QA run for the spring release. " * 86  # 3,010 characters


def test_the_board_countdown_reads_as_minutes_left(page, team, sandbox):
    account = sandbox_account(team, sandbox, "smspool")
    bob = Membership.objects.get(team=team, user__username="bob").user
    order = place(team, bob, account)  # SMSPool numbers live 20 minutes
    login(page, "bob", reverse("board", args=[team.code]))
    expires = page.locator(f"#order-{order.code} td[data-label=Expires] .countdown")
    expect(expires).to_have_text(re.compile(r"^19 min left$"))

    page.goto(reverse("order_detail", args=[order.code]))
    expect(page.locator(".countdown")).to_have_text(re.compile(r"^19 min left$"))


def _rent(page, team, offer: RentalOffer, length: int) -> Rental:
    query = urlencode({"country": "United States"})
    login(page, "bob", reverse("rental_new", args=[team.code]) + "?" + query)
    page.locator(f"input[name=choice][value='{offer.pk}:{length}']").check()
    page.get_by_role("button", name="Review the price").click()
    page.get_by_role("button", name=re.compile(r"^Rent for ")).click()
    rental = Rental.objects.get(account=offer.account)
    expect(page).to_have_url(re.compile(reverse("rental_detail", args=[rental.code]) + "$"))
    return rental


def test_rented_for_follows_the_extensions(page, team, sandbox):
    account = sandbox_account(team, sandbox, "smspool")
    offer = next(
        o
        for o in RentalOffer.objects.filter(account=account, country__iso="US").order_by("pk")
        if o.extend_durations()
    )
    length = offer.durations()[0][0]
    extension = offer.extend_durations()[0][0]
    _rent(page, team, offer, length)

    rented_for = page.locator(".card .stack div", has_text="Rented")
    expect(rented_for).to_contain_text(f"Rented for {length} day")
    page.get_by_label("By").select_option(str(extension))
    page.get_by_role("button", name="Extend…", exact=True).click()
    # The confirmation step names the price (issue 12, people).
    page.get_by_role("button", name=re.compile(r"^Extend for ")).click()
    expect(page.locator(".messages")).to_contain_text("Rental extended.")
    total = length + extension
    expect(rented_for).to_contain_text(f"Rented for {total} days")
    expect(rented_for).to_contain_text(f"extended by {extension} day")


def test_the_rentals_country_filter_takes_names_and_refuses_unknown_ones(page, team, sandbox):
    account = sandbox_account(team, sandbox, "smspool")
    us = RentalOffer.objects.filter(account=account, country__iso="US").order_by("pk").first()
    rental = _rent(page, team, us, us.durations()[0][0])

    page.goto(reverse("rentals", args=[team.code]))
    rows = page.locator("main table tbody tr")  # not the shortcuts list
    country = page.get_by_label("Country")
    for text in ("United States", "united states", "USA", "US"):
        country.fill(text)
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(rental.international_number)

    country.fill("Netherlands")  # a country the team rents nothing in
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No rentals match.")).to_be_visible()

    country.fill("Atlantis")  # not a country: said plainly, and nothing listed
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".errorlist")).to_contain_text("No country called “Atlantis”")
    expect(rows).to_have_count(0)

    # The rent page's search reads names the same way, and refuses what it does not know.
    page.goto(reverse("rental_new", args=[team.code]) + "?country=united+states")
    expect(page.locator("table.rental-offers")).to_be_visible()
    page.goto(reverse("rental_new", args=[team.code]) + "?country=Atlantis")
    expect(page.locator(".messages")).to_contain_text("No country called “Atlantis”")


def test_a_note_too_long_is_refused_in_plain_words_never_cut(page, team, sandbox):
    account = sandbox_account(team, sandbox, "smspool")
    bob = Membership.objects.get(team=team, user__username="bob").user
    order = place(team, bob, account)
    login(page, "bob", reverse("order_detail", args=[order.code]))

    note = page.get_by_label("Note")
    note.fill(LONG_NOTE)
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".messages")).to_contain_text(
        f"A note is at most 500 characters; this one has {len(LONG_NOTE.strip())}."
    )
    expect(page.locator(".messages")).not_to_contain_text("Note saved")
    expect(page.get_by_label("Note")).to_have_value(LONG_NOTE)  # kept to shorten
    order.refresh_from_db()
    assert order.note == ""

    page.get_by_label("Note").fill(LONG_NOTE[:500])
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".messages")).to_contain_text("Note saved.")
    order.refresh_from_db()
    assert order.note == LONG_NOTE[:500].strip()

    # The same on a rental's label and note.
    offer = RentalOffer.objects.filter(account=account, country__iso="US").order_by("pk").first()
    rental = _rent(page, team, offer, offer.durations()[0][0])
    page.get_by_label("Note").fill(LONG_NOTE)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("A note is at most 500 characters")
    expect(page.get_by_label("Note")).to_have_value(LONG_NOTE)
    rental.refresh_from_db()
    assert rental.note == ""

"""Regressions for the inputs that gave a 500 (issue 11), and for catalogue ids of
another team: each answer is a page or a redirect that says what was wrong."""

from __future__ import annotations

from datetime import date
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import quotes
from orders.models import Order
from rentals.models import Rental

ORDER_FORM = {
    "offer": "auto:cheapest",
    "idempotency_key": "k-bad-input",
    "quantity": "1",
    "activation_type": "SMS",
}


@pytest.fixture
def member_client(client, world):
    """A client logged in as team A's owner, that answers a 500 instead of raising it."""
    client.force_login(world.a.owner)
    client.raise_request_exception = False
    return client


def text(response) -> str:
    return unescape(response.content.decode())


def flash(client) -> str:
    """The next page, with the messages the last redirect left."""
    return text(client.get(reverse("teams")))


# --- `next` on order actions ----------------------------------------------------------------

NOT_LOCAL = [
    "board",  # a bare word: redirect() took it for a view name (NoReverseMatch, a 500)
    "not a url",
    "https://evil.example/steal",  # followed: an open redirect
    "//evil.example/steal",
    "/\\evil.example/steal",
    "https:evil.example",
    "javascript:alert(1)",
    " https://evil.example/",
    "\x00",
]


@pytest.mark.parametrize("action", ["order_complete", "order_resend", "order_cancel"])
@pytest.mark.parametrize("target", NOT_LOCAL)
def test_it_redirects_an_order_action_only_to_this_site(member_client, world, action, target):
    order = world.a.order
    r = member_client.post(reverse(action, args=[order.code]), {"next": target})
    assert r.status_code == 302
    assert r["Location"] == reverse("board", args=[world.a.team.code])


def test_it_follows_a_next_path_on_this_site(member_client, world):
    here = reverse("order_detail", args=[world.a.order.code])
    r = member_client.post(reverse("order_complete", args=[world.a.order.code]), {"next": here})
    assert r.status_code == 302 and r["Location"] == here


# --- rentals: the page's own "Other" options (u<pk>) ------------------------------------------


def test_it_shows_rental_offers_for_the_pages_own_other_service(member_client, world):
    a = world.a
    url = reverse("rental_new", args=[a.team.code])
    r = member_client.get(url, {"service": f"u{a.unmapped_service.pk}"})
    assert r.status_code == 200
    assert a.rental_offer.name in text(r)


def test_the_rental_search_takes_a_country_by_name_as_well(member_client, world):
    url = reverse("rental_new", args=[world.a.team.code])
    r = member_client.get(url, {"country": "United States"})
    assert r.status_code == 200
    assert world.a.rental_offer.name in text(r) and "No country called" not in text(r)


def test_it_shows_rental_offers_for_the_pages_own_other_country(member_client, world):
    a = world.a
    a.rental_offer.country = None
    a.rental_offer.name = a.unmapped_country.name
    a.rental_offer.save()
    url = reverse("rental_new", args=[a.team.code])
    r = member_client.get(url, {"country": f"u{a.unmapped_country.pk}"})
    assert r.status_code == 200
    assert a.unmapped_country.name in text(r) and "Review the price" in text(r)


def test_it_rents_with_the_pages_own_other_service(member_client, world):
    a = world.a
    data = {
        "choice": f"{a.rental_offer.pk}:7",
        "service": f"u{a.unmapped_service.pk}",
        "idempotency_key": "k-other",
    }
    r = member_client.post(reverse("rental_new", args=[a.team.code]), data)
    assert r.status_code == 200
    assert "Confirm the rental" in text(r)


# --- NUL bytes in service and country ---------------------------------------------------------


@pytest.mark.parametrize("field", ["service", "country"])
def test_it_refuses_a_nul_byte_in_the_rental_search_in_plain_words(member_client, world, field):
    url = reverse("rental_new", args=[world.a.team.code])
    r = member_client.get(url, {field: "United\x00States"})
    assert r.status_code == 200
    assert "Null characters are not allowed." in text(r)


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("order_new", {"service": "whats\x00app", "country": "US"}),
        ("order_new", {"service": "whatsapp", "country": "U\x00S"}),
        ("order_offers", {"service": "\x00", "country": "\x00"}),
        ("order_history", {"service": "\x00", "country": "\x00", "q": "\x00"}),
        ("rentals", {"q": "\x00", "provider": "\x00", "member": "\x00"}),
        ("rental_new", {"service": "\x00", "country": "\x00"}),
        ("reports", {"since": "\x00", "group": "\x00"}),
        ("audit_log", {"actor": "\x00", "since": "\x00"}),
    ],
)
def test_it_never_fails_on_a_nul_byte_in_a_filter(member_client, world, name, query):
    r = member_client.get(reverse(name, args=[world.a.team.code]), query)
    assert r.status_code == 200


def test_it_refuses_a_nul_byte_in_the_order_form(member_client, world):
    data = {**ORDER_FORM, "service": "whats\x00app", "country": "U\x00S"}
    r = member_client.post(reverse("order_new", args=[world.a.team.code]), data)
    assert r.status_code == 400
    assert "Null characters are not allowed." in text(r)
    assert not Order.objects.filter(idempotency_key="k-bad-input").exists()


def test_it_refuses_a_nul_byte_in_the_rent_form(member_client, world):
    a = world.a
    data = {"choice": f"{a.rental_offer.pk}:7", "service": "\x00", "idempotency_key": "k-nul"}
    r = member_client.post(reverse("rental_new", args=[a.team.code]), data)
    assert r.status_code == 302
    assert "Null characters are not allowed." in flash(member_client)


def test_the_resolvers_answer_none_for_a_nul_byte_without_asking_the_database(world):
    team = world.a.team
    assert quotes.resolve_service("whats\x00app", team=team) is None
    assert quotes.resolve_country("U\x00S", team=team) is None
    assert quotes.resolve_service("u²", team=team) is None  # "²".isdigit() is True
    assert quotes.resolve_country("u" + "9" * 40, team=team) is None


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"until": "9999-12-31"},  # until + 1 day overflowed: a 500
        {"since": "9999-12-31"},
        {"since": "9999-12-31", "until": "9999-12-31"},
        {"since": "0001-01-01"},
        {"since": "1999-12-31", "until": "2000-01-05"},
        {"until": f"{timezone.localdate().year + 11}-01-01"},
    ],
)
def test_it_refuses_a_report_date_out_of_bounds_in_plain_words(member_client, world, query):
    r = member_client.get(reverse("reports", args=[world.a.team.code]), query)
    assert r.status_code == 200
    assert "Pick a date between 1 January 2000 and " in text(r)


def test_it_refuses_to_export_a_report_for_a_date_out_of_bounds(member_client, world):
    query = {"until": "9999-12-31", "format": "csv"}
    r = member_client.get(reverse("reports", args=[world.a.team.code]), query)
    assert r.status_code == 400
    assert r.content.decode().startswith("Pick a date between 1 January 2000 and ")


def test_the_date_picker_offers_only_dates_the_report_accepts(member_client, world):
    r = member_client.get(reverse("reports", args=[world.a.team.code]))
    latest = date(timezone.localdate().year + 10, 12, 31)
    assert 'min="2000-01-01"' in text(r)
    assert f'max="{latest.isoformat()}"' in text(r)


def test_the_latest_date_the_picker_offers_is_accepted(member_client, world):
    latest = date(timezone.localdate().year + 10, 12, 31)
    query = {"since": "2000-01-01", "until": latest.isoformat()}
    r = member_client.get(reverse("reports", args=[world.a.team.code]), query)
    assert r.status_code == 200
    assert "Pick a date" not in text(r)


def test_it_refuses_a_history_date_out_of_bounds_in_plain_words(member_client, world):
    query = {"since": "0001-01-01", "until": "9999-12-31"}
    r = member_client.get(reverse("order_history", args=[world.a.team.code]), query)
    assert r.status_code == 200
    assert "Pick a date between 1 January 2000 and " in text(r)


@pytest.mark.parametrize(
    "cursor",
    ["0001-01-01T00:00:00+14:00_1", "2020-01-01_" + "9" * 30, "2020-01-01_٣", "x_1", "_"],
)
def test_it_ignores_a_history_cursor_out_of_range(member_client, world, cursor):
    r = member_client.get(reverse("order_history", args=[world.a.team.code]), {"before": cursor})
    assert r.status_code == 200


# --- ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "choice",
    [f"{10**30}:7", "0:7", "-1:7", "abc:7", "{pk}:" + str(10**30), "{pk}:0", "{pk}:3"],
)
def test_it_refuses_a_rental_choice_that_names_no_offer_or_length(member_client, world, choice):
    a = world.a
    data = {"choice": choice.format(pk=a.rental_offer.pk), "idempotency_key": "k-id"}
    r = member_client.post(reverse("rental_new", args=[a.team.code]), data)
    assert r.status_code == 302
    said = flash(member_client)
    assert "Choose one of the offers" in said or "lengths offered" in said, said
    assert not Rental.objects.filter(idempotency_key="k-id").exists()


# --- catalogue ids of another team (u<pk>) ----------------------------------------------------


def test_the_resolvers_find_only_the_teams_own_catalogue_rows(world):
    a, b = world.a, world.b
    assert quotes.resolve_service(f"u{a.unmapped_service.pk}", team=a.team) == a.unmapped_service
    assert quotes.resolve_country(f"u{a.unmapped_country.pk}", team=a.team) == a.unmapped_country
    assert quotes.resolve_service(f"u{b.unmapped_service.pk}", team=a.team) is None
    assert quotes.resolve_country(f"u{b.unmapped_country.pk}", team=a.team) is None


def test_the_offers_table_refuses_another_teams_catalogue_ids(member_client, world):
    b = world.b
    query = {"service": f"u{b.unmapped_service.pk}", "country": f"u{b.unmapped_country.pk}"}
    r = member_client.get(reverse("order_offers", args=[world.a.team.code]), query)
    assert r.status_code == 200
    page = text(r)
    assert f"No service called “u{b.unmapped_service.pk}”" in page
    assert f"No country called “u{b.unmapped_country.pk}”" in page
    assert b.account.label not in page and b.unmapped_service.name not in page


def test_the_offers_table_shows_the_teams_own_other_options(member_client, world):
    a = world.a
    query = {"service": f"u{a.unmapped_service.pk}", "country": f"u{a.unmapped_country.pk}"}
    r = member_client.get(reverse("order_offers", args=[a.team.code]), query)
    assert r.status_code == 200
    assert a.account.label in text(r) and "No service called" not in text(r)


def test_the_order_form_refuses_another_teams_catalogue_ids(member_client, world):
    b = world.b
    data = {
        **ORDER_FORM,
        "service": f"u{b.unmapped_service.pk}",
        "country": f"u{b.unmapped_country.pk}",
    }
    r = member_client.post(reverse("order_new", args=[world.a.team.code]), data)
    assert r.status_code == 400
    assert f"No service called “u{b.unmapped_service.pk}”" in text(r)
    assert not Order.objects.filter(idempotency_key="k-bad-input").exists()


@pytest.mark.parametrize("field", ["service", "country"])
def test_the_rental_search_refuses_another_teams_catalogue_ids(member_client, world, field):
    b = world.b
    row = b.unmapped_service if field == "service" else b.unmapped_country
    url = reverse("rental_new", args=[world.a.team.code])
    r = member_client.get(url, {field: f"u{row.pk}"})
    assert r.status_code == 200
    assert f"No {field} called “u{row.pk}” at the team's providers." in text(r)
    assert b.account.label not in text(r)


def test_the_rent_form_refuses_another_teams_catalogue_service(member_client, world):
    a, b = world.a, world.b
    data = {
        "choice": f"{a.rental_offer.pk}:7",
        "service": f"u{b.unmapped_service.pk}",
        "idempotency_key": "k-foreign",
    }
    r = member_client.post(reverse("rental_new", args=[a.team.code]), data)
    assert r.status_code == 302
    assert f"No service called “u{b.unmapped_service.pk}”" in flash(member_client)


def test_the_rent_form_refuses_another_teams_offer(member_client, world):
    a, b = world.a, world.b
    data = {"choice": f"{b.rental_offer.pk}:7", "idempotency_key": "k-foreign-offer"}
    r = member_client.post(reverse("rental_new", args=[a.team.code]), data)
    assert r.status_code == 302
    assert "Choose one of the offers and a length." in flash(member_client)

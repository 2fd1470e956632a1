"""Property: no form and no query-string filter answers a 500, whatever it is sent.

Each entry of FORMS names a page, a method and its fields; hypothesis fills the
fields with hostile text (NUL bytes, control characters, any unicode, very long),
huge and negative numbers, dates far in the past and future, other teams' ids,
and values that are nearly right. Requests come from team A's owner, who may use
every form, against team A's objects; each is undone afterwards. Provider calls
stay in the process (`no_network`). About 25 s for the whole file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.world import World

# Per form; FUZZ_EXAMPLES=500 for a deeper hunt than CI's.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


@dataclass(frozen=True)
class Form:
    url: str  # a URL name
    arg: str  # which of team A's objects fills the URL: team, order, rental, account, membership
    method: str
    fields: tuple[str, ...]


FORMS = [
    # query-string filters
    Form("order_history", "team", "GET", ("member", "service", "country", "provider", "status",
                                          "since", "until", "q", "before", "format")),
    Form("order_new", "team", "GET", ("service", "country", "offer", "quantity", "max_price")),
    Form("order_offers", "team", "GET", ("service", "country", "offer")),
    Form("board_fragment", "team", "GET", ("v",)),
    Form("rentals", "team", "GET", ("state", "provider", "member", "q")),
    Form("rental_new", "team", "GET", ("country", "service")),
    Form("reports", "team", "GET", ("since", "until", "group", "format")),
    Form("audit_log", "team", "GET", ("actor", "action", "since", "until", "page")),
    # forms
    Form("order_new", "team", "POST", ("service", "country", "offer", "idempotency_key",
                                       "max_price", "quantity", "area_codes", "exclude_area_codes",
                                       "carrier", "activation_type", "operator", "note",
                                       "auto_replace", "failover")),
    Form("order_note", "order", "POST", ("note",)),
    Form("order_cancel", "order", "POST", ("next", "when_allowed")),
    Form("order_complete", "order", "POST", ("next",)),
    Form("rental_new", "team", "POST", ("choice", "offer", "duration", "service", "label", "note",
                                        "idempotency_key", "confirm")),
    Form("rental_extend", "rental", "POST", ("duration",)),
    Form("rental_details", "rental", "POST", ("label", "note")),
    Form("rental_auto_extend", "rental", "POST", ("enabled",)),
    Form("members", "team", "POST", ("email", "role")),
    Form("member_role", "membership", "POST", ("role",)),
    Form("member_spend_limit", "membership", "POST", ("monthly_spend_limit",)),
    Form("team_settings", "team", "POST", ("name",)),
    Form("webhooks", "team", "POST", ("url", "description", "events", "enabled")),
    Form("teams", "", "POST", ("name",)),
    Form("switch_team", "", "POST", ("team",)),
    Form("provider_add", "team", "POST", ("kind", "label", "base_url", "currency", "enabled",
                                          "rate_limit_requests", "rate_limit_period", "api_key")),
    Form("provider_edit", "account", "POST", ("kind", "label", "base_url", "currency", "enabled",
                                              "rate_limit_requests", "rate_limit_period",
                                              "api_key")),
]  # fmt: skip

HOSTILE = [
    "\x00",
    "a\x00b",
    "\r\n",
    "\u202e",
    "\ufeff",
    "💥" * 30,
    "x" * 5000,
    "9999-12-31",
    "0001-01-01",
    "2000-02-30",
    "-1",
    "0",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    str(2**31),
    str(2**63),
    "9" * 40,
    "²",
    "٣",
    "u",
    "u0",
    "u-1",
    "u²",
    "u" + "9" * 30,
    "|",
    "||",
    "a|b|c",
    ":",
    "1:",
    ":1",
    "_",
    "//evil.example/",
    "https://evil.example/",
    "javascript:alert(1)",
    "/\\evil.example",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
]


def near_valid(world: World) -> list[str]:
    """Values each nearly right for some field: ids of both teams, names, keys, dates."""
    a, b = world.a, world.b
    return [
        "whatsapp",
        "WhatsApp",
        "US",
        "United States",
        f"u{a.unmapped_service.pk}",
        f"u{a.unmapped_country.pk}",
        f"u{b.unmapped_service.pk}",
        f"u{b.unmapped_country.pk}",
        f"{a.account.code}||",
        "auto:cheapest",
        "auto:best_success",
        f"{a.rental_offer.pk}:7",
        f"{b.rental_offer.pk}:7",
        str(a.rental_offer.pk),
        str(b.rental_offer.pk),
        "7",
        "1",
        "20",
        "21",
        "0.0001",
        "12345678.1234",
        str(a.team.code),
        str(b.team.code),
        str(a.account.code),
        str(b.account.code),
        str(a.owner.pk),
        str(b.owner.pk),
        "b_manager",
        "owner",
        "manager",
        "viewer",
        "received",
        "SMS",
        "smspool",
        "smscode",
        "smsactivate",
        "https://api.smspool.net",
        "http://127.0.0.1:8001/smspool",
        "USD",
        "csv",
        "member",
        "provider",
        "2020-01-01",
        "2020-01-01T00:00:00_1",
        "on",
        "1",
        "",
    ]


DATES = ["9999-12-31", "0001-01-01", "1999-12-31", "2023-02-29", "9999-99-99", "\x00"]
IDS = ["\x00", "a\x00b", "u²", "u٣", "u" + "9" * 30, "u0", str(2**63), "-1", "٣", "1e400"]
URLS = ["board", "not a url", "https://evil.example/", "//evil.example", "/\\evil.example"]
URLS += ["javascript:alert(1)", " https://evil.example/", "\x00", "/\x00", "/ok/\r\nX: y"]

# Fields by name: the values most likely to break them, drawn more often.
HINTS = {
    "since": DATES,
    "until": DATES,
    "before": ["9999-12-31T23:59:59_1", "0001-01-01T00:00:00+14:00_1", "2020-01-01_" + "9" * 30],
    "next": URLS,
}


def values(world: World, field: str) -> st.SearchStrategy[str]:
    hints = st.sampled_from(HINTS.get(field, IDS))
    return st.one_of(
        hints,
        hints,
        hints,
        st.sampled_from(near_valid(world)),
        st.sampled_from(HOSTILE),
        st.text(max_size=80),
        st.integers(min_value=-(10**40), max_value=10**40).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.dates().map(lambda d: d.isoformat()),
    )


def data_for(world: World, form: Form) -> st.SearchStrategy[dict[str, str]]:
    """Some of the form's fields (a missing one is left out), each with a value."""
    return st.fixed_dictionaries({}, optional={f: values(world, f) for f in form.fields})


def url_of(world: World, form: Form) -> str:
    a = world.a
    arg = {
        "team": [a.team.code],
        "order": [a.order.code],
        "rental": [a.rental.code],
        "account": [a.account.code],
        "membership": [a.team.code, a.owner_membership.code],
        "": [],
    }[form.arg]
    return reverse(form.url, args=arg)


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f"{f.method} {f.url}")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_form_or_filter_answers_a_500(world, form, data):
    client = Client()  # a 500 raises here, and hypothesis shows what caused it
    client.force_login(world.a.owner)
    fields = data.draw(data_for(world, form), label="fields")
    with transaction.atomic():
        if form.method == "GET":
            response = client.get(url_of(world, form), fields)
        else:
            response = client.post(url_of(world, form), fields)
        if response.streaming:
            b"".join(response.streaming_content)
        transaction.set_rollback(True)
    assert response.status_code < 500

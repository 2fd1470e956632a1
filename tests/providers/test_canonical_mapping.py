"""The catalog sync maps every provider's own ids onto one canonical pair."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import Team
from providers.models import ProviderAccount
from providers.services import ensure_canonical, store_catalog
from providers.types import Catalog, Country, Quote, Service

# "WhatsApp / United States" as each provider's documentation spells it.
DOCUMENTED = {
    "smspool": (Country("1", "United States", iso="US"), Service("1", "WhatsApp")),
    "numpool": (Country("187", "USA"), Service("wa", "WhatsApp", code="wa")),
    "smscode": (
        Country("187", "United States", iso="US", dial_code="1"),
        Service("1", "WhatsApp", code="whatsapp"),
    ),
    "smsactivate": (Country("187", "USA"), Service("wa", "wa", code="wa")),
}


@pytest.fixture
def team(db):
    ensure_canonical()
    return Team.objects.create(name="T")


def account(team, kind):
    acct = ProviderAccount(team=team, kind=kind, label=kind, base_url="https://example.com")
    acct.set_api_key("key-xxxx")
    acct.save()
    return acct


@pytest.mark.parametrize("kind", list(DOCUMENTED))
def test_it_maps_whatsapp_in_the_united_states(team, kind):
    country, service = DOCUMENTED[kind]
    acct = account(team, kind)
    quote = Quote(
        service_id=service.id, country_id=country.id, price=Decimal("0.5"), currency="USD", stock=10
    )
    result = store_catalog(acct, Catalog(countries=[country], services=[service], quotes=[quote]))
    assert result.unmapped_countries == 0 and result.unmapped_services == 0
    row = acct.prices.get()
    assert row.country.country.iso == "US"
    assert row.service.service.slug == "whatsapp"


def test_short_codes_are_trusted_only_for_the_sms_activate_family(team):
    # NumPool's "tn" is Snapchat; SMS-Activate's "tn" is LinkedIn.
    numpool = account(team, "numpool")
    store_catalog(numpool, Catalog(countries=[], services=[Service("tn", "Snapchat", code="tn")]))
    assert numpool.catalog_services.get().service.slug == "snapchat"
    sa = account(team, "smsactivate")
    store_catalog(sa, Catalog(countries=[], services=[Service("tn", "tn", code="tn")]))
    assert sa.catalog_services.get().service.slug == "linkedin"


def test_unmapped_entries_stay_usable_under_their_own_names(team):
    acct = account(team, "smspool")
    store_catalog(
        acct,
        Catalog(
            countries=[Country("99", "Atlantis")], services=[Service("5", "Suds Car Wash\r\n")]
        ),
    )
    country = acct.catalog_countries.get()
    service = acct.catalog_services.get()
    assert country.country is None and country.display_name == "Atlantis"
    assert service.service is None and service.display_name == "Suds Car Wash"


def test_a_staff_correction_survives_the_next_sync(team):
    from providers.models import Service as CanonicalService

    acct = account(team, "smspool")
    catalog = Catalog(countries=[], services=[Service("7", "Gmail")])
    store_catalog(acct, catalog)
    row = acct.catalog_services.get()
    assert row.service.slug == "google"
    row.service = CanonicalService.objects.get(slug="microsoft")
    row.mapping_locked = True
    row.save()
    store_catalog(acct, catalog)
    assert acct.catalog_services.get().service.slug == "microsoft"

"""Upstream names map onto the canonical catalog by alias, case and punctuation.

The live-size sandbox catalogue is the reference list: 1,400 services as real
price lists spell them, each knowing which service it is (`same_as`).
"""

from __future__ import annotations

import pytest

from providers import canonical
from providers.canonical import country_iso_for, service_slug_for
from providers.sandbox import catalog

CANONICAL_SLUGS = {slug for slug, _name, _aliases in canonical.SERVICES}


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("WhatsApp", "whatsapp"),
        ("WHATSAPP", "whatsapp"),
        ("Whatsapp Business", "whatsapp"),
        ("Google / Gmail / Youtube", "google"),
        ("Google,Youtube,Gmail", "google"),
        ("Facebook Messenger", "facebook"),
        ("Meta / Facebook", "facebook"),
        ("Tik Tok Lite", "tiktok"),
        ("TikTok/Douyin", "tiktok"),
        ("We Chat Lite", "wechat"),
        ("Cash-App", "cashapp"),
        ("1688.com", "alibaba"),
        ("Olx.ua", "olx"),
        ("Yandex.Go", "yandex"),
        ("Mail.Ru Group", "mailru"),
        ("Wise (TransferWise)", "wise"),
        ("X (Twitter)", "twitter"),
        ("Twitter/X", "twitter"),
        ("Microsoft / Outlook / Hotmail", "microsoft"),
        ("DBS PayLah!", "dbs"),
        ("  Telegram\r\n", "telegram"),
    ],
)
def test_it_maps_a_service_spelled_another_way(name, slug):
    assert service_slug_for(name=name) == slug


@pytest.mark.parametrize(
    "name",
    ["Ma French Bank", "M&T Bank", "Suds Car Wash", "Go Ahead Travel", "X Games", "Яндекс", ""],
)
def test_a_short_code_inside_a_name_maps_nothing(name):
    # "ma" is Mail.ru's SMS-Activate code, "go" Google's, "mt" Steam's, "x" Twitter.
    assert service_slug_for(name=name) == ""


def test_a_short_code_still_maps_as_a_whole_code():
    assert service_slug_for(name="ma", code="ma") == "mailru"
    assert service_slug_for(name="", code="go") == "google"


def test_every_live_size_service_maps_to_what_it_is():
    wrong = []
    for service in catalog.live_catalogue().services:
        expected = service.same_as or (service.slug if service.slug in CANONICAL_SLUGS else "")
        found = service_slug_for(name=service.name)
        if found != expected:
            wrong.append((service.name, expected, found))
    assert wrong == []


def test_the_live_size_list_is_mostly_a_long_tail_nobody_maps():
    services = catalog.live_catalogue().services
    mapped = [s for s in services if service_slug_for(name=s.name)]
    assert len(services) == catalog.LIVE_SERVICE_COUNT
    assert 100 <= len(mapped) <= 200


@pytest.mark.parametrize(
    ("name", "iso"),
    [
        ("USA", "US"),
        ("United States of America", "US"),
        ("USA (virtual)", "US"),
        ("Russian Federation", "RU"),
        ("Viet Nam", "VN"),
        ("Korea, Republic of", "KR"),
        ("Congo, Democratic Republic of the", "CD"),
        ("Congo (Dem. Republic)", "CD"),
        ("Côte d'Ivoire", "CI"),
        ("TÜRKİYE", "TR"),
        ("bosnia-herzegovina", "BA"),
        ("Iran, Islamic Republic of", "IR"),
        ("Macau", "MO"),
        ("Hong Kong SAR", "HK"),
    ],
)
def test_it_maps_a_country_spelled_another_way(name, iso):
    assert country_iso_for(name=name) == iso


def test_every_live_size_country_maps_by_name_alone():
    # NumPool and SMS-Activate send no ISO code: the name has to do.
    wrong = [
        (c.name, c.iso, country_iso_for(name=c.name))
        for c in catalog.live_catalogue().countries
        if country_iso_for(name=c.name) != c.iso
    ]
    assert wrong == []


def test_an_iso_code_wins_over_the_name():
    assert country_iso_for(iso="gb", name="Atlantis") == "GB"
    assert country_iso_for(name="Atlantis") == ""

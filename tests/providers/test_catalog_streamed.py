"""A catalog sync fed by SMSPool's streamed price list: what a body that breaks off does."""

from __future__ import annotations

import json

import pytest
import responses

from accounts.models import Team
from providers.errors import UpstreamUnavailable
from providers.models import ProviderAccount
from providers.services import catalog_sync, ensure_canonical

BASE = "https://smspool.test"
ROWS = [
    {"service": 1, "country": 1, "pool": 7, "price": "0.50", "stock": 10},
    {"service": 2, "country": 1, "pool": 7, "price": "0.40", "stock": 3},
    {"service": 2, "country": 2, "pool": 7, "price": "0.30", "stock": 0},
]


@pytest.fixture
def account(db):
    ensure_canonical()
    acct = ProviderAccount(
        team=Team.objects.create(name="T"), kind="smspool", label="pool", base_url=BASE
    )
    acct.set_api_key("key-xxxx")
    acct.save()
    return acct


def upstream(stock_body: str) -> responses.RequestsMock:
    mocked = responses.RequestsMock(assert_all_requests_are_fired=False)
    answers = {
        "/country/retrieve_all": [
            {"ID": 1, "name": "United States", "short_name": "US"},
            {"ID": 2, "name": "United Kingdom", "short_name": "GB"},
        ],
        "/service/retrieve_all": [{"ID": 1, "name": "WhatsApp"}, {"ID": 2, "name": "Telegram"}],
        "/pool/retrieve_all": [{"ID": 7, "name": "Foxtrot"}],
        "/rental/retrieve_all": {"success": 1, "data": []},
    }
    for path, body in answers.items():
        mocked.add(responses.POST, BASE + path, json=body)
    mocked.add(responses.POST, BASE + "/sms/all_stock", body=stock_body)
    return mocked


def test_it_stores_the_streamed_quotes(account):
    with upstream(json.dumps(ROWS)) as mocked:
        result = catalog_sync(account=account)
    assert result.prices == 3
    assert BASE + "/request/pricing" not in [c.request.url for c in mocked.calls]
    assert sorted(account.prices.values_list("stock", flat=True)) == [0, 3, 10]


def test_a_body_that_breaks_off_deletes_nothing_and_is_recorded(account):
    with upstream(json.dumps(ROWS)):
        catalog_sync(account=account)
    changed = [{**ROWS[0], "stock": 9}]
    cut = json.dumps(changed)[:-1] + ', {"service": 2, "country": 1, "po'
    with upstream(cut), pytest.raises(UpstreamUnavailable):
        catalog_sync(account=account)
    account.refresh_from_db()
    assert account.health == "failing" and "ended before its list" in account.last_error
    # The two rows the cut body never reached are still there; nothing was deleted.
    assert account.prices.count() == 3

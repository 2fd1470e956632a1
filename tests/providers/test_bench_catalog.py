"""The catalogue benchmark's instruments: the lock watch and the ratios."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from bench import catalog as bench_catalog
from providers.models import Country


def test_the_ratios_divide_by_the_bodies_the_client_reads():
    round_ = {"seconds_by_body": dict.fromkeys(bench_catalog.SMSPOOL_BODIES, 0.5)}
    assert bench_catalog.body_seconds(round_, bench_catalog.CLIENT_BODIES) == 2.0
    assert "/request/pricing" not in bench_catalog.CLIENT_BODIES
    results = {"first_sync": {"seconds": 7.0}, "resync": {"seconds": 5.0}}
    assert bench_catalog.ratios(results, 2.0) == {"first_sync": 3.5, "resync": 2.5}


@pytest.mark.django_db(transaction=True)
def test_the_lock_watch_times_each_transaction_and_each_lone_write():
    if connection.vendor != "sqlite":
        pytest.skip("the watch times SQLite's write lock (BEGIN to COMMIT)")
    with bench_catalog.LockWatch().watching() as watch:
        with transaction.atomic():
            Country.objects.create(iso="ZZ", name="Zed")
            Country.objects.create(iso="ZY", name="Zy")
        Country.objects.filter(iso="ZZ").update(name="Zed 2")
        list(Country.objects.all())  # a read holds no write lock
    figures = watch.figures()
    assert figures["writes"] == 2
    assert 0 < figures["longest_lock_ms"] < 5000

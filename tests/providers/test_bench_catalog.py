"""The catalogue benchmark's instruments: the lock watch and the streaming prototype."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from providers import bench_catalog
from providers.models import Country


class FakeResponse:
    """A body that arrives in the given pieces."""

    def __init__(self, pieces: list[str]):
        self.pieces = pieces
        self.encoding = None

    def iter_content(self, chunk_size: int, decode_unicode: bool):
        yield from self.pieces


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_stream_rows_decodes_objects_split_anywhere(size):
    rows = [{"service": i, "name": f"Ser, vice {{{i}}}", "price": "0.5"} for i in range(40)]
    body = " [\n" + ",\n ".join(json.dumps(r) for r in rows) + "\n]\n"
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    assert list(bench_catalog.stream_rows(FakeResponse(pieces))) == rows


def test_stream_rows_reads_an_empty_list():
    assert list(bench_catalog.stream_rows(FakeResponse(["[", " ]"]))) == []


@pytest.mark.django_db(transaction=True)
def test_the_lock_watch_times_each_transaction_and_each_lone_write():
    with bench_catalog.LockWatch().watching() as watch:
        with transaction.atomic():
            Country.objects.create(iso="ZZ", name="Zed")
            Country.objects.create(iso="ZY", name="Zy")
        Country.objects.filter(iso="ZZ").update(name="Zed 2")
        list(Country.objects.all())  # a read holds no write lock
    figures = watch.figures()
    assert figures["writes"] == 2
    assert 0 < figures["longest_lock_ms"] < 5000

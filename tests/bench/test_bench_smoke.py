"""The benchmark stays runnable (its whole code path at a tiny size, no timing
targets), and the two engine properties it relies on stay true."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench import sync as bench
from orders.models import Order
from providers import leases
from providers.models import ProviderAccount
from sync import engine
from tests.conftest import sandbox_account, start_sandbox

FIGURES = {
    "orders",
    "codes_delivered",
    "codes_seen",
    "latency_p50",
    "latency_p95",
    "requests",
    "rate_limited",
    "requests_per_order_per_minute",
    "limit_share",
    "endpoints",
    "warm_up_seconds",
}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_runs_the_whole_benchmark_at_a_tiny_size(tmp_path):
    options = bench.Options(
        bulk_orders=6,
        numpool_orders=2,
        time_scale=10,  # codes 0.5-2 s after the start
        delivery_max=20,
        tail=1,
        drain=3,
        baseline_interval=1,
        board_sizes=(2, 5),
        board_requests=2,
        sandbox="inprocess",
    )
    results = bench.run(options)

    assert {"meta", "engine", "baseline", "comparison", "board", "targets"} <= set(results)
    for phase in ("engine", "baseline"):
        assert set(results[phase]) == {"smspool", "smscode", "smsactivate", "numpool"}
        for row in results[phase].values():
            assert set(row) >= FIGURES
    assert results["engine"]["smspool"]["orders"] == 2
    assert results["engine"]["numpool"]["orders"] == 2
    assert results["engine"]["smspool"]["requests"] > 0
    assert "cycle_p95" in results["engine"]["smscode"]
    assert set(results["comparison"]) == {"smspool", "smscode", "smsactivate", "numpool"}
    assert results["board"]["2"]["queries"] == results["board"]["5"]["queries"]
    assert all({"target", "value", "bound", "met"} <= set(row) for row in results["targets"])

    path = tmp_path / "results.json"
    bench.write_results(results, path)
    assert json.loads(path.read_text())["meta"]["options"]["bulk_orders"] == 6
    assert "targets:" in bench.format_table(results)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["smspool", "smscode", "smsactivate", "numpool"])
def test_a_bulk_cycle_that_sees_nothing_new_writes_no_order(kind):
    server = start_sandbox()
    try:
        membership = bench.make_member("Quiet")
        account = sandbox_account(membership.team, server, kind)
        queries = []
        for count in (2, 6):
            missing = count - Order.objects.count()
            bench._place_orders(membership, account, missing, f"quiet{count}")
            engine.run_cycle(account)  # the first sighting records the listed status
            stamps = dict(Order.objects.values_list("pk", "updated"))
            with CaptureQueriesContext(connection) as captured:
                engine.run_cycle(account)
            queries.append(len(captured))
            assert dict(Order.objects.values_list("pk", "updated")) == stamps
        assert queries[0] == queries[1]
    finally:
        server.stop()


@pytest.mark.django_db
def test_the_next_cycle_is_due_one_interval_after_the_last_one_started(monkeypatch):
    account = ProviderAccount(team=bench.make_member("Clock").team, kind="smspool", label="P")
    account.set_api_key("key-1234")
    account.save()
    assert leases.claim(account.pk, "t1")
    started = []

    def cycle(account, now=None):
        started.append(now)
        return engine.Cycle(awaiting=1, active=1)  # a slow cycle would not shift the clock

    monkeypatch.setattr(engine, "run_cycle", cycle)
    monkeypatch.setattr(engine, "poll_interval", lambda account, cycle: 1.0)
    engine.cycle(account.pk, "t1")
    account.refresh_from_db()
    assert account.sync_due_at == started[0] + timedelta(seconds=1)
    assert account.poller_lease_owner == ""

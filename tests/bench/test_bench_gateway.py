"""The gateway benchmark stays runnable: its whole code path at a tiny size (the
sandbox in process, Django's test server instead of gunicorn), no timing targets."""

from __future__ import annotations

import pytest

from bench import gateway


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_runs_the_whole_gateway_benchmark_at_a_tiny_size():
    options = gateway.Options(
        clients=4, keys=2, seconds=2, warm_up=0.5, sandbox="inprocess", server="thread"
    )
    results = gateway.run(options)
    busy, quiet = results["with_clients"], results["without_clients"]
    assert busy["clients"]["calls"] >= 4
    assert set(busy["clients"]["answers"]) == {"200 STATUS_WAIT_CODE"}
    assert busy["upstream_per_action"].get("getStatus", 0) == 0
    assert quiet["clients"] is None and quiet["upstream_requests"] >= 0
    assert {t["target"].split(" ")[0] for t in results["targets"]} >= {"getStatus", "no"}
    table = gateway.format_table(results)
    assert "4 clients" in table and "upstream" in table

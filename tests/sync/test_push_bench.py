"""The push benchmark stays runnable: its whole path at a tiny size (no timing targets)."""

from __future__ import annotations

import pytest

from bench import push
from bench.sync import Options


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_runs_both_phases_at_a_tiny_size():
    options = Options(
        bulk_orders=0,
        numpool_orders=0,
        time_scale=10,  # codes 0.5-2 s after the start
        delivery_min=5,
        delivery_max=20,
        no_code_share=0.0,
        tail=1,
        drain=5,
        sandbox="inprocess",
    )
    results = push.run(options, orders=3)

    assert {"meta", "push", "poll", "targets", "settings"} <= set(results)
    for phase in ("push", "poll"):
        assert results[phase]["orders"] == 3
        assert results[phase]["codes_seen"] == 3
    # The pushed codes were stored by the webhook; polling alone stored every other one.
    assert results["push"]["by_push"] >= 1
    assert results["poll"]["by_push"] == 0
    assert results["poll"]["by_poll"] == 3
    assert results["push"]["webhook_failures"] == 0
    assert "code on screen by push" in push.format_table(results)

"""The live-board benchmark stays runnable (its whole path at a tiny size, no timing
targets) and measures what it says: one row per changed-row poll, 204 unchanged."""

from __future__ import annotations

import pytest

from bench import board as bench

FIGURES = ("whole board (before)", "first render", "one changed row", "unchanged (204)")


@pytest.mark.django_db
def test_it_runs_the_board_benchmark_at_a_tiny_size():
    results = bench.run((3, 8), 2)

    assert set(results["sizes"]) == {"3", "8"}
    for row in results["sizes"].values():
        for name in FIGURES:
            assert {"median_ms", "p95_ms", "cpu_p95_ms", "bytes", "queries"} <= set(row[name])
        assert row["unchanged (204)"]["bytes"] == 0
        assert 0 < row["one changed row"]["bytes"] < row["whole board (before)"]["bytes"]
    targets = {t["target"]: t for t in results["targets"]}
    assert targets["one changed row: queries independent of size"]["met"]
    assert targets["first render: queries independent of size"]["met"]
    assert "one changed row" in bench.format_table(results)

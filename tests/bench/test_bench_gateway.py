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


def test_by_default_gunicorn_runs_as_deployed(monkeypatch):
    """Sync workers, as many as config/gunicorn.conf.py gives the machine: with threads
    (the old default, 2 x 8) SQLite's write lock and the GIL made the tail 75 times
    longer (docs/BENCHMARKS.md)."""
    import os
    import runpy
    import subprocess
    import sys
    from pathlib import Path

    env = gateway.gunicorn_environment(gateway.Options(), port=8123)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    checked = subprocess.run(
        [gunicorn, "--check-config", "-c", "config/gunicorn.conf.py"],
        cwd=gateway.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr[-500:]  # gunicorn itself takes it
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = runpy.run_path(str(gateway.BASE_DIR / "config" / "gunicorn.conf.py"))
    assert config["workers"] == min(2 * (os.cpu_count() or 1) + 1, 8)
    assert config["threads"] == 1 and config["worker_class"] == "sync"
    assert config["bind"] == ["127.0.0.1:8123"]

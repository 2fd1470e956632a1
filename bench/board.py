"""The live board at a shift's size: what a poll and a first render cost, beside the
whole-board answer every poll sent before the board sent only what changed
(docs/BENCHMARKS.md, "The live board: only what changed").

    make bench BENCH_ARGS=--board            # python -m bench --board
    python -m bench --board --help           # every knob

One run, on a throwaway SQLite database under var/bench/ (never db.sqlite3), in
process through `django.test.Client` with a logged-in member (no network), for each
board size (50 and 500 active orders by default, over three provider accounts; nine
in ten with a code and its SMS):

- whole board: the live fragment without a version, every row (`rows` = the size):
  what each poll answered before, whenever anything on the board had changed;
- first render: the board page as a member opens it (the first 100 rows, the rest
  counted and offered);
- one changed row: before each timed poll one order gets a new code (a save(), as the
  sync engine does), then the poll sends the version it had: the answer holds that row;
- unchanged: a poll with the current version (204).

Time is the server time of `Client.get` (median and p95 of --requests runs after
3 warm-ups), wall clock and this process's CPU time (on a machine shared with other
work, the CPU time is what the request costs; the wall time also holds the waits for
a core); bytes the answer's body, queries every SQL statement of one request. The
targets are judged on wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

from bench.sync import (
    BASE_DIR,
    _board_accounts,
    _board_orders,
    _counting,
    _percentile,
    _remove_db,
    _say,
    bench_environment,
    make_member,
)

PLAIN_STATIC = "django.contrib.staticfiles.storage.StaticFilesStorage"
TARGETS = {"poll_p95_ms": 20.0, "poll_bytes": 5000, "first_render_p95_ms": 150.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench --board", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--sizes", default="50,500", help="board sizes, e.g. 50,500")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per figure")
    parser.add_argument("--output", default="var/bench/board.json")
    args = parser.parse_args(argv)
    sizes = tuple(int(v) for v in args.sizes.split(",") if v)
    db_dir = BASE_DIR / "var" / "bench"
    db_dir.mkdir(parents=True, exist_ok=True)
    db_path = db_dir / f"board-{os.getpid()}.sqlite3"
    _remove_db(db_path)
    os.environ.update(bench_environment(db_path))
    os.chdir(BASE_DIR)
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    from django.conf import settings
    from django.test.utils import override_settings

    # No collectstatic for a throwaway run: static URLs without the manifest's hashes.
    plain = {**settings.STORAGES, "staticfiles": {"BACKEND": PLAIN_STATIC}}
    try:
        with override_settings(STORAGES=plain):
            results = run(sizes, args.requests)
    finally:
        _remove_db(db_path)
    results["meta"]["command"] = " ".join(["python -m bench --board", *(argv or [])])
    output = BASE_DIR / args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(format_table(results))
    print(f"\nResults written to {output.relative_to(BASE_DIR)}")
    return 0


def run(sizes: tuple[int, ...], requests: int) -> dict[str, Any]:
    """Every figure at every size; needs a configured Django with a migrated database."""
    from django.test import Client
    from django.urls import reverse

    membership = make_member("Bench live board")
    accounts = _board_accounts(membership.team)
    client = Client()
    client.force_login(membership.user)
    code = membership.team.code
    urls = {"page": reverse("board", args=[code]), "live": reverse("board_fragment", args=[code])}
    results: dict[str, Any] = {"meta": _meta(requests), "sizes": {}}
    made = 0
    for size in sorted(sizes):
        _say(f"board of {size} active orders")
        _board_orders(membership, accounts, made, size)
        made = size
        results["sizes"][str(size)] = measure(client, urls, membership.team, size, requests)
    results["targets"] = targets(results["sizes"])
    return results


def measure(client, urls: dict[str, str], team, size: int, n: int) -> dict[str, Any]:
    from orders import board as live

    whole = {"rows": str(size)}
    figures = {
        "whole board (before)": _figure(client, lambda: client.get(urls["live"], whole), n),
        "first render": _figure(client, lambda: client.get(urls["page"]), n),
    }
    changing = _Changing(team)
    figures["one changed row"] = _figure(
        client, lambda: client.get(urls["live"], {"v": changing.seen}), n, prepare=changing.next
    )
    current = {}

    def note_version():
        current["v"] = live.version(team)  # untimed: what the browser holds

    figures["unchanged (204)"] = _figure(
        client, lambda: client.get(urls["live"], current), n, status=204, prepare=note_version
    )
    return {"active_orders": size, **figures}


class _Changing:
    """Before each poll: the version the browser holds, then one order gets a new code."""

    def __init__(self, team):
        from orders.models import Order, State

        self.team = team
        # Orders with a code, so every poll reads the same (a waiting row skips the
        # query for dropped cancels): the count compares sizes, not rows.
        received = Order.objects.filter(team=team, state=State.RECEIVED)
        self.orders = list(received.order_by("?")[:50])
        self.i = 0

    def next(self) -> None:
        """Untimed: note the version, then change one order."""
        from orders import board as live

        self.seen = live.version(self.team)
        order = self.orders[self.i % len(self.orders)]
        self.i += 1
        order.last_code = f"{(self.i * 7919) % 1000000:06d}"
        order.save()


def _figure(client, request, n: int, status: int = 200, prepare=None) -> dict[str, Any]:
    """Median and p95 server time of `request` (after an untimed `prepare` each time),
    its body size and query count."""
    from django.db import connection

    prepare = prepare or (lambda: None)
    for _ in range(3):
        prepare()
        request()  # warm the session, templates and caches
    queries: list[str] = []
    prepare()
    with connection.execute_wrapper(_counting(queries)):
        response = request()
    assert response.status_code == status, (response.status_code, response.content[:500])
    timings, cpu = [], []
    for _ in range(n):
        prepare()
        started, started_cpu = time.perf_counter(), time.process_time()
        response = request()
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(_percentile(timings, 95), 2),
        "cpu_median_ms": round(statistics.median(cpu), 2),
        "cpu_p95_ms": round(_percentile(cpu, 95), 2),
        "bytes": len(response.content),
        "queries": len(queries),
        "requests": n,
    }


def targets(sizes: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets at the largest size, and the query counts across sizes."""
    largest = sizes[max(sizes, key=int)]
    poll, first = largest["one changed row"], largest["first render"]
    checks = [
        ("poll with one changed row: p95 ms", poll["p95_ms"], TARGETS["poll_p95_ms"]),
        ("poll with one changed row: bytes", poll["bytes"], TARGETS["poll_bytes"]),
        ("first render: p95 ms", first["p95_ms"], TARGETS["first_render_p95_ms"]),
    ]
    rows = [
        {
            "target": f"{name} ≤ {limit:g} at {largest['active_orders']}",
            "measured": value,
            "met": value <= limit,
        }
        for name, value, limit in checks
    ]
    for figure in ("first render", "one changed row", "unchanged (204)"):
        counts = {size: row[figure]["queries"] for size, row in sizes.items()}
        rows.append(
            {
                "target": f"{figure}: queries independent of size",
                "measured": counts,
                "met": len(set(counts.values())) == 1,
            }
        )
    return rows


def _meta(requests: int) -> dict[str, Any]:
    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "database": "SQLite (throwaway)",
        "requests": requests,
    }


def format_table(results: dict[str, Any]) -> str:
    head = f"{'orders':>6}  {'answer':<22} {'median ms':>10} {'p95 ms':>8} {'CPU p50':>8}"
    lines = [f"{head} {'CPU p95':>8} {'bytes':>10} {'queries':>8}"]
    for size, row in results["sizes"].items():
        for name, fig in row.items():
            if isinstance(fig, dict):
                lines.append(
                    f"{size:>6}  {name:<22} {fig['median_ms']:>10} {fig['p95_ms']:>8} "
                    f"{fig['cpu_median_ms']:>8} {fig['cpu_p95_ms']:>8} "
                    f"{fig['bytes']:>10,} {fig['queries']:>8}"
                )
    lines.append(f"(load average at the start: {results['meta']['load_average']})")
    lines.append("")
    for check in results["targets"]:
        lines.append(
            f"{'met' if check['met'] else 'MISSED':<7} {check['target']}: {check['measured']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

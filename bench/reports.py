"""The reports benchmark: a team's 90-day cost report at 1 M orders, on PostgreSQL.

    python -m bench --reports                       # generate (once) and measure
    python -m bench --reports --teams 2 --orders 2000 --database-url sqlite:///var/bench/r.sqlite3
    python -m bench --reports --help

The database (default postgres://postgres@127.0.0.1:5432/bench_reports) is kept
between runs: `manage.py generate_data --teams T --orders N` fills it once (about
minutes at 1 M orders; the time is reported) and does nothing when the data is
there; `--regenerate` clears and generates afresh. generate_data rolls the history
up for the cost report; a database generated before the roll-up existed is rolled up
by `manage.py rollup_costs` (its time is reported as the backfill). The load run
(`bench/load.sh`) uses the same database.

For the largest, the median and the smallest generated team (by orders), it
times `--runs` times, after warm-ups, side by side in one process:

- `service`: `reports.costs.cost_report(team, since=today-89, until=today)`, the
  function the page calls: rolled-up days from the daily roll-up (reports.rollup),
  today and any day not rolled up from raw rows;
- `raw`: the same with `raw=True`: every day aggregated from raw rows in the
  database (the report before the roll-up); both give identical tables (checked);
- `view`: GET /teams/<code>/reports/?period=custom&since=&until= through
  django.test.Client as the team's owner (the whole page, template included);
- `naive`: "the obvious way": every ledger entry and order of the period loaded
  (select_related) and summed, grouped, converted and ranked in Python, for the
  same totals and tables.

Each gives p50/p95 ms and its number of SQL statements (counted with an execute
wrapper; the same at every team size means the count is constant), and the
slowest statements of one service run (what indexes would help).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from bench import sync as base

BASE_DIR = base.BASE_DIR
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_reports"
# Of every generated user (the load run logs in with it); benchmark data only.
PASSWORD = "bench-generated-password"  # noqa: S105


@dataclass
class Options:
    teams: int = 100
    orders: int = 1_000_000
    days: int = 90
    runs: int = 20
    naive_runs: int = 5
    database_url: str = DEFAULT_DATABASE_URL
    regenerate: bool = False
    output: str = "var/bench-reports.json"


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench --reports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = Options()
    parser.add_argument("--teams", type=int, default=d.teams, help=f"generated teams ({d.teams})")
    parser.add_argument("--orders", type=int, default=d.orders, help=f"orders ({d.orders})")
    parser.add_argument("--days", type=int, default=d.days, help=f"report period ({d.days})")
    parser.add_argument("--runs", type=int, default=d.runs, help=f"timed runs ({d.runs})")
    parser.add_argument(
        "--naive-runs", type=int, default=d.naive_runs, help=f"timed naive runs ({d.naive_runs})"
    )
    parser.add_argument("--database-url", default=d.database_url, help="kept between runs")
    parser.add_argument("--regenerate", action="store_true", help="clear and generate afresh")
    parser.add_argument("--output", default=d.output, help="results JSON")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.naive_runs < 1 or args.days < 1:
        parser.error("runs and days must be at least 1")
    return Options(**vars(args))


def environment(options: Options) -> dict[str, str]:
    from base64 import urlsafe_b64encode

    key_file = BASE_DIR / "var" / "bench" / "reports-field-key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():  # the kept database's encrypted keys stay readable
        key_file.write_text(urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SMSDESK_ENV_FILE": "",
        "DATABASE_URL": options.database_url,
        "REDIS_URL": "",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": key_file.read_text().strip(),
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
    }


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database when missing (kept otherwise)."""
    if not url.startswith("postgres"):
        return
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{name}"')


def main(argv: list[str]) -> int:
    options = parse(argv)
    os.environ.update(environment(options))
    os.chdir(BASE_DIR)
    ensure_database(options.database_url)
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off: the manifest
    generated = generate(options)
    backfilled = backfill()
    results = run(options, command=" ".join(["python -m bench --reports", *argv]))
    results["generate"] = generated
    results["backfill"] = backfilled
    output = BASE_DIR / options.output
    base.write_results(results, output)
    print(format_table(results))
    print(f"\nResults written to {output}")
    return 0


def generate(options: Options) -> dict[str, Any]:
    """Run generate_data (a no-op when the data is there); its time and answer."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    args = ["--teams", str(options.teams), "--orders", str(options.orders)]
    args += ["--password", PASSWORD]
    if options.regenerate:
        args.append("--clear")
    base._say(f"generate_data {' '.join(args[:4])}")
    started, load = time.monotonic(), os.getloadavg()
    call_command("generate_data", *args, stdout=out)
    text = out.getvalue().strip().splitlines()
    return {
        "command": "python manage.py generate_data " + " ".join(args),
        "seconds": round(time.monotonic() - started, 1),
        "answer": " ".join(line for line in text if not line.startswith("[")),
        "load_average_at_start": [round(v, 2) for v in load],
        "nproc": os.cpu_count(),
    }


def backfill() -> dict[str, Any]:
    """`manage.py rollup_costs` when the generated teams have no roll-up yet (a database
    generated before it existed); otherwise the schedule's work (the days closed since
    the last run: no task cluster runs here)."""
    from io import StringIO

    from django.core.management import call_command

    from accounts.models import Team
    from reports.management.commands.generate_data import TEAM_PREFIX
    from reports.models import DailyRollup

    teams = Team.objects.filter(name__startswith=TEAM_PREFIX)
    if DailyRollup.objects.filter(team__in=teams).exists():
        from reports import rollup

        done = rollup.rollup_recent()
        return {"command": "", "answer": f"rolled up already; {done['days']} days since"}
    base._say("rollup_costs (backfill)")
    out, load = StringIO(), os.getloadavg()
    started = time.monotonic()
    call_command("rollup_costs", stdout=out)
    return {
        "command": "python manage.py rollup_costs",
        "seconds": round(time.monotonic() - started, 1),
        "answer": out.getvalue().strip(),
        "load_average_at_start": [round(v, 2) for v in load],
    }


# --- measuring ------------------------------------------------------------------------------


class Statements:
    """Every SQL statement run inside the block, with its time (ms)."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seen.append(((time.perf_counter() - started) * 1000, sql))

    def __enter__(self) -> Statements:
        from django.db import connection

        self._cm = connection.execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._cm.__exit__(*exc)


def timed(call, runs: int, warm: int = 2) -> dict[str, Any]:
    for _ in range(warm):
        call()
    with Statements() as one:
        call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "runs": runs,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(base._percentile(times, 95), 1),
        "max_ms": round(max(times), 1),
        "queries": len(one.seen),
        "slowest": [
            {"ms": round(ms, 1), "sql": sql[:300]} for ms, sql in sorted(one.seen, reverse=True)[:3]
        ],
    }


def pick_teams() -> dict[str, Any]:
    from django.db.models import Count

    from accounts.models import Team
    from reports.management.commands.generate_data import TEAM_PREFIX

    teams = list(
        Team.objects.filter(name__startswith=TEAM_PREFIX)
        .annotate(n=Count("orders"))
        .order_by("-n", "pk")
    )
    if not teams:
        raise SystemExit("no generated teams: run generate_data first")
    return {"largest": teams[0], "median": teams[len(teams) // 2], "smallest": teams[-1]}


def run(options: Options, command: str) -> dict[str, Any]:
    from datetime import timedelta

    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from accounts.models import Membership
    from accounts.roles import Role
    from orders.models import Order
    from reports import costs
    from reports.models import DailyRollup

    started, load = time.time(), os.getloadavg()
    until = timezone.localdate()
    since = until - timedelta(days=options.days - 1)
    start, end = costs.period_bounds(since, until)
    results: dict[str, Any] = {"teams": {}}
    for label, team in pick_teams().items():
        owner = Membership.objects.filter(team=team, role=Role.OWNER).first()
        client = Client()
        client.force_login(owner.user)
        url = reverse("reports", args=[team.code])
        query = {"period": "custom", "since": since.isoformat(), "until": until.isoformat()}

        def view(client=client, url=url, query=query):
            response = client.get(url, query)
            assert response.status_code == 200, response.status_code
            return response

        base._say(f"{label} team: service, raw, view, naive")
        row = {
            "team": team.name,
            "orders_total": Order.objects.filter(team=team).count(),
            "orders_in_period": Order.objects.filter(
                team=team, created__gte=start, created__lt=end
            ).count(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
            "rolled_up_days": DailyRollup.objects.filter(
                team=team, day__gte=since, day__lte=until
            ).count(),
            "identical": same_report(team, since, until),
            "service": timed(
                lambda team=team: costs.cost_report(team, since=since, until=until), options.runs
            ),
            "raw": timed(
                lambda team=team: costs.cost_report(team, since=since, until=until, raw=True),
                options.runs,
            ),
            "view": timed(view, options.runs),
            "naive": timed(
                lambda team=team: naive_report(team, since, until), options.naive_runs, warm=1
            ),
        }
        row["view"]["bytes"] = len(view().content)
        row["naive_over_service"] = round(row["naive"]["p50_ms"] / row["service"]["p50_ms"], 1)
        row["raw_over_service"] = round(row["raw"]["p50_ms"] / row["service"]["p50_ms"], 1)
        results["teams"][label] = row
    results["meta"] = meta(command, options, started, load)
    results["targets"] = targets(results)
    return results


def same_report(team, since, until) -> bool:
    """The report from the roll-up has the raw report's tables, cell by cell."""
    from reports import costs

    for originals in (False, True):
        rolled = costs.cost_report(team, since=since, until=until, originals=originals)
        raw = costs.cost_report(team, since=since, until=until, originals=originals, raw=True)
        if [t.rows for t in rolled.tables.values()] != [t.rows for t in raw.tables.values()]:
            return False
        if [t.cells() for t in rolled.tables.values()] != [t.cells() for t in raw.tables.values()]:
            return False
    return True


def naive_report(team, since, until) -> dict[str, Any]:
    """The same report the obvious way: rows loaded, everything summed in Python."""
    from decimal import Decimal

    from orders.models import Order
    from reports import costs
    from reports.fx import MissingRate, Rates
    from reports.models import LedgerEntry

    start, end = costs.period_bounds(since, until)
    to = team.reporting_currency
    entries = list(
        LedgerEntry.objects.filter(team=team, created__gte=start, created__lt=end).select_related(
            "account", "order", "member"
        )
    )
    rates = Rates.load({e.currency for e in entries} | {to}, until)
    spend: dict[str, dict] = {name: defaultdict(Decimal) for name in costs.BREAKDOWNS}
    spend["day"] = defaultdict(Decimal)
    totals = {"charges": Decimal(0), "refunds": Decimal(0)}
    for entry in entries:
        day = entry.created.date()
        try:
            value = rates.convert(entry.amount, entry.currency, to, day)
        except MissingRate:
            continue
        totals["charges" if value > 0 else "refunds"] += value
        spend["provider"][entry.account.label] += value
        spend["service"][entry.order.service_name if entry.order else "Rentals"] += value
        spend["country"][entry.order.country_name if entry.order else "Rentals"] += value
        spend["member"][entry.member.username if entry.member else "(no member)"] += value
        spend["day"][day] += value
    outcomes: dict[str, dict] = {name: defaultdict(lambda: [0, 0]) for name in costs.OUTCOMES}
    waits: dict[str, dict] = {name: defaultdict(list) for name in costs.OUTCOMES}
    orders = Order.objects.filter(team=team, created__gte=start, created__lt=end).select_related(
        "account"
    )
    for order in orders:
        keys = {
            "provider": order.account.label,
            "service": order.service_name,
            "country": order.country_name,
        }
        for name, key in keys.items():
            if order.code_received_at:
                outcomes[name][key][0] += 1
                waits[name][key].append((order.code_received_at - order.created).total_seconds())
            elif order.state in costs.FAILED_STATES:
                outcomes[name][key][1] += 1
    ranked = {
        name: {key: _nearest(sorted(values), (50, 90)) for key, values in groups.items()}
        for name, groups in waits.items()
    }
    return {"totals": totals, "spend": spend, "outcomes": outcomes, "waits": ranked}


def _nearest(values: list[float], ps) -> list[float | None]:
    return [base._percentile(values, p) for p in ps]


def meta(command: str, options: Options, started: float, load) -> dict[str, Any]:
    import django
    from django.db import connection

    version = ""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
    return {
        "command": command,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_seconds": round(time.time() - started, 1),
        "cpu": base._cpu_model(),
        "nproc": os.cpu_count(),
        "database": f"{connection.vendor} {version}".strip(),
        "django": django.get_version(),
        "load_average_at_start": [round(v, 2) for v in load],
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "options": asdict(options),
    }


def targets(results: dict) -> list[dict[str, Any]]:
    teams = results["teams"]
    largest = teams["largest"]
    counts = {label: row["service"]["queries"] for label, row in teams.items()}
    view_counts = {label: row["view"]["queries"] for label, row in teams.items()}
    return [
        {
            "target": "largest team: 90-day report p95 (service)",
            "value": largest["service"]["p95_ms"],
            "bound": "<= 300 ms",
            "met": largest["service"]["p95_ms"] <= 300,
        },
        {
            "target": "largest team: 90-day report page p95 (view)",
            "value": largest["view"]["p95_ms"],
            "bound": "<= 300 ms",
            "met": largest["view"]["p95_ms"] <= 300,
        },
        {
            "target": "roll-up report identical to the raw one (every team measured)",
            "value": {label: row["identical"] for label, row in teams.items()},
            "bound": "all true",
            "met": all(row["identical"] for row in teams.values()),
        },
        {
            "target": "queries independent of team size (service, view)",
            "value": [counts, view_counts],
            "bound": "equal",
            "met": len(set(counts.values())) == 1 and len(set(view_counts.values())) == 1,
        },
    ]


def format_table(results: dict) -> str:
    meta = results["meta"]
    gen = results.get("generate", {})
    lines = [
        f"smsdesk reports benchmark - nproc {meta['nproc']}, {meta['database']}, "
        f"load {meta['load_average_at_start'][0]} at start",
        f"generate_data: {gen.get('answer', '')} ({gen.get('seconds')} s)",
        f"backfill: {results.get('backfill', {}).get('answer', '')}",
        "",
        f"{'team':<9} {'orders':>8} {'in period':>9} {'way':<8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'queries':>7}",
    ]
    for label, row in results["teams"].items():
        for way in ("service", "raw", "view", "naive"):
            r = row[way]
            lines.append(
                f"{label:<9} {row['orders_total']:>8} {row['orders_in_period']:>9} {way:<8} "
                f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['queries']:>7}"
            )
        lines.append(
            f"{'':<9} raw / service (p50): {row['raw_over_service']}x, naive / service: "
            f"{row['naive_over_service']}x; {row['rolled_up_days']} days rolled up, "
            f"identical: {row['identical']}"
        )
    lines += ["", "targets:"]
    for row in results["targets"]:
        mark = "met " if row["met"] else "MISS"
        lines.append(f"  [{mark}] {row['target']}: {row['value']} (target {row['bound']})")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The scale benchmark: hundreds of provider accounts on one task cluster (issue 13).

    python -m bench --scale                         # 50, 100 and 200 accounts (about 15 min)
    python -m bench --scale --sizes 200 --engines engine
    python -m bench --scale --help                  # every knob

Needs PostgreSQL and Redis (the production setup): `--database-url` (default
postgres://postgres@127.0.0.1:5432/bench_scale, dropped and created afresh;
`--keep-db` keeps it) and `--redis-url` (default redis://127.0.0.1:6379/12, flushed
before each phase). It starts its own sandbox provider (a subprocess, real HTTP)
and, for each phase, one real `manage.py qcluster` with `--workers` workers
(Redis broker, settings `bench.scale_settings`: production settings plus a probe
that logs every finished task's start and stop).

For each size N (accounts; N/4 teams x the four provider kinds):

1. setup: N accounts per engine, each on a fresh sandbox API key (its own rate
   limit), `--orders-per-account` orders each placed through the real
   `order_place` (sandbox limits off while placing, budgets reset afterwards);
2. engine phase: the cluster runs today's sync engine (the dispatcher, one short
   `sync.tasks.cycles` task per few due accounts); the benchmark marks the accounts due and
   wakes the dispatcher, as placements do, and enqueues the watchdog once a minute
   (as the schedule would);
3. legacy phase: a fresh cluster runs the one-poller-per-account engine smsdesk had
   before (bench/scale_legacy.py, reconstructed from git history): one poller
   task per placement, each holding a worker for up to SYNC_RUN_SECONDS, and its
   watchdog once a minute;
4. in each phase the sandbox delivers codes at random times (`--delivery-min` to
   `--delivery-max` s after the phase starts, `--no-code-share` never); latency is
   from the sandbox's `delivered_at` to the moment the benchmark's reader sees the
   OrderMessage row (it polls every 50 ms); requests and 429s come from the
   sandbox's per-key counters over the window (delivery-max + tail); worker time
   from the probe, clipped to the window.

Only the standard library is imported at module level: `main()` sets the
environment before Django reads its settings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import sync as base

BASE_DIR = base.BASE_DIR
KINDS = base.ALL_KINDS
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_scale"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
WATCHDOG_EVERY = 60.0  # seconds, as the schedule
SEEN_POLL = 0.05  # seconds between the reader's looks for new codes
ENGINE_TASKS = {"engine": "sync.tasks", "legacy": "bench.scale_legacy"}
# The tasks that poll providers (the rest: the dispatcher, the watchdog).
POLLING_TASKS = {"sync.tasks.cycles", "sync.tasks.cycle", "bench.scale_legacy.poll_account"}


@dataclass
class Options:
    sizes: tuple[int, ...] = (50, 100, 200)
    engines: tuple[str, ...] = ("engine", "legacy")
    orders_per_account: int = 5
    workers: int = 6
    sync_run_seconds: int = 50
    delivery_min: float = 10.0
    delivery_max: float = 40.0
    tail: float = 5.0
    drain: float = 60.0
    no_code_share: float = 0.1
    place_threads: int = 3
    seed: int = 1
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    output: str = "var/bench-scale.json"

    @property
    def window(self) -> float:
        return self.delivery_max + self.tail


ARGUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("--sizes", {"type": str, "help": "accounts per engine, comma-separated"}),
    ("--engines", {"type": str, "help": "engine (today's), legacy (one poller per account)"}),
    ("--orders-per-account", {"type": int, "help": "active orders per account"}),
    ("--workers", {"type": int, "help": "the cluster's workers (Q_WORKERS)"}),
    ("--sync-run-seconds", {"type": int, "help": "SYNC_RUN_SECONDS of the cluster"}),
    ("--delivery-min", {"type": float, "help": "earliest code, s after the phase starts"}),
    ("--delivery-max", {"type": float, "help": "latest code, s after the phase starts"}),
    ("--tail", {"type": float, "help": "seconds counted after the last delivery"}),
    ("--drain", {"type": float, "help": "at most this long more to see late codes"}),
    ("--no-code-share", {"type": float, "help": "share of orders that never get a code"}),
    ("--place-threads", {"type": int, "help": "threads placing orders during setup"}),
    ("--seed", {"type": int, "help": "seed for delivery times"}),
    ("--database-url", {"type": str, "help": "PostgreSQL database (dropped and created)"}),
    ("--redis-url", {"type": str, "help": "Redis database for broker and cache (flushed)"}),
    ("--output", {"type": str, "help": "results JSON, relative to the project"}),
]


def parse(argv: list[str]) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m bench --scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Options()
    for flag, spec in ARGUMENTS:
        name = flag[2:].replace("-", "_")
        default = getattr(defaults, name)
        if isinstance(default, tuple):
            default = ",".join(str(v) for v in default)
        parser.add_argument(
            flag, default=default, **{**spec, "help": f"{spec['help']} ({default})"}
        )
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    values = {k: v for k, v in vars(args).items() if k in Options.__dataclass_fields__}
    values["sizes"] = tuple(int(v) for v in str(values["sizes"]).split(",") if v)
    values["engines"] = tuple(v for v in str(values["engines"]).split(",") if v)
    unknown = set(values["engines"]) - set(ENGINE_TASKS)
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    if any(size < 1 for size in values["sizes"]):
        parser.error("sizes must be positive")
    return Options(**values), args


def environment(options: Options, task_log: Path) -> dict[str, str]:
    from base64 import urlsafe_b64encode

    return {
        "DJANGO_SETTINGS_MODULE": "bench.scale_settings",
        "SMSDESK_ENV_FILE": "",
        "DATABASE_URL": options.database_url,
        "REDIS_URL": options.redis_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SANDBOX_ENABLED": "true",
        "ALLOWED_PROVIDER_HOSTS": "127.0.0.1,localhost",
        "Q_SYNC": "false",
        "Q_WORKERS": str(options.workers),
        "Q_SCHEDULER": "false",  # the benchmark enqueues the watchdog itself, once a minute
        "SYNC_RUN_SECONDS": str(options.sync_run_seconds),
        "LOG_LEVEL": "WARNING",
        "BENCH_TASK_LOG": str(task_log),
        "PYTHONUNBUFFERED": "1",
    }


def recreate_database(url: str) -> None:
    """Drop and create the benchmark's database (never a database it did not name)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or name in {"postgres", "template0", "template1"}:
        raise SystemExit(f"refusing to recreate database {name!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def main(argv: list[str]) -> int:
    options, args = parse(argv)
    run_dir = BASE_DIR / "var" / "bench" / f"scale-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(environment(options, run_dir / "tasks.jsonl"))
    os.chdir(BASE_DIR)
    base._say(f"recreating {urlsplit(options.database_url).path.lstrip('/')}")
    recreate_database(options.database_url)
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    try:
        results = run(options, run_dir, command=" ".join(["python -m bench --scale", *argv]))
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            drop_database(options.database_url)
    output = BASE_DIR / options.output
    base.write_results(results, output)
    print(format_table(results))
    print(f"\nResults written to {output}")
    return 0


# --- setup ----------------------------------------------------------------------------------


@dataclass
class Fleet:
    """One engine's teams and accounts (grown as sizes grow: the first N are a size)."""

    name: str
    members: list[Any] = field(default_factory=list)  # one Membership per team
    accounts: list[Any] = field(default_factory=list)  # team by team, the four kinds each
    choices: dict[int, list] = field(default_factory=dict)  # account pk -> order choices


def accounts_layout(n: int) -> list[tuple[int, str]]:
    """(team index, kind) of the first n accounts: whole teams of the four kinds."""
    return [(i // len(KINDS), KINDS[i % len(KINDS)]) for i in range(n)]


def grow(fleet: Fleet, n: int, sandbox) -> None:
    """Make the fleet's first n accounts exist (team, account; a catalogue per kind)."""
    from providers.models import ProviderAccount
    from providers.services import catalog_sync

    for index, (team_no, kind) in enumerate(accounts_layout(n)):
        if index < len(fleet.accounts):
            continue
        if team_no == len(fleet.members):
            fleet.members.append(base.make_member(f"Scale {fleet.name} {team_no + 1:03d}"))
        key = f"sbx_scale_{fleet.name}_{index}_setup"
        sandbox.control(
            "POST",
            "/accounts",
            {"protocol": kind, "api_key": key, "balance": _balance(kind)},
        )
        account = ProviderAccount(
            team=fleet.members[team_no].team,
            kind=kind,
            label=f"{kind} {fleet.name} {team_no + 1}",
            base_url=sandbox.url(kind),
            currency="IDR" if kind == "smscode" else "USD",
            rate_limit_requests=base.SETUP_RATE_LIMIT,
        )
        account.set_api_key(key)
        account.save()
        if not any(other.kind == kind for other in fleet.accounts):
            # One catalogue per kind: the sync cycles never read it, and placements
            # take the first account's offers (choices_for).
            catalog_sync(account=account)
        fleet.accounts.append(account)


def _balance(kind: str) -> str:
    return base.BIG_BALANCE.get(kind, base.DEFAULT_BIG_BALANCE)


def api_key(fleet: Fleet, index: int, size: int) -> str:
    return f"sbx_scale_{fleet.name}_{index}_{size}"


def prepare(fleet: Fleet, size: int, options: Options, sandbox) -> list[tuple[int, Any]]:
    """Fresh sandbox keys for the fleet's first `size` accounts, the others disabled, and
    the orders placed; returns (account index, order) in placement order."""
    from providers.models import ProviderAccount

    active = fleet.accounts[:size]
    ProviderAccount.objects.filter(pk__in=[a.pk for a in fleet.accounts[size:]]).update(
        enabled=False, sync_due_at=None
    )
    for index, account in enumerate(active):
        key = api_key(fleet, index, size)
        sandbox.control(
            "POST",
            "/accounts",
            {"protocol": account.kind, "api_key": key, "balance": _balance(account.kind)},
        )
        account.set_api_key(key)
        account.enabled = True
        account.rate_limit_requests = base.SETUP_RATE_LIMIT
        account.save()
    for account in active:
        if account.pk not in fleet.choices:
            fleet.choices[account.pk] = choices_for(fleet, account)
    placed: dict[int, list] = {}

    def place(index: int) -> None:
        from django.db import connections

        from orders import services

        account = active[index]
        member = fleet.members[index // len(KINDS)]
        choices = fleet.choices[account.pk]
        try:
            placed[index] = [
                order
                for i in range(options.orders_per_account)
                for order in services.order_place(
                    membership=member,
                    choices=[choices[(index + i) % len(choices)]],
                    options=services.Options(),
                    idempotency_key=f"scale-{fleet.name}-{size}-{index}-{i}",
                )
            ]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=max(1, options.place_threads)) as pool:
        list(pool.map(place, range(size)))
    ProviderAccount.objects.filter(pk__in=[a.pk for a in active]).update(
        rate_limit_requests=None, sync_due_at=None, poller_lease_owner="", poller_lease_until=None
    )
    # Round robin, as members of many teams place at once.
    return [
        (index, placed[index][i])
        for i in range(options.orders_per_account)
        for index in range(size)
        if i < len(placed[index])
    ]


def choices_for(fleet: Fleet, account) -> list:
    """The account's order choices. Every account of a kind serves the same sandbox
    catalogue, so the first one's choices are looked up (quotes.offers_for) and the
    others get the same offers with their own account."""
    from dataclasses import replace

    for other in fleet.accounts:
        if other.kind == account.kind and other.pk in fleet.choices:
            return [replace(choice, account=account) for choice in fleet.choices[other.pk]]
    return base._choices(account.team, account)


def retire(fleet: Fleet, orders: list[tuple[int, Any]]) -> None:
    """After a phase: the portal stops following that phase's orders and accounts."""
    from orders.models import Order, State
    from providers.models import ProviderAccount

    Order.objects.filter(pk__in=[order.pk for _, order in orders]).update(state=State.COMPLETED)
    ProviderAccount.objects.filter(pk__in=[a.pk for a in fleet.accounts]).update(
        enabled=False, sync_due_at=None, poller_lease_owner="", poller_lease_until=None
    )


# --- one phase --------------------------------------------------------------------------------


class Seen:
    """When each code became readable in the portal: a reader polls new OrderMessage rows."""

    def __init__(self) -> None:
        self.at: dict[tuple[int, str], float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="scale-seen", daemon=True)

    def start(self) -> Seen:
        from django.db.models import Max

        from orders.models import OrderMessage

        self.last = OrderMessage.objects.aggregate(m=Max("pk"))["m"] or 0
        self.thread.start()
        return self

    def _watch(self) -> None:
        from django.db import connections

        from orders.models import OrderMessage

        try:
            while not self.stop.is_set():
                rows = list(
                    OrderMessage.objects.filter(pk__gt=self.last)
                    .order_by("pk")
                    .values_list("pk", "order__account_id", "upstream_order_id")
                )
                now = time.time()
                for pk, account_id, upstream in rows:
                    self.at.setdefault((account_id, upstream), now)
                    self.last = pk
                self.stop.wait(SEEN_POLL)
        finally:
            connections.close_all()

    def close(self) -> dict[tuple[int, str], float]:
        self.stop.set()
        self.thread.join(timeout=10)
        return dict(self.at)


class Cluster:
    """One `manage.py qcluster` in its own process group (ours to stop)."""

    def __init__(self, log: Path, env: dict[str, str]) -> None:
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def read_tasks(path: Path, end: float | None = None) -> list[dict]:
    """The probe's tasks (a task without its stop line ends at `end`, now by default)."""
    from bench.scale_probe import pair_events

    if not path.exists():
        return []
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return pair_events(events, time.time() if end is None else end)


def wait_for_cluster(path: Path, cluster: Cluster, timeout: float = 60) -> None:
    from django_q.tasks import async_task

    async_task("bench.scale_probe.ping", save=False)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(t.get("result") == "pong" for t in read_tasks(path)):
            return
        if cluster.process.poll() is not None:
            raise RuntimeError(f"the cluster exited: {cluster.log.read_text()[-2000:]}")
        time.sleep(0.2)
    raise RuntimeError("the cluster ran no task within a minute")


def kick(engine_name: str, fleet: Fleet, size: int, orders: list[tuple[int, Any]]) -> None:
    """What the placements would have done with a running cluster."""
    from django.utils import timezone

    from providers.models import ProviderAccount

    active = fleet.accounts[:size]
    if engine_name == "engine":
        from django_q.tasks import async_task

        from sync import engine

        ProviderAccount.objects.filter(pk__in=[a.pk for a in active]).update(
            sync_due_at=timezone.now()
        )
        async_task(
            "sync.tasks.dispatch", group="sync", q_options={"timeout": engine._dispatch_timeout()}
        )
    else:
        from bench import scale_legacy

        for index, _order in orders:  # one start_poller per placement, as the old services did
            scale_legacy.ensure_poller(active[index].pk)


def enqueue_watchdog(engine_name: str) -> None:
    from django_q.tasks import async_task

    async_task(f"{ENGINE_TASKS[engine_name]}.watchdog", group="sync", save=False)


def run_phase(
    engine_name: str, fleet: Fleet, size: int, orders, options: Options, sandbox, run_dir: Path
) -> dict[str, Any]:
    import redis

    from providers.models import RateCounter

    task_log = run_dir / f"tasks-{engine_name}-{size}.jsonl"
    task_log.unlink(missing_ok=True)
    redis.Redis.from_url(options.redis_url).flushdb()  # empty queue, cache and budgets
    RateCounter.objects.all().delete()
    sandbox.control("POST", "/config", {"rate_limits_enabled": True})
    env = {
        **os.environ,
        "BENCH_TASK_LOG": str(task_log),
        "BENCH_SYNC_AUTOSTART": "true" if engine_name == "engine" else "false",
    }
    load_start = os.getloadavg()
    cluster = Cluster(run_dir / f"cluster-{engine_name}-{size}.log", env)
    try:
        wait_for_cluster(task_log, cluster)
        seen = Seen().start()
        before = sandbox.control("GET", "/stats")["requests"]
        start = time.time()
        kick(engine_name, fleet, size, orders)
        plan = plan_deliveries(orders, fleet, options, start, options.seed + size)
        stop = threading.Event()
        delivering = threading.Thread(
            target=base.deliver, args=(sandbox.deliverer(), plan, stop), daemon=True
        )
        delivering.start()
        next_watchdog = start + WATCHDOG_EVERY
        end = start + options.window
        while time.time() < end:
            if time.time() >= next_watchdog:
                enqueue_watchdog(engine_name)
                next_watchdog += WATCHDOG_EVERY
            time.sleep(0.2)
        after = sandbox.control("GET", "/stats")["requests"]
        window = time.time() - start
        expected = {(fleet.accounts[d.index].pk, d.order_id) for d in plan}
        deadline = time.time() + options.drain
        while time.time() < deadline and len(expected - seen.at.keys()) > 0:
            if time.time() >= next_watchdog:
                enqueue_watchdog(engine_name)
                next_watchdog += WATCHDOG_EVERY
            time.sleep(0.2)
        drained = time.time() - start - window
        stop.set()
        delivering.join(timeout=10)
        at = seen.close()
        load_end = os.getloadavg()
        tasks = read_tasks(task_log)  # before the stop: tasks running now end here
    finally:
        cluster.stop()
    upstream = {}
    for index, account in enumerate(fleet.accounts[:size]):
        key = api_key(fleet, index, size)
        upstream[index] = sandbox.control("GET", "/orders", protocol=account.kind, api_key=key)
    return phase_figures(
        fleet=fleet,
        size=size,
        before=before,
        after=after,
        start=start,
        window=window,
        upstream=upstream,
        seen=at,
        tasks=tasks,
        extra={
            "drain_seconds": round(drained, 1),
            "load_average_at_start": [round(v, 2) for v in load_start],
            "load_average_at_end": [round(v, 2) for v in load_end],
            "nproc": os.cpu_count(),
        },
    )


@dataclass
class Delivery:
    at: float
    protocol: str
    order_id: str
    index: int  # the account's index in its fleet


def plan_deliveries(orders, fleet: Fleet, options: Options, start: float, seed: int) -> list:
    rng = random.Random(seed)
    plan = []
    for index, order in orders:
        if rng.random() < options.no_code_share:
            continue
        delay = rng.uniform(options.delivery_min, options.delivery_max)
        plan.append(Delivery(start + delay, fleet.accounts[index].kind, order.upstream_id, index))
    return sorted(plan, key=lambda d: d.at)


# --- figures ------------------------------------------------------------------------------------


def busy_seconds(tasks: list[dict], start: float, end: float) -> dict[str, float]:
    """Worker seconds each task function spent inside [start, end] (intervals clipped)."""
    spent: dict[str, float] = defaultdict(float)
    for task in tasks:
        if task.get("started") is None or task.get("stopped") is None:
            continue
        overlap = min(task["stopped"], end) - max(task["started"], start)
        if overlap > 0:
            spent[task["func"]] += overlap
    return dict(spent)


def share_of_limit(requests: int, kind: str, window: float) -> float:
    """Requests over the window as a share of the provider's limit over the same time."""
    per_minute = base.SANDBOX_LIMIT_PER_MINUTE[kind]
    return requests / (per_minute * window / 60)


def phase_figures(*, fleet, size, before, after, start, window, upstream, seen, tasks, extra):
    kinds: dict[str, dict[str, Any]] = {}
    for index, account in enumerate(fleet.accounts[:size]):
        key = api_key(fleet, index, size)
        requests, limited, endpoints = base._request_delta(before, after, account.kind, key)
        row = kinds.setdefault(
            account.kind,
            {"accounts": 0, "latencies": [], "requests": [], "rate_limited": 0, "shares": []},
        )
        row["accounts"] += 1
        row["requests"].append(requests)
        row["rate_limited"] += limited
        share = share_of_limit(requests, account.kind, window)
        row["shares"].append(share)
        if share >= max(row["shares"]):  # what the busiest account spent its requests on
            row["busiest_endpoints"] = endpoints
        for order in upstream[index]:
            if order.get("delivered_at") is None:
                continue
            arrived = seen.get((account.pk, order["order_id"]))
            row["latencies"].append(
                math.inf if arrived is None else arrived - order["delivered_at"]
            )
    figures: dict[str, Any] = {}
    for kind, row in kinds.items():
        latencies = row["latencies"]
        figures[kind] = {
            "accounts": row["accounts"],
            "codes_delivered": len(latencies),
            "codes_seen": sum(1 for v in latencies if v != math.inf),
            "latency_p50": base._percentile(latencies, 50),
            "latency_p95": base._percentile(latencies, 95),
            "latency_max": max(latencies) if latencies else None,
            "rate_limited": row["rate_limited"],
            "requests": sum(row["requests"]),
            "limit_share_median": round(statistics.median(row["shares"]), 4),
            "limit_share_max": round(max(row["shares"]), 4),
            "busiest_account_endpoints": row.get("busiest_endpoints"),
        }
    spent = busy_seconds(tasks, start, start + window)
    minutes = window / 60
    lost = sum(1 for t in tasks if "another poller holds the lease" in t.get("result", ""))
    return {
        "kinds": figures,
        "window_seconds": round(window, 2),
        "worker_seconds": {func: round(s, 1) for func, s in sorted(spent.items())},
        "worker_seconds_per_account_per_minute": round(sum(spent.values()) / size / minutes, 3),
        "polling_worker_seconds_per_account_per_minute": round(
            sum(s for func, s in spent.items() if func in POLLING_TASKS) / size / minutes, 3
        ),
        "tasks": len(tasks),
        "tasks_by_func": _count_by(tasks),
        "pollers_refused_by_lease": lost,
        **extra,
    }


def _count_by(tasks: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for task in tasks:
        counts[task["func"]] += 1
    return dict(counts)


# --- the run ----------------------------------------------------------------------------------


def run(options: Options, run_dir: Path, command: str) -> dict[str, Any]:
    from django.test.utils import override_settings

    started, load = time.time(), os.getloadavg()
    fleets = {name: Fleet(name) for name in options.engines}
    results: dict[str, Any] = {"sizes": {}}
    sandbox_options = base.Options(time_scale=1.0, seed=options.seed)
    with override_settings(SYNC_AUTOSTART=False), base.sandbox_running(sandbox_options) as sandbox:
        for size in sorted(options.sizes):
            results["sizes"][str(size)] = {}
            for name, fleet in fleets.items():
                sandbox.control("POST", "/config", {"rate_limits_enabled": False})
                t0 = time.time()
                base._say(f"{size} accounts, {name}: accounts and catalogs")
                grow(fleet, size, sandbox)
                t1 = time.time()
                base._say(
                    f"{size} accounts, {name}: placing {size * options.orders_per_account} orders"
                )
                orders = prepare(fleet, size, options, sandbox)
                t2 = time.time()
                base._say(f"{size} accounts, {name}: phase ({options.window:.0f} s + drain)")
                figures = run_phase(name, fleet, size, orders, options, sandbox, run_dir)
                figures["setup_seconds"] = {
                    "accounts": round(t1 - t0, 1),
                    "orders": round(t2 - t1, 1),
                }
                figures["orders"] = len(orders)
                results["sizes"][str(size)][name] = figures
                retire(fleet, orders)
    results["meta"] = meta(command, options, started, load)
    results["comparison"] = compare(results)
    results["targets"] = targets(results)
    return results


def meta(command: str, options: Options, started: float, load) -> dict[str, Any]:
    import django
    import redis
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    info = redis.Redis.from_url(options.redis_url).info("server")
    return {
        "command": command,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_seconds": round(time.time() - started, 1),
        "cpu": base._cpu_model(),
        "nproc": os.cpu_count(),
        "ram_gb": base._ram_gb(),
        "python": sys.version.split()[0],
        "django": django.get_version(),
        "postgresql": pg,
        "redis": info.get("redis_version"),
        "load_average_at_start": [round(v, 2) for v in load],
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "options": {**asdict(options), "window_seconds": options.window},
    }


def compare(results: dict) -> dict[str, Any]:
    """Legacy over engine, per size: p95 latency and worker time."""
    out = {}
    for size, phases in results["sizes"].items():
        if not {"engine", "legacy"} <= phases.keys():
            continue
        new, old = phases["engine"], phases["legacy"]
        row = {
            "worker_seconds_ratio": _ratio(
                old["worker_seconds_per_account_per_minute"],
                new["worker_seconds_per_account_per_minute"],
            )
        }
        for kind in new["kinds"]:
            row[kind] = {
                "p95": [new["kinds"][kind]["latency_p95"], old["kinds"][kind]["latency_p95"]],
                "seen": [
                    f"{new['kinds'][kind]['codes_seen']}/{new['kinds'][kind]['codes_delivered']}",
                    f"{old['kinds'][kind]['codes_seen']}/{old['kinds'][kind]['codes_delivered']}",
                ],
            }
        out[size] = row
    return out


def _ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def targets(results: dict) -> list[dict[str, Any]]:
    rows = []
    for size, phases in results["sizes"].items():
        engine = phases.get("engine")
        if not engine:
            continue
        for kind, row in engine["kinds"].items():
            p95 = row["latency_p95"]
            rows.append(
                {
                    "target": f"{size} accounts, {kind}: p95 code-to-portal",
                    "value": p95,
                    "bound": "<= 2 s",
                    "met": p95 is not None and p95 <= 2.0,
                }
            )
            rows.append(
                {
                    "target": f"{size} accounts, {kind}: 429s",
                    "value": row["rate_limited"],
                    "bound": "0",
                    "met": row["rate_limited"] == 0,
                }
            )
            rows.append(
                {
                    "target": f"{size} accounts, {kind}: busiest account's share of its limit",
                    "value": row["limit_share_max"],
                    "bound": "<= 0.25",
                    "met": row["limit_share_max"] <= 0.25,
                }
            )
    return rows


def format_table(results: dict) -> str:
    meta = results["meta"]
    lines = [
        f"smsdesk scale benchmark - nproc {meta['nproc']}, PostgreSQL {meta['postgresql']}, "
        f"Redis {meta['redis']}, {meta['options']['workers']} workers, "
        f"{meta['options']['orders_per_account']} orders per account",
        "",
        f"{'accts':>5} {'engine':<7} {'kind':<12} {'codes':>9} {'p50 s':>7} {'p95 s':>7} "
        f"{'429s':>5} {'limit% med/max':>15} {'worker-s/acct/min all (polling)':>31} {'load':>5}",
    ]
    for size, phases in results["sizes"].items():
        for name, phase in phases.items():
            for kind, row in phase["kinds"].items():
                lines.append(
                    f"{size:>5} {name:<7} {kind:<12} "
                    f"{row['codes_seen']:>4}/{row['codes_delivered']:<4} "
                    f"{base._fmt(row['latency_p50']):>7} {base._fmt(row['latency_p95']):>7} "
                    f"{row['rate_limited']:>5} "
                    f"{row['limit_share_median'] * 100:>7.1f}/{row['limit_share_max'] * 100:<7.1f} "
                    f"{phase['worker_seconds_per_account_per_minute']:>23.3f} "
                    f"({phase['polling_worker_seconds_per_account_per_minute']:.3f}) "
                    f"{phase['load_average_at_start'][0]:>5.2f}"
                )
    lines += ["", "legacy / engine worker-seconds per account per minute:"]
    for size, row in results["comparison"].items():
        lines.append(f"  {size} accounts: {row['worker_seconds_ratio']}x")
    lines += ["", "targets (engine):"]
    for row in results["targets"]:
        mark = "met " if row["met"] else "MISS"
        lines.append(
            f"  [{mark}] {row['target']}: {base._fmt(row['value'])} (target {row['bound']})"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The sync benchmark: how fast codes reach the portal, what that costs upstream,
and what the live board costs to serve (docs/BENCHMARKS.md has the figures).

    make bench                                  # python -m bench $(BENCH_ARGS)
    python -m bench --bulk-orders 200           # smaller, quicker
    python -m bench --help                      # every knob

One run, on a throwaway SQLite database under var/bench/ (never db.sqlite3) and
its own sandbox provider (a subprocess, as in the embedded deployment):

1. setup: one team per group, one provider account per kind and group (each on
   its own sandbox API key, so rate limits never mix), orders placed through
   the real `order_place` path, with the sandbox's rate limits off while
   placing and every rate budget reset afterwards;
2. engine phase: the real sync engine (its dispatcher `dispatch_due` in one
   thread, cycles `sync.engine.cycle` on four worker threads, as in a task
   cluster) follows every order while the sandbox delivers codes at random
   times; each code's latency is from the sandbox's `delivered_at` to the
   commit of the OrderMessage row, and upstream requests come from the
   sandbox's own counters;
3. baseline phase: the same load on fresh keys, followed by the pattern the
   provider docs show (each order checked on its own every 4 s, no client-side
   budget, one attempt per check), writing through the same `apply_state`;
4. board: the live-board fragment at 50 and 500 active orders, through
   django.test.Client with a logged-in member (server time and query count).

`run()` needs a configured Django with a migrated database (the smoke test
calls it at a tiny size); `main()` prepares the environment first. Only the
standard library is imported at module level: `main()` must set DATABASE_URL
and friends before Django reads its settings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
BULK_KINDS = ("smspool", "smscode", "smsactivate")
ALL_KINDS = (*BULK_KINDS, "numpool")
# Where each protocol lives on the sandbox (what the portal stores as base URL).
SANDBOX_PREFIXES = {
    "smspool": "/smspool",
    "numpool": "/numpool/api/v1",
    "smscode": "/smscode",
    "smsactivate": "/smsactivate/stubs/handler_api.php",
}
# Requests per minute each provider publishes. SMS-Activate publishes none: the
# sandbox's default (40/s) stands in, and our own client budget (20/s) is shown too.
PUBLISHED_LIMIT_PER_MINUTE = {"smspool": 32 * 60, "numpool": 60, "smscode": 300}
SANDBOX_LIMIT_PER_MINUTE = {"smspool": 32 * 60, "numpool": 60, "smscode": 300, "smsactivate": 2400}
# Pairs every sandbox provider always offers (docs/SANDBOX.md, "Catalog").
SERVICES = ("whatsapp", "telegram", "google", "discord", "facebook")
COUNTRIES = ("US", "GB", "DE", "NL", "IN", "ID")
BIG_BALANCE = {"smscode": "1000000000"}  # IDR; the others bill in USD
DEFAULT_BIG_BALANCE = "1000000.00"
SETUP_RATE_LIMIT = 1_000_000  # the accounts' budget override while placing


@dataclass
class Options:
    """What one benchmark run does; the defaults are the documented run."""

    bulk_orders: int = 500  # spread over SMSPool, SMSCode and SMS-Activate
    numpool_orders: int = 20
    time_scale: float = 2.0  # the sandbox's: upstream durations run this much faster
    delivery_min: float = 5.0  # upstream seconds after the phase starts
    delivery_max: float = 40.0
    no_code_share: float = 0.1  # orders that never get a code
    tail: float = 5.0  # real seconds measured after the last possible delivery
    drain: float = 30.0  # at most this long more, to see late codes (not counted as rate)
    baseline_interval: float = 4.0  # seconds between a naive poller's checks of one order
    board_sizes: tuple[int, ...] = (50, 500)
    board_requests: int = 25
    seed: int = 1
    sandbox: str = "subprocess"  # or "inprocess" (tests)
    output: str = "var/bench-results.json"

    @property
    def window(self) -> float:
        """Real seconds over which request rates are counted."""
        return self.delivery_max / self.time_scale + self.tail

    def counts(self) -> dict[str, int]:
        """Orders per provider kind."""
        share, extra = divmod(self.bulk_orders, len(BULK_KINDS))
        counts = {kind: share + (i < extra) for i, kind in enumerate(BULK_KINDS)}
        counts["numpool"] = self.numpool_orders
        return {kind: n for kind, n in counts.items() if n}


# --- command line --------------------------------------------------------------------------

ARGUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("--bulk-orders", {"type": int, "help": "orders over the bulk-capable providers"}),
    ("--numpool-orders", {"type": int, "help": "NumPool orders"}),
    ("--time-scale", {"type": float, "help": "sandbox time scale"}),
    ("--delivery-min", {"type": float, "help": "earliest code, upstream seconds"}),
    ("--delivery-max", {"type": float, "help": "latest code, upstream seconds"}),
    ("--no-code-share", {"type": float, "help": "share of orders that never get a code"}),
    ("--tail", {"type": float, "help": "seconds measured after the last delivery"}),
    ("--drain", {"type": float, "help": "extra seconds allowed to see late codes"}),
    ("--baseline-interval", {"type": float, "help": "naive poller: seconds between checks"}),
    ("--board-sizes", {"type": str, "help": "comma-separated board sizes, e.g. 50,500"}),
    ("--board-requests", {"type": int, "help": "timed board requests per size"}),
    ("--seed", {"type": int, "help": "seed for delivery times"}),
    ("--sandbox", {"choices": ["subprocess", "inprocess"], "help": "how to run the sandbox"}),
    ("--output", {"type": str, "help": "results JSON, relative to the project"}),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's flags."""
    defaults = Options()
    for flag, spec in ARGUMENTS:
        name = flag[2:].replace("-", "_")
        default = getattr(defaults, name)
        if isinstance(default, tuple):
            default = ",".join(str(v) for v in default)
        spec = {**spec, "help": f"{spec['help']} ({default})"}
        parser.add_argument(flag, default=default, **spec)
    parser.add_argument("--keep-db", action="store_true", help="keep var/bench/bench-PID.sqlite3")


def options_from(values: dict[str, Any]) -> Options:
    known = {k: v for k, v in values.items() if k in Options.__dataclass_fields__ and v is not None}
    if isinstance(known.get("board_sizes"), str):
        known["board_sizes"] = tuple(int(v) for v in known["board_sizes"].split(",") if v)
    return Options(**known)


def argv_from(values: dict[str, Any]) -> list[str]:
    """Flags that reproduce `values`."""
    argv = []
    for flag, _spec in ARGUMENTS:
        value = values.get(flag[2:].replace("-", "_"))
        if value is not None:
            argv += [flag, ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    if values.get("keep_db"):
        argv.append("--keep-db")
    return argv


def bench_environment(db_path: Path) -> dict[str, str]:
    """Environment for a self-contained run: own database, fresh secrets, no .env."""
    from base64 import urlsafe_b64encode

    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SMSDESK_ENV_FILE": "",  # never the developer's .env
        "DATABASE_URL": f"sqlite:///{db_path}",
        "REDIS_URL": "",  # the embedded setup: database cache and rate budget
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SANDBOX_ENABLED": "true",
        "ALLOWED_PROVIDER_HOSTS": "127.0.0.1,localhost",  # the sandbox on a free port
        "Q_SYNC": "false",
        "LOG_LEVEL": "WARNING",
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on a throwaway database; print the table, write the JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    options = options_from(vars(args))
    db_dir = BASE_DIR / "var" / "bench"
    db_dir.mkdir(parents=True, exist_ok=True)
    db_path = db_dir / f"bench-{os.getpid()}.sqlite3"  # two runs never share one
    _remove_db(db_path)
    os.environ.update(bench_environment(db_path))
    os.chdir(BASE_DIR)
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # no collectstatic here
    django.setup()
    from django.core.management import call_command

    _say(f"preparing {db_path.relative_to(BASE_DIR)}")
    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    try:
        results = run(options, command=_command_line(argv))
    finally:
        if not args.keep_db:
            _remove_db(db_path)
    output = BASE_DIR / options.output
    write_results(results, output)
    print(format_table(results))
    print(f"\nResults written to {output}")
    return 0


def _command_line(argv: list[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python -m bench", *args]).strip()


def _remove_db(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the sandbox -----------------------------------------------------------------------------


class Sandbox:
    """The sandbox provider as the benchmark sees it: base URLs and /control over HTTP."""

    def __init__(self, base_url: str):
        import requests

        self.base_url = base_url
        self.session = requests.Session()
        self.lock = threading.Lock()

    def url(self, kind: str) -> str:
        return self.base_url + SANDBOX_PREFIXES[kind]

    def control(self, method: str, path: str, body: dict | None = None, **params) -> Any:
        with self.lock:  # one keep-alive connection, used by one thread at a time
            response = self.session.request(
                method, f"{self.base_url}/control{path}", json=body, params=params, timeout=30
            )
        response.raise_for_status()
        return response.json()

    def deliverer(self) -> Sandbox:
        """A second handle with its own connection (for the delivery thread)."""
        return Sandbox(self.base_url)


def _sandbox_knobs(options: Options) -> dict[str, Any]:
    # Codes arrive only when the benchmark delivers them: the sandbox fixes an
    # order's delivery time at purchase, and placing hundreds of orders takes
    # seconds, so the benchmark draws the times itself (the sandbox's own
    # formula, uniform upstream seconds / time_scale) from the start of a phase.
    never = 10.0**7
    return {
        "time_scale": options.time_scale,
        # (maxima first: each --set is validated on its own)
        "delivery_max_seconds": never,
        "delivery_min_seconds": never,
        "no_code_share": 0.0,
        "rental_message_max_seconds": never,
        "rental_message_min_seconds": never,
        "seed": options.seed,
        "log_requests": False,
    }


@contextmanager
def sandbox_running(options: Options) -> Iterator[Sandbox]:
    """Start the sandbox (a subprocess by default, as deployed) and stop it afterwards."""
    knobs = _sandbox_knobs(options)
    if options.sandbox == "inprocess":
        from providers.sandbox import SandboxConfig, SandboxServer

        server = SandboxServer(config=SandboxConfig(**knobs)).start()
        try:
            yield Sandbox(server.base_url)
        finally:
            server.stop()
        return
    port = _free_port()
    command = [sys.executable, "manage.py", "sandbox", "--host", "127.0.0.1", "--port", str(port)]
    for knob, value in knobs.items():
        command += ["--set", f"{knob}={value}"]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
        command, cwd=BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield _wait_for(Sandbox(f"http://127.0.0.1:{port}"), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(sandbox: Sandbox, process: subprocess.Popen) -> Sandbox:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"The sandbox did not start: {error.strip()[-2000:]}")
        try:
            sandbox.control("GET", "/health")
            return sandbox
        except Exception:  # not listening yet
            time.sleep(0.1)
    raise RuntimeError("The sandbox did not answer within 30 s.")


# --- setup: teams, accounts, orders ------------------------------------------------------------


@dataclass
class Group:
    """The accounts and orders one phase drives (engine or baseline)."""

    name: str
    team: Any
    accounts: dict[str, Any] = field(default_factory=dict)  # kind -> ProviderAccount
    orders: dict[str, list[Any]] = field(default_factory=dict)  # kind -> [Order]
    interval: float = 4.0  # the naive poller's seconds between checks of one order

    def api_key(self, kind: str) -> str:
        return f"sbx_bench_{self.name}_{kind}"


def make_member(team_name: str):
    """A team with one member (the role that orders and reads codes)."""
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Team
    from accounts.roles import Role

    team = Team.objects.create(name=team_name)
    user = get_user_model().objects.create_user(
        username=f"bench-{team.code.hex[:12]}", password=secrets.token_urlsafe(16)
    )
    return Membership.objects.create(team=team, user=user, role=Role.MEMBER)


def setup_group(name: str, sandbox: Sandbox, options: Options) -> Group:
    """Accounts on the sandbox (catalog synced) and the orders, placed the real way."""
    membership = make_member(f"Bench {name}")
    group = Group(name=name, team=membership.team)
    for kind, count in options.counts().items():
        account = _account(group, kind, sandbox)
        group.accounts[kind] = account
        group.orders[kind] = _place_orders(membership, account, count, name)
        account.rate_limit_requests = None  # back to the provider's published limit
        account.save(update_fields=["rate_limit_requests"])
    return group


def _account(group: Group, kind: str, sandbox: Sandbox):
    from providers.models import ProviderAccount
    from providers.services import catalog_sync

    api_key = group.api_key(kind)
    balance = BIG_BALANCE.get(kind, DEFAULT_BIG_BALANCE)
    sandbox.control("POST", "/accounts", {"protocol": kind, "api_key": api_key, "balance": balance})
    account = ProviderAccount(
        team=group.team,
        kind=kind,
        label=f"{kind} ({group.name})",
        base_url=sandbox.url(kind),
        currency="IDR" if kind == "smscode" else "USD",
        rate_limit_requests=SETUP_RATE_LIMIT,
    )
    account.set_api_key(api_key)
    account.save()
    catalog_sync(account=account)
    return account


def _place_orders(membership, account, count: int, group_name: str) -> list:
    from orders import services

    choices = _choices(membership.team, account)
    orders = []
    for i in range(count):
        placed = services.order_place(
            membership=membership,
            choices=[choices[i % len(choices)]],
            options=services.Options(),
            idempotency_key=f"bench-{group_name}-{account.kind}-{i}",
        )
        orders.extend(placed)
    return orders


def _choices(team, account) -> list:
    """One in-stock catalog offer of `account` per always-offered pair."""
    from orders import quotes
    from providers.models import Country, Service

    choices = []
    for slug in SERVICES:
        service = Service.objects.filter(slug=slug).first()
        for iso in COUNTRIES:
            country = Country.objects.filter(iso=iso).first()
            if service is None or country is None:
                continue
            offers = quotes.offers_for(team, service, country, live=False)
            mine = [o for o in offers if o.account.pk == account.pk and o.in_stock]
            if mine:
                choices.append(mine[0].choice)
    if not choices:
        raise RuntimeError(f"{account.kind}: the sandbox catalog offers none of the usual pairs.")
    return choices


# --- measuring one phase ----------------------------------------------------------------------


class Arrivals:
    """When each code became visible in the portal: the commit of its OrderMessage row."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[tuple[int, str], float] = {}

    def __enter__(self) -> Arrivals:
        from django.db.models.signals import post_save

        from orders.models import OrderMessage

        post_save.connect(self._saved, sender=OrderMessage, dispatch_uid="bench.sync")
        return self

    def __exit__(self, *exc: object) -> None:
        from django.db.models.signals import post_save

        from orders.models import OrderMessage

        post_save.disconnect(sender=OrderMessage, dispatch_uid="bench.sync")

    def _saved(self, sender, instance, created: bool, **kwargs) -> None:
        if not created:
            return
        from django.db import transaction

        key = (instance.order.account_id, instance.upstream_order_id)
        transaction.on_commit(lambda: self._mark(key))

    def _mark(self, key: tuple[int, str]) -> None:
        now = time.time()
        with self.lock:
            self.at.setdefault(key, now)

    def count(self, keys: set[tuple[int, str]]) -> int:
        with self.lock:
            return len(keys & self.at.keys())


@dataclass
class Delivery:
    at: float  # wall-clock time the benchmark asks for it
    protocol: str
    order_id: str


def plan_deliveries(group: Group, options: Options, start: float, seed: int) -> list[Delivery]:
    """Random delivery times, as the sandbox draws them, from `start`; some never come."""
    rng = random.Random(seed)
    plan = []
    for kind, orders in group.orders.items():
        for order in orders:
            if rng.random() < options.no_code_share:
                continue
            delay = rng.uniform(options.delivery_min, options.delivery_max) / options.time_scale
            plan.append(Delivery(start + delay, kind, order.upstream_id))
    return sorted(plan, key=lambda d: d.at)


def deliver(sandbox: Sandbox, plan: list[Delivery], stop: threading.Event) -> None:
    for item in plan:
        if stop.wait(max(0.0, item.at - time.time())):
            return
        sandbox.control("POST", f"/orders/{item.protocol}/{item.order_id}/deliver", {})


def _reset_budgets(sandbox: Sandbox) -> None:
    """Forget the setup's requests: empty client budgets, sandbox limits back on."""
    from django.core.cache import cache

    from providers.models import RateCounter

    RateCounter.objects.all().delete()
    cache.clear()
    sandbox.control("POST", "/config", {"rate_limits_enabled": True})


def run_phase(
    group: Group,
    sandbox: Sandbox,
    options: Options,
    start_workers: Callable[[Group, threading.Event], list[threading.Thread]],
    stop_workers: Callable[[Group, threading.Event], None],
    seed: int,
) -> dict[str, Any]:
    """Deliver codes at random times while `workers` poll; return the figures per kind.

    The delivery clock starts once every order has been looked at once: a
    freshly bought order's first sighting is a write (its upstream status
    changes from the purchase's), and hundreds of them at the same instant are
    a burst no real team makes (purchases themselves are rate limited).
    """
    _reset_budgets(sandbox)
    stop = threading.Event()
    with Arrivals() as arrivals:
        workers = start_workers(group, stop)
        warm_up = _warm_up(group)
        before = sandbox.control("GET", "/stats")["requests"]
        start = time.time()
        plan = plan_deliveries(group, options, start, seed)
        expected = {(group.accounts[d.protocol].pk, d.order_id) for d in plan}
        delivering = threading.Thread(
            target=deliver, args=(sandbox.deliverer(), plan, stop), name="bench-deliver"
        )
        delivering.start()
        _sleep_until(start + options.window)
        after = sandbox.control("GET", "/stats")["requests"]
        window = time.time() - start
        # Let late codes in (they count for latency, not for the request rate).
        deadline = time.time() + options.drain
        while arrivals.count(expected) < len(expected) and time.time() < deadline:
            time.sleep(0.2)
        stop.set()
        stop_workers(group, stop)
        delivering.join(timeout=10)
        for worker in workers:
            worker.join(timeout=30)
        seen = dict(arrivals.at)
    figures = {}
    for kind in group.orders:
        upstream = sandbox.control("GET", "/orders", protocol=kind, api_key=group.api_key(kind))
        figures[kind] = _figures(group, kind, before, after, window, upstream, seen)
        figures[kind]["warm_up_seconds"] = warm_up
    return figures


WARM_UP_LIMIT = 60.0


def _warm_up(group: Group) -> float:
    """Seconds until every order of the group was checked once (at most WARM_UP_LIMIT)."""
    from orders.models import Order

    started = time.time()
    pks = [order.pk for orders in group.orders.values() for order in orders]
    unchecked = Order.objects.filter(pk__in=pks, last_checked_at__isnull=True)
    while unchecked.exists() and time.time() - started < WARM_UP_LIMIT:
        time.sleep(0.1)
    return round(time.time() - started, 2)


def _sleep_until(when: float) -> None:
    while (left := when - time.time()) > 0:
        time.sleep(min(left, 0.5))


def _figures(group, kind, before, after, window, upstream, seen) -> dict[str, Any]:
    account = group.accounts[kind]
    key = group.api_key(kind)
    requests, limited, endpoints = _request_delta(before, after, kind, key)
    orders = len(group.orders[kind])
    latencies = []
    for row in upstream:
        if row["delivered_at"] is None:
            continue
        arrived = seen.get((account.pk, row["order_id"]))
        latencies.append(math.inf if arrived is None else arrived - row["delivered_at"])
    per_minute = requests / (window / 60)
    limit = PUBLISHED_LIMIT_PER_MINUTE.get(kind)
    budget = account.budget()
    return {
        "orders": orders,
        "codes_delivered": len(latencies),
        "codes_seen": sum(1 for v in latencies if v != math.inf),
        "latency_p50": _percentile(latencies, 50),
        "latency_p95": _percentile(latencies, 95),
        "latency_max": max(latencies) if latencies else None,
        "window_seconds": round(window, 2),
        "requests": requests,
        "rate_limited": limited,
        "requests_per_minute": round(per_minute, 2),
        "requests_per_order_per_minute": round(per_minute / orders, 4) if orders else None,
        "published_limit_per_minute": limit,
        "sandbox_limit_per_minute": SANDBOX_LIMIT_PER_MINUTE[kind],
        "client_budget_per_minute": round(budget.limit / budget.period * 60, 2),
        "limit_share": round(per_minute / (limit or SANDBOX_LIMIT_PER_MINUTE[kind]), 4),
        "client_budget_share": round(per_minute / (budget.limit / budget.period * 60), 4),
        "endpoints": endpoints,
    }


def _request_delta(before, after, kind: str, key: str) -> tuple[int, int, dict[str, dict]]:
    old = before.get(kind, {}).get(key, {})
    new = after.get(kind, {}).get(key, {})
    endpoints = {}
    for endpoint, counts in new.items():
        was = old.get(endpoint, {"requests": 0, "rate_limited": 0})
        delta = {name: counts[name] - was[name] for name in ("requests", "rate_limited")}
        if delta["requests"]:
            endpoints[endpoint] = delta
    requests = sum(e["requests"] for e in endpoints.values())
    limited = sum(e["rate_limited"] for e in endpoints.values())
    return requests, limited, endpoints


def _percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; inf when a code was never seen by then."""
    if not values:
        return None
    ordered = sorted(values)
    value = ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
    return value if value == math.inf else round(value, 3)


# --- the engine: the real dispatcher and cycles ------------------------------------------------

ENGINE_WORKERS = 4  # the task cluster's workers that run cycles


def start_pollers(group: Group, stop: threading.Event) -> list[threading.Thread]:
    """The sync engine as a task cluster runs it: the real dispatcher (`dispatch_due`,
    one thread) hands due cycles to ENGINE_WORKERS threads running `engine.cycles`."""
    import queue

    from providers import leases

    for account in group.accounts.values():
        leases.mark_due(account.pk)
    cycles: queue.Queue = queue.Queue()
    threads = [threading.Thread(target=_dispatcher, args=(cycles, stop), name="bench-dispatch")]
    threads += [
        threading.Thread(target=_cycle_worker, args=(cycles, stop), name=f"bench-worker-{n}")
        for n in range(ENGINE_WORKERS)
    ]
    for thread in threads:
        thread.daemon = True
        thread.start()
    return threads


def _dispatcher(cycles, stop: threading.Event) -> None:
    from django.db import connections

    from sync import engine

    try:
        while not stop.is_set():
            engine.dispatch_due(enqueue=cycles.put)
            stop.wait(engine.TICK)
    finally:
        connections.close_all()


def _cycle_worker(cycles, stop: threading.Event) -> None:
    import queue

    from django.db import connections

    from sync import engine

    try:
        while not stop.is_set():
            try:
                leased = cycles.get(timeout=0.2)
            except queue.Empty:
                continue
            engine.cycles(leased)
    finally:
        connections.close_all()


def stop_pollers(group: Group, stop: threading.Event) -> None:
    """The stop event ends the dispatcher and the workers; nothing is due afterwards."""
    from providers.models import ProviderAccount

    stop.set()
    ProviderAccount.objects.filter(pk__in=[a.pk for a in group.accounts.values()]).update(
        sync_due_at=None
    )


# --- the baseline: each order on its own -------------------------------------------------------


def start_naive(group: Group, stop: threading.Event) -> list[threading.Thread]:
    threads = [
        threading.Thread(
            target=naive_poller,
            args=(account, group.orders[kind], stop, group.interval),
            name=f"bench-naive-{kind}",
            daemon=True,
        )
        for kind, account in group.accounts.items()
    ]
    for thread in threads:
        thread.start()
    return threads


def stop_naive(group: Group, stop: threading.Event) -> None:
    stop.set()


def naive_client(account):
    """The account's client without our budget and retries: one request per check."""
    from providers.http import Transport

    transport = Transport(
        label=f"naive:{account.kind}", secrets=(account.api_key,), budget=None, max_attempts=1
    )
    return account.client_class(
        base_url=account.base_url,
        api_key=account.api_key,
        transport=transport,
        currency=account.currency,
    )


def naive_poller(account, orders: list, stop: threading.Event, interval: float) -> None:
    """Check each order every `interval` seconds until its code is in (the docs' loop).

    Stopping once the code is in favours the baseline: the engine keeps
    following received orders (for expiry and further codes) at no extra cost.
    """
    from django.db import connections

    from orders import services
    from providers.errors import ProviderError

    client = naive_client(account)
    now = time.monotonic()
    # Orders were bought one after another, so their checks are spread evenly.
    due = {o.pk: now + interval * i / max(1, len(orders)) for i, o in enumerate(orders)}
    pending = {o.pk: o for o in orders}
    try:
        while pending and not stop.is_set():
            pk = min(pending, key=due.__getitem__)
            if stop.wait(max(0.0, due[pk] - time.monotonic())):
                break
            due[pk] += interval
            try:
                state = client.get_order(pending[pk].upstream_id)
            except ProviderError:
                continue  # a 429 (or any failure): try again at the next tick
            current = services.apply_state(pending[pk], state)
            if current.last_code or current.is_final:
                del pending[pk]
    finally:
        connections.close_all()


# --- the live board ----------------------------------------------------------------------------


def measure_board(options: Options) -> dict[str, Any]:
    """Server time and query count of the board fragment at each size."""
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    membership = make_member("Bench board")
    accounts = _board_accounts(membership.team)
    client = Client()
    client.force_login(membership.user)
    url = reverse("board_fragment", args=[membership.team.code])
    results = {}
    made = 0
    for size in sorted(options.board_sizes):
        _board_orders(membership, accounts, made, size)
        made = size
        for _ in range(3):
            client.get(url)  # warm the session, templates and caches
        queries = []
        with connection.execute_wrapper(_counting(queries)):
            response = client.get(url)
        assert response.status_code == 200, response.status_code
        version = response.content.decode().split("?v=")[1].split('"')[0]
        full = _timed(lambda: client.get(url), options.board_requests)
        unchanged = _timed(lambda v=version: client.get(url, {"v": v}), options.board_requests)
        results[str(size)] = {
            "active_orders": size,
            "queries": len(queries),
            "bytes": len(response.content),
            "median_ms": full["median_ms"],
            "p95_ms": full["p95_ms"],
            "unchanged_204_median_ms": unchanged["median_ms"],
            "unchanged_status": unchanged["status"],
            "requests": options.board_requests,
        }
    return results


def _counting(queries: list) -> Callable:
    """An execute wrapper that notes each SQL statement (the request clears query logs)."""

    def wrapper(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    return wrapper


def _timed(request: Callable[[], Any], n: int) -> dict[str, Any]:
    timings, status = [], None
    for _ in range(n):
        started = time.perf_counter()
        response = request()
        timings.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(_percentile(timings, 95), 2),
        "status": status,
    }


def _board_accounts(team) -> list:
    from providers.models import ProviderAccount

    accounts = []
    for kind in BULK_KINDS:
        account = ProviderAccount(
            team=team, kind=kind, label=f"{kind} (board)", base_url="http://127.0.0.1:9/none"
        )
        account.set_api_key(f"sbx_bench_board_{kind}")
        account.save()
        accounts.append(account)
    return accounts


def _board_orders(membership, accounts: list, start: int, stop: int) -> None:
    """Active orders like the engine's: most with a code, some still waiting."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from orders.models import Order, OrderMessage, State

    now = timezone.now()
    rows = []
    for n in range(start, stop):
        has_code = n % 10 != 0
        rows.append(
            Order(
                team=membership.team,
                account=accounts[n % len(accounts)],
                ordered_by=membership.user,
                idempotency_key=f"board-{n}",
                service_upstream_id="1012",
                country_upstream_id="1",
                service_name=SERVICES[n % len(SERVICES)].title(),
                country_name="United States",
                state=State.RECEIVED if has_code else State.WAITING,
                upstream_id=f"B{n:06d}",
                phone_number=f"1555{n:07d}",
                dial_code="1",
                cost=Decimal("0.50"),
                currency="USD",
                last_code=f"{n:06d}" if has_code else "",
                code_received_at=now if has_code else None,
                expires_at=now + timedelta(minutes=20),
                created=now - timedelta(seconds=stop - n),
            )
        )
    created = Order.objects.bulk_create(rows)
    OrderMessage.objects.bulk_create(
        OrderMessage(
            order=order,
            upstream_order_id=order.upstream_id,
            code=order.last_code,
            text=f"Your code is {order.last_code}",
            fingerprint=f"board-{order.upstream_id}",
        )
        for order in created
        if order.last_code
    )


# --- the whole run -----------------------------------------------------------------------------


def run(options: Options, command: str = "python -m bench") -> dict[str, Any]:
    """The whole benchmark; needs a configured Django with a migrated database."""
    from django.test.utils import override_settings

    from providers import leases
    from sync import engine as sync

    started, load = time.time(), os.getloadavg()
    with (
        override_settings(SYNC_AUTOSTART=False),
        sandbox_running(options) as sandbox,
    ):
        sandbox.control("POST", "/config", {"rate_limits_enabled": False})
        _say(f"placing {sum(options.counts().values())} orders for the engine")
        engine = setup_group("engine", sandbox, options)
        _say(f"placing {sum(options.counts().values())} orders for the baseline")
        baseline = setup_group("baseline", sandbox, options)
        baseline.interval = options.baseline_interval
        _say(f"engine phase: dispatcher and cycles, {options.window:.0f} s")
        with CycleTimes(sync) as cycles:
            engine_figures = run_phase(
                engine, sandbox, options, start_pollers, stop_pollers, options.seed
            )
        cycles.add_to(engine_figures)
        _say(f"baseline phase: each order every {options.baseline_interval:g} s")
        baseline_figures = run_phase(
            baseline, sandbox, options, start_naive, stop_naive, options.seed + 1
        )
    _say("board fragment")
    board = measure_board(options)
    results = {
        "meta": machine(command, options, started, load),
        "engine": engine_figures,
        "baseline": baseline_figures,
        "comparison": compare(engine_figures, baseline_figures),
        "board": board,
        "engine_settings": {
            "MIN_INTERVAL": leases.MIN_INTERVAL,
            "IDLE_INTERVAL": sync.IDLE_INTERVAL,
            "POLL_SHARE": leases.POLL_SHARE,
            "SMALL_BUDGET_POLL_SHARE": leases.SMALL_BUDGET_POLL_SHARE,
            "ENGINE_WORKERS": ENGINE_WORKERS,
        },
    }
    results["targets"] = targets(results)
    return results


class CycleTimes:
    """How long each sync cycle took, per provider kind (wraps sync.engine.run_cycle)."""

    def __init__(self, sync) -> None:
        self.sync = sync
        self.lock = threading.Lock()
        self.seconds: dict[str, list[float]] = {}

    def __enter__(self) -> CycleTimes:
        self.original = original = self.sync.run_cycle

        def timed(account, now=None):
            started = time.perf_counter()
            try:
                return original(account, now)
            finally:
                with self.lock:
                    self.seconds.setdefault(account.kind, []).append(time.perf_counter() - started)

        self.sync.run_cycle = timed
        return self

    def __exit__(self, *exc: object) -> None:
        self.sync.run_cycle = self.original

    def add_to(self, figures: dict[str, dict]) -> None:
        for kind, row in figures.items():
            seconds = self.seconds.get(kind, [])
            row["cycles"] = len(seconds)
            row["cycle_p50"] = _percentile(seconds, 50)
            row["cycle_p95"] = _percentile(seconds, 95)
            row["cycle_max"] = round(max(seconds), 3) if seconds else None


def compare(engine: dict, baseline: dict) -> dict[str, Any]:
    out = {}
    for kind, mine in engine.items():
        theirs = baseline.get(kind)
        if not theirs:
            continue
        out[kind] = {
            "request_ratio": round(theirs["requests"] / mine["requests"], 2)
            if mine["requests"]
            else None,
            "latency_p50": [mine["latency_p50"], theirs["latency_p50"]],
            "latency_p95": [mine["latency_p95"], theirs["latency_p95"]],
            "rate_limited": [mine["rate_limited"], theirs["rate_limited"]],
        }
    return out


def _le(value, bound) -> bool:
    return value is not None and bound is not None and value <= bound


def targets(results: dict) -> list[dict[str, Any]]:
    """Each target of the issue, the measured value and whether it is met."""
    engine, comparison, board = results["engine"], results["comparison"], results["board"]
    rows = []

    def add(name: str, value: Any, target: str, met: bool) -> None:
        rows.append({"target": name, "value": value, "bound": target, "met": bool(met)})

    for kind in BULK_KINDS:
        if kind not in engine:
            continue
        figures, versus = engine[kind], comparison.get(kind, {})
        add(
            f"{kind}: code latency p95",
            figures["latency_p95"],
            "<= 2 s",
            _le(figures["latency_p95"], 2.0),
        )
        add(
            f"{kind}: share of the rate limit",
            figures["limit_share"],
            "<= 0.25",
            _le(figures["limit_share"], 0.25),
        )
        add(f"{kind}: 429 answers", figures["rate_limited"], "0", figures["rate_limited"] == 0)
        add(
            f"{kind}: fewer requests than the baseline",
            versus.get("request_ratio"),
            ">= 10x",
            (versus.get("request_ratio") or 0) >= 10,
        )
        p50, p95 = versus.get("latency_p50", [None, None]), versus.get("latency_p95", [None, None])
        add(
            f"{kind}: latency vs baseline (p50, p95)",
            [p50, p95],
            "engine <= baseline",
            _le(p50[0], p50[1]) and _le(p95[0], p95[1]),
        )
    if "numpool" in engine:
        add(
            "numpool: 429 answers",
            engine["numpool"]["rate_limited"],
            "0",
            engine["numpool"]["rate_limited"] == 0,
        )
        versus = comparison.get("numpool", {})
        add(
            "numpool: latency p95 vs baseline",
            versus.get("latency_p95"),
            "engine <= baseline",
            _le(*versus.get("latency_p95", [None, None])),
        )
    counts = {size: row["queries"] for size, row in board.items()}
    add("board: queries independent of size", counts, "equal", len(set(counts.values())) == 1)
    return rows


# --- reporting ---------------------------------------------------------------------------------


def machine(command: str, options: Options, started: float, load: tuple) -> dict[str, Any]:
    import django

    return {
        "command": command,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_seconds": round(time.time() - started, 1),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "django": django.get_version(),
        "platform": platform.platform(),
        # Other work on the machine skews every figure: check these before comparing runs.
        "load_average_at_start": [round(v, 2) for v in load],
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "options": {**asdict(options), "window_seconds": options.window},
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def write_results(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    return str(value)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if value == math.inf:
        return "missed"  # not in the portal by the end of the phase (window + drain)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_table(results: dict) -> str:
    meta = results["meta"]
    lines = [
        f"smsdesk sync benchmark - {meta['cpu']}, {meta['cores']} cores, Python {meta['python']}, "
        f"SQLite {meta['sqlite']}, time scale {meta['options']['time_scale']:g}",
        "",
        f"{'provider':<12} {'run':<9} {'orders':>6} {'codes':>9} {'p50 s':>6} {'p95 s':>6} "
        f"{'req/min':>8} {'req/order/min':>13} {'limit %':>8} {'429s':>6}",
    ]
    for kind in ALL_KINDS:
        for run_name in ("engine", "baseline"):
            row = results[run_name].get(kind)
            if not row:
                continue
            lines.append(
                f"{kind:<12} {run_name:<9} {row['orders']:>6} "
                f"{row['codes_seen']:>4}/{row['codes_delivered']:<4} "
                f"{_fmt(row['latency_p50']):>6} {_fmt(row['latency_p95']):>6} "
                f"{_fmt(row['requests_per_minute'], 1):>8} "
                f"{_fmt(row['requests_per_order_per_minute'], 3):>13} "
                f"{_fmt(row['limit_share'] * 100, 1):>8} {row['rate_limited']:>6}"
            )
    lines.append("")
    for kind, row in results["comparison"].items():
        lines.append(f"{kind:<12} baseline/engine requests: {_fmt(row['request_ratio'], 1)}x")
    lines += [
        "",
        f"{'board':<12} {'orders':>6} {'queries':>8} {'median ms':>10} {'p95 ms':>8} "
        f"{'204 median ms':>14}",
    ]
    for row in results["board"].values():
        lines.append(
            f"{'fragment':<12} {row['active_orders']:>6} {row['queries']:>8} "
            f"{row['median_ms']:>10.1f} {row['p95_ms']:>8.1f} "
            f"{row['unchanged_204_median_ms']:>14.1f}"
            + ("" if row["unchanged_status"] == 204 else f"  (?v= got {row['unchanged_status']})")
        )
    lines += ["", "targets:"]
    for row in results["targets"]:
        mark = "met " if row["met"] else "MISS"
        lines.append(f"  [{mark}] {row['target']}: {row['value']} (target {row['bound']})")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

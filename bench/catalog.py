"""The live-size catalogue benchmark: what a catalogue sync costs at a real
provider's size, measured beside what merely reading the same answers costs
(docs/BENCHMARKS.md, "Live-size catalogues").

    make bench BENCH_ARGS=--catalog             # python -m bench --catalog
    python -m bench --catalog --help            # every knob

One run, on a throwaway SQLite database under var/bench/ (never db.sqlite3):

1. two sandbox providers (subprocesses): one serves SMSPool's catalogue at
   live size (150 countries, 1,400 services, about 150,000 pool prices), the
   other the demo catalogue for the orders of the latency phase;
2. baseline: download the catalogue's bodies (countries, services, pools,
   all_stock, and pricing, which the client read until it streamed) and
   `json.loads` each; the ratios divide by the four the client reads;
3. first sync, then a re-sync of the unchanged catalogue, through the real
   `providers.services.catalog_sync` (the client streams all_stock's rows
   into the store as they arrive, so downloading and storing overlap);
4. latency: a poller (`sync.engine.run_cycle` on its own schedule) follows
   orders while codes arrive, first alone, then while a first sync of another
   account writes 150,000 rows;
5. comparison (skip with --no-compare): the same syncs through the client as
   it was before it streamed (`ProviderClient.fetch_catalog`: pricing and
   all_stock downloaded whole, every quote built and merged into a list).

Steps 2 and 3 run each in a fresh child process, one after the other, so
their times and memory are measured the same way: wall time of the step, and
the process's peak resident memory (VmHWM) against its resting size before
the step. Inside the sync children, every write transaction is timed from
its BEGIN to its COMMIT (SQLite's write lock is held exactly that long with
IMMEDIATE transactions), and every write outside a transaction by its
statement time.

Only the standard library is imported at module level: `main()` sets
DATABASE_URL and friends before Django reads its settings. The latency step
drives the order engine, so this module imports `orders` inside functions; it
is a tool beside the product, and nothing in the product imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
SMSPOOL_BODIES = (
    "/country/retrieve_all",
    "/service/retrieve_all",
    "/pool/retrieve_all",
    "/request/pricing",
    "/sms/all_stock",
)
# What SmsPoolClient.fetch_catalog reads: all_stock carries the prices too.
CLIENT_BODIES = tuple(path for path in SMSPOOL_BODIES if path != "/request/pricing")
CATALOG_KEY = "sbx_bench_catalog"
TARGETS = {
    "first_sync_ratio": 10.0,
    "resync_ratio": 3.0,
    "peak_rss_mb": 150.0,
    "longest_lock_ms": 200.0,
}


@dataclass
class Options:
    """What one run does; the defaults are the documented run."""

    baseline_rounds: int = 3  # the baseline's median is the ratios' denominator
    codes: int = 8  # codes delivered to the poller's orders with no sync running
    gap: float = 1.0  # seconds between codes; during a sync they go on until it ends
    output: str = "var/bench-catalog.json"
    compare: bool = True  # also measure the two-body, materialising client
    keep_db: bool = False


ARGUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("--baseline-rounds", {"type": int, "help": "baseline downloads (median is used)"}),
    ("--codes", {"type": int, "help": "codes delivered with no sync running"}),
    ("--gap", {"type": float, "help": "seconds between delivered codes"}),
    ("--output", {"type": str, "help": "results JSON, relative to the project"}),
]


def add_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The flags of `python -m bench --catalog`."""
    defaults = Options()
    for flag, spec in ARGUMENTS:
        name = flag[2:].replace("-", "_")
        help_text = f"{spec['help']} ({getattr(defaults, name)})"
        parser.add_argument(
            f"--{prefix}{flag[2:]}", dest=f"{prefix.replace('-', '_')}{name}", default=None,
            type=spec["type"], help=help_text,
        )  # fmt: skip


def argv_from(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Flags that reproduce `values` for `python -m bench.catalog`."""
    argv = []
    for flag, _spec in ARGUMENTS:
        value = values.get(prefix.replace("-", "_") + flag[2:].replace("-", "_"))
        if value is not None:
            argv += [flag, str(value)]
    return argv


# --- the environment --------------------------------------------------------------------


def bench_environment(db_path: Path) -> dict[str, str]:
    """Environment for a self-contained run: own database, fresh secrets, no .env."""
    from base64 import urlsafe_b64encode

    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SMSDESK_ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{db_path}",
        "REDIS_URL": "",
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
        "PYTHONPATH": str(BASE_DIR),
    }


def _setup_django() -> None:
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()


def _say(message: str) -> None:
    print(f"[bench-catalog {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- memory and the write lock, inside a child --------------------------------------------


def memory_mb() -> dict[str, float]:
    """This process's resident memory now and at its peak (Linux /proc), in MB."""
    figures = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                figures[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss": figures["VmRSS"], "peak": figures["VmHWM"]}


def reset_peak_memory() -> None:
    """Start VmHWM afresh at the current size (Linux 4.0+), so a step's peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:  # not permitted: the peak then includes start-up (never less)
        pass


class LockWatch:
    """How long each write held SQLite's lock: BEGIN to COMMIT, or one autocommit write."""

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")

    def __init__(self) -> None:
        self.holds: list[float] = []
        self.began: float | None = None

    @contextmanager
    def watching(self):
        from django.db import connections

        connection = connections["default"]
        connection.ensure_connection()
        original_commit, original_rollback = connection._commit, connection._rollback
        connection._commit = self._ending(original_commit)
        connection._rollback = self._ending(original_rollback)
        try:
            with connection.execute_wrapper(self._statement):
                yield self
        finally:
            connection._commit, connection._rollback = original_commit, original_rollback

    def _statement(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if sql.startswith("BEGIN"):
                self.began = started
            elif self.began is None and sql.lstrip()[:6].upper() in self.WRITES:
                self.holds.append(time.perf_counter() - started)

    def _ending(self, original):
        def end(*args, **kwargs):
            try:
                return original(*args, **kwargs)
            finally:
                if self.began is not None:
                    self.holds.append(time.perf_counter() - self.began)
                    self.began = None

        return end

    def figures(self) -> dict[str, Any]:
        holds = sorted(self.holds)
        return {
            "writes": len(holds),
            "longest_lock_ms": round(holds[-1] * 1000, 1) if holds else 0.0,
            "p95_lock_ms": round(holds[int(0.95 * (len(holds) - 1))] * 1000, 1) if holds else 0.0,
            "total_lock_s": round(sum(holds), 2),
        }


# --- the child steps -------------------------------------------------------------------


def child_baseline(base_url: str) -> dict[str, Any]:
    """Download the SMSPool catalogue's bodies and json.loads them; nothing else."""
    import requests

    session = requests.Session()
    reset_peak_memory()
    resting = memory_mb()["rss"]
    started = time.perf_counter()
    sizes, rows, times = {}, {}, {}
    for path in SMSPOOL_BODIES:
        at = time.perf_counter()
        response = session.post(f"{base_url}/smspool{path}", data={"key": CATALOG_KEY}, timeout=120)
        response.raise_for_status()
        body = json.loads(response.text)
        sizes[path], rows[path] = len(response.content), len(body)
        times[path] = round(time.perf_counter() - at, 3)
        del response, body
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "seconds_by_body": times,
        "bytes": sizes,
        "rows": rows,
        **_memory(resting),
    }


def child_sync(account_id: int, previous: bool = False) -> dict[str, Any]:
    """One catalog_sync of the account, timed, with its memory and its lock holds.

    `previous`: through `ProviderClient.fetch_catalog` (lists, then every quote
    of pricing + all_stock in one list), as SMSPool's client read it before it
    streamed. Streamed, "fetch" is the lists and the opening of all_stock; its
    rows download while the store runs.
    """
    from providers import services
    from providers.clients.base import ProviderClient
    from providers.models import ProviderAccount

    account = ProviderAccount.objects.get(pk=account_id)
    fetch: dict[str, Any] = {}
    client_class = account.client_class
    original = ProviderClient.fetch_catalog if previous else client_class.fetch_catalog

    def timed_fetch(client):
        started = time.perf_counter()
        try:
            catalog = original(client)
            fetch["quotes_streamed"] = not isinstance(catalog.quotes, list)
            return catalog
        finally:
            fetch["seconds"] = round(time.perf_counter() - started, 3)
            fetch["peak_rss_mb"] = memory_mb()["peak"]
            fetch["ended_at"] = time.time()
            reset_peak_memory()  # from here on the peak is the store's (catalog still held)

    client_class.fetch_catalog = timed_fetch
    reset_peak_memory()
    resting = memory_mb()["rss"]
    started_at = time.time()
    with LockWatch().watching() as locks:
        started = time.perf_counter()
        result = services.catalog_sync(account=account)
        seconds = time.perf_counter() - started
    store_peak = memory_mb()["peak"]
    return {
        "seconds": round(seconds, 3),
        "fetch_seconds": fetch.get("seconds"),
        "store_seconds": round(seconds - fetch.get("seconds", 0), 3),
        "resting_rss_mb": resting,
        "peak_rss_mb": max(fetch.get("peak_rss_mb", 0), store_peak),
        "fetch_peak_rss_mb": fetch.get("peak_rss_mb"),
        "store_peak_rss_mb": store_peak,
        "growth_mb": round(max(fetch.get("peak_rss_mb", 0), store_peak) - resting, 1),
        **locks.figures(),
        "quotes_streamed": fetch.get("quotes_streamed"),
        "started_at": started_at,
        "fetched_at": fetch.get("ended_at"),
        "result": asdict(result),
    }


def child_sync_previous(account_id: int) -> dict[str, Any]:
    return child_sync(account_id, previous=True)


def _memory(resting: float) -> dict[str, float]:
    peak = memory_mb()["peak"]
    return {"resting_rss_mb": resting, "peak_rss_mb": peak, "growth_mb": round(peak - resting, 1)}


def run_child(step: str, arg: str) -> dict[str, Any]:
    """Run one step in a fresh interpreter (same environment) and return its figures."""
    command = [sys.executable, "-m", "bench.catalog", "--child", step, arg]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, cwd=BASE_DIR, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{step} failed: {done.stderr.strip()[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the sandboxes ---------------------------------------------------------------------


@contextmanager
def sandbox_process(size: str):
    """A sandbox provider subprocess serving the `size` catalogue; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "SANDBOX_CATALOG_SIZE": size}
    knobs = {
        # Codes arrive only when the benchmark delivers them.
        "delivery_max_seconds": 10.0**7,
        "delivery_min_seconds": 10.0**7,
        "no_code_share": 0.0,
        "catalog_size": size,
        "log_requests": False,
    }
    command = [sys.executable, "manage.py", "sandbox", "--host", "127.0.0.1", "--port", str(port)]
    for knob, value in knobs.items():
        command += ["--set", f"{knob}={value}"]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
        command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base_url, process)
        yield base_url
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


def _wait_for(base_url: str, process: subprocess.Popen) -> None:
    import requests

    deadline = time.monotonic() + 90  # the live catalogue is built before it listens
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"The sandbox did not start: {error.strip()[-2000:]}")
        try:
            requests.get(f"{base_url}/control/health", timeout=2).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError("The sandbox did not answer within 90 s.")


def control(base_url: str, path: str, body: dict | None = None) -> Any:
    import requests

    response = requests.post(f"{base_url}/control{path}", json=body or {}, timeout=30)
    response.raise_for_status()
    return response.json()


# --- accounts, orders and the poller --------------------------------------------------------


def make_account(team, base_url: str, api_key: str, label: str):
    """An SMSPool account at the sandbox (not synced)."""
    from providers.models import ProviderAccount

    control(
        base_url, "/accounts", {"protocol": "smspool", "api_key": api_key, "balance": "1000000.00"}
    )
    account = ProviderAccount(
        team=team, kind="smspool", label=label, base_url=f"{base_url}/smspool", currency="USD"
    )
    account.set_api_key(api_key)
    account.save()
    return account


def make_membership(name: str):
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Team
    from accounts.roles import Role

    team = Team.objects.create(name=name)
    user = get_user_model().objects.create_user(
        username=f"bench-{team.code.hex[:12]}", password=secrets.token_urlsafe(16)
    )
    return Membership.objects.create(team=team, user=user, role=Role.MEMBER)


def place_orders(membership, count: int) -> list:
    """`count` WhatsApp orders in the US, the real way (order_place)."""
    from orders import quotes, services
    from providers.models import Country, Service

    offers = quotes.offers_for(
        membership.team,
        Service.objects.get(slug="whatsapp"),
        Country.objects.get(iso="US"),
        live=False,
    )
    choice = next(o.choice for o in offers if o.in_stock)
    placed = []
    for i in range(count):
        placed += services.order_place(
            membership=membership,
            choices=[choice],
            options=services.Options(),
            idempotency_key=f"bench-catalog-{i}",
        )
    return placed


class Poller:
    """The sync engine's cycle for one account on its own schedule, in a thread."""

    def __init__(self, account_id: int):
        self.account_id = account_id
        self.stop = threading.Event()
        self.cycles: list[float] = []
        self.thread = threading.Thread(target=self._run, name="bench-poller", daemon=True)

    def _run(self) -> None:
        from django.db import connections

        from providers.models import ProviderAccount
        from sync import engine

        try:
            while not self.stop.is_set():
                started = time.monotonic()
                account = ProviderAccount.objects.get(pk=self.account_id)
                cycle = engine.run_cycle(account)
                self.cycles.append(time.monotonic() - started)
                wait = engine.poll_interval(account, cycle) - (time.monotonic() - started)
                self.stop.wait(max(wait, 0.05))
        finally:
            connections.close_all()


class Arrivals:
    """When each code became visible in the portal: the commit of its OrderMessage row."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> Arrivals:
        from django.db.models.signals import post_save

        from orders.models import OrderMessage

        post_save.connect(self._saved, sender=OrderMessage, dispatch_uid="bench-catalog")
        return self

    def __exit__(self, *exc: object) -> None:
        from django.db.models.signals import post_save

        from orders.models import OrderMessage

        post_save.disconnect(sender=OrderMessage, dispatch_uid="bench-catalog")

    def _saved(self, sender, instance, created: bool, **kwargs) -> None:
        from django.db import transaction

        if created:
            order_id = instance.upstream_order_id
            transaction.on_commit(lambda: self._mark(order_id))

    def _mark(self, order_id: str) -> None:
        with self.lock:
            self.at.setdefault(order_id, time.time())


def deliver_codes(base_url: str, orders: list, gap: float, until=None) -> dict[str, float]:
    """Deliver a code to each order, about `gap` seconds apart (stopping once `until()` is
    true); returns when each was sent.

    The gaps vary (seeded) so codes land at every point of the poller's cycle,
    not always at the same one.
    """
    rng = random.Random(len(orders))
    sent = {}
    for order in orders:
        if until is not None and until():
            break
        sent[order.upstream_id] = time.time()
        control(base_url, f"/orders/smspool/{order.upstream_id}/deliver")
        time.sleep(gap * rng.uniform(0.5, 1.5))
    return sent


def latencies(sent: dict[str, float], arrivals: Arrivals) -> dict[str, float]:
    """Seconds from each code's delivery upstream to its commit here (inf: never)."""
    deadline = time.time() + 30
    while time.time() < deadline and len(sent.keys() & arrivals.at.keys()) < len(sent):
        time.sleep(0.05)
    return {oid: round(arrivals.at.get(oid, float("inf")) - at, 3) for oid, at in sent.items()}


def latency_figures(values: list[float]) -> dict[str, Any]:
    seen = sorted(v for v in values if v != float("inf"))
    return {
        "codes": len(values),
        "recorded": len(seen),
        "median_s": round(statistics.median(seen), 3) if seen else None,
        "max_s": seen[-1] if seen else None,
        "all_s": values,
    }


# --- the whole run ----------------------------------------------------------------------------


def run(options: Options) -> dict[str, Any]:
    """The whole benchmark; needs a configured Django with a migrated database."""
    from providers.services import ensure_canonical

    started, load = time.time(), os.getloadavg()
    ensure_canonical()
    results: dict[str, Any] = {}
    with sandbox_process("live") as live, sandbox_process("demo") as demo:
        owner = make_membership("Bench catalog")
        first = make_account(owner.team, live, CATALOG_KEY, "SMSPool live")
        _say(f"baseline: download + json.loads, {options.baseline_rounds} rounds")
        rounds = [run_child("baseline", live) for _ in range(options.baseline_rounds)]
        results["baseline"] = {
            "seconds": statistics.median(body_seconds(r, CLIENT_BODIES) for r in rounds),
            "five_bodies_seconds": statistics.median(r["seconds"] for r in rounds),
            "rounds": rounds,
        }
        _say("first sync")
        results["first_sync"] = run_child("sync", str(first.pk))
        _say("re-sync, catalogue unchanged")
        results["resync"] = run_child("sync", str(first.pk))
        results["latency"] = measure_latency(options, live, demo)
        if options.compare:
            results["previous"] = measure_previous(live)
    base = results["baseline"]
    results["ratios"] = ratios(results, base["seconds"])
    results["ratios_five_bodies"] = ratios(results, base["five_bodies_seconds"])
    results["meta"] = machine(options, started, load)
    results["targets"] = targets(results)
    return results


def body_seconds(round_: dict[str, Any], bodies: tuple[str, ...]) -> float:
    return round(sum(round_["seconds_by_body"][path] for path in bodies), 3)


def ratios(results: dict[str, Any], baseline: float) -> dict[str, float]:
    """Each sync's time over `baseline`."""
    found = {
        "first_sync": round(results["first_sync"]["seconds"] / baseline, 2),
        "resync": round(results["resync"]["seconds"] / baseline, 2),
    }
    if "previous" in results:
        found["previous_first_sync"] = round(
            results["previous"]["first_sync"]["seconds"] / baseline, 2
        )
        found["previous_resync"] = round(results["previous"]["resync"]["seconds"] / baseline, 2)
    return found


def measure_previous(live: str) -> dict[str, Any]:
    """First sync and re-sync of another account through the two-body client."""
    member = make_membership("Bench previous")
    account = make_account(member.team, live, CATALOG_KEY, "SMSPool two bodies")
    _say("comparison: the client as it was before it streamed (first sync, re-sync)")
    first = run_child("sync-previous", str(account.pk))
    return {"first_sync": first, "resync": run_child("sync-previous", str(account.pk))}


def measure_latency(options: Options, live: str, demo: str) -> dict[str, Any]:
    """Code latency of a poller alone, then while another account's first sync runs."""
    from providers.services import catalog_sync

    member = make_membership("Bench orders")
    orders_account = make_account(member.team, demo, "sbx_bench_orders", "SMSPool orders")
    catalog_sync(account=orders_account)  # the demo catalogue: a second
    second = make_account(member.team, live, "sbx_bench_catalog_2", "SMSPool live 2")
    during_count = 60  # more than a sync lasts, at one code a `gap`
    _say(f"latency: {options.codes} codes alone, then codes every {options.gap:g} s during a sync")
    orders = place_orders(member, options.codes + during_count)
    poller = Poller(orders_account.pk)
    syncing: dict[str, Any] = {}
    with Arrivals() as arrivals:
        poller.thread.start()
        time.sleep(2)  # the first cycles record the new orders' states
        alone = latencies(deliver_codes(demo, orders[: options.codes], options.gap), arrivals)
        child = threading.Thread(target=lambda: syncing.update(run_child("sync", str(second.pk))))
        child.start()
        time.sleep(1)  # the child's interpreter and Django start
        sent = deliver_codes(
            demo, orders[options.codes :], options.gap, until=lambda: not child.is_alive()
        )
        child.join()
        during = latencies(sent, arrivals)
        poller.stop.set()
        poller.thread.join(timeout=10)
    fetched_at = syncing.get("fetched_at") or 0
    writing = [v for oid, v in during.items() if sent[oid] >= fetched_at]
    return {
        "alone": latency_figures(list(alone.values())),
        "during_sync": latency_figures(list(during.values())),
        "during_sync_writes": latency_figures(writing),
        "sync": {
            k: syncing.get(k)
            for k in ("seconds", "fetch_seconds", "store_seconds", "longest_lock_ms", "writes")
        },
        "poll_cycles": len(poller.cycles),
        "poll_cycle_max_s": round(max(poller.cycles), 3) if poller.cycles else None,
    }


def machine(options: Options, started: float, load: tuple[float, ...]) -> dict[str, Any]:
    import django

    return {
        "command": "python -m bench --catalog",
        "options": asdict(options),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "duration_s": round(time.time() - started, 1),
        "python": platform.python_version(),
        "django": django.get_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": [round(v, 2) for v in load],
        "database": "SQLite (WAL, IMMEDIATE transactions)",
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured figure and whether it holds.

    A code's normal latency is at most one poll interval (1 s while codes are
    awaited) plus a cycle: the bound during a sync is the slowest code with no
    sync running (at least 1 s), plus a quarter.
    """
    syncs = (results["first_sync"], results["resync"])
    latency = results["latency"]
    normal = max(latency["alone"]["max_s"] or 0, 1.0) * 1.25
    rows = [
        ("first sync / baseline", results["ratios"]["first_sync"], TARGETS["first_sync_ratio"]),
        ("re-sync / baseline", results["ratios"]["resync"], TARGETS["resync_ratio"]),
        ("peak RSS of a sync (MB)", max(s["peak_rss_mb"] for s in syncs), TARGETS["peak_rss_mb"]),
        (
            "longest write-lock hold (ms)",
            max(s["longest_lock_ms"] for s in syncs),
            TARGETS["longest_lock_ms"],
        ),
        ("slowest code during a sync (s)", latency["during_sync"]["max_s"], round(normal, 2)),
    ]
    return [
        {
            "target": name,
            "measured": value,
            "bound": bound,
            "met": value is not None and value <= bound,
        }
        for name, value, bound in rows
    ]


def format_table(results: dict[str, Any]) -> str:
    base, first, again = results["baseline"], results["first_sync"], results["resync"]
    lines = [
        "step                       seconds  fetch  store  peak RSS MB (fetch/store)  lock ms",
        f"baseline, 4 bodies         {base['seconds']:7.2f}",
        f"baseline, 5 bodies         {base['five_bodies_seconds']:7.2f}"
        f" {max(r['peak_rss_mb'] for r in base['rounds']):26.1f}",
    ]
    steps = [("first sync", first), ("re-sync unchanged", again)]
    previous = results.get("previous")
    if previous:
        steps += [("two-body client: first", previous["first_sync"])]
        steps += [("two-body client: re-sync", previous["resync"])]
    for name, row in steps:
        lines.append(
            f"{name:<26} {row['seconds']:7.2f} {row['fetch_seconds'] or 0:6.2f}"
            f" {row['store_seconds']:6.2f} {row['peak_rss_mb']:8.1f}"
            f" ({row['fetch_peak_rss_mb']:.0f}/{row['store_peak_rss_mb']:.0f})"
            f" {row['longest_lock_ms']:14.1f}"
        )
    latency = results["latency"]
    lines += [
        "",
        "(streamed: fetch is the lists and opening all_stock; its rows download during store)",
        f"ratios: first sync {results['ratios']['first_sync']}x, "
        f"re-sync {results['ratios']['resync']}x the 4-body baseline "
        f"({results['ratios_five_bodies']['first_sync']}x, "
        f"{results['ratios_five_bodies']['resync']}x the 5-body one)",
        f"rows written: first {_written(first)}; re-sync {_written(again)}",
        f"code latency alone: median {latency['alone']['median_s']} s, "
        f"max {latency['alone']['max_s']} s; during a sync ({latency['during_sync']['codes']} "
        f"codes): median {latency['during_sync']['median_s']} s, "
        f"max {latency['during_sync']['max_s']} s "
        f"(while it wrote: max {latency['during_sync_writes']['max_s']} s)",
        "",
        "targets:",
    ]
    for row in results["targets"]:
        mark = "met" if row["met"] else "MISSED"
        lines.append(f"  {row['target']:<32} {row['measured']!s:>8} <= {row['bound']:<6} {mark}")
    return "\n".join(lines)


def _written(row: dict[str, Any]) -> str:
    result = row["result"]
    return (
        f"{result['inserted']} inserted, {result['updated']} updated, "
        f"{result['deleted']} deleted, {result['unchanged']} unchanged"
    )


# --- entry points ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on a throwaway database; print the table, write the JSON."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1], argv[2])
    parser = argparse.ArgumentParser(
        prog="python -m bench --catalog",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark's database")
    parser.add_argument(
        "--no-compare",
        "--no-streaming",  # its name while the comparison was a streaming prototype
        dest="compare",
        action="store_false",
        default=None,
        help="skip the comparison with the two-body client SMSPool used before it streamed",
    )
    values = vars(parser.parse_args(argv))
    options = Options(**{k: v for k, v in values.items() if v is not None})
    db_dir = BASE_DIR / "var" / "bench"
    db_dir.mkdir(parents=True, exist_ok=True)
    db_path = db_dir / f"catalog-{os.getpid()}.sqlite3"
    os.environ.update(bench_environment(db_path))
    os.chdir(BASE_DIR)
    _setup_django()
    from django.core.management import call_command

    _say(f"preparing {db_path.relative_to(BASE_DIR)}")
    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    try:
        results = run(options)
    finally:
        if not options.keep_db:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    output = BASE_DIR / options.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str))
    print(format_table(results))
    print(f"\nResults written to {output}")
    return 0


def child_main(step: str, arg: str) -> int:
    """A child step: print its figures as one JSON line on stdout."""
    _setup_django()
    steps = {
        "baseline": child_baseline,
        "sync": child_sync,
        "sync-previous": child_sync_previous,
    }
    figures = steps[step](arg if step == "baseline" else int(arg))
    print(json.dumps(figures, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

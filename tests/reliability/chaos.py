"""The reliability run (`make chaos`): money stays right whatever the network does.

Hundreds of orders over the four protocols go through the real stack: the real
`order_place`, a real task cluster (`manage.py qcluster`, ORM broker) running
the sync engine, real HTTP to the sandbox provider, which answers a share of
every protocol's requests with a fault: 5xx, HTML, truncated JSON, 429, a
connection dropped before or after it acted, an answer held back or never
sent. Members cancel and complete orders meanwhile, and the task cluster is
SIGKILLed twice and restarted. When every order has ended, the run checks:

- no upstream order has two local rows, and none is without one;
- no charged order is without a member, and none shown as failed was charged;
- every local order's final state matches the sandbox's record;
- per provider account, the ledger's sum equals the sandbox's balance change,
  to the cent.

It prints the figures (docs/RELIABILITY.md records a run) and exits non-zero
when a check fails. Own database (a throwaway SQLite file, or
CHAOS_DATABASE_URL), own sandbox subprocess, own task cluster:

    make chaos
    python -m tests.reliability.chaos --orders-per-kind 20 --fault-rate 0.3
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.sync import BASE_DIR, SANDBOX_PREFIXES, Sandbox, _free_port, _wait_for

KINDS = ("smspool", "numpool", "smscode", "smsactivate")
# The fault mix, as shares of the fault rate (they add up to 1).
FAULT_MIX = {
    "http_500": 0.15,
    "html": 0.1,
    "malformed": 0.15,
    "http_429": 0.1,
    "drop": 0.15,
    "drop_after": 0.15,
    "slow": 0.1,
    "timeout": 0.1,
}
CENT = Decimal("0.01")
# NumPool publishes 60 requests a minute: 80 purchases and their polling would take
# minutes, so its account (here and at the sandbox) gets ten times that.
RATE_LIMITS = {"numpool": (600, 60)}
PAIRS = [("whatsapp", "US"), ("telegram", "GB"), ("google", "DE"), ("discord", "NL")]
BALANCE = {"smscode": "1000000000"}
SANDBOX_KNOBS = {
    "time_scale": 10.0,  # a 20-minute activation lives 2 minutes
    "delivery_max_seconds": 90.0,
    "delivery_min_seconds": 5.0,
    "no_code_share": 0.3,
    "cancel_lock_seconds": 45.0,
    "failure_timeout_seconds": 4.0,  # beyond the client's read timeout below
    "slow_seconds": 1.5,
    "log_requests": False,
}
CLIENT_ENV = {"PROVIDER_CONNECT_TIMEOUT": "2", "PROVIDER_READ_TIMEOUT": "3"}
FINAL_MATCH = {
    # local final state -> sandbox statuses it may correspond to
    # Done with its code; providers without a finish call (SMSPool, NumPool) keep it
    # open upstream until it expires.
    "completed": {"finished", "received"},
    "cancelled": {"cancelled", "expired"},
    "expired": {"cancelled", "expired"},
    "refunded": {"cancelled", "expired"},
}


def say(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the processes ------------------------------------------------------------------------


def environment(db_url: str) -> dict[str, str]:
    from base64 import urlsafe_b64encode

    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SMSDESK_ENV_FILE": "",
        "DATABASE_URL": db_url,
        "REDIS_URL": "",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SANDBOX_ENABLED": "true",
        "ALLOWED_PROVIDER_HOSTS": "127.0.0.1,localhost",  # the sandbox on a free port
        "Q_WORKERS": "4",
        "LOG_LEVEL": "WARNING",
        **CLIENT_ENV,
    }


def start_sandbox(seed: int) -> tuple[Sandbox, subprocess.Popen]:
    port = _free_port()
    command = [sys.executable, "manage.py", "sandbox", "--host", "127.0.0.1", "--port", str(port)]
    for knob, value in {**SANDBOX_KNOBS, "seed": seed}.items():
        command += ["--set", f"{knob}={value}"]
    process = subprocess.Popen(
        command, cwd=BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return _wait_for(Sandbox(f"http://127.0.0.1:{port}"), process), process


class Cluster:
    """`manage.py qcluster` in its own process group, killable as a whole."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.kills = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL every process of the cluster at once: no cleanup runs."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


# --- the team ------------------------------------------------------------------------------


@dataclass
class Team:
    team: Any
    members: list[Any]
    accounts: dict[str, Any] = field(default_factory=dict)
    choices: dict[str, list[Any]] = field(default_factory=dict)


def make_team(sandbox: Sandbox) -> Team:
    from django.contrib.auth import get_user_model

    from accounts.models import Membership
    from accounts.models import Team as TeamModel
    from accounts.roles import Role

    team = TeamModel.objects.create(name="Chaos QA")
    users = [
        get_user_model().objects.create_user(username=f"member{n}", password=secrets.token_hex(8))
        for n in range(4)
    ]
    members = [Membership.objects.create(team=team, user=u, role=Role.MEMBER) for u in users]
    crew = Team(team=team, members=members)
    for kind in KINDS:
        crew.accounts[kind] = make_account(team, kind, sandbox)
        crew.choices[kind] = choices_for(team, crew.accounts[kind])
    return crew


def make_account(team, kind: str, sandbox: Sandbox):
    from providers.models import ProviderAccount
    from providers.services import catalog_sync

    api_key = f"sbx_chaos_{kind}_{secrets.token_hex(4)}"
    balance = BALANCE.get(kind, "100000.00")
    sandbox.control("POST", "/accounts", {"protocol": kind, "api_key": api_key, "balance": balance})
    requests, period = RATE_LIMITS.get(kind, (None, None))
    account = ProviderAccount(
        team=team,
        kind=kind,
        label=f"{kind} chaos",
        base_url=sandbox.base_url + SANDBOX_PREFIXES[kind],
        currency="IDR" if kind == "smscode" else "USD",
        rate_limit_requests=requests,
        rate_limit_period=period,
    )
    account.set_api_key(api_key)
    account.save()
    catalog_sync(account=account)
    return account


def choices_for(team, account) -> list:
    from orders import quotes
    from providers.models import Country, Service

    found = []
    for slug, iso in PAIRS:
        offers = quotes.offers_for(
            team, Service.objects.get(slug=slug), Country.objects.get(iso=iso)
        )
        found += [o.choice for o in offers if o.account == account and o.choice.price]
    if not found:
        raise RuntimeError(f"{account.label} offers none of {PAIRS}.")
    return found


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Tally:
    placed: Counter = field(default_factory=Counter)  # outcome of order_place per kind
    actions: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)  # one message per kind of refusal
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, counter: str, key: str) -> None:
        with self.lock:
            getattr(self, counter)[key] += 1


def place_all(crew: Team, per_kind: int, tally: Tally, on_progress) -> None:
    """Place `per_kind` orders on every account from 8 threads, members at random."""
    queue = [(kind, n) for n in range(per_kind) for kind in KINDS]
    random.shuffle(queue)
    lock = threading.Lock()
    done = [0]

    def worker() -> None:
        from django.db import connection

        try:
            while True:
                with lock:
                    if not queue:
                        return
                    kind, n = queue.pop()
                place_one(crew, kind, n, tally)
                with lock:
                    done[0] += 1
                    count = done[0]
                on_progress(count)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def place_one(crew: Team, kind: str, n: int, tally: Tally) -> None:
    from orders import services

    try:
        (order, *_rest) = services.order_place(
            membership=random.choice(crew.members),
            choices=[random.choice(crew.choices[kind])],
            options=services.Options(),
            idempotency_key=f"chaos-{kind}-{n}",
        )
        tally.count("placed", f"{kind}:{order.state}")
    except services.OrderActionError as exc:
        tally.count("placed", f"{kind}:refused ({exc.category or 'error'})")


def act_like_members(crew: Team, tally: Tally, stop: threading.Event) -> None:
    """Complete most orders with a code and cancel some without, as members do."""
    from django.db import connection

    from orders import services
    from orders.errors import CancelLocked
    from orders.models import Order, State

    rng = random.Random(7)
    try:
        while not stop.wait(0.5):
            for order in Order.objects.filter(team=crew.team, state=State.RECEIVED)[:20]:
                if rng.random() < 0.3:
                    try_action(
                        tally,
                        "complete",
                        services.order_complete,
                        order=order,
                        actor=order.ordered_by,
                    )
            waiting = Order.objects.filter(team=crew.team, state=State.WAITING)
            for order in waiting.exclude(cancel_requested=True)[:20]:
                if rng.random() < 0.05:
                    try_action(
                        tally,
                        "cancel",
                        services.order_cancel,
                        order=order,
                        actor=order.ordered_by,
                        when_allowed=True,
                        errors=(CancelLocked,),
                    )
    finally:
        connection.close()


def try_action(tally: Tally, name: str, action, errors=(), **kwargs) -> None:
    from orders.errors import OrderActionError

    try:
        action(**kwargs)
        tally.count("actions", f"{name}: done")
    except errors:
        tally.count("actions", f"{name}: scheduled")
    except OrderActionError as exc:
        key = f"{name}: refused ({exc.category or 'state'})"
        tally.count("actions", key)
        tally.examples.setdefault(key, exc.message[:160])


def wait_until_settled(crew: Team, timeout: float) -> bool:
    """True once every order of the team has reached a final state."""
    from orders.models import FINAL_STATES, Order

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        open_orders = Order.objects.filter(team=crew.team).exclude(state__in=FINAL_STATES)
        left = open_orders.count()
        if not left:
            return True
        states = Counter(open_orders.values_list("state", flat=True))
        say(f"{left} orders still open: {dict(states)}")
        time.sleep(5)
    return False


# --- the checks -------------------------------------------------------------------------------


def check(crew: Team, sandbox: Sandbox) -> dict[str, Any]:
    """Compare every local order and ledger with the sandbox's own records."""
    from django.db.models import Sum

    from orders.models import Order, State
    from reports.models import LedgerEntry

    figures: dict[str, Any] = {"accounts": {}}
    problems: list[str] = []
    for kind, account in crew.accounts.items():
        protocol = kind
        upstream = {
            str(o["order_id"]): o
            for o in sandbox.control("GET", "/orders", protocol=protocol, api_key=account.api_key)
        }
        books = sandbox.control("GET", "/accounts", protocol=protocol, api_key=account.api_key)
        local = list(Order.objects.filter(account=account))
        by_upstream = Counter()
        for order in local:
            for upstream_id in {order.upstream_id, *order.previous_upstream_ids} - {""}:
                by_upstream[upstream_id] += 1
        twice = [uid for uid, n in by_upstream.items() if n > 1]
        missing = [uid for uid in upstream if uid not in by_upstream and not _resent(upstream[uid])]
        ownerless = [o for o in local if o.ordered_by_id is None and o.ledger.exists()]
        failed_charged = [o for o in local if o.state == State.FAILED and o.ledger.exists()]
        mismatched = [
            o.upstream_id
            for o in local
            if o.upstream_id
            and upstream.get(o.upstream_id, {}).get("status") not in FINAL_MATCH.get(o.state, ())
        ]
        booked = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
        booked = (booked or Decimal(0)).quantize(CENT)
        spent = (Decimal(books["initial_balance"]) - Decimal(books["balance"])).quantize(CENT)
        row = {
            "local_orders": len(local),
            "by_state": dict(Counter(o.state for o in local)),
            "upstream_orders": len(upstream),
            "upstream_with_two_rows": len(twice),
            "upstream_without_a_row": len(missing),
            "charged_without_member": len(ownerless),
            "failed_but_charged": len(failed_charged),
            "state_mismatches": len(mismatched),
            "ledger": str(booked),
            "sandbox_spent": str(spent),
            "difference": str(booked - spent),
            "currency": account.currency,
        }
        figures["accounts"][kind] = row
        for name in (
            "upstream_with_two_rows",
            "upstream_without_a_row",
            "charged_without_member",
            "failed_but_charged",
            "state_mismatches",
        ):
            if row[name]:
                problems.append(f"{kind}: {name} = {row[name]}")
        if booked != spent:
            problems.append(f"{kind}: ledger {booked} != sandbox {spent} {account.currency}")
        if mismatched:
            problems.append(f"{kind}: e.g. {_mismatch_detail(mismatched[:3], local, upstream)}")
    figures["problems"] = problems
    return figures


def _resent(upstream: dict) -> bool:
    return bool(upstream.get("resent_from"))


def _mismatch_detail(ids, local, upstream) -> str:
    states = {o.upstream_id: o.state for o in local}
    return ", ".join(
        f"{i}: local {states[i]} / sandbox {upstream.get(i, {}).get('status')}" for i in ids
    )


def unconfirmed_outcomes(team) -> dict[str, int]:
    """How the purchases whose outcome was unknown ended up."""
    from audit.models import AuditEvent
    from orders.models import Order, State

    codes = AuditEvent.objects.filter(team=team, action="order.unconfirmed").values_list(
        "target_code", flat=True
    )
    orders = Order.objects.filter(code__in=set(codes))
    bought = orders.exclude(state=State.FAILED).count()
    return {"unconfirmed": orders.count(), "bought": bought, "not bought": orders.count() - bought}


def report(figures: dict[str, Any], tally: Tally, extra: dict[str, Any]) -> str:
    lines = [
        f"orders per protocol: {extra['per_kind']} "
        f"({extra['per_kind'] * len(KINDS)} in all), fault rate {extra['fault_rate']:.0%}, "
        f"cluster SIGKILLs: {extra['kills']}, "
        f"run time {extra['seconds']:.0f} s",
        f"faults injected: {extra['injected']}",
        f"placement outcomes: {dict(sorted(tally.placed.items()))}",
        f"member actions: {dict(sorted(tally.actions.items()))}",
        *(f"  e.g. {key}: {message}" for key, message in sorted(tally.examples.items())),
        f"purchases with an unknown outcome: {extra['unconfirmed']}",
        "",
        "| account | local orders | upstream orders | two rows | no row | charged, no member "
        "| failed but charged | state mismatches | ledger | sandbox spent | difference |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, row in figures["accounts"].items():
        lines.append(
            f"| {kind} | {row['local_orders']} | {row['upstream_orders']} "
            f"| {row['upstream_with_two_rows']} | {row['upstream_without_a_row']} "
            f"| {row['charged_without_member']} | {row['failed_but_charged']} "
            f"| {row['state_mismatches']} | {row['ledger']} | {row['sandbox_spent']} "
            f"| {row['difference']} {row['currency']} |"
        )
    for kind, row in figures["accounts"].items():
        lines.append(f"{kind} final states: {row['by_state']}")
    lines.append("")
    lines.append("PASS" if not figures["problems"] else "FAIL: " + "; ".join(figures["problems"]))
    return "\n".join(lines)


def run(per_kind: int, fault_rate: float, seed: int, settle_timeout: float) -> int:
    random.seed(seed)
    started = time.monotonic()
    sandbox, sandbox_process = start_sandbox(seed)
    cluster = Cluster()
    stop = threading.Event()
    tally = Tally()
    try:
        crew = make_team(sandbox)
        failures = {kind: {m: fault_rate * s for m, s in FAULT_MIX.items()} for kind in KINDS}
        limits = {kind: list(limit) for kind, limit in RATE_LIMITS.items()}
        sandbox.control("POST", "/config", {"failures": failures, "rate_limits": limits})
        cluster.start()
        members = threading.Thread(target=act_like_members, args=(crew, tally, stop))
        members.start()
        total = per_kind * len(KINDS)
        kill_at = {total // 3, 2 * total // 3}

        def on_progress(done: int) -> None:
            if done in kill_at:
                kill_at.discard(done)
                say(f"{done}/{total} placed: SIGKILL the task cluster")
                cluster.kill()
                time.sleep(2)
                cluster.start()

        say(f"placing {total} orders with {fault_rate:.0%} faults")
        place_all(crew, per_kind, tally, on_progress)
        say("all placed; waiting for every order to end")
        settled = wait_until_settled(crew, settle_timeout)
        stop.set()
        members.join()
        sandbox.control("POST", "/config", {"failures": {k: {} for k in KINDS}})
        figures = check(crew, sandbox)
        if not settled:
            figures["problems"].append(f"orders still open after {settle_timeout:.0f} s")
        extra = {
            "per_kind": per_kind,
            "fault_rate": fault_rate,
            "kills": cluster.kills,
            "seconds": time.monotonic() - started,
            "injected": sandbox.control("GET", "/fail")["injected"],
            "unconfirmed": unconfirmed_outcomes(crew.team),
        }
        print(report(figures, tally, extra))
        return 1 if figures["problems"] else 0
    finally:
        stop.set()
        cluster.stop()
        sandbox_process.terminate()
        sandbox_process.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.chaos", description=__doc__)
    parser.add_argument("--orders-per-kind", type=int, default=80)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--settle-timeout", type=float, default=420.0)
    args = parser.parse_args(argv)
    with throwaway_database(os.environ.get("CHAOS_DATABASE_URL", "")) as db_url:
        os.environ.update(environment(db_url))
        if os.environ.get("CHAOS_REDIS_URL"):
            os.environ["REDIS_URL"] = os.environ["CHAOS_REDIS_URL"]
        os.chdir(BASE_DIR)
        import django

        django.setup()
        from django.core.management import call_command

        say(f"database {db_url.split('@')[-1]}, broker {os.environ['REDIS_URL'] or 'ORM'}")
        call_command("migrate", verbosity=0, interactive=False)
        call_command("createcachetable", verbosity=0)
        call_command("setup_schedules", verbosity=0)
        code = run(args.orders_per_kind, args.fault_rate, args.seed, args.settle_timeout)
        from django.db import connections

        connections.close_all()
        return code


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A fresh database for one run: an SQLite file under var/chaos/, or (when
    `server_url` names a PostgreSQL server) a new database there; removed afterwards."""
    if not server_url.startswith("postgres"):
        db_dir = BASE_DIR / "var" / "chaos"
        db_dir.mkdir(parents=True, exist_ok=True)
        db_path = db_dir / f"chaos-{os.getpid()}.sqlite3"
        try:
            yield f"sqlite:///{db_path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    name = f"smsdesk_chaos_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())

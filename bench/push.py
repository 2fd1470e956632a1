"""The push benchmark: how fast a code reaches the portal when SMSCode pushes it to
the webhook, side by side with polling alone, in one run (docs/BENCHMARKS.md).

    python -m bench --push                      # 50 SMSCode orders per phase
    python -m bench --push --orders 20 --time-scale 4
    python -m bench --push --help

One run, on a throwaway SQLite database under var/bench/ and its own sandbox
provider (a subprocess, as deployed), with the portal served over HTTP by a
threaded WSGI server in this process (the webhook's receiving end):

1. push phase: an SMSCode account set up while PUBLIC_BASE_URL points at that
   server, so its catalogue sync registers the webhook; N orders placed the real
   way; the real sync engine (dispatcher and four cycle workers, as in
   bench/sync.py) runs alongside as the fallback, slowing down while pushes
   arrive; the sandbox delivers the codes at random times and pushes each one;
2. poll phase: the same load on another SMSCode account with no webhook
   (PUBLIC_BASE_URL unset): the engine's polling alone.

A code's latency is from the sandbox's `delivered_at` to the commit of its
OrderMessage row (the order row holding the code, as the board shows it); each
arrival is attributed to the push (a web server thread) or a poll (a cycle
worker). Upstream requests come from the sandbox's own counters.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from bench.sync import (
    BASE_DIR,
    Group,
    Options,
    _account,
    _place_orders,
    _remove_db,
    _say,
    bench_environment,
    machine,
    make_member,
    run_phase,
    sandbox_running,
    start_pollers,
    stop_pollers,
    write_results,
)

KIND = "smscode"
PUSH_TARGET_P95 = 0.300  # seconds, issue 13


def push_options(values: dict[str, Any]) -> Options:
    """The sync benchmark's options for one SMSCode account per phase."""
    return Options(
        bulk_orders=0,
        numpool_orders=0,
        time_scale=values["time_scale"],
        delivery_min=values["delivery_min"],
        delivery_max=values["delivery_max"],
        no_code_share=0.0,
        tail=values["tail"],
        drain=values["drain"],
        seed=values["seed"],
        sandbox=values["sandbox"],
        output=values["output"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench --push",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--orders", type=int, default=50, help="SMSCode orders per phase (50)")
    parser.add_argument("--time-scale", type=float, default=2.0, help="sandbox time scale (2)")
    parser.add_argument("--delivery-min", type=float, default=5.0, help="upstream seconds (5)")
    parser.add_argument("--delivery-max", type=float, default=40.0, help="upstream seconds (40)")
    parser.add_argument("--tail", type=float, default=5.0, help="seconds after the last code (5)")
    parser.add_argument("--drain", type=float, default=30.0, help="at most this long more (30)")
    parser.add_argument("--seed", type=int, default=1, help="seed for delivery times (1)")
    parser.add_argument("--sandbox", choices=["subprocess", "inprocess"], default="subprocess")
    parser.add_argument("--output", default="var/bench-push-results.json")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    values = vars(args)
    db_dir = BASE_DIR / "var" / "bench"
    db_dir.mkdir(parents=True, exist_ok=True)
    db_path = db_dir / f"bench-push-{os.getpid()}.sqlite3"
    _remove_db(db_path)
    os.environ.update(bench_environment(db_path))
    os.environ["PUSH_ALLOW_HTTP"] = "true"  # the portal listens on loopback, over http
    os.chdir(BASE_DIR)
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    command = " ".join(["python -m bench --push", *(argv or [])]).strip()
    try:
        results = run(push_options(values), orders=args.orders, command=command)
    finally:
        if not args.keep_db:
            _remove_db(db_path)
    output = BASE_DIR / args.output
    write_results(results, output)
    print(format_table(results))
    print(f"\nResults written to {output}")
    return 0


# --- the portal over HTTP ------------------------------------------------------------------


@contextmanager
def portal_server():
    """The portal (its WSGI application) on a free loopback port, in this process."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=True)
    httpd.set_app(get_wsgi_application())
    thread = threading.Thread(target=httpd.serve_forever, name="bench-portal", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class ApplyTimes:
    """How long the portal spent applying each push (wraps sync.hooks.push_apply, which
    the webhook view calls): the portal's share of a push's latency."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: list[float] = []

    def __enter__(self) -> ApplyTimes:
        from sync import hooks

        self.hooks, self.original = hooks, hooks.push_apply
        original = self.original

        def timed(**kwargs):
            started = time.perf_counter()
            try:
                return original(**kwargs)
            finally:
                with self.lock:
                    self.seconds.append(time.perf_counter() - started)

        hooks.push_apply = timed
        return self

    def __exit__(self, *exc: object) -> None:
        self.hooks.push_apply = self.original

    def figures(self) -> dict[str, Any]:
        from bench.sync import _percentile

        with self.lock:
            seconds = list(self.seconds)
        return {
            "pushes_applied": len(seconds),
            "apply_p50": _percentile(seconds, 50),
            "apply_p95": _percentile(seconds, 95),
        }


class Via:
    """Which path stored each code: a web server thread (the push) or a cycle worker."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by: dict[tuple[int, str], str] = {}

    def __enter__(self) -> Via:
        from django.db.models.signals import post_save

        from orders.models import OrderMessage

        post_save.connect(self._saved, sender=OrderMessage, dispatch_uid="bench.push.via")
        return self

    def __exit__(self, *exc: object) -> None:
        from django.db.models.signals import post_save

        from orders.models import OrderMessage

        post_save.disconnect(sender=OrderMessage, dispatch_uid="bench.push.via")

    def _saved(self, sender, instance, created: bool, **kwargs) -> None:
        if created:
            poll = threading.current_thread().name.startswith("bench-worker")
            key = (instance.order.account_id, instance.upstream_order_id)
            with self.lock:
                self.by.setdefault(key, "poll" if poll else "push")

    def counts(self, account_id: int) -> dict[str, int]:
        with self.lock:
            values = [via for (acct, _), via in self.by.items() if acct == account_id]
        return {"by_push": values.count("push"), "by_poll": values.count("poll")}


def setup(name: str, sandbox, count: int) -> Group:
    """One SMSCode account (its catalogue synced: the webhook registered when
    PUBLIC_BASE_URL is set) and `count` orders placed the real way."""
    membership = make_member(f"Bench {name}")
    group = Group(name=name, team=membership.team)
    account = _account(group, KIND, sandbox)
    group.accounts[KIND] = account
    group.orders[KIND] = _place_orders(membership, account, count, name)
    account.rate_limit_requests = None
    account.save(update_fields=["rate_limit_requests"])
    return group


def run(options: Options, *, orders: int = 50, command: str = "python -m bench --push") -> dict:
    """Both phases; needs a configured Django with a migrated database."""
    from django.conf import settings
    from django.test.utils import override_settings

    from providers import leases
    from providers.models import ProviderAccount

    started, load = time.time(), os.getloadavg()
    figures: dict[str, dict] = {}
    with (
        override_settings(SYNC_AUTOSTART=False, PUSH_ALLOW_HTTP=True),
        sandbox_running(options) as sandbox,
        portal_server() as portal,
    ):
        sandbox.control("POST", "/config", {"rate_limits_enabled": False})
        with override_settings(PUBLIC_BASE_URL=portal):
            _say(f"push phase: {orders} SMSCode orders, webhook at {portal}")
            push = setup("push", sandbox, orders)
            account = ProviderAccount.objects.get(pk=push.accounts[KIND].pk)
            if not account.webhook_url:
                raise RuntimeError("The SMSCode account registered no webhook.")
            with Via() as via, ApplyTimes() as applying:
                figures["push"] = run_phase(
                    push, sandbox, options, start_pollers, stop_pollers, options.seed
                )[KIND]
            figures["push"].update(via.counts(account.pk))
            figures["push"].update(applying.figures())
            figures["push"]["webhook_failures"] = _webhook_failures(sandbox, push)
        assert not settings.PUBLIC_BASE_URL
        _say(f"poll phase: {orders} SMSCode orders, no webhook")
        poll = setup("poll", sandbox, orders)
        with Via() as via:
            figures["poll"] = run_phase(
                poll, sandbox, options, start_pollers, stop_pollers, options.seed
            )[KIND]
        figures["poll"].update(via.counts(poll.accounts[KIND].pk))
    results = {
        "meta": machine(command, options, started, load),
        "options": {**asdict(options), "orders": orders},
        "push": figures["push"],
        "poll": figures["poll"],
        "settings": {
            "PUSH_SLOWDOWN": leases.PUSH_SLOWDOWN,
            "PUSH_MAX_INTERVAL": leases.PUSH_MAX_INTERVAL,
            "PUSH_QUIET_SECONDS": leases.PUSH_QUIET.total_seconds(),
        },
    }
    p95 = figures["push"]["latency_p95"]
    results["targets"] = [
        {
            "name": "code on screen by push, p95",
            "value": p95,
            "target": f"<= {PUSH_TARGET_P95} s",
            "met": p95 is not None and p95 <= PUSH_TARGET_P95,
        }
    ]
    return results


def _webhook_failures(sandbox, group: Group) -> int | None:
    """Failed deliveries in a row upstream at the end (0: the last one was taken)."""
    account = sandbox.control("GET", "/accounts", protocol=KIND, api_key=group.api_key(KIND))
    return account.get("webhook", {}).get("consecutive_failures")


def format_table(results: dict) -> str:
    rows = [
        ("", "push (webhook + slowed polling)", "polling alone"),
    ]

    def cell(mode: str, name: str, digits: int = 3) -> str:
        value = results[mode].get(name)
        if isinstance(value, float):
            return f"{value:.{digits}f}"
        return "-" if value is None else str(value)

    for label, name in (
        ("codes delivered", "codes_delivered"),
        ("codes seen", "codes_seen"),
        ("code latency p50 (s)", "latency_p50"),
        ("code latency p95 (s)", "latency_p95"),
        ("code latency max (s)", "latency_max"),
        ("stored by the push", "by_push"),
        ("stored by a poll", "by_poll"),
        ("portal's apply time p50 (s)", "apply_p50"),
        ("portal's apply time p95 (s)", "apply_p95"),
        ("upstream requests", "requests"),
        ("requests per minute", "requests_per_minute"),
        ("share of the rate limit", "limit_share"),
        ("429s", "rate_limited"),
    ):
        rows.append((label, cell("push", name), cell("poll", name)))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(width[i]) for i in range(3)) for r in rows]
    for target in results["targets"]:
        met = "met" if target["met"] else "NOT met"
        lines.append(f"{target['name']}: {target['value']} ({target['target']}: {met})")
    return "\n".join(lines)

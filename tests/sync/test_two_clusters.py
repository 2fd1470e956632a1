"""Two task clusters on one Redis broker share the sync engine: every account is
followed, never by both at once, no cycle runs twice, and killing one cluster in the
middle of its work loses nothing (the other carries on)."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
import time
import uuid
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import Membership, Team
from accounts.roles import Role
from orders import quotes, services
from orders.models import Order, State
from providers import leases
from providers.models import Country, Service
from tests.base import make_user
from tests.conftest import sandbox_account
from tests.processes import (
    MANAGE,
    ROOT,
    alive_in_groups,
    command_env,
    create_cache_table,
    wait_until,
)

CYCLE = re.compile(r"cycle account=(\d+) token=(\S+) from=([\d.]+) to=([\d.]+)")
ACCOUNTS = 6


def redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.flushdb()  # the broker's queue starts empty
    except Exception:
        return None
    return url


def place_orders(sandbox) -> list[int]:
    """ACCOUNTS sandbox accounts, each with an order waiting for its code."""
    team = Team.objects.create(name="Two clusters")
    member = Membership.objects.create(team=team, user=make_user("ann"), role=Role.MEMBER)
    account_ids = []
    for n in range(ACCOUNTS):
        account = sandbox_account(team, sandbox, "smspool", label=f"pool {n}")
        service, country = Service.objects.get(slug="whatsapp"), Country.objects.get(iso="US")
        offers = quotes.offers_for(team, service, country, live=False)
        offer = next(o for o in offers if o.account == account and o.in_stock)
        services.order_place(
            membership=member,
            choices=[offer.choice],
            options=services.Options(),
            idempotency_key=uuid.uuid4().hex,
        )
        leases.mark_due(account.pk)
        account_ids.append(account.pk)
    return account_ids


def start_cluster(log_path, broker: str) -> subprocess.Popen:
    with log_path.open("w") as out:
        return subprocess.Popen(
            [*MANAGE, "qcluster"],
            cwd=ROOT,
            env=command_env(REDIS_URL=broker, LOG_LEVEL="DEBUG"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def cycles(*logs) -> list[tuple[int, str, float, float]]:
    found = []
    for log in logs:
        found += [
            (int(a), token, float(start), float(end))
            for a, token, start, end in CYCLE.findall(log.read_text())
        ]
    return found


def followed_after(log, moment: float) -> set[int]:
    """The accounts whose cycles in `log` ended after `moment`."""
    return {account for account, _, _, end in cycles(log) if end > moment}


def delivered_and_seen(sandbox, account_ids) -> bool:
    return Order.objects.filter(account_id__in=account_ids, state=State.RECEIVED).count() == len(
        account_ids
    )


@pytest.mark.slow
def test_two_clusters_share_the_accounts_and_one_carries_on_when_the_other_dies(
    transactional_db, sandbox, tmp_path
):
    broker = redis_url()
    if broker is None:
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail("Redis is required in CI")
        pytest.skip("no Redis reachable")
    account_ids = place_orders(sandbox)
    create_cache_table()
    # The watchdog schedule restarts the dispatcher when the cluster running it dies.
    call_command("setup_schedules", verbosity=0)
    Schedule.objects.filter(func="sync.tasks.watchdog").update(next_run=timezone.now())
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    clusters = [start_cluster(log, broker) for log in logs]
    groups = {c.pid for c in clusters}
    try:
        # What a placement does after its commit: wake the engine (on their broker).
        wake = "from sync import engine; engine.wake()"
        env = command_env(REDIS_URL=broker)
        subprocess.run([*MANAGE, "shell", "-c", wake], cwd=ROOT, env=env, check=True)
        followed = wait_until(
            lambda: {a for a, *_ in cycles(*logs)} >= set(account_ids), timeout=90
        )
        assert followed is not None, logs[0].read_text()[-3000:] + logs[1].read_text()[-3000:]

        # Kill cluster a outright, in the middle of whatever it runs.
        os.killpg(clusters[0].pid, signal.SIGKILL)
        clusters[0].wait()
        killed_at = time.time()
        # Codes that arrive now must still be seen: by cluster b alone.
        for order in Order.objects.filter(account_id__in=account_ids):
            upstream = sandbox.state.order("smspool", order.account.api_key, order.upstream_id)
            with sandbox.state.lock:
                sandbox.state.deliver(upstream, text="Your code is 123456")
        # If the dispatcher ran in the killed cluster, the watchdog restarts it in the
        # other one once its lease has run out: within about a minute and a half.
        seen = wait_until(lambda: delivered_and_seen(sandbox, account_ids), timeout=180)
        assert seen is not None, logs[1].read_text()[-4000:]
        # A cycle writes its log line just after its commit: stopping the clusters the
        # moment the last code is stored could cut that line off.
        wait_until(lambda: followed_after(logs[1], killed_at) >= set(account_ids), timeout=30)
    finally:
        for cluster in clusters:
            if cluster.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(cluster.pid, signal.SIGTERM)
        wait_until(lambda: not alive_in_groups(groups), timeout=15)
        for pid in alive_in_groups(groups):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    ran = cycles(*logs)
    tokens = [token for _, token, _, _ in ran]
    assert len(tokens) == len(set(tokens)), "a cycle ran twice"
    by_account = defaultdict(list)
    for account_id, _, start, end in ran:
        by_account[account_id].append((start, end))
    for account_id, spans in by_account.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end - 0.001, f"account {account_id}: two cycles at once"
    assert {a for a, *_ in ran} == set(account_ids)
    # Cluster b followed every account alone.
    assert followed_after(logs[1], killed_at) == set(account_ids)
    assert all(o.last_code == "123456" for o in Order.objects.filter(account_id__in=account_ids))

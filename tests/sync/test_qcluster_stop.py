"""`manage.py qcluster` stops within seconds of a supervisor's SIGTERM, even while the
sync engine's dispatcher runs; it releases its lease and leaves a successor for the
next cluster."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid

import pytest
from django_q.brokers import get_broker
from django_q.models import Task
from django_q.tasks import async_task

from accounts.models import Membership, Team
from accounts.roles import Role
from orders import quotes, services
from orders.models import Order
from providers.models import Country, ProviderAccount, Service
from sync import shutdown
from sync.models import EngineLease
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

STOP_WITHIN = 10  # seconds, what a supervisor allows before SIGKILL


def test_nothing_is_requested_outside_a_task_cluster():
    assert not shutdown.stop_requested()
    started = time.monotonic()
    assert shutdown.sleep(0.3) is False
    assert time.monotonic() - started >= 0.3


def place_order(sandbox) -> Order:
    """An order awaiting its code (the test sandbox never delivers one)."""
    team = Team.objects.create(name="Stop QA")
    membership = Membership.objects.create(team=team, user=make_user("sam"), role=Role.MEMBER)
    account = sandbox_account(team, sandbox, "smspool")
    service, country = Service.objects.get(slug="whatsapp"), Country.objects.get(iso="US")
    offers = quotes.offers_for(team, service, country, live=False)
    offer = next(o for o in offers if o.account == account and o.in_stock)
    (order,) = services.order_place(
        membership=membership,
        choices=[offer.choice],
        options=services.Options(),
        idempotency_key=uuid.uuid4().hex,
    )
    return order


def dispatcher_owner() -> str:
    lease = EngineLease.objects.filter(name="dispatcher").first()
    return lease.owner if lease else ""


def checked_at(account_id: int):
    return Order.objects.filter(account_id=account_id).values_list("last_checked_at", flat=True)[0]


@pytest.mark.slow
def test_sigterm_stops_the_cluster_and_its_running_dispatcher_within_seconds(
    transactional_db, sandbox, tmp_path
):
    order = place_order(sandbox)
    account_id = order.account_id
    async_task("sync.tasks.dispatch", q_options={"sync": False, "group": "sync", "timeout": 90})
    create_cache_table()
    log = tmp_path / "qcluster.log"
    with log.open("w") as out:
        cluster = subprocess.Popen(
            [*MANAGE, "qcluster"],
            cwd=ROOT,
            env=command_env(SYNC_RUN_SECONDS="50"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    group = {cluster.pid}
    try:
        polling = wait_until(lambda: dispatcher_owner() != "", timeout=60)
        assert polling is not None, log.read_text()[-3000:]
        cycled = wait_until(lambda: checked_at(account_id) is not None, timeout=30)
        assert cycled is not None, log.read_text()[-3000:]  # its cycles run on the workers
        assert len(alive_in_groups(group)) >= 5  # main, sentinel, pusher, monitor, workers

        cluster.send_signal(signal.SIGTERM)  # what supervisord, Docker and Kubernetes send
        took = wait_until(
            lambda: cluster.poll() is not None and not alive_in_groups(group), STOP_WITHIN
        )
        assert took is not None, f"still running: {alive_in_groups(group)}\n{log.read_text()}"
        assert cluster.returncode == 0
    finally:
        if alive_in_groups(group):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()

    assert dispatcher_owner() == ""  # the next cluster's dispatcher may start at once
    results = Task.objects.filter(func="sync.tasks.dispatch").values_list("result", flat=True)
    assert any("cycles sent" in str(r) for r in results), list(results)
    assert ProviderAccount.objects.get(pk=account_id).sync_due_at is not None  # still followed
    assert get_broker().queue_size() >= 1  # the successor, waiting for the next cluster

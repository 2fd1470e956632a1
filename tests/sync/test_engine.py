"""The sync engine: due times, the dispatcher, one cycle per task, the watchdog."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order, State
from providers import leases
from providers.models import ProviderAccount
from sync import engine
from sync.models import EngineLease
from tests.base import BaseTestCase


def make_account(team, label: str) -> ProviderAccount:
    account = ProviderAccount(team=team, kind="smspool", label=label, base_url="https://x.test")
    account.set_api_key("sbx_engine_" + label)
    account.save()
    return account


class DueTimesTestCase(BaseTestCase):
    def test_marking_due_never_delays_an_earlier_due_time(self):
        account = make_account(self.team, "a")
        soon = timezone.now() + timedelta(seconds=1)
        leases.mark_due(account.pk, soon)
        leases.mark_due(account.pk, soon + timedelta(minutes=5))
        account.refresh_from_db()
        self.assertEqual(account.sync_due_at, soon)

    def test_work_asked_for_during_a_cycle_keeps_the_account_due(self):
        # The cycle counted no work; an order placed meanwhile must not be forgotten.
        account = make_account(self.team, "a")
        self.assertTrue(leases.claim(account.pk, "t"))
        started = timezone.now()
        leases.mark_due(account.pk)
        leases.release(account.pk, "t", started=started, due_at=None)
        account.refresh_from_db()
        self.assertIsNotNone(account.sync_due_at)
        self.assertEqual(account.poller_lease_owner, "")

    def test_release_sets_the_next_due_time_when_the_lease_is_ours(self):
        # release() runs SQL of its own (written once): the exact time, on both databases.
        account = make_account(self.team, "a")
        self.assertTrue(leases.claim(account.pk, "t"))
        started = timezone.now()
        due = started + timedelta(seconds=3, microseconds=123_457)

        self.assertFalse(leases.release(account.pk, "other", started=started, due_at=due))
        self.assertTrue(leases.release(account.pk, "t", started=started, due_at=due))

        account.refresh_from_db()
        self.assertEqual(account.sync_due_at, due)
        self.assertEqual((account.poller_lease_owner, account.poller_lease_until), ("", None))
        self.assertFalse(leases.release(account.pk, "t", started=started, due_at=due))

    def test_a_cycle_that_spent_more_requests_waits_for_them_all(self):
        # NumPool: 60 requests a minute, a quarter for polling: a request every 4 s.
        account = make_account(self.team, "np")
        ProviderAccount.objects.filter(pk=account.pk).update(kind="numpool")
        account.refresh_from_db()
        now = timezone.now()

        def interval(requests: int) -> float:
            cycle = engine.Cycle(awaiting=1, active=1, requests=requests)
            return (engine.next_due(account, cycle, now) - now).total_seconds()

        self.assertEqual(interval(1), 4.0)
        self.assertEqual(interval(2), 8.0)  # the list and one order's own check
        self.assertEqual(interval(0), 4.0)  # nothing sent (rate limited here): the interval

    def test_an_account_with_nothing_to_follow_goes_idle(self):
        account = make_account(self.team, "a")
        self.assertTrue(leases.claim(account.pk, "t"))
        leases.release(account.pk, "t", started=timezone.now(), due_at=None)
        account.refresh_from_db()
        self.assertIsNone(account.sync_due_at)


class DispatcherTestCase(BaseTestCase):
    def setUp(self):
        self.sent: list[tuple[int, str]] = []

    def dispatch(self, now=None):
        return engine.dispatch_due(now, enqueue=self.sent.extend)

    def test_it_sends_due_accounts_most_overdue_first_and_claims_their_leases(self):
        now = timezone.now()
        late, later, idle = (make_account(self.team, n) for n in ("late", "later", "idle"))
        ProviderAccount.objects.filter(pk=late.pk).update(sync_due_at=now - timedelta(seconds=9))
        ProviderAccount.objects.filter(pk=later.pk).update(sync_due_at=now - timedelta(seconds=1))
        self.assertEqual(self.dispatch(now), [late.pk, later.pk])
        late.refresh_from_db()
        self.assertEqual(late.poller_lease_owner, self.sent[0][1])
        # Leased accounts are not sent again, however due they are.
        self.assertEqual(self.dispatch(now), [])
        self.assertNotIn(idle.pk, [a for a, _ in self.sent])

    def test_it_keeps_at_most_the_allowed_cycles_in_flight(self):
        now = timezone.now()
        for n in range(5):
            leases.mark_due(make_account(self.team, f"a{n}").pk, now)
        with override_settings(SYNC_MAX_IN_FLIGHT=3):
            self.assertEqual(len(self.dispatch(now)), 3)
            self.assertEqual(len(self.dispatch(now)), 0)

    def test_a_disabled_account_is_not_sent(self):
        account = make_account(self.team, "off")
        leases.mark_due(account.pk)
        ProviderAccount.objects.filter(pk=account.pk).update(enabled=False)
        self.assertEqual(self.dispatch(), [])

    def test_a_lease_left_by_a_dead_cycle_runs_out_and_the_account_is_sent_again(self):
        account = make_account(self.team, "a")
        leases.mark_due(account.pk)
        self.assertEqual(self.dispatch(), [account.pk])
        later = timezone.now() + leases.CYCLE_LEASE + timedelta(seconds=1)
        self.assertEqual(self.dispatch(later), [account.pk])

    def test_only_one_dispatcher_runs_across_clusters(self):
        EngineLease.objects.create(
            name=engine.DISPATCHER, owner="other-host:1", until=timezone.now() + timedelta(9)
        )
        self.assertEqual(engine.dispatch(), "another dispatcher runs")


class BatchesTestCase(BaseTestCase):
    """A task runs several cycles when many accounts are due at once (its own cost is
    paid once for them), one when few are (none waits behind another)."""

    @override_settings(SYNC_BATCH=4, Q_CLUSTER={"workers": 6})
    def test_few_due_accounts_get_a_task_each_and_many_share_tasks_of_at_most_the_batch(self):
        self.assertEqual(engine.batches([1, 2, 3]), [[1], [2], [3]])
        self.assertEqual(
            engine.batches(list(range(12))), [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]
        )
        many = engine.batches(list(range(40)))
        self.assertEqual([len(b) for b in many], [4] * 10)
        self.assertEqual([a for b in many for a in b], list(range(40)))  # most overdue first

    @override_settings(SYNC_BATCH=4, SYNC_MAX_IN_FLIGHT=100, Q_CLUSTER={"workers": 2})
    def test_the_dispatcher_sends_due_accounts_in_batches_each_under_its_own_lease(self):
        accounts = [make_account(self.team, f"a{n}") for n in range(6)]
        for account in accounts:
            leases.mark_due(account.pk)
        tasks = []
        engine.dispatch_due(enqueue=tasks.append)
        self.assertEqual([len(task) for task in tasks], [3, 3])
        for account_id, token in (pair for task in tasks for pair in task):
            self.assertEqual(ProviderAccount.objects.get(pk=account_id).poller_lease_owner, token)

    def test_a_failing_cycle_does_not_stop_the_others_of_its_task(self):
        ran = []

        def cycle(account_id, token):
            if account_id == 2:
                raise RuntimeError("boom")
            ran.append(account_id)
            return "ok"

        with (
            mock.patch.object(engine, "cycle", side_effect=cycle),
            self.assertLogs("sync.engine", "ERROR"),
        ):
            self.assertEqual(engine.cycles([(1, "t1"), (2, "t2"), (3, "t3")]), "2 of 3 cycles run")
        self.assertEqual(ran, [1, 3])

    def test_when_the_cluster_stops_the_cycles_not_started_are_handed_back_due(self):
        account = make_account(self.team, "a")
        self.assertTrue(leases.claim(account.pk, "t"))
        with mock.patch.object(engine.shutdown, "stop_requested", return_value=True):
            self.assertEqual(engine.cycles([(account.pk, "t")]), "0 of 1 cycles run")
        account.refresh_from_db()
        self.assertEqual(account.poller_lease_owner, "")  # free at once, not in a minute
        self.assertLessEqual(account.sync_due_at, timezone.now())


class DispatcherLoopTestCase(BaseTestCase):
    """The dispatcher runs for a minute at a time beside the cycles: while it can send
    nothing it must look rarely, not spin on queries (at 200 accounts a spinning
    dispatcher took the CPU the cycles needed)."""

    def looks_in(self, seconds: int) -> int:
        """Queries the dispatcher makes running `seconds` with cycles never ending."""
        with (
            override_settings(SYNC_RUN_SECONDS=seconds, SYNC_MAX_IN_FLIGHT=2),
            mock.patch.object(engine, "_enqueue_cycles"),
            mock.patch.object(engine, "close_old_connections"),  # the test's transaction
            CaptureQueriesContext(connection) as queries,
        ):
            engine.dispatch()
        return len(queries)

    def test_while_every_due_account_is_in_a_cycle_it_looks_about_every_tick(self):
        for n in range(2):
            account = make_account(self.team, f"busy{n}")
            leases.mark_due(account.pk, timezone.now() - timedelta(seconds=5))
            self.assertTrue(leases.claim(account.pk, f"running{n}"))
        # About 4 queries a look, a look every TICK (0.1 s): ~40 a second. Spinning
        # made thousands.
        self.assertLess(self.looks_in(1), 80)

    def test_while_every_slot_is_taken_it_looks_every_full_wait(self):
        for n in range(4):
            leases.mark_due(make_account(self.team, f"due{n}").pk, timezone.now())
        # Two are sent (SYNC_MAX_IN_FLIGHT); their cycles never end, the other two wait.
        # About 3 queries a look (the count of busy accounts, next_look's aggregate,
        # the lease), a look every FULL_WAIT (0.1 s). At 0.02 s, 150 queries a second.
        self.assertLess(self.looks_in(1), 40)

    def test_an_account_whose_cycle_ends_due_now_is_sent_within_a_tick(self):
        account = make_account(self.team, "a")
        leases.mark_due(account.pk)
        self.assertEqual(engine.next_look(), engine.FULL_WAIT)  # due, free, not yet sent
        self.assertTrue(leases.claim(account.pk, "t"))
        self.assertEqual(engine.next_look(), engine.TICK)  # in a cycle: not due meanwhile
        leases.release(account.pk, "t", started=timezone.now(), due_at=None)
        self.assertIsNone(engine.next_look())  # nothing left: the dispatcher may stop


class CycleTaskTestCase(BaseTestCase):
    def test_a_cycle_whose_lease_ran_out_does_nothing(self):
        account = make_account(self.team, "a")
        self.assertTrue(leases.claim(account.pk, "old"))
        ProviderAccount.objects.filter(pk=account.pk).update(poller_lease_owner="new")
        self.assertEqual(engine.cycle(account.pk, "old"), "not ours any more")
        account.refresh_from_db()
        self.assertEqual(account.poller_lease_owner, "new")


class WatchdogTestCase(TestCase):
    def test_it_gives_accounts_with_work_a_due_time_and_leaves_idle_ones_alone(self):
        from accounts.models import Team

        team = Team.objects.create(name="W")
        busy, quiet = make_account(team, "busy"), make_account(team, "quiet")
        Order.objects.create(
            team=team,
            account=busy,
            idempotency_key="k",
            state=State.WAITING,
            upstream_id="1",
            service_upstream_id="1",
            country_upstream_id="1",
        )
        with override_settings(SYNC_AUTOSTART=False):
            self.assertEqual(engine.watchdog(), 1)
        busy.refresh_from_db()
        quiet.refresh_from_db()
        self.assertIsNotNone(busy.sync_due_at)
        self.assertIsNone(quiet.sync_due_at)

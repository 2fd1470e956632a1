"""The live board sends only what changed; search, filters, sort and the row window."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest.mock import patch

from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import board as live
from orders.models import Order, OrderMessage, State
from providers.models import ProviderAccount
from tests.base import BaseTestCase
from tests.orders.test_board_and_history import make_order

ROW = re.compile(r'<tr id="order-([0-9a-f-]{36})"')


def rows_in(response) -> list[str]:
    return ROW.findall(response.content.decode())


def removed_in(response) -> set[str]:
    found = re.search(r'data-remove="([^"]*)"', response.content.decode())
    return set(found.group(1).split()) if found else set()


class LiveBoardTestCase(BaseTestCase):
    def setUp(self):
        self.pool = self.account("smspool", "Pool")
        self.code = self.account("smscode", "Code")
        self.live = reverse("board_fragment", args=[self.team.code])
        self.board = reverse("board", args=[self.team.code])
        self.n = 0

    def account(self, kind, label):
        account = ProviderAccount(
            team=self.team, kind=kind, label=label, base_url="https://api.example.com"
        )
        account.set_api_key(f"key-{kind}-1234")
        account.save()
        return account

    def order(self, user=None, account=None, **fields) -> Order:
        self.n += 1
        return make_order(self.team, account or self.pool, user or self.bob, self.n, **fields)

    def version(self) -> str:
        return live.version(self.team)

    def poll(self, version, **query):
        return self.client.get(self.live, {"v": version, **query})


class ChangedRowsTestCase(LiveBoardTestCase):
    def setUp(self):
        super().setUp()
        self.orders = [self.order() for _ in range(30)]
        self.login(self.bob)

    def test_it_answers_204_while_nothing_changed(self):
        self.assertEqual(self.poll(self.version()).status_code, 204)

    def test_a_poll_with_one_changed_row_answers_with_that_row_alone(self):
        seen = self.version()
        changed = self.orders[7]
        changed.last_code = "482913"
        changed.state = State.RECEIVED
        changed.save()
        r = self.poll(seen)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(rows_in(r), [str(changed.code)])
        self.assertEqual(removed_in(r), set())
        self.assertContains(r, "482913")
        self.assertNotContains(r, "<thead>")  # not the board, only the row
        self.assertNotContains(r, "data-total")  # the same rows: no count to read or send
        self.assertLess(len(r.content), 5000)
        # The next poll, with the version this answer carried, has nothing to do.
        version = re.search(r'data-version="([^"]+)"', r.content.decode()).group(1)
        self.assertEqual(self.poll(version).status_code, 204)

    def test_a_new_order_comes_alone_and_a_finished_one_is_removed(self):
        seen = self.version()
        new = self.order()
        finished = self.orders[3]
        finished.state = State.COMPLETED
        finished.finished_at = timezone.now()
        finished.save()
        r = self.poll(seen)
        self.assertEqual(rows_in(r), [str(new.code)])
        self.assertEqual(removed_in(r), {str(finished.code)})
        self.assertContains(r, 'data-total="30"')

    def test_writes_that_leave_updated_alone_still_send_their_row(self):
        # Scheduling a cancel and the provider's refusals are written with update().
        seen = self.version()
        scheduled = self.orders[5]
        Order.objects.filter(pk=scheduled.pk).update(cancel_requested=True)
        r = self.poll(seen)
        self.assertEqual(rows_in(r), [str(scheduled.code)])
        self.assertContains(r, "cancelling when allowed")

        seen = self.version()
        refused = self.orders[6]
        Order.objects.filter(pk=refused.pk).update(
            cancel_refusals=1, cancel_available_at=timezone.now() + timedelta(seconds=30)
        )
        r = self.poll(seen)
        self.assertEqual(set(rows_in(r)), {str(scheduled.code), str(refused.code)})

    def test_the_member_api_label_written_after_placing_reaches_the_row(self):
        placed = self.order()
        seen = self.version()
        Order.objects.filter(pk=placed.pk).update(placed_via="API: qa bot")  # api.placement
        r = self.poll(seen)
        self.assertEqual(rows_in(r), [str(placed.code)])
        self.assertContains(r, "API: qa bot")

    def test_an_unconfirmed_purchase_that_fails_by_update_leaves_the_board(self):
        unconfirmed = self.order(state=State.UNCONFIRMED, upstream_id="", phone_number="")
        seen = self.version()
        # services._mark_failed: one update(), `updated` untouched, finished_at set.
        Order.objects.filter(pk=unconfirmed.pk).update(
            state=State.FAILED, finished_at=timezone.now()
        )
        r = self.poll(seen)
        self.assertEqual(rows_in(r), [])
        self.assertEqual(removed_in(r), {str(unconfirmed.code)})

    def test_a_purchase_that_becomes_unconfirmed_by_update_enters_the_board(self):
        placing = self.order(state=State.PLACING, upstream_id="", phone_number="")
        seen = self.version()
        Order.objects.filter(pk=placing.pk).update(state=State.UNCONFIRMED)
        r = self.poll(seen)
        self.assertEqual(rows_in(r), [str(placing.code)])

    def test_a_changed_row_that_leaves_the_filter_is_removed(self):
        seen = self.version()
        changed = self.orders[2]
        changed.state = State.RECEIVED
        changed.last_code = "111"
        changed.save()
        r = self.poll(seen, state="waiting")
        self.assertEqual(rows_in(r), [])
        self.assertEqual(removed_in(r), {str(changed.code)})
        r = self.poll(seen, state="received")
        self.assertEqual(rows_in(r), [str(changed.code)])

    def test_a_version_that_is_not_ours_gets_the_whole_board(self):
        for bad in ("garbage", "1_2", "9" * 40 + "_a_b", "-5_a_b"):
            r = self.poll(bad)
            self.assertEqual(r.status_code, 200, bad)
            self.assertEqual(len(rows_in(r)), 30, bad)

    def test_rows_carry_a_sort_key_in_board_order(self):
        r = self.client.get(self.board, {"sort": "oldest"})
        keys = re.findall(r'data-sort-key="([^"]+)"', r.content.decode())
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(len(keys), 30)


class QueryCountTestCase(LiveBoardTestCase):
    def test_the_query_count_does_not_grow_with_the_number_of_orders(self):
        self.login(self.bob)
        counts = {"first": [], "one changed": []}
        for total in (20, 160):  # below and past the 100-row window
            while Order.objects.count() < total:
                order = self.order(last_code="123456", state=State.RECEIVED)
                OrderMessage.objects.create(
                    order=order, upstream_order_id=order.upstream_id, code="123456", fingerprint="f"
                )
            self.client.get(self.board)  # warm the session
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.client.get(self.board).status_code, 200)
            counts["first"].append(len(queries))
            seen = self.version()
            Order.objects.filter(pk=order.pk).update(last_code="654321", updated=timezone.now())
            with CaptureQueriesContext(connection) as queries:
                r = self.poll(seen)
            self.assertEqual(len(rows_in(r)), 1)
            counts["one changed"].append(len(queries))
        for name, (small, large) in counts.items():
            self.assertEqual(small, large, name)


class CheapPollTestCase(LiveBoardTestCase):
    """A poll's fixed costs (issue 13): the version is one query whose SQL is compiled once
    per process, and each answer reads it once."""

    def setUp(self):
        super().setUp()
        self.orders = [self.order() for _ in range(5)]
        self.login(self.bob)

    def test_the_version_is_one_query_compiled_once(self):
        self.version()  # the first call in the process compiles it
        compiled = patch.object(
            SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql
        )
        with compiled as as_sql, self.assertNumQueries(1):
            self.version()
        as_sql.assert_not_called()

    def test_the_compiled_read_reads_what_the_orm_reads(self):
        lock = timezone.now() + timedelta(seconds=30)
        Order.objects.filter(pk=self.orders[0].pk).update(
            cancel_requested=True, cancel_available_at=lock, cancel_refusals=2
        )
        self.order(state=State.UNCONFIRMED, error_category="cannot_confirm", upstream_id="")
        self.order(state=State.UNCONFIRMED, upstream_id="", placed_via="API: qa bot")
        team = self.team.pk
        orm = [*live._newest(team)[0], *live._board_stats(team)[0]]
        self.assertEqual(live._VERSION.row(team), orm)
        self.assertEqual(orm[4], lock)  # converted as the ORM converts it, to the microsecond

    def test_it_is_each_teams_own_version(self):
        other = self.account("smspool", "Other")
        other.team = self.other_team
        other.save()
        theirs = make_order(self.other_team, other, self.charlie, 99)
        ours = self.version()
        self.assertNotEqual(live.version(self.other_team), ours)
        theirs.last_code = "111222"
        theirs.save()
        Order.objects.filter(pk=theirs.pk).update(cancel_requested=True)
        self.assertEqual(self.version(), ours)

    def test_an_empty_board_has_a_version_that_changes_when_an_order_comes(self):
        Order.objects.all().delete()
        empty = self.version()
        self.assertTrue(empty.startswith("0_"))
        self.assertEqual(self.poll(empty).status_code, 204)
        finished = self.order(state=State.COMPLETED)
        after = self.version()
        self.assertNotEqual(after, empty)
        self.assertEqual(after.split("_")[1:], empty.split("_")[1:])  # still no rows
        self.assertEqual(rows_in(self.poll(empty)), [])
        self.assertEqual(removed_in(self.poll(empty)), {str(finished.code)})
        waiting = self.order()
        self.assertEqual(rows_in(self.poll(after)), [str(waiting.code)])

    def test_a_poll_reads_session_user_membership_and_the_version_and_no_more(self):
        current = self.version()
        self.assertEqual(self.poll(current).status_code, 204)  # the session warmed
        with self.assertNumQueries(4):
            self.assertEqual(self.poll(current).status_code, 204)
        seen = self.version()
        changed = self.orders[2]
        changed.state, changed.last_code = State.RECEIVED, "482913"
        changed.save()
        # ... and for one changed row with a code: the row, dropped cancels, its SMS.
        with self.assertNumQueries(7):
            self.assertEqual(rows_in(self.poll(seen)), [str(changed.code)])

    def test_the_whole_board_answer_reads_the_version_once(self):
        with patch.object(live, "version", wraps=live.version) as version:
            r = self.poll("not ours")
        self.assertEqual(len(rows_in(r)), 5)
        self.assertEqual(version.call_count, 1)
        self.assertContains(r, f'data-version="{self.version()}"')


class FiltersTestCase(LiveBoardTestCase):
    def setUp(self):
        super().setUp()
        self.bobs = self.order(phone_number="15550001111", note="for the Berlin test")
        self.mias = self.order(
            user=self.mia,
            account=self.code,
            service_name="Telegram",
            phone_number="15550002222",
            state=State.RECEIVED,
            last_code="907153",
        )
        self.done = self.order(state=State.COMPLETED, phone_number="15550003333")
        self.login(self.bob)

    def shown(self, **query) -> list[str]:
        r = self.client.get(self.board, query)
        self.assertEqual(r.status_code, 200, r.content[:3000])
        return rows_in(r)

    def test_it_searches_number_code_service_member_and_note(self):
        bob, mia = str(self.bobs.code), str(self.mias.code)
        self.assertEqual(self.shown(q="555-000-1111"), [bob])
        self.assertEqual(self.shown(q="+1 555 0002222"), [mia])
        self.assertEqual(self.shown(q="907153"), [mia])
        self.assertEqual(self.shown(q="telegr"), [mia])
        self.assertEqual(self.shown(q="mia"), [mia])
        self.assertEqual(self.shown(q="berlin"), [bob])
        self.assertEqual(self.shown(q="3333"), [])  # finished: not on the board

    def test_it_filters_by_whose_provider_state_and_service(self):
        bob, mia = str(self.bobs.code), str(self.mias.code)
        self.assertEqual(self.shown(who="mine"), [bob])
        self.assertEqual(self.shown(provider=str(self.code.code)), [mia])
        self.assertEqual(self.shown(state="waiting"), [bob])
        self.assertEqual(self.shown(service="Telegram"), [mia])
        self.assertEqual(self.shown(sort="oldest"), [bob, mia])
        self.assertEqual(self.shown(sort="newest"), [mia, bob])
        self.assertEqual(sorted(self.shown()), sorted([bob, mia]))

    def test_a_filtered_board_polls_with_its_filters(self):
        r = self.client.get(self.board, {"who": "mine", "q": "555"})
        poll = re.search(r'<div id="board-poll" hx-get="([^"]+)"', r.content.decode()).group(1)
        self.assertIn("who=mine", poll)
        self.assertIn("q=555", poll)

    def test_bad_values_are_refused_in_plain_words_and_show_no_rows(self):
        cases = {
            "provider": ("nope", "is not one of the team"),
            "state": ("completed", "is not a state a number on the board can be in"),
            "who": ("them", "is neither"),
            "sort": ("price", "is not a way the board can sort"),
            "service": ("Nothing", "The team has no order for a service called"),
            "rows": ("lots", "Rows must be a number"),
            "q": ("x" * 61, "at most 60 characters"),
        }
        for name, (value, words) in cases.items():
            r = self.client.get(self.board, {name: value})
            self.assertEqual(r.status_code, 400, name)
            self.assertContains(r, "These filters cannot be used", status_code=400)
            self.assertContains(r, words, status_code=400)
            self.assertEqual(rows_in(r), [], name)  # never silently "everything"
            r = self.client.get(self.live, {name: value, "v": "1_a_b"})
            self.assertEqual(r.status_code, 400, name)
            self.assertEqual(rows_in(r), [], name)
        r = self.client.get(self.board, {"rows": "99999"})
        self.assertContains(r, "at most 2,000 rows", status_code=400)

    def test_past_the_window_it_says_how_many_are_hidden_and_how_to_see_them(self):
        for _ in range(5):
            self.order()
        r = self.client.get(self.board, {"rows": "3", "who": "mine"})
        self.assertEqual(len(rows_in(r)), 3)
        text = re.sub(r"<[^>]+>", "", r.content.decode())
        self.assertIn("6 active numbers match; the first 3 are shown, 3 more are not", text)
        self.assertContains(r, "rows=103")
        self.assertContains(r, "narrow the board with search and filters")

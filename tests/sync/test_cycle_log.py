"""What the logs say about polling: one line per cycle at INFO, each request at DEBUG."""

from __future__ import annotations

import logging

from providers import leases
from sync import engine
from tests.conftest import sandbox_account
from tests.orders.base import SandboxTestCase


class CycleLogTestCase(SandboxTestCase):
    def test_one_info_line_per_cycle_and_the_requests_at_debug(self):
        account = sandbox_account(self.team, self.sandbox, "smspool", label="Pool A")
        with self.assertLogs("providers.http", logging.DEBUG) as requests:
            account.client().get_balance()
        self.assertTrue(requests.records)
        self.assertEqual({r.levelno for r in requests.records}, {logging.DEBUG})

        self.assertTrue(leases.claim(account.pk, "t"))
        with self.assertLogs("sync.engine", logging.DEBUG) as cycle:
            engine.cycle(account.pk, "t")
        info = [r.getMessage() for r in cycle.records if r.levelno == logging.INFO]
        self.assertEqual(len(info), 1, info)
        self.assertTrue(info[0].startswith("sync Pool A: "), info[0])
        self.assertIn("requests", info[0])

"""/health: what load balancers and monitors read. Unauthenticated, cheap, no secrets."""

from __future__ import annotations

import os
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import TestCase, override_settings
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import Team
from providers.models import Health, ProviderAccount

HEALTH = "/health"


def redis_url() -> str | None:
    """The test Redis, or None when none answers (CI requires one: REQUIRE_SERVICES)."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail("Redis is required in CI")
        return None
    return url


def redis_broker(url: str) -> dict:
    return {**settings.Q_CLUSTER, "redis": url}


class HealthTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.team = Team.objects.create(name="Alpha QA")
        now = timezone.now()
        cls.accounts = [
            cls.account("fresh", last_ok_at=now - timedelta(seconds=30)),
            cls.account("stale", last_ok_at=now - timedelta(hours=2), health=Health.FAILING),
            cls.account("new"),
            cls.account("off", last_ok_at=now - timedelta(days=9), enabled=False),
        ]

    @classmethod
    def account(cls, label: str, **fields) -> ProviderAccount:
        account = ProviderAccount(
            team=cls.team, kind="smspool", label=label, base_url="https://api.smspool.net"
        )
        account.set_api_key(f"live_{label}_9f8e7d6c5b4a3210")
        account.save()
        ProviderAccount.objects.filter(pk=account.pk).update(**fields)
        return account

    def test_it_answers_ok_without_login(self):
        r = self.client.get(HEALTH)
        self.assertEqual(r.status_code, 200)
        body = r.json()
        self.assertEqual(body["status"], "ok")
        self.assertEqual((body["database"], body["cache"], body["broker"]), ("ok", "ok", "ok"))
        self.assertIn("no-store", r["Cache-Control"])

    def test_it_reports_each_enabled_accounts_age_as_a_bare_number(self):
        sync = self.client.get(HEALTH).json()["sync"]
        self.assertEqual(sync["accounts"], 3)
        self.assertEqual(sync["accounts_failing"], 1)
        self.assertEqual(sync["never_succeeded"], 1)
        self.assertEqual(len(sync["success_ages_seconds"]), 2)
        self.assertAlmostEqual(sync["oldest_success_seconds"], 7200, delta=60)
        self.assertEqual(sync["oldest_success_seconds"], sync["success_ages_seconds"][0])
        self.assertAlmostEqual(sync["success_ages_seconds"][1], 30, delta=60)

    def test_it_shows_no_label_code_or_key(self):
        text = self.client.get(HEALTH).content.decode()
        for account in self.accounts:
            account.refresh_from_db()
            for secret in (account.label, str(account.code), account.api_key_last4):
                self.assertNotIn(secret, text)
        self.assertNotIn(self.team.name, text)
        self.assertNotIn("9f8e7d", text)

    def test_it_costs_two_queries(self):
        with self.assertNumQueries(2):  # the accounts, the schedules (cache in memory here)
            self.client.get(HEALTH)

    def test_it_tells_how_late_the_schedules_are(self):
        body = self.client.get(HEALTH).json()
        self.assertEqual(body["scheduler"], {"schedules": False, "overdue_seconds": 0})
        Schedule.objects.create(
            name="smsdesk:sync.watchdog",
            func="sync.tasks.watchdog",
            schedule_type=Schedule.MINUTES,
            minutes=1,
            repeats=-1,
            next_run=timezone.now() - timedelta(minutes=5),
        )
        scheduler = self.client.get(HEALTH).json()["scheduler"]
        self.assertAlmostEqual(scheduler["overdue_seconds"], 300, delta=30)

    def test_it_answers_503_when_the_database_is_down(self):
        down = OperationalError("connection to server at 10.0.0.7 failed: password=hunter2")
        with mock.patch("config.health.sync_summary", side_effect=down):
            r = self.client.get(HEALTH)
        self.assertEqual(r.status_code, 503)
        body = r.json()
        self.assertEqual((body["status"], body["database"]), ("error", "error"))
        self.assertEqual(body["broker"], "error")  # the ORM broker is the database
        self.assertNotIn("hunter2", r.content.decode())
        self.assertNotIn("10.0.0.7", r.content.decode())

    def test_it_answers_503_when_the_cache_is_down(self):
        with mock.patch("config.health.cache.set", side_effect=ConnectionError("refused")):
            r = self.client.get(HEALTH)
        self.assertEqual(r.status_code, 503)
        self.assertEqual(r.json()["cache"], "error")

    def test_it_answers_503_when_the_redis_broker_is_unreachable(self):
        with override_settings(Q_CLUSTER=redis_broker("redis://127.0.0.1:1/0")):
            r = self.client.get(HEALTH)
        self.assertEqual(r.status_code, 503)
        self.assertEqual(r.json()["broker"], "error")
        self.assertEqual(r.json()["database"], "ok")

    def test_it_pings_the_redis_broker_and_counts_its_queue(self):
        url = redis_url()
        if url is None:
            self.skipTest("no Redis reachable")
        with override_settings(Q_CLUSTER=redis_broker(url)):
            body = self.client.get(HEALTH).json()
        self.assertEqual(body["broker"], "ok")
        self.assertIsInstance(body["queued_tasks"], int)

    @override_settings(SECURE_SSL_REDIRECT=True)
    def test_it_is_served_over_http_while_everything_else_redirects(self):
        self.assertEqual(self.client.get(HEALTH).status_code, 200)
        self.assertEqual(self.client.get("/accounts/login/").status_code, 301)

    def test_it_refuses_writes(self):
        self.assertEqual(self.client.post(HEALTH).status_code, 405)
        self.assertEqual(self.client.head(HEALTH).status_code, 200)

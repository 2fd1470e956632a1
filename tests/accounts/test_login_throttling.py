"""Login throttling (django-axes): a username is locked from one address after too many
wrong passwords, on the portal and the admin; everyone else still logs in."""

from __future__ import annotations

from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django.test import override_settings
from django.urls import reverse

from tests.base import PASSWORD, BaseTestCase, make_user

LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")


class AttemptsMixin:
    def attempt(self, username="alice", password=PASSWORD, url=LOGIN, **extra):
        return self.client.post(url, {"username": username, "password": password}, **extra)

    def hammer(self, username="alice", url=LOGIN, times=50, **extra):
        """Send `times` wrong passwords; return the status of each answer."""
        return [self.attempt(username, "wrong", url, **extra).status_code for _ in range(times)]

    def assert_logged_in_as(self, user):
        self.assertEqual(int(self.client.session["_auth_user_id"]), user.pk)

    def assert_not_logged_in(self):
        self.assertNotIn("_auth_user_id", self.client.session)


class LoginThrottlingTestCase(AttemptsMixin, BaseTestCase):
    def test_it_locks_after_the_failure_limit(self):
        statuses = self.hammer()
        limit = settings.AXES_FAILURE_LIMIT
        self.assertLess(limit, 50)
        self.assertEqual(statuses[: limit - 1], [200] * (limit - 1))
        self.assertEqual(statuses[limit - 1 :], [429] * (51 - limit))

    def test_it_refuses_the_right_password_while_locked(self):
        self.hammer()
        r = self.attempt("alice", PASSWORD)
        self.assertEqual(r.status_code, 429)
        self.assert_not_logged_in()

    @override_settings(AXES_COOLOFF_TIME=timedelta(minutes=15))
    def test_it_says_in_plain_words_how_long_and_whom_to_ask(self):
        self.hammer()
        r = self.attempt("alice", PASSWORD)
        self.assertContains(
            r, "Too many wrong passwords for “alice” from your address", status_code=429
        )
        self.assertContains(r, "is paused for 15 minutes, until", status_code=429)
        self.assertContains(r, "other people can still log in", status_code=429)
        self.assertContains(r, "ask the person who runs this smsdesk", status_code=429)
        # The login form is still there, for everyone else.
        self.assertContains(r, 'name="password"', status_code=429)

    def test_another_user_from_the_same_address_still_logs_in(self):
        self.hammer("alice")
        r = self.attempt("bob", PASSWORD)
        self.assertRedirects(r, "/", fetch_redirect_response=False)
        self.assert_logged_in_as(self.bob)

    def test_the_same_user_from_another_address_still_logs_in(self):
        self.hammer("alice", REMOTE_ADDR="203.0.113.7")
        r = self.attempt("alice", PASSWORD, REMOTE_ADDR="198.51.100.20")
        self.assertEqual(r.status_code, 302)
        self.assert_logged_in_as(self.alice)

    def test_the_lock_expires_after_the_cool_off(self):
        with override_settings(AXES_COOLOFF_TIME=timedelta(minutes=5)):
            self.hammer()
            r = self.attempt("alice", PASSWORD)
            self.assertContains(r, "paused for 5 minutes", status_code=429)
            AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=4))
            self.assertEqual(self.attempt("alice", PASSWORD).status_code, 429)
            AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=2))
            r = self.attempt("alice", PASSWORD)
        self.assertEqual(r.status_code, 302)
        self.assert_logged_in_as(self.alice)

    @override_settings(AXES_COOLOFF_TIME=timedelta(minutes=15))
    def test_attempts_during_the_lock_do_not_extend_it(self):
        self.hammer(times=settings.AXES_FAILURE_LIMIT)
        AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=10))
        self.hammer(times=5)  # refused, but not counted
        AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=6))
        self.assertEqual(self.attempt("alice", PASSWORD).status_code, 302)

    def test_a_successful_login_forgets_earlier_failures(self):
        self.hammer(times=settings.AXES_FAILURE_LIMIT - 1)
        self.assertEqual(self.attempt("alice", PASSWORD).status_code, 302)
        self.client.post(reverse("logout"))
        statuses = self.hammer(times=settings.AXES_FAILURE_LIMIT - 1)
        self.assertEqual(set(statuses), {200})


class AdminLoginThrottlingTestCase(AttemptsMixin, BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.root = make_user("root", is_staff=True, is_superuser=True)
        cls.ops = make_user("ops", is_staff=True, is_superuser=True)

    def test_the_admin_login_locks_too(self):
        statuses = self.hammer("root", url=ADMIN_LOGIN)
        self.assertEqual(statuses[-1], 429)
        r = self.attempt("root", PASSWORD, url=ADMIN_LOGIN)
        self.assertContains(r, "Too many wrong passwords for “root”", status_code=429)
        self.assert_not_logged_in()
        # Another staff member from the same address is not affected.
        r = self.attempt("ops", PASSWORD, url=ADMIN_LOGIN)
        self.assertEqual(r.status_code, 302)
        self.assert_logged_in_as(self.ops)

    def test_portal_and_admin_failures_count_together(self):
        self.hammer("root", url=LOGIN, times=settings.AXES_FAILURE_LIMIT)
        self.assertEqual(self.attempt("root", PASSWORD, url=ADMIN_LOGIN).status_code, 429)

    def test_staff_see_lockouts_in_the_admin(self):
        self.hammer("alice", REMOTE_ADDR="203.0.113.7")
        self.client.force_login(self.ops)
        r = self.client.get(reverse("admin:axes_accessattempt_changelist"))
        self.assertContains(r, "alice")
        self.assertContains(r, "203.0.113.7")

    def test_staff_lift_a_lock_by_deleting_the_attempt(self):
        self.hammer("alice")
        AccessAttempt.objects.filter(username="alice").delete()
        self.assertEqual(self.attempt("alice", PASSWORD).status_code, 302)


class ForwardedAddressTestCase(BaseTestCase):
    """Behind a proxy the lock follows the client's address, only when the proxy is trusted."""

    def hammer(self, forwarded_for, times=50):
        for _ in range(times):
            self.client.post(
                LOGIN,
                {"username": "alice", "password": "wrong"},
                REMOTE_ADDR="10.0.0.1",
                HTTP_X_FORWARDED_FOR=forwarded_for,
            )

    def attempt(self, forwarded_for):
        return self.client.post(
            LOGIN,
            {"username": "alice", "password": PASSWORD},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )

    def test_it_ignores_forwarded_for_unless_trusted(self):
        # A client that invents a new X-Forwarded-For for each try is still locked.
        for n in range(settings.AXES_FAILURE_LIMIT):
            self.hammer(f"198.51.100.{n}", times=1)
        self.assertEqual(self.attempt("198.51.100.200").status_code, 429)
        self.assertEqual(
            set(AccessAttempt.objects.values_list("ip_address", flat=True)), {"10.0.0.1"}
        )

    @override_settings(TRUST_X_FORWARDED_FOR=True)
    def test_it_keys_on_the_forwarded_client_when_trusted(self):
        self.hammer("203.0.113.7")
        self.assertEqual(self.attempt("203.0.113.7").status_code, 429)
        self.assertEqual(AccessAttempt.objects.get().ip_address, "203.0.113.7")
        # Someone else behind the same proxy logs in as alice.
        self.assertEqual(self.attempt("198.51.100.20").status_code, 302)

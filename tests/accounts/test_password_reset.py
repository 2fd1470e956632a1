"""Password reset: by email when mail is configured, otherwise a plain "not available"."""

from __future__ import annotations

import re

from django.core import mail
from django.test import override_settings
from django.urls import reverse

from tests.base import PASSWORD, BaseTestCase

RESET = reverse("password_reset")


class ResetWithoutMailTestCase(BaseTestCase):
    """No EMAIL_URL (the test settings' default): nothing is sent, and the page says so."""

    def test_the_login_page_offers_no_reset_link_and_says_whom_to_ask(self):
        r = self.client.get(reverse("login"))
        self.assertNotContains(r, f'href="{RESET}"')
        self.assertContains(r, "This smsdesk sends no email, so ask the person who runs it")

    def test_it_says_reset_by_email_is_not_available_and_whom_to_ask(self):
        r = self.client.get(RESET)
        self.assertContains(r, "Reset by email is not available")
        self.assertContains(r, "Ask the person who runs this smsdesk")
        self.assertContains(r, "manage.py changepassword")
        self.assertNotContains(r, 'name="email"')

    def test_a_post_sends_nothing_and_claims_nothing(self):
        r = self.client.post(RESET, {"email": "alice@example.org"})
        self.assertEqual(r.status_code, 200)
        self.assertContains(r, "Reset by email is not available")
        self.assertNotContains(r, "Check your email")
        self.assertEqual(mail.outbox, [])

    def test_the_done_page_does_not_claim_a_mail_was_sent(self):
        r = self.client.get(reverse("password_reset_done"))
        self.assertContains(r, "Reset by email is not available")
        self.assertNotContains(r, "Check your email")


@override_settings(EMAIL_ENABLED=True)
class ResetByMailTestCase(BaseTestCase):
    def request_link(self, email="alice@example.org"):
        return self.client.post(RESET, {"email": email})

    def test_the_login_page_links_to_it(self):
        r = self.client.get(reverse("login"))
        self.assertContains(r, f'href="{RESET}"')
        self.assertContains(r, "Forgot your password?")
        self.assertNotContains(r, "sends no email")

    def test_it_serves_the_form(self):
        r = self.client.get(RESET)
        self.assertContains(r, 'name="email"')
        self.assertNotContains(r, "not available")

    def test_it_mails_a_link_that_sets_a_new_password(self):
        r = self.request_link()
        self.assertRedirects(r, reverse("password_reset_done"))
        self.assertContains(self.client.get(r.url), "Check your email")
        self.assertEqual(len(mail.outbox), 1)
        message = mail.outbox[0]
        self.assertEqual(message.to, ["alice@example.org"])
        self.assertEqual(message.subject, "smsdesk: set a new password")
        link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)

        r = self.client.get(link)  # Django swaps the token for a session marker
        self.assertEqual(r.status_code, 302)
        form_url = r.url
        self.assertContains(self.client.get(form_url), "Set a new password")
        r = self.client.post(
            form_url,
            {"new_password1": "a brand new secret 77", "new_password2": "a brand new secret 77"},
        )
        self.assertRedirects(r, reverse("password_reset_complete"))
        self.alice.refresh_from_db()
        self.assertTrue(self.alice.check_password("a brand new secret 77"))
        # The link works once.
        self.assertContains(self.client.get(link, follow=True), "This link does not work")

    def test_an_unknown_address_looks_the_same_and_sends_nothing(self):
        r = self.request_link("nobody@example.org")
        self.assertRedirects(r, reverse("password_reset_done"))
        self.assertEqual(mail.outbox, [])

    def test_the_old_password_works_until_the_link_is_used(self):
        self.request_link()
        self.alice.refresh_from_db()
        self.assertTrue(self.alice.check_password(PASSWORD))

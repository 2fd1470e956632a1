from django.urls import reverse

from tests.base import PASSWORD, BaseTestCase


class LoginTestCase(BaseTestCase):
    def test_it_serves_the_login_page(self):
        r = self.client.get(reverse("login"))
        self.assertContains(r, "Log in to smsdesk")

    def test_it_logs_in(self):
        r = self.client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
        self.assertRedirects(r, "/", fetch_redirect_response=False)
        self.assertEqual(int(self.client.session["_auth_user_id"]), self.alice.pk)

    def test_it_explains_a_wrong_password(self):
        r = self.client.post(reverse("login"), {"username": "alice", "password": "nope"})
        self.assertContains(r, "correct username and password")

    def test_logout_is_post_only(self):
        self.login(self.alice)
        self.assertEqual(self.client.get(reverse("logout")).status_code, 405)
        self.client.post(reverse("logout"))
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_password_change_requires_login(self):
        url = reverse("password_change")
        self.assertRedirects(self.client.get(url), f"{reverse('login')}?next={url}")

    def test_it_changes_the_password(self):
        self.login(self.bob)
        r = self.client.post(
            reverse("password_change"),
            {
                "old_password": PASSWORD,
                "new_password1": "a much better secret 42",
                "new_password2": "a much better secret 42",
            },
        )
        self.assertRedirects(r, reverse("password_change_done"))
        self.bob.refresh_from_db()
        self.assertTrue(self.bob.check_password("a much better secret 42"))

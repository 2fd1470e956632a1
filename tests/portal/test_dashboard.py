from django.urls import reverse

from tests.base import BaseTestCase


class DashboardTestCase(BaseTestCase):
    def setUp(self):
        self.url = reverse("dashboard", args=[self.team.code])

    def test_it_requires_login(self):
        r = self.client.get(self.url)
        self.assertRedirects(r, f"{reverse('login')}?next={self.url}")

    def test_it_shows_team_members_and_events(self):
        import audit

        audit.record(team=self.team, actor=self.alice, action="team.renamed", target=self.team)
        self.login(self.vic)
        r = self.client.get(self.url)
        self.assertContains(r, "Alpha QA")
        self.assertContains(r, "mia")
        self.assertContains(r, "team.renamed")

    def test_it_checks_membership(self):
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)

    def test_it_handles_unknown_team(self):
        self.login(self.alice)
        r = self.client.get(reverse("dashboard", args=["6f1d6a4e-7e5a-4a44-9d0e-2d8c2b1f0a11"]))
        self.assertEqual(r.status_code, 404)

    def test_it_rejects_post(self):
        self.login(self.alice)
        self.assertEqual(self.client.post(self.url).status_code, 405)

    def test_it_offers_the_team_switcher(self):
        from accounts.models import Membership

        Membership.objects.create(team=self.other_team, user=self.alice, role="viewer")
        self.login(self.alice)
        r = self.client.get(self.url)
        self.assertContains(r, "Charlie&#x27;s team")
        self.assertContains(r, f'value="{self.team.code}" selected')

    def test_a_keys_routine_use_stays_out_of_the_feed(self):
        import audit

        audit.record(team=self.team, actor=self.bob, action="api_key.used", target=self.team)
        audit.record(team=self.team, actor=self.alice, action="team.renamed", target=self.team)
        self.login(self.vic)
        events = list(self.client.get(self.url).context["events"])
        self.assertEqual([e.action for e in events], ["team.renamed"])

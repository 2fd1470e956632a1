from django.urls import reverse

from accounts.models import Membership, Team
from audit.models import AuditEvent
from tests.base import BaseTestCase, make_user


class IndexTestCase(BaseTestCase):
    def test_it_requires_login(self):
        r = self.client.get("/")
        self.assertRedirects(r, f"{reverse('login')}?next=/")

    def test_it_redirects_to_a_team(self):
        self.login(self.bob)
        self.assertRedirects(self.client.get("/"), reverse("dashboard", args=[self.team.code]))

    def test_it_remembers_the_last_team(self):
        Membership.objects.create(team=self.other_team, user=self.bob, role="member")
        self.login(self.bob)
        self.client.get(reverse("dashboard", args=[self.other_team.code]))
        r = self.client.get("/")
        self.assertRedirects(r, reverse("dashboard", args=[self.other_team.code]))

    def test_it_sends_teamless_users_to_the_team_list(self):
        self.login(make_user("newbie"))
        self.assertRedirects(self.client.get("/"), reverse("teams"))


class TeamsTestCase(BaseTestCase):
    url = "/teams/"

    def test_it_requires_login(self):
        self.assertRedirects(self.client.get(self.url), f"{reverse('login')}?next={self.url}")

    def test_it_lists_only_my_teams(self):
        self.login(self.bob)
        r = self.client.get(self.url)
        self.assertContains(r, "Alpha QA")
        self.assertNotContains(r, "Charlie&#x27;s team")

    def test_it_creates_a_team_with_me_as_owner(self):
        self.login(self.bob)
        r = self.client.post(self.url, {"name": "Bob's lab"})
        team = Team.objects.get(name="Bob's lab")
        self.assertRedirects(r, reverse("dashboard", args=[team.code]))
        self.assertEqual(Membership.objects.get(team=team, user=self.bob).role, "owner")
        event = AuditEvent.objects.get(team=team, action="team.created")
        self.assertEqual(event.actor, self.bob)

    def test_it_rejects_an_empty_name(self):
        self.login(self.bob)
        r = self.client.post(self.url, {"name": "   "})
        self.assertContains(r, "This field is required.")


class SwitchTeamTestCase(BaseTestCase):
    url = "/teams/switch/"

    def test_it_requires_login(self):
        r = self.client.post(self.url, {"team": str(self.team.code)})
        self.assertRedirects(r, f"{reverse('login')}?next={self.url}")

    def test_it_switches(self):
        self.login(self.bob)
        r = self.client.post(self.url, {"team": str(self.team.code)})
        self.assertRedirects(r, reverse("dashboard", args=[self.team.code]))

    def test_it_checks_membership(self):
        self.login(self.bob)
        r = self.client.post(self.url, {"team": str(self.other_team.code)})
        self.assertEqual(r.status_code, 404)

    def test_it_handles_garbage(self):
        self.login(self.bob)
        self.assertEqual(self.client.post(self.url, {"team": "nope"}).status_code, 404)

    def test_it_rejects_get(self):
        self.login(self.bob)
        self.assertEqual(self.client.get(self.url).status_code, 405)

from django.urls import reverse

from audit.models import AuditEvent
from tests.base import BaseTestCase


class TeamSettingsTestCase(BaseTestCase):
    def setUp(self):
        self.url = reverse("team_settings", args=[self.team.code])

    def test_it_requires_login(self):
        self.assertRedirects(self.client.get(self.url), f"{reverse('login')}?next={self.url}")

    def test_it_shows_for_a_viewer(self):
        self.login(self.vic)
        r = self.client.get(self.url)
        self.assertContains(r, "Team settings")
        self.assertNotContains(r, "Rename")

    def test_it_checks_membership(self):
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)

    def test_it_renames_and_audits(self):
        self.login(self.mia)
        self.client.post(self.url, {"name": "Beta QA"})
        self.team.refresh_from_db()
        self.assertEqual(self.team.name, "Beta QA")
        event = AuditEvent.objects.get(action="team.renamed")
        self.assertEqual(event.payload, {"before": "Alpha QA", "after": "Beta QA"})

    def test_a_member_cannot_rename(self):
        self.login(self.bob)
        self.assertEqual(self.client.post(self.url, {"name": "X"}).status_code, 403)

    def test_a_viewer_cannot_rename(self):
        self.login(self.vic)
        self.assertEqual(self.client.post(self.url, {"name": "X"}).status_code, 403)

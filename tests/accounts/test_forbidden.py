"""Viewers see cost reports (read-only oversight), and a role that may not do something
gets a page naming the role that may, not a bare 403."""

from __future__ import annotations

from django.urls import reverse

from tests.base import BaseTestCase


class ViewerTestCase(BaseTestCase):
    def test_a_viewer_sees_the_cost_reports_and_the_menu_links_them(self):
        self.login(self.vic)
        url = reverse("reports", args=[self.team.code])
        self.assertEqual(self.client.get(url).status_code, 200)
        self.assertContains(self.client.get(reverse("dashboard", args=[self.team.code])), url)

    def test_a_member_sees_them_too(self):
        self.login(self.bob)
        self.assertEqual(
            self.client.get(reverse("reports", args=[self.team.code])).status_code, 200
        )

    def test_the_members_page_describes_the_viewer_as_the_table_does(self):
        self.login(self.vic)
        r = self.client.get(reverse("members", args=[self.team.code]))
        self.assertContains(r, "Sees the team, its orders, rentals, audit log and cost reports")
        self.assertNotContains(r, "Sees everything")


class ForbiddenPageTestCase(BaseTestCase):
    def test_a_viewer_refused_gets_a_page_naming_the_role_needed_and_the_owners(self):
        self.login(self.vic)
        r = self.client.get(reverse("provider_add", args=[self.team.code]))
        self.assertEqual(r.status_code, 403)
        self.assertContains(r, "Your role cannot do this", status_code=403)
        self.assertContains(
            r, "This needs the Owner or Manager role; you are Viewer in Alpha QA.", status_code=403
        )
        self.assertContains(r, "To change your role, ask an owner: alice.", status_code=403)
        self.assertContains(r, reverse("dashboard", args=[self.team.code]), status_code=403)

    def test_a_member_posting_a_manager_action_is_told_so(self):
        self.login(self.bob)
        url = reverse("member_role", args=[self.team.code, self.viewer.code])
        r = self.client.post(url, {"role": "member"})
        self.assertContains(
            r, "This needs the Owner or Manager role; you are Member", status_code=403
        )

    def test_a_viewer_ordering_is_told_which_roles_may(self):
        self.login(self.vic)
        r = self.client.post(reverse("order_new", args=[self.team.code]), {})
        self.assertContains(r, "This needs the Owner, Manager or Member role", status_code=403)

    def test_a_refusal_without_a_role_still_gets_a_page(self):
        self.login(self.vic)
        r = self.client.post(reverse("team_settings", args=[self.team.code]), {"name": "X"})
        self.assertContains(r, "Not allowed", status_code=403)

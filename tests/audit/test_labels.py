"""The audit log speaks words ("Spend limit changed"), and still filters by the raw action."""

from __future__ import annotations

from django.test import SimpleTestCase
from django.urls import reverse

import audit
from audit.labels import action_label
from tests.base import BaseTestCase


class ActionLabelTestCase(SimpleTestCase):
    def test_it_spells_actions_out(self):
        self.assertEqual(action_label("member.spend_limit_changed"), "Spend limit changed")
        self.assertEqual(action_label("member.role_changed"), "Role changed")
        self.assertEqual(action_label("order.placed"), "Order placed")
        self.assertEqual(action_label("rental.rented"), "Number rented")
        self.assertEqual(action_label("order.failover"), "Switched to the next provider")

    def test_an_action_it_has_never_seen_still_reads_as_words(self):
        self.assertEqual(action_label("invitation.revoked"), "Invitation revoked")
        self.assertEqual(action_label("provider.account_removed"), "Account removed")
        self.assertEqual(action_label(""), "")


class AuditLogLabelsTestCase(BaseTestCase):
    def setUp(self):
        self.url = reverse("audit_log", args=[self.team.code])
        audit.record(
            team=self.team, actor=self.alice, action="member.spend_limit_changed", target=self.bob
        )
        audit.record(team=self.team, actor=self.alice, action="team.renamed", target=self.team)

    def test_the_log_shows_labels_and_filters_by_the_raw_action(self):
        self.login(self.alice)
        r = self.client.get(self.url)
        self.assertContains(r, ">Spend limit changed</a>")
        self.assertContains(r, ">Team renamed</a>")
        self.assertContains(r, 'href="?action=member.spend_limit_changed"')
        self.assertContains(r, '<option value="member.spend_limit_changed">Spend limit changed')
        only = self.client.get(self.url, {"action": "member.spend_limit_changed"})
        self.assertContains(only, ">Spend limit changed</a>")
        self.assertNotContains(only, ">Team renamed</a>")

    def test_the_dashboard_shows_labels_too(self):
        self.login(self.alice)
        r = self.client.get(reverse("dashboard", args=[self.team.code]))
        self.assertContains(r, ">Spend limit changed</span>")

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.urls import reverse

import audit
from audit.models import AppendOnlyError, AuditEvent
from tests.base import BaseTestCase


class RecordTestCase(BaseTestCase):
    def test_it_records_a_user_action(self):
        event = audit.record(
            team=self.team, actor=self.alice, action="x.y", target=self.member, payload={"a": 1}
        )
        self.assertEqual(event.actor_name, "alice")
        self.assertEqual(event.target_type, "membership")
        self.assertEqual(event.target_code, str(self.member.code))
        self.assertFalse(event.is_system)

    def test_it_records_system_actions(self):
        event = audit.record(team=self.team, actor=None, action="order.expired")
        self.assertEqual(event.actor_name, "system")
        self.assertTrue(event.is_system)

    def test_it_keeps_the_client_ip(self):
        request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.9")
        event = audit.record(team=self.team, actor=self.alice, action="x", request=request)
        self.assertEqual(event.ip_address, "203.0.113.9")

    def test_it_ignores_forwarded_for_unless_trusted(self):
        request = RequestFactory().post(
            "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7"
        )
        self.assertEqual(
            audit.record(team=self.team, actor=None, action="x", request=request).ip_address,
            "10.0.0.1",
        )
        with self.settings(TRUST_X_FORWARDED_FOR=True):
            event = audit.record(team=self.team, actor=None, action="x", request=request)
        self.assertEqual(event.ip_address, "198.51.100.7")

    def test_events_cannot_be_changed(self):
        event = audit.record(team=self.team, actor=self.alice, action="x")
        event.action = "y"
        with pytest.raises(AppendOnlyError):
            event.save()
        with pytest.raises(AppendOnlyError):
            AuditEvent.objects.filter(pk=event.pk).update(action="y")

    def test_events_cannot_be_deleted(self):
        event = audit.record(team=self.team, actor=self.alice, action="x")
        with pytest.raises(AppendOnlyError):
            event.delete()
        with pytest.raises(AppendOnlyError):
            AuditEvent.objects.all().delete()


class AuditAdminTestCase(BaseTestCase):
    def test_it_offers_no_add_change_or_delete_even_to_superusers(self):
        root = self.alice
        root.is_superuser = root.is_staff = True
        root.save()
        request = RequestFactory().get("/admin/")
        request.user = root
        model_admin = site._registry[AuditEvent]
        event = audit.record(team=self.team, actor=root, action="x")
        self.assertFalse(model_admin.has_add_permission(request))
        self.assertFalse(model_admin.has_change_permission(request, event))
        self.assertFalse(model_admin.has_delete_permission(request, event))
        self.assertTrue(model_admin.has_view_permission(request, event))
        self.client.force_login(root)
        r = self.client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
        self.assertEqual(r.status_code, 200)
        self.assertNotContains(r, 'name="_save"')
        r = self.client.get(reverse("admin:audit_auditevent_add"))
        self.assertEqual(r.status_code, 403)


class AuditLogPageTestCase(BaseTestCase):
    def setUp(self):
        self.url = reverse("audit_log", args=[self.team.code])
        audit.record(team=self.team, actor=self.alice, action="member.added", target=self.member)
        audit.record(team=self.team, actor=self.mia, action="team.renamed", target=self.team)
        audit.record(team=self.team, actor=None, action="order.expired")
        audit.record(team=self.other_team, actor=self.charlie, action="secret.thing")

    def test_it_requires_login(self):
        self.assertRedirects(self.client.get(self.url), f"{reverse('login')}?next={self.url}")

    def test_it_checks_membership(self):
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)

    def test_it_lists_newest_first_for_a_viewer(self):
        self.login(self.vic)
        r = self.client.get(self.url)
        body = r.content.decode()
        self.assertLess(body.index("<code>order.expired"), body.index("<code>member.added"))
        self.assertNotIn("secret.thing", body)

    def test_it_filters_by_actor(self):
        self.login(self.vic)
        r = self.client.get(self.url, {"actor": "mia"})
        self.assertContains(r, "team.renamed")
        self.assertNotContains(r, "<code>member.added</code>")

    def test_it_filters_by_action(self):
        self.login(self.vic)
        r = self.client.get(self.url, {"action": "order.expired"})
        self.assertContains(r, "<code>order.expired</code>")
        self.assertNotContains(r, "<code>team.renamed</code>")

    def test_it_filters_by_date(self):
        self.login(self.vic)
        r = self.client.get(self.url, {"until": "2001-01-01"})
        self.assertContains(r, "Nothing has happened yet.")

    def test_it_explains_a_reversed_date_range(self):
        self.login(self.vic)
        r = self.client.get(self.url, {"since": "2030-01-02", "until": "2030-01-01"})
        self.assertContains(r, "must be on or before")

    def test_it_paginates(self):
        for i in range(60):
            audit.record(team=self.team, actor=self.alice, action=f"bulk.{i:02d}")
        self.login(self.alice)
        r = self.client.get(self.url)
        self.assertContains(r, "Page 1 of 2")
        r = self.client.get(self.url, {"page": 2})
        self.assertContains(r, "member.added")

    def test_it_rejects_post(self):
        self.login(self.alice)
        self.assertEqual(self.client.post(self.url).status_code, 405)


class AuditDateFilterTestCase(BaseTestCase):
    def test_a_date_beyond_what_smsdesk_holds_is_refused_in_plain_words(self):
        # West of UTC, the end of 9999-12-31 local time is past the largest datetime.
        self.client.force_login(self.alice)
        url = reverse("audit_log", args=[self.team.code])
        with self.settings(TIME_ZONE="America/New_York"):
            r = self.client.get(url, {"until": "9999-12-31"})
        self.assertContains(r, "Pick a date between 1 January 2000")
        r = self.client.get(url, {"since": "2026-05-02", "until": "2026-05-01"})
        self.assertContains(r, "must be on or before")

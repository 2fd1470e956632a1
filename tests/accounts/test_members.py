from django.urls import reverse

from accounts.models import Invitation, Membership
from audit.models import AuditEvent
from tests.base import BaseTestCase, make_user


class MembersPageTestCase(BaseTestCase):
    def setUp(self):
        self.url = reverse("members", args=[self.team.code])
        self.dana = make_user("dana")

    def test_it_requires_login(self):
        self.assertRedirects(self.client.get(self.url), f"{reverse('login')}?next={self.url}")

    def test_it_lists_members_for_a_viewer_without_controls(self):
        self.login(self.vic)
        r = self.client.get(self.url)
        self.assertContains(r, "mia")
        self.assertNotContains(r, "Invite someone")

    def test_it_checks_membership(self):
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)

    def test_it_invites_by_email_and_adds_nobody_until_the_link_is_used(self):
        self.login(self.mia)
        with self.settings(EMAIL_ENABLED=True):
            r = self.client.post(self.url, {"email": "Dana@Example.org", "role": "viewer"})
        self.assertRedirects(r, self.url)
        self.assertFalse(Membership.objects.filter(team=self.team, user=self.dana).exists())
        invitation = Invitation.objects.get(team=self.team)
        self.assertEqual((invitation.email, invitation.role), ("dana@example.org", "viewer"))
        event = AuditEvent.objects.get(action="invitation.sent")
        self.assertEqual(event.actor, self.mia)
        self.assertEqual(
            event.payload, {"email": "dana@example.org", "role": "viewer", "mailed": True}
        )
        self.assertEqual(event.ip_address, "127.0.0.1")
        page = self.client.get(self.url)
        self.assertContains(page, "Pending invitations")
        self.assertContains(page, "dana@example.org")
        self.assertNotContains(page, "must already have a smsdesk login")

    def test_it_refuses_someone_already_in_the_team(self):
        self.login(self.alice)
        r = self.client.post(self.url, {"email": "BOB@example.org", "role": "member"})
        self.assertContains(r, "bob@example.org is already a member of Alpha QA.")
        self.assertFalse(Invitation.objects.exists())

    def test_it_refuses_an_address_that_is_not_one(self):
        self.login(self.alice)
        r = self.client.post(self.url, {"email": "dana", "role": "member"})
        self.assertContains(r, "Enter a valid email address.")
        self.assertFalse(Invitation.objects.exists())

    def test_a_member_cannot_invite(self):
        self.login(self.bob)
        r = self.client.post(self.url, {"email": "dana@example.org", "role": "member"})
        self.assertEqual(r.status_code, 403)
        self.assertFalse(Invitation.objects.exists())

    def test_a_viewer_cannot_invite_and_sees_no_form(self):
        self.login(self.vic)
        self.assertNotContains(self.client.get(self.url), "Send invitation")
        r = self.client.post(self.url, {"email": "dana@example.org", "role": "member"})
        self.assertEqual(r.status_code, 403)

    def test_a_manager_is_not_offered_the_owner_role_and_cannot_post_it(self):
        self.login(self.mia)
        self.assertNotContains(self.client.get(self.url), '<option value="owner"')
        r = self.client.post(self.url, {"email": "dana@example.org", "role": "owner"})
        self.assertContains(r, "Select a valid choice")
        self.assertFalse(Invitation.objects.exists())

    def test_an_owner_may_invite_an_owner(self):
        self.login(self.alice)
        self.assertContains(self.client.get(self.url), '<option value="owner"')
        self.client.post(self.url, {"email": "dana@example.org", "role": "owner"})
        self.assertEqual(Invitation.objects.get().role, "owner")

    def test_it_rejects_an_unknown_role(self):
        self.login(self.alice)
        r = self.client.post(self.url, {"email": "dana@example.org", "role": "emperor"})
        self.assertContains(r, "Select a valid choice")


class MemberRoleTestCase(BaseTestCase):
    def url(self, membership):
        return reverse("member_role", args=[self.team.code, membership.code])

    def test_it_requires_login(self):
        url = self.url(self.member)
        r = self.client.post(url, {"role": "viewer"})
        self.assertRedirects(r, f"{reverse('login')}?next={url}")

    def test_it_changes_a_role_and_audits_it(self):
        self.login(self.mia)
        self.client.post(self.url(self.member), {"role": "viewer"})
        self.member.refresh_from_db()
        self.assertEqual(self.member.role, "viewer")
        event = AuditEvent.objects.get(action="member.role_changed")
        self.assertEqual(event.payload["before"], "member")
        self.assertEqual(event.payload["after"], "viewer")
        self.assertEqual(event.actor, self.mia)

    def test_it_rejects_get(self):
        self.login(self.alice)
        self.assertEqual(self.client.get(self.url(self.member)).status_code, 405)

    def test_it_checks_membership(self):
        self.login(self.charlie)
        r = self.client.post(self.url(self.member), {"role": "viewer"})
        self.assertEqual(r.status_code, 404)

    def test_a_member_cannot_change_roles(self):
        self.login(self.bob)
        r = self.client.post(self.url(self.viewer), {"role": "member"})
        self.assertEqual(r.status_code, 403)

    def test_a_viewer_cannot_change_roles(self):
        self.login(self.vic)
        r = self.client.post(self.url(self.viewer), {"role": "owner"})
        self.assertEqual(r.status_code, 403)
        self.viewer.refresh_from_db()
        self.assertEqual(self.viewer.role, "viewer")

    def test_the_last_owner_cannot_be_demoted(self):
        self.login(self.alice)
        r = self.client.post(self.url(self.owner), {"role": "member"}, follow=True)
        self.assertContains(r, "at least one owner")
        self.owner.refresh_from_db()
        self.assertEqual(self.owner.role, "owner")

    def test_an_owner_can_step_down_when_another_owner_exists(self):
        self.login(self.alice)
        self.client.post(self.url(self.manager), {"role": "owner"})
        self.client.post(self.url(self.owner), {"role": "manager"})
        self.owner.refresh_from_db()
        self.assertEqual(self.owner.role, "manager")

    def test_a_manager_cannot_demote_an_owner(self):
        Membership.objects.filter(pk=self.member.pk).update(role="owner")
        self.login(self.mia)
        r = self.client.post(self.url(self.owner), {"role": "member"}, follow=True)
        self.assertContains(r, "Only an owner can change or remove an owner.")
        self.owner.refresh_from_db()
        self.assertEqual(self.owner.role, "owner")

    def test_a_manager_cannot_promote_to_owner(self):
        self.login(self.mia)
        r = self.client.post(self.url(self.member), {"role": "owner"}, follow=True)
        self.assertContains(r, "Only an owner can make someone an owner.")

    def test_it_ignores_memberships_of_other_teams(self):
        other = Membership.objects.get(team=self.other_team)
        self.login(self.alice)
        r = self.client.post(
            reverse("member_role", args=[self.team.code, other.code]), {"role": "viewer"}
        )
        self.assertEqual(r.status_code, 404)


class MemberRemoveTestCase(BaseTestCase):
    def url(self, membership):
        return reverse("member_remove", args=[self.team.code, membership.code])

    def test_it_requires_login(self):
        url = self.url(self.member)
        self.assertRedirects(self.client.post(url), f"{reverse('login')}?next={url}")

    def test_it_removes_and_audits(self):
        self.login(self.mia)
        self.client.post(self.url(self.member))
        self.assertFalse(Membership.objects.filter(pk=self.member.pk).exists())
        event = AuditEvent.objects.get(action="member.removed")
        self.assertEqual(event.payload, {"user": "bob", "role": "member"})
        self.assertEqual(event.target_code, str(self.member.code))

    def test_get_is_the_confirmation_step_and_removes_nobody(self):
        self.login(self.alice)
        r = self.client.get(self.url(self.member))
        self.assertContains(r, "Remove bob from Alpha QA?")
        self.assertContains(r, "Spent this month: <b>0.00 USD</b>", html=False)
        self.assertContains(r, "This cannot be undone")
        self.assertContains(r, '<button class="btn danger" type="submit">Remove bob</button>')
        self.assertTrue(Membership.objects.filter(pk=self.member.pk).exists())
        self.assertFalse(AuditEvent.objects.filter(action="member.removed").exists())

    def test_the_members_page_links_to_the_confirmation_not_a_one_click_form(self):
        self.login(self.alice)
        page = self.client.get(reverse("members", args=[self.team.code])).content.decode()
        self.assertIn(f'href="{self.url(self.member)}"', page)
        self.assertNotIn(f'action="{self.url(self.member)}"', page)

    def test_a_manager_is_told_an_owner_cannot_be_removed_by_them(self):
        self.login(self.mia)
        r = self.client.get(self.url(self.owner))
        self.assertContains(r, "Only an owner can remove an owner.")
        self.assertNotContains(r, 'class="btn danger"')

    def test_it_checks_membership(self):
        self.login(self.charlie)
        self.assertEqual(self.client.post(self.url(self.member)).status_code, 404)
        self.assertEqual(self.client.get(self.url(self.member)).status_code, 404)

    def test_a_member_cannot_remove(self):
        self.login(self.bob)
        self.assertEqual(self.client.post(self.url(self.viewer)).status_code, 403)

    def test_a_viewer_cannot_remove(self):
        self.login(self.vic)
        self.assertEqual(self.client.post(self.url(self.member)).status_code, 403)

    def test_the_last_owner_cannot_be_removed(self):
        self.login(self.alice)
        r = self.client.post(self.url(self.owner), follow=True)
        self.assertContains(r, "at least one owner")
        self.assertTrue(Membership.objects.filter(pk=self.owner.pk).exists())

    def test_a_manager_cannot_remove_an_owner(self):
        Membership.objects.filter(pk=self.member.pk).update(role="owner")
        self.login(self.mia)
        self.client.post(self.url(self.owner))
        self.assertTrue(Membership.objects.filter(pk=self.owner.pk).exists())

    def test_a_manager_can_leave(self):
        self.login(self.mia)
        r = self.client.post(self.url(self.manager))
        self.assertRedirects(r, "/", fetch_redirect_response=False)
        self.assertFalse(Membership.objects.filter(pk=self.manager.pk).exists())


class SpendLimitTestCase(BaseTestCase):
    def url(self, membership):
        return reverse("member_spend_limit", args=[self.team.code, membership.code])

    def test_it_sets_a_limit(self):
        self.login(self.mia)
        self.client.post(self.url(self.member), {"monthly_spend_limit": "25.50"})
        self.member.refresh_from_db()
        self.assertEqual(str(self.member.monthly_spend_limit), "25.50")
        self.assertTrue(AuditEvent.objects.filter(action="member.spend_limit_changed").exists())

    def test_it_clears_a_limit(self):
        self.login(self.alice)
        self.client.post(self.url(self.member), {"monthly_spend_limit": ""})
        self.member.refresh_from_db()
        self.assertIsNone(self.member.monthly_spend_limit)

    def test_it_rejects_a_negative_limit(self):
        self.login(self.alice)
        r = self.client.post(self.url(self.member), {"monthly_spend_limit": "-3"}, follow=True)
        self.assertContains(r, "positive amount")

    def test_a_member_cannot_set_limits(self):
        self.login(self.bob)
        r = self.client.post(self.url(self.member), {"monthly_spend_limit": "1000"})
        self.assertEqual(r.status_code, 403)

    def test_it_rejects_get(self):
        self.login(self.alice)
        self.assertEqual(self.client.get(self.url(self.member)).status_code, 405)

"""Invitations by email: a single-use, expiring link to create a login or join with one."""

from __future__ import annotations

import hashlib
import re
import smtplib
from datetime import timedelta
from unittest import mock

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Invitation, InvitationState, Membership
from audit.models import AuditEvent
from tests.base import PASSWORD, BaseTestCase, make_user

LINK = re.compile(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+/)")
NEW_PASSWORD = "a long new pass phrase 41"


@override_settings(EMAIL_ENABLED=True, SITE_URL="https://desk.example.org")
class InvitationTestCase(BaseTestCase):
    def setUp(self):
        self.members_url = reverse("members", args=[self.team.code])

    def invite(self, email="dana@example.org", role="member", by=None):
        self.client.force_login(by or self.mia)
        r = self.client.post(self.members_url, {"email": email, "role": role})
        self.client.logout()
        return r

    def link(self, index=-1) -> str:
        return LINK.search(mail.outbox[index].body).group(1)

    def signup(self, path, username="dana", password=NEW_PASSWORD, confirm=None):
        return self.client.post(
            path, {"username": username, "password1": password, "password2": confirm or password}
        )


class SendingTestCase(InvitationTestCase):
    def test_the_mail_carries_a_link_whose_token_is_stored_only_as_a_hash(self):
        self.invite()
        self.assertEqual(len(mail.outbox), 1)
        message = mail.outbox[0]
        self.assertEqual(message.to, ["dana@example.org"])
        self.assertEqual(message.subject, "smsdesk: mia invited you to Alpha QA")
        self.assertIn("as Member", message.body)
        self.assertIn("https://desk.example.org/invitations/", message.body)
        token = self.link().split("/")[-2]
        invitation = Invitation.objects.get()
        self.assertEqual(invitation.token_hash, hashlib.sha256(token.encode()).hexdigest())
        stored = " ".join(str(v) for v in Invitation.objects.values().get().values())
        self.assertNotIn(token, stored)
        self.assertEqual(invitation.state(), InvitationState.PENDING)
        self.assertAlmostEqual(
            invitation.expires_at, timezone.now() + timedelta(days=7), delta=timedelta(minutes=1)
        )

    def test_inviting_the_same_address_again_resends_with_a_new_link(self):
        self.invite(role="member")
        first = self.link()
        self.invite(email="DANA@example.org", role="viewer")
        self.assertEqual(Invitation.objects.count(), 1)
        invitation = Invitation.objects.get()
        self.assertEqual((invitation.role, invitation.send_count), ("viewer", 2))
        self.assertNotEqual(first, self.link())
        self.assertEqual(self.client.get(first).status_code, 404)  # the old link is dead
        self.assertEqual(self.client.get(self.link()).status_code, 200)
        event = AuditEvent.objects.get(action="invitation.resent")
        self.assertEqual(event.payload["role_before"], "member")

    def test_resend_replaces_the_link_and_renews_the_expiry(self):
        self.invite()
        first = self.link()
        invitation = Invitation.objects.get()
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(hours=1)
        )
        self.client.force_login(self.mia)
        url = reverse("invitation_resend", args=[self.team.code, invitation.code])
        self.assertRedirects(self.client.post(url), self.members_url)
        self.client.logout()
        self.assertEqual(len(mail.outbox), 2)
        self.assertEqual(self.client.get(first).status_code, 404)
        self.assertContains(self.client.get(self.link()), "Create your login")
        invitation.refresh_from_db()
        self.assertEqual(invitation.state(), InvitationState.PENDING)
        self.assertTrue(AuditEvent.objects.filter(action="invitation.resent").exists())

    def test_a_manager_cannot_resend_or_revoke_an_owner_invitation(self):
        self.invite(role="owner", by=self.alice)
        invitation = Invitation.objects.get()
        self.client.force_login(self.mia)
        for name in ("invitation_resend", "invitation_revoke"):
            url = reverse(name, args=[self.team.code, invitation.code])
            r = self.client.post(url, follow=True)
            self.assertContains(r, "Only an owner can change an invitation to be owner.")
        invitation.refresh_from_db()
        self.assertTrue(invitation.is_open)
        self.assertEqual(invitation.send_count, 1)

    def test_members_and_viewers_cannot_resend_or_revoke(self):
        self.invite()
        invitation = Invitation.objects.get()
        for user in (self.bob, self.vic):
            self.client.force_login(user)
            for name in ("invitation_resend", "invitation_revoke"):
                url = reverse(name, args=[self.team.code, invitation.code])
                self.assertEqual(self.client.post(url).status_code, 403)
        self.assertTrue(Invitation.objects.get().is_open)

    def test_another_teams_invitation_is_not_found(self):
        self.client.force_login(self.charlie)
        theirs = services.invitation_send(
            acting=Membership.objects.get(user=self.charlie), email="x@example.org", role="member"
        ).invitation
        self.client.force_login(self.alice)
        url = reverse("invitation_revoke", args=[self.team.code, theirs.code])
        self.assertEqual(self.client.post(url).status_code, 404)
        self.assertTrue(Invitation.objects.get(pk=theirs.pk).is_open)

    def test_the_service_refuses_a_manager_granting_owner(self):
        with self.assertRaisesMessage(
            services.MembershipError, "Only an owner can make someone an owner."
        ):
            services.invitation_send(acting=self.manager, email="d@example.org", role="owner")


class AcceptingTestCase(InvitationTestCase):
    def test_a_new_person_creates_a_login_and_lands_on_the_board(self):
        self.invite(role="viewer")
        path = self.link()
        page = self.client.get(path)
        self.assertContains(page, "Join Alpha QA")
        self.assertContains(
            page, "mia invited <b>dana@example.org</b> to Alpha QA as <b>Viewer</b>"
        )
        self.assertContains(page, "Create your login")
        r = self.signup(path, username="dana")
        self.assertRedirects(r, reverse("board", args=[self.team.code]))
        dana = get_user_model().objects.get(username="dana")
        self.assertEqual(dana.email, "dana@example.org")
        self.assertTrue(dana.check_password(NEW_PASSWORD))
        self.assertEqual(Membership.objects.get(team=self.team, user=dana).role, "viewer")
        self.assertEqual(int(self.client.session["_auth_user_id"]), dana.pk)  # logged in
        invitation = Invitation.objects.get()
        self.assertEqual(invitation.accepted_by, dana)
        accepted = AuditEvent.objects.get(action="invitation.accepted")
        self.assertEqual(accepted.actor, dana)
        self.assertTrue(accepted.payload["new_login"])
        added = AuditEvent.objects.get(action="member.added")
        self.assertEqual(added.payload, {"user": "dana", "role": "viewer", "invited_by": "mia"})

    def test_the_link_works_once(self):
        self.invite()
        path = self.link()
        self.signup(path)
        self.client.logout()
        r = self.client.get(path)
        self.assertEqual(r.status_code, 410)
        self.assertContains(r, "This invitation was used already", status_code=410)
        r = self.signup(path, username="eve")
        self.assertEqual(r.status_code, 410)
        self.assertFalse(get_user_model().objects.filter(username="eve").exists())

    def test_an_expired_link_gets_a_friendly_page(self):
        self.invite()
        Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
        r = self.client.get(self.link())
        self.assertContains(r, "This invitation cannot be used", status_code=410)
        self.assertContains(r, "expired on", status_code=410)
        self.assertContains(r, "Ask mia to send a new one", status_code=410)
        self.assertEqual(self.signup(self.link()).status_code, 410)
        self.assertFalse(get_user_model().objects.filter(username="dana").exists())

    def test_a_revoked_link_gets_a_friendly_page_and_the_revocation_is_audited(self):
        self.invite()
        invitation = Invitation.objects.get()
        self.client.force_login(self.mia)
        url = reverse("invitation_revoke", args=[self.team.code, invitation.code])
        r = self.client.post(url, follow=True)
        self.assertContains(r, "Invitation to dana@example.org revoked")
        self.assertNotContains(r, "Pending invitations")
        self.client.logout()
        r = self.client.get(self.link())
        self.assertContains(r, "This invitation was withdrawn", status_code=410)
        event = AuditEvent.objects.get(action="invitation.revoked")
        self.assertEqual((event.actor, event.payload["email"]), (self.mia, "dana@example.org"))

    def test_an_unknown_or_mangled_link_gets_a_friendly_404(self):
        for token in ("made-up", "x" * 500, "%00"):
            r = self.client.get(f"/invitations/{token}/")
            self.assertContains(r, "This invitation link is not valid", status_code=404)

    def test_a_taken_username_or_mismatched_passwords_create_nothing(self):
        self.invite()
        path = self.link()
        r = self.signup(path, username="BOB")
        self.assertContains(r, "A user with that username already exists.")
        r = self.signup(path, username="dana", confirm="something else entirely 9")
        self.assertContains(r, "The two password fields didn")
        r = self.signup(path, username="dana", password="123")
        self.assertContains(r, "This password is too short.")
        self.assertFalse(get_user_model().objects.filter(username="dana").exists())
        self.assertTrue(Invitation.objects.get().is_open)

    def test_someone_with_a_login_logs_in_and_joins(self):
        dana = make_user("dana")
        self.invite()
        path = self.link()
        page = self.client.get(path)
        login_link = reverse("login") + "?next=" + path.replace("/", "%2F")
        self.assertContains(page, f'href="{login_link}"')
        self.assertContains(page, "dana@example.org has a smsdesk login already")
        r = self.client.post(
            reverse("login"), {"username": "dana", "password": PASSWORD, "next": path}
        )
        self.assertRedirects(r, path)
        page = self.client.get(path)
        self.assertContains(page, "Join Alpha QA as dana")
        self.assertNotContains(page, "Create your login")
        r = self.client.post(path)
        self.assertRedirects(r, reverse("board", args=[self.team.code]))
        self.assertEqual(Membership.objects.get(team=self.team, user=dana).role, "member")
        self.assertFalse(AuditEvent.objects.get(action="invitation.accepted").payload["new_login"])

    def test_a_member_already_in_the_team_keeps_their_role(self):
        self.invite(email="someone@example.org", role="viewer")
        self.client.force_login(self.mia)
        page = self.client.get(self.link())
        self.assertContains(page, "You are already in Alpha QA as Manager")
        self.client.post(self.link())
        self.manager.refresh_from_db()
        self.assertEqual(self.manager.role, "manager")
        self.assertFalse(AuditEvent.objects.filter(action="member.added").exists())
        self.assertTrue(
            AuditEvent.objects.get(action="invitation.accepted").payload["already_member"]
        )


class WithoutMailTestCase(BaseTestCase):
    """No mail configured (the test settings' default): the inviter gets the link, once."""

    def test_the_inviter_is_shown_the_link_to_send_themselves(self):
        self.client.force_login(self.alice)
        r = self.client.post(
            reverse("members", args=[self.team.code]),
            {"email": "dana@example.org", "role": "member"},
        )
        self.assertEqual(mail.outbox, [])
        self.assertContains(r, "Send this link yourself")
        self.assertContains(r, "No mail server is configured")
        path = LINK.search(r.content.decode()).group(1)
        self.client.logout()
        self.assertContains(self.client.get(path), "Create your login")
        event = AuditEvent.objects.get(action="invitation.sent")
        self.assertFalse(event.payload["mailed"])

    @override_settings(EMAIL_ENABLED=True)
    def test_a_mail_server_that_refuses_leaves_the_link_with_the_inviter(self):
        self.client.force_login(self.alice)
        with mock.patch(
            "accounts.services.send_mail", side_effect=smtplib.SMTPRecipientsRefused({})
        ):
            r = self.client.post(
                reverse("members", args=[self.team.code]),
                {"email": "dana@example.org", "role": "member"},
            )
        self.assertContains(r, "The mail server refused the message.")
        self.assertIsNotNone(LINK.search(r.content.decode()))
        self.assertTrue(Invitation.objects.get().is_open)


class InvitationAdminTestCase(InvitationTestCase):
    def test_staff_see_invitations_read_only_and_never_the_token_hash(self):
        self.invite()
        invitation = Invitation.objects.get()
        staff = make_user("staffer", is_staff=True, is_superuser=True)
        self.client.force_login(staff)
        listing = self.client.get(reverse("admin:accounts_invitation_changelist"))
        self.assertContains(listing, "dana@example.org")
        self.assertContains(listing, "Pending")
        page = self.client.get(reverse("admin:accounts_invitation_change", args=[invitation.pk]))
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, invitation.token_hash)
        self.assertEqual(self.client.get(reverse("admin:accounts_invitation_add")).status_code, 403)

"""The base test case: one team and five personas, as every view test needs."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

from django.contrib.auth import get_user_model
from django.test import TestCase
from django.utils import timezone

from accounts.models import Membership, Team
from accounts.roles import Role

PASSWORD = "correct horse battery staple"


@contextmanager
def smsdesk_clock_ahead(seconds: float):
    """smsdesk's clock (`timezone.now`, in this process and its live server threads)
    `seconds` ahead of the real one: time passes for smsdesk as the sandbox's
    `clock.advance` makes it pass for the provider."""
    real_now = timezone.now
    with mock.patch.object(timezone, "now", lambda: real_now() + timedelta(seconds=seconds)):
        yield


def make_user(username: str, **extra):
    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.org", password=PASSWORD, **extra
    )


class BaseTestCase(TestCase):
    """alice owns the team, mia manages it, bob is a member, vic a viewer, charlie an outsider."""

    @classmethod
    def setUpTestData(cls):
        cls.team = Team.objects.create(name="Alpha QA")
        cls.alice = make_user("alice")
        cls.mia = make_user("mia")
        cls.bob = make_user("bob")
        cls.vic = make_user("vic")
        cls.charlie = make_user("charlie")
        cls.owner = Membership.objects.create(team=cls.team, user=cls.alice, role=Role.OWNER)
        cls.manager = Membership.objects.create(team=cls.team, user=cls.mia, role=Role.MANAGER)
        cls.member = Membership.objects.create(team=cls.team, user=cls.bob, role=Role.MEMBER)
        cls.viewer = Membership.objects.create(team=cls.team, user=cls.vic, role=Role.VIEWER)
        # charlie has a team of his own, so "outsider" means "member elsewhere".
        cls.other_team = Team.objects.create(name="Charlie's team")
        Membership.objects.create(team=cls.other_team, user=cls.charlie, role=Role.OWNER)

    def login(self, user) -> None:
        self.client.force_login(user)

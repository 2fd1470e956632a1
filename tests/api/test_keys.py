"""Personal API keys: stored hashed, scopes no wider than the role, expiry,
revocation, the last-used time, the key's one-statement read and the
`api_key_create` command."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import TransactionTestCase
from django.utils import timezone

from accounts.models import Membership, Team
from accounts.roles import Role
from api import keys
from api.models import ApiKey, Scope
from api.services import ApiKeyError, api_key_create, api_key_revoke
from audit.models import AuditEvent
from tests.base import BaseTestCase, make_user


class KeyTests(BaseTestCase):
    def create(self, membership=None, **kw):
        membership = membership or self.member
        kw.setdefault("name", "ci")
        kw.setdefault("scope", Scope.ORDER)
        return api_key_create(membership=membership, actor=membership.user, **kw)

    def test_it_stores_only_the_prefix_and_the_sha256_of_the_key(self):
        key, raw = self.create()
        assert keys.looks_like_key(raw)
        assert key.prefix == raw[: keys.PREFIX_LENGTH]
        assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
        row = ApiKey.objects.filter(pk=key.pk).values()[0]
        assert not any(raw[keys.PREFIX_LENGTH :] in str(v) for v in row.values())

    def test_it_authenticates_the_key_and_nothing_else(self):
        key, raw = self.create()
        assert keys.authenticate(raw) == key
        wrong = raw[:-1] + ("a" if raw[-1] != "a" else "b")
        for bad in (wrong, raw[:-1], raw + "x", "", None, 42, raw.upper(), " " + raw[1:]):
            assert keys.authenticate(bad) is None, bad

    def test_it_refuses_an_expired_key(self):
        key, raw = self.create(expires_at=timezone.now() + timedelta(hours=1))
        assert keys.authenticate(raw) == key
        later = timezone.now() + timedelta(hours=2)
        assert keys.authenticate(raw, now=later) is None

    def test_it_refuses_an_expiry_in_the_past(self):
        with pytest.raises(ApiKeyError, match="future"):
            self.create(expires_at=timezone.now() - timedelta(minutes=1))

    def test_it_refuses_a_revoked_key_at_once_and_audits_it(self):
        key, raw = self.create()
        api_key_revoke(key=key, membership=self.member)
        assert keys.authenticate(raw) is None
        assert AuditEvent.objects.filter(action="api_key.revoked", target_code=key.code).exists()

    def test_a_manager_may_revoke_a_members_key_and_another_member_may_not(self):
        key, _raw = self.create()
        other = self.team.memberships.create(user=self.charlie, role=Role.MEMBER)
        with pytest.raises(ApiKeyError):
            api_key_revoke(key=key, membership=other)
        api_key_revoke(key=key, membership=self.manager)
        assert ApiKey.objects.get(pk=key.pk).revoked_by == self.mia

    def test_a_viewer_gets_read_only_keys(self):
        assert keys.scopes_for(self.viewer) == [Scope.READ]
        key, _raw = self.create(self.viewer, scope=Scope.READ)
        with pytest.raises(ApiKeyError, match="read only"):
            self.create(self.viewer, name="other", scope=Scope.ORDER)
        assert keys.may(key, Scope.READ) and not keys.may(key, Scope.ORDER)

    def test_a_key_loses_what_the_role_loses(self):
        key, raw = self.create(scope=Scope.ORDER)
        assert keys.may(keys.authenticate(raw), Scope.ORDER)
        self.member.role = Role.VIEWER
        self.member.save()
        key = keys.authenticate(raw)
        assert keys.may(key, Scope.READ) and not keys.may(key, Scope.ORDER)

    def test_a_member_removed_from_the_team_loses_their_keys(self):
        _key, raw = self.create()
        self.member.delete()
        assert keys.authenticate(raw) is None

    def test_a_read_key_never_orders(self):
        key, _raw = self.create(scope=Scope.READ)
        assert not keys.may(key, Scope.ORDER)

    def test_names_are_unique_per_member_among_live_keys(self):
        key, _raw = self.create(name="ci")
        with pytest.raises(ApiKeyError, match="already have a key"):
            self.create(name="ci")
        api_key_revoke(key=key, membership=self.member)
        self.create(name="ci")
        self.create(self.manager, name="ci")

    def test_it_records_the_last_use_at_most_once_a_minute(self):
        key, raw = self.create()
        assert key.last_used_at is None
        keys.authenticate(raw, ip="203.0.113.5")
        first = ApiKey.objects.get(pk=key.pk)
        assert first.last_used_at is not None and first.last_used_ip == "203.0.113.5"
        with self.assertNumQueries(1):  # the look-up only: no write within the minute
            keys.authenticate(raw, ip="203.0.113.6")
        later = timezone.now() + timedelta(minutes=2)
        keys.authenticate(raw, ip="203.0.113.7", now=later)
        assert ApiKey.objects.get(pk=key.pk).last_used_at == later

    def test_its_use_is_audited_hourly_and_when_its_address_changes(self):
        key, raw = self.create()
        now = timezone.now()
        uses = [
            (now, "203.0.113.5", "getBalance"),  # first use: audited
            (now + timedelta(seconds=5), "203.0.113.6", "getStatus"),  # same minute: nothing
            (now + timedelta(minutes=2), "203.0.113.5", "getStatus"),  # a minute on, same ip
            (now + timedelta(minutes=4), "198.51.100.9", "GET /api/v1/orders"),  # new address
            (now + timedelta(minutes=90), "198.51.100.9", "getNumber"),  # an hour on
        ]
        for when, ip, call in uses:
            keys.authenticate(raw, ip=ip, now=when, call=call)
        used = AuditEvent.objects.filter(action="api_key.used", target_code=key.code)
        assert [(e.payload["call"], e.ip_address) for e in used.order_by("id")] == [
            ("getBalance", "203.0.113.5"),
            ("GET /api/v1/orders", "198.51.100.9"),
            ("getNumber", "198.51.100.9"),
        ]
        event = used.first()
        assert event.actor == self.bob and event.team == self.team
        assert raw not in str(event.payload) and keys.split(raw)[1] not in str(event.payload)

    def test_creating_a_key_is_audited_without_the_key(self):
        key, raw = self.create()
        event = AuditEvent.objects.get(action="api_key.created", target_code=key.code)
        assert event.payload["name"] == "ci" and event.payload["prefix"] == key.prefix
        assert raw[keys.PREFIX_LENGTH :] not in str(event.payload)


def fields(instance) -> dict:
    """Every column's value and its type: what the ORM would have loaded."""
    return {
        f.attname: (getattr(instance, f.attname), type(getattr(instance, f.attname)))
        for f in instance._meta.concrete_fields
    }


class LookupTests(BaseTestCase):
    """authenticate reads the key in one hand-written statement: the instances must be
    the ones the ORM makes, and a status poll must cost no health-check round trip."""

    def test_it_reads_the_key_its_member_and_team_as_the_orm_would_in_one_query(self):
        Membership.objects.filter(pk=self.member.pk).update(
            monthly_spend_limit=Decimal("12.3400"), daily_spend_limit=Decimal("1.5000")
        )
        Team.objects.filter(pk=self.team.pk).update(monthly_budget=Decimal("250.0000"))
        key, raw = api_key_create(
            membership=self.member,
            name="ci",
            expires_at=timezone.now() + timedelta(days=1),
            actor=self.bob,
        )
        keys.authenticate(raw, ip="203.0.113.5")  # the last use, written once a minute
        with self.assertNumQueries(1):
            found = keys.authenticate(raw)
            member, team = found.membership, found.team
            assert member.team is team and member.can(keys.SCOPE_PERMISSION[Scope.ORDER])
        expected = ApiKey.objects.select_related("membership__team").get(pk=key.pk)
        assert fields(found) == fields(expected)
        assert fields(member) == fields(expected.membership)
        assert fields(team) == fields(expected.membership.team)
        assert timezone.is_aware(found.created) and found.polled is None
        found.name = "renamed"
        found.save(update_fields=["name"])  # a loaded row, not a new one
        assert ApiKey.objects.get(pk=key.pk).name == "renamed" and ApiKey.objects.count() == 1

    def test_the_key_read_is_the_requests_connection_check(self):
        _key, raw = api_key_create(membership=self.member, name="ci", actor=self.bob)
        keys.authenticate(raw)
        connection.ensure_connection()
        checks = []
        with (
            mock.patch.object(connection, "health_check_enabled", True),
            mock.patch.object(connection, "is_usable", lambda: checks.append(1) or True),
        ):
            connection.health_check_done = False  # a new request (close_old_connections)
            assert keys.authenticate(raw) is not None
        assert checks == []  # no SELECT 1 before the key's read


class DroppedConnectionTests(TransactionTestCase):
    def test_a_dropped_connection_fails_no_call(self):
        if connection.vendor != "postgresql":
            self.skipTest("Django checks reused connections on PostgreSQL only here")
        team = Team.objects.create(name="Beta")
        member = Membership.objects.create(team=team, user=make_user("dora"), role=Role.MEMBER)
        key, raw = api_key_create(membership=member, name="ci", actor=member.user)
        assert connection.health_check_enabled
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        connection.health_check_done = False  # a new request reusing it (close_old_connections)
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            other.close()
        assert keys.authenticate(raw) == key  # reconnected, read again
        assert connection.connection.info.backend_pid != pid


class CommandTests(BaseTestCase):
    def run_command(self, *args):
        out = StringIO()
        call_command("api_key_create", *args, stdout=out)
        return out.getvalue().splitlines()

    def test_it_prints_the_key_on_its_last_line_only(self):
        lines = self.run_command("--team", "Alpha QA", "--user", "bob", "--name", "ci runner")
        raw = lines[-1]
        key = keys.authenticate(raw)
        assert key is not None and key.user == self.bob and key.scope == Scope.ORDER
        assert key.name == "ci runner"
        secret = raw[keys.PREFIX_LENGTH :]
        assert not any(secret[:6] in line for line in lines[:-1])

    def test_a_viewer_gets_a_read_only_key_and_expiry_is_honoured(self):
        lines = self.run_command(
            "--team", "Alpha QA", "--user", "vic", "--name", "ro", "--expires-days", "3"
        )
        key = keys.authenticate(lines[-1])
        assert key.scope == Scope.READ
        assert timedelta(days=2.9) < key.expires_at - timezone.now() <= timedelta(days=3)

    def test_it_refuses_an_outsider_and_an_unknown_team_in_plain_words(self):
        with pytest.raises(CommandError, match="not a member"):
            self.run_command("--team", "Alpha QA", "--user", "charlie", "--name", "x")
        with pytest.raises(CommandError, match="not a member"):
            self.run_command("--team", "No such", "--user", "bob", "--name", "x")
        with pytest.raises(CommandError, match="cannot order"):
            self.run_command(
                "--team", "Alpha QA", "--user", "vic", "--name", "x", "--scope", "order"
            )

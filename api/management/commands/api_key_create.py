"""`manage.py api_key_create --team NAME --user USERNAME --name LABEL [--scope order]
[--expires-days N]`: a personal API key for a script or an operator.

Prints what was made, then the key alone on the last line; nothing else it prints
is secret. The key is not stored and cannot be shown again.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Membership
from api.models import Scope
from api.services import ApiKeyError, api_key_create


class Command(BaseCommand):
    help = "Create a personal API key for a member of a team; the key is the last line."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="the team's name")
        parser.add_argument("--user", required=True, help="the member's username")
        parser.add_argument("--name", required=True, help="a label for the key")
        parser.add_argument(
            "--scope",
            choices=Scope.values,
            help="read or order (default: order when the member's role may order)",
        )
        parser.add_argument("--expires-days", type=int, help="days until the key expires")

    def handle(self, *args, **options):
        membership = self._membership(options["team"], options["user"])
        scope = options["scope"] or (Scope.ORDER if not membership.is_read_only else Scope.READ)
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1.")
        expires = timezone.now() + timedelta(days=days) if days else None
        try:
            key, raw = api_key_create(
                membership=membership,
                name=options["name"],
                scope=scope,
                expires_at=expires,
                actor=None,
            )
        except ApiKeyError as exc:
            raise CommandError(exc.message) from exc
        expiry = f", expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else ""
        self.stdout.write(
            f"Created key “{key.name}” ({key.prefix}…, {key.get_scope_display().lower()}"
            f"{expiry}) for {membership.user.get_username()} in {membership.team.name}. "
            "It is shown once, on the next line:"
        )
        self.stdout.write(raw)

    def _membership(self, team: str, user: str) -> Membership:
        rows = Membership.objects.select_related("team", "user").filter(
            team__name=team, user__username=user
        )
        found = list(rows[:2])
        if not found:
            raise CommandError(f"{user!r} is not a member of a team named {team!r}.")
        if len(found) > 1:
            raise CommandError(f"Several teams are named {team!r}; rename one first.")
        return found[0]

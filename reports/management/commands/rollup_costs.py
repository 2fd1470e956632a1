"""`manage.py rollup_costs [--team T] [--since YYYY-MM-DD]`: build or backfill the cost
report's daily roll-up (reports.rollup) for every closed day up to yesterday.

Run it once after upgrading to the roll-up (the schedule rolls up only recent days),
and with `--since` to recompute days after correcting data by hand. Days held open by
an order that is not final yet are left to the schedule.
"""

from __future__ import annotations

import time
import uuid
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from reports import rollup


class Command(BaseCommand):
    help = "Build or backfill the cost report's daily roll-up."

    def add_arguments(self, parser):
        parser.add_argument("--team", help="one team: its code (UUID) or id")
        parser.add_argument("--since", help="first day (YYYY-MM-DD); default: all history")

    def handle(self, *args, **opts):
        teams = Team.objects.order_by("pk")
        if opts["team"]:
            value = opts["team"]
            if value.isdigit():
                teams = teams.filter(pk=int(value))
            else:
                try:
                    teams = teams.filter(code=uuid.UUID(value))
                except ValueError as exc:
                    raise CommandError(f"No team {value!r}.") from exc
            if not teams.exists():
                raise CommandError(f"No team {value!r}.")
        since = None
        if opts["since"]:
            try:
                since = date.fromisoformat(opts["since"])
            except ValueError as exc:
                raise CommandError("--since is a date: YYYY-MM-DD.") from exc
        started = time.monotonic()
        count = teams.count()
        days = rollup.backfill(teams.iterator(), since=since)
        self.stdout.write(
            f"Rolled up {days} days of {count} teams in {time.monotonic() - started:.1f} s."
        )

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from config.schedules import SCHEDULE_PREFIX, declared_schedules


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules every app declares (idempotent)."

    def handle(self, *args, **options):
        declared = declared_schedules()
        names = []
        with transaction.atomic():
            for item in declared:
                name = SCHEDULE_PREFIX + item["name"]
                names.append(name)
                _, created = Schedule.objects.update_or_create(
                    name=name,
                    defaults={
                        "func": item["func"],
                        "args": item.get("args", ""),
                        "schedule_type": Schedule.MINUTES,
                        "minutes": item["minutes"],
                        "repeats": -1,
                    },
                    # A new schedule first runs one interval from now: setup
                    # (the demo, a deploy) has just done the work itself.
                    create_defaults={
                        "func": item["func"],
                        "args": item.get("args", ""),
                        "schedule_type": Schedule.MINUTES,
                        "minutes": item["minutes"],
                        "repeats": -1,
                        "next_run": timezone.now() + timedelta(minutes=item["minutes"]),
                    },
                )
                verb = "created" if created else "updated"
                self.stdout.write(f"{verb} {name} every {item['minutes']} min -> {item['func']}")
            stale = Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).exclude(
                name__in=names
            )
            for schedule in stale:
                self.stdout.write(f"removed stale {schedule.name}")
            stale.delete()
        self.stdout.write(self.style.SUCCESS(f"{len(declared)} schedules registered."))

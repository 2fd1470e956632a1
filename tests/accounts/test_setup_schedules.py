from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from config.schedules import SCHEDULE_PREFIX, declared_schedules


@pytest.mark.django_db
def test_it_registers_every_declared_schedule_once():
    call_command("setup_schedules", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())  # idempotent
    names = set(Schedule.objects.values_list("name", flat=True))
    expected = {SCHEDULE_PREFIX + s["name"] for s in declared_schedules()}
    assert names == expected
    assert "smsdesk:sync.watchdog" in names
    assert Schedule.objects.get(name="smsdesk:sync.watchdog").minutes == 1


@pytest.mark.django_db
def test_new_schedules_wait_one_interval():
    call_command("setup_schedules", stdout=StringIO())
    catalog = Schedule.objects.get(name="smsdesk:providers.sync_all_catalogs")
    assert catalog.next_run > timezone.now() + timezone.timedelta(minutes=30)


@pytest.mark.django_db
def test_it_removes_stale_schedules_and_keeps_foreign_ones():
    Schedule.objects.create(
        name="smsdesk:gone", func="x.y", schedule_type=Schedule.MINUTES, minutes=5
    )
    Schedule.objects.create(
        name="someone-else", func="x.y", schedule_type=Schedule.MINUTES, minutes=5
    )
    call_command("setup_schedules", stdout=StringIO())
    assert not Schedule.objects.filter(name="smsdesk:gone").exists()
    assert Schedule.objects.filter(name="someone-else").exists()


@pytest.mark.django_db
def test_timeout_stays_below_retry(settings):
    assert settings.Q_CLUSTER["timeout"] < settings.Q_CLUSTER["retry"]
    assert (
        settings.Q_CLUSTER["timeout"] > settings.SYNC_RUN_SECONDS or settings.SYNC_RUN_SECONDS == 0
    )

"""Reminders before a rental expires without auto-extend: on the board and by email."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

import audit
from rentals.models import Rental, RentalState


def due_for_reminder(now=None):
    now = now or timezone.now()
    horizon = now + timedelta(hours=settings.RENTAL_REMINDER_HOURS)
    return Rental.objects.filter(
        state=RentalState.ACTIVE,
        auto_extend=False,
        expires_at__lte=horizon,
        expires_at__gt=now,
        reminder_sent_at__isnull=True,
    ).select_related("rented_by", "team", "account")


def expiring_soon(team, now=None):
    """Active rentals of `team` expiring within the reminder window (for the board)."""
    now = now or timezone.now()
    horizon = now + timedelta(hours=settings.RENTAL_REMINDER_HOURS)
    return Rental.objects.filter(
        team=team, state=RentalState.ACTIVE, auto_extend=False, expires_at__lte=horizon
    ).order_by("expires_at")


def send_due_reminders(now=None) -> int:
    """Mail the renter of each rental entering the reminder window, once; return count."""
    now = now or timezone.now()
    sent = 0
    for rental in due_for_reminder(now):
        # Claim the reminder so two schedulers never send it twice.
        if not Rental.objects.filter(pk=rental.pk, reminder_sent_at__isnull=True).update(
            reminder_sent_at=now
        ):
            continue
        emailed = _email(rental)
        audit.record(
            team=rental.team,
            actor=None,
            action="rental.reminder_sent",
            target=rental,
            payload={"expires_at": rental.expires_at.isoformat(), "emailed": emailed},
        )
        sent += 1
    return sent


def _email(rental: Rental) -> bool:
    user = rental.rented_by
    if not settings.EMAIL_ENABLED or user is None or not user.email:
        return False
    left = rental.expires_at - timezone.now()
    hours = max(1, int(left.total_seconds() // 3600))
    link = settings.SITE_URL.rstrip("/") + reverse("rental_detail", args=[rental.code])
    send_mail(
        subject=f"Rental {rental.international_number} expires in about {hours} h",
        message=(
            f"The rented number {rental.international_number} ({rental.account.label}) "
            f"expires at {timezone.localtime(rental.expires_at):%Y-%m-%d %H:%M %Z} and will not "
            f"be extended automatically.\n\nExtend it: {link}\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    return True

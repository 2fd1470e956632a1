from datetime import timedelta
from decimal import Decimal

from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from providers.models import ProviderAccount
from rentals.models import Rental, RentalState
from rentals.reminders import expiring_soon, send_due_reminders
from tests.base import BaseTestCase


class RemindersTestCase(BaseTestCase):
    def setUp(self):
        self.account = ProviderAccount(
            team=self.team, kind="smspool", label="Pool", base_url="https://api.smspool.net"
        )
        self.account.set_api_key("k-1234")
        self.account.save()

    def rental(self, hours_left: float, **fields) -> Rental:
        values = {
            "team": self.team,
            "account": self.account,
            "rented_by": self.bob,
            "idempotency_key": f"k{Rental.objects.count()}",
            "upstream_offer_id": "6",
            "state": RentalState.ACTIVE,
            "upstream_id": f"R{Rental.objects.count()}",
            "phone_number": "15550001111",
            "cost": Decimal("20"),
            "currency": "USD",
            "duration": 30,
            "expires_at": timezone.now() + timedelta(hours=hours_left),
        }
        return Rental.objects.create(**{**values, **fields})

    def test_it_mails_the_renter_once_inside_the_window(self):
        due = self.rental(5)
        self.rental(100)  # not yet
        self.rental(5, auto_extend=True)  # extends itself
        with self.settings(EMAIL_ENABLED=True, RENTAL_REMINDER_HOURS=24):
            self.assertEqual(send_due_reminders(), 1)
            self.assertEqual(send_due_reminders(), 0)
        self.assertEqual(len(mail.outbox), 1)
        self.assertIn(due.international_number, mail.outbox[0].subject)
        self.assertEqual(mail.outbox[0].to, ["bob@example.org"])
        self.assertTrue(AuditEvent.objects.filter(action="rental.reminder_sent").exists())

    def test_without_email_the_board_still_shows_it(self):
        due = self.rental(5)
        with self.settings(EMAIL_ENABLED=False):
            self.assertEqual(send_due_reminders(), 1)
        self.assertEqual(len(mail.outbox), 0)
        self.assertEqual(list(expiring_soon(self.team)), [due])
        self.client.force_login(self.vic)
        r = self.client.get(f"/teams/{self.team.code}/rentals/")
        self.assertContains(r, "Expiring soon without auto-extend")

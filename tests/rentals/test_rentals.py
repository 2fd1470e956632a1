"""Rentals end to end against the sandbox: rent, inbox, extend, refund, wake, expiry."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from rentals import services
from rentals.models import Rental, RentalOffer, RentalState
from reports.models import LedgerEntry
from sync import engine
from tests.orders.base import SandboxTestCase


class RentalTestCase(SandboxTestCase):
    def offer(self, account, **filters) -> RentalOffer:
        return RentalOffer.objects.filter(account=account, **filters).order_by("pk").first()

    def rent(self, offer: RentalOffer, duration: int | None = None, user=None, **extra):
        self.client.force_login(user or self.bob)
        duration = duration or offer.durations()[0][0]
        data = {
            "choice": f"{offer.pk}:{duration}",  # the offers table's one radio
            "idempotency_key": "k-" + str(offer.pk),
            "label": "QA line",
            "note": "",
            "service": "",
            **extra,
        }
        url = reverse("rental_new", args=[self.team.code])
        review = self.client.post(url, data)
        self.assertContains(review, "Confirm the rental")
        return self.client.post(url, {**data, "confirm": "1"})

    def upstream_rental(self, rental: Rental):
        return self.sandbox.state.rental(
            rental.account.kind, rental.account.api_key, rental.upstream_id
        )

    def message(self, rental: Rental, text: str = "Your Discord code is 553311"):
        with self.sandbox.state.lock:
            self.sandbox.state.rental_message(self.upstream_rental(rental), text=text)

    def refresh(self, rental: Rental, later: float = 0) -> Rental:
        services.rental_refresh(rental=rental, now=timezone.now() + timedelta(seconds=later))
        rental.refresh_from_db()
        return rental


class SmsPoolRentalTestCase(RentalTestCase):
    def setUp(self):
        super().setUp()
        self.smspool = self.account("smspool")

    def test_rent_message_extend_and_refund_refused_after_a_message(self):
        offer = self.offer(self.smspool, country__iso="US")
        r = self.rent(offer)
        rental = Rental.objects.get()
        self.assertRedirects(r, reverse("rental_detail", args=[rental.code]))
        self.assertEqual(rental.state, RentalState.ACTIVE)
        self.assertTrue(rental.phone_number)
        self.assertEqual(LedgerEntry.objects.get(rental=rental).kind, "rental")
        self.assertTrue(AuditEvent.objects.filter(action="rental.rented").exists())

        self.message(rental)
        rental = self.refresh(rental)
        self.assertEqual(rental.messages.get().code, "553311")
        page = self.client.get(reverse("rental_detail", args=[rental.code]))
        self.assertContains(page, "553311")
        self.assertContains(page, "A message has been received")  # refund greyed out

        before = rental.expires_at
        length = offer.extend_durations()[0][0]
        self.client.post(reverse("rental_extend", args=[rental.code]), {"duration": length})
        rental.refresh_from_db()
        self.assertEqual(rental.expires_at - before, timedelta(days=length))
        self.assertTrue(LedgerEntry.objects.filter(rental=rental, kind="extension").exists())
        page = self.client.get(reverse("rental_detail", args=[rental.code]))
        self.assertContains(page, "Rental extension")  # the charge, on the page

        r = self.client.post(reverse("rental_refund", args=[rental.code]), follow=True)
        self.assertContains(r, "can no longer be refunded")
        rental.refresh_from_db()
        self.assertEqual(rental.state, RentalState.ACTIVE)

    def test_refund_inside_the_window_without_a_message(self):
        rental_offer = self.offer(self.smspool, refundable=True)
        self.rent(rental_offer)
        rental = Rental.objects.get()
        page = self.client.get(reverse("rental_detail", args=[rental.code]))
        self.assertContains(page, "Refund this rental")
        self.client.post(reverse("rental_refund", args=[rental.code]))
        rental.refresh_from_db()
        self.assertEqual(rental.state, RentalState.REFUNDED)
        total = sum(e.amount for e in LedgerEntry.objects.filter(rental=rental))
        self.assertEqual(total, 0)
        self.assertEqual(self.upstream_rental(rental).status, "refunded")

    def test_refund_is_refused_after_the_window(self):
        offer = self.offer(self.smspool, refundable=True)
        self.rent(offer)
        rental = Rental.objects.get()
        Rental.objects.filter(pk=rental.pk).update(
            started_at=timezone.now() - timedelta(hours=offer.refund_within_hours + 1)
        )
        rental.refresh_from_db()
        allowed, reason = services.refund_status(rental)
        self.assertFalse(allowed)
        self.assertIn(f"first {offer.refund_within_hours} hours", reason)

    def test_wake_flow(self):
        self.rent(self.offer(self.smspool))
        rental = Rental.objects.get()
        self.advance(400)  # past activeFor: the line falls asleep
        rental = self.refresh(rental)
        self.assertFalse(rental.available)
        page = self.client.get(reverse("rental_detail", args=[rental.code]))
        self.assertContains(page, "Asleep — wake it")
        self.client.post(reverse("rental_wake", args=[rental.code]))
        rental.refresh_from_db()
        self.assertTrue(rental.available)
        self.assertGreater(rental.awake_until, timezone.now())
        page = self.client.get(reverse("rental_detail", args=[rental.code]))
        self.assertContains(page, "Ready to receive")
        self.assertTrue(AuditEvent.objects.filter(action="rental.woken").exists())

    def test_expiry_is_recorded(self):
        offer = self.offer(self.smspool)
        self.rent(offer)
        rental = Rental.objects.get()
        days = rental.duration
        self.advance(days * 86400 + 60)
        rental = self.refresh(rental, later=days * 86400 + 60)
        self.assertEqual(rental.state, RentalState.EXPIRED)
        self.assertTrue(AuditEvent.objects.filter(action="rental.expired").exists())

    def test_auto_extend_is_honoured(self):
        offer = self.offer(self.smspool)
        self.rent(offer)
        rental = Rental.objects.get()
        self.client.post(reverse("rental_auto_extend", args=[rental.code]), {"enabled": "1"})
        rental.refresh_from_db()
        self.assertTrue(rental.auto_extend)
        self.assertTrue(self.upstream_rental(rental).auto_extend)
        before = rental.expires_at
        self.advance(rental.duration * 86400 + 60)
        rental = self.refresh(rental, later=rental.duration * 86400 + 60)
        self.assertEqual(rental.state, RentalState.ACTIVE)
        self.assertGreater(rental.expires_at, before)
        self.assertTrue(LedgerEntry.objects.filter(rental=rental, kind="extension").exists())
        self.assertTrue(AuditEvent.objects.filter(action="rental.auto_extended").exists())

    def test_the_sync_engine_follows_rentals(self):
        self.rent(self.offer(self.smspool))
        rental = Rental.objects.get()
        self.message(rental, "Your code is 778899")
        engine.run_cycle(self.smspool)
        rental.refresh_from_db()
        self.assertEqual(rental.message_count, 1)


class RentalSpendLimitTestCase(RentalTestCase):
    def test_extensions_count_against_the_members_monthly_limit(self):
        smspool = self.account("smspool")
        offer = self.offer(smspool, country__iso="US")
        length, price = offer.durations()[0]
        extend_length, extend_price = offer.extend_durations()[0]
        self.member.monthly_spend_limit = price + extend_price / 2  # room to rent, not extend
        self.member.save()
        self.rent(offer, length)
        rental = Rental.objects.get()
        self.assertEqual(rental.state, RentalState.ACTIVE)
        before = rental.expires_at
        r = self.client.post(
            reverse("rental_extend", args=[rental.code]), {"duration": extend_length}, follow=True
        )
        self.assertContains(r, "monthly limit")
        rental.refresh_from_db()
        self.assertEqual(rental.expires_at, before)
        self.assertFalse(LedgerEntry.objects.filter(kind="extension").exists())
        with self.sandbox.state.lock:
            self.assertEqual(self.upstream_rental(rental).paid, price)  # never extended

    def test_the_teams_budget_covers_rentals_too(self):
        smspool = self.account("smspool")
        offer = self.offer(smspool, country__iso="US")
        self.team.monthly_budget = offer.durations()[0][1] / 2
        self.team.save()
        r = self.rent(offer)
        self.assertContains(self.client.get(r.url), "monthly budget")
        self.assertFalse(Rental.objects.exists())
        with self.sandbox.state.lock:
            upstream = self.sandbox.state.account("smspool", smspool.api_key)
            self.assertFalse(upstream.rentals)


class NumPoolRentalTestCase(RentalTestCase):
    def test_numpool_rentals_are_never_refundable(self):
        numpool = self.account("numpool")
        self.rent(self.offer(numpool))
        rental = Rental.objects.get()
        page = self.client.get(reverse("rental_detail", args=[rental.code]))
        self.assertNotContains(page, "Refund this rental")
        self.assertContains(page, "non-refundable")
        r = self.client.post(reverse("rental_refund", args=[rental.code]), follow=True)
        self.assertContains(r, "non-refundable")
        self.assertEqual(Rental.objects.get().state, RentalState.ACTIVE)

    def test_numpool_inbox_receives(self):
        numpool = self.account("numpool")
        self.rent(self.offer(numpool))
        rental = Rental.objects.get()
        self.message(rental, "Your Discord code is 123456")
        rental = self.refresh(rental)
        self.assertEqual(rental.messages.get().code, "123456")


class SmsActivateRentalTestCase(RentalTestCase):
    def test_rent_message_extend_and_refund_rules(self):
        account = self.account("smsactivate")
        offer = self.offer(account)
        self.rent(offer)
        rental = Rental.objects.get()
        self.assertEqual(rental.unit, "hour")
        allowed, _ = services.refund_status(rental)
        self.assertTrue(allowed)
        self.message(rental, "Telegram code 44556")
        rental = self.refresh(rental)
        self.assertEqual(rental.message_count, 1)
        allowed, _reason = services.refund_status(rental)
        self.assertFalse(allowed)
        before = rental.expires_at
        self.client.post(reverse("rental_extend", args=[rental.code]), {"duration": 4})
        rental.refresh_from_db()
        self.assertEqual(rental.expires_at - before, timedelta(hours=4))

    def test_sms_activate_offers_a_table_of_lengths_under_service_names(self):
        account = self.account("smsactivate")
        offer = RentalOffer.objects.get(account=account, upstream_id="wa")
        self.assertEqual(offer.name, "WhatsApp")
        self.assertEqual([length for length, _ in offer.durations()], [4, 24, 72, 168])

    def test_sms_activate_refunds_only_in_the_first_20_minutes(self):
        account = self.account("smsactivate")
        self.rent(self.offer(account))
        rental = Rental.objects.get()
        self.assertTrue(services.refund_status(rental)[0])
        Rental.objects.filter(pk=rental.pk).update(
            started_at=timezone.now() - timedelta(minutes=21)
        )
        rental.refresh_from_db()
        allowed, reason = services.refund_status(rental)
        self.assertFalse(allowed)
        self.assertIn("first 20 minutes", reason)


class RentalAccessTestCase(RentalTestCase):
    def setUp(self):
        super().setUp()
        self.smspool = self.account("smspool")
        self.rent(self.offer(self.smspool))
        self.rental = Rental.objects.get()

    def test_viewers_read_but_cannot_act(self):
        self.client.force_login(self.vic)
        self.assertEqual(
            self.client.get(reverse("rental_detail", args=[self.rental.code])).status_code, 200
        )
        for name in (
            "rental_extend",
            "rental_refund",
            "rental_wake",
            "rental_auto_extend",
            "rental_details",
            "rental_refresh",
        ):
            r = self.client.post(reverse(name, args=[self.rental.code]))
            self.assertEqual(r.status_code, 403, name)
        r = self.client.post(reverse("rental_new", args=[self.team.code]), {})
        self.assertEqual(r.status_code, 403)

    def test_outsiders_get_404(self):
        self.client.force_login(self.charlie)
        for name in ("rental_detail", "rental_inbox"):
            self.assertEqual(
                self.client.get(reverse(name, args=[self.rental.code])).status_code, 404
            )
        for name in ("rental_extend", "rental_refund", "rental_wake"):
            self.assertEqual(
                self.client.post(reverse(name, args=[self.rental.code])).status_code, 404
            )
        for name in ("rentals", "rental_new"):
            self.assertEqual(self.client.get(reverse(name, args=[self.team.code])).status_code, 404)

    def test_actions_reject_get(self):
        # Extend and refund answer GET with their confirmation step (test_confirm_steps).
        for name in ("rental_wake", "rental_auto_extend"):
            self.assertEqual(
                self.client.get(reverse(name, args=[self.rental.code])).status_code, 405
            )

    def test_renting_twice_with_one_key_rents_once(self):
        self.rent(self.offer(self.smspool))
        self.assertEqual(Rental.objects.count(), 1)


class UnconfirmedRentTestCase(RentalTestCase):
    """The rent happened upstream (or not); its answer was lost."""

    def setUp(self):
        super().setUp()
        self.numpool = self.account("numpool")

    def rent_with_fault(self, mode: str):
        self.sandbox.faults.enqueue("numpool", mode, endpoint="/rentals")
        return self.rent(self.offer(self.numpool))

    def upstream_count(self) -> int:
        with self.sandbox.state.lock:
            upstream = self.sandbox.state.accounts[("numpool", self.numpool.api_key)]
            return len(upstream.rentals)

    def test_a_lost_answer_is_checked_not_failed_and_the_rental_found(self):
        r = self.rent_with_fault("drop_after")
        rental = Rental.objects.get()
        self.assertRedirects(r, reverse("rental_detail", args=[rental.code]))
        self.assertEqual(rental.state, RentalState.UNCONFIRMED)
        self.assertEqual(rental.rented_by, self.bob)
        self.assertFalse(LedgerEntry.objects.exists())
        self.cycle(self.numpool)
        rental.refresh_from_db()
        self.assertEqual(rental.state, RentalState.ACTIVE)
        self.assertTrue(rental.upstream_id and rental.phone_number)
        self.assertEqual(self.upstream_count(), 1)
        self.assertEqual(LedgerEntry.objects.get(rental=rental).amount, rental.cost)

    def test_a_rent_that_did_not_happen_is_closed_without_charge(self):
        self.rent_with_fault("drop")
        rental = Rental.objects.get()
        self.assertEqual(rental.state, RentalState.UNCONFIRMED)
        self.cycle(self.numpool, later=sync_settle_seconds() + 1)
        rental.refresh_from_db()
        self.assertEqual(rental.state, RentalState.FAILED)
        self.assertEqual(self.upstream_count(), 0)
        self.assertFalse(LedgerEntry.objects.exists())


def sync_settle_seconds() -> float:
    from rentals.sync import UNCONFIRMED_SETTLE

    return UNCONFIRMED_SETTLE.total_seconds()


class RentPagePickListTestCase(RentalTestCase):
    def test_the_rent_page_puts_the_teams_rented_countries_first_not_its_orders(self):
        account = self.account("smspool")
        offer = self.offer(account, country__iso="US")
        self.rent(offer)
        rented = Rental.objects.get(team=self.team)
        self.assertEqual(rented.country.iso, "US")
        r = self.client.get(reverse("rental_new", args=[self.team.code]))
        self.assertEqual(r.context["country_options"][0], ("US", rented.country.name, "Favourites"))
        # The order form's favourites are the team's orders: none yet.
        r = self.client.get(reverse("order_new", args=[self.team.code]))
        self.assertNotIn("Favourites", {group for _v, _l, group in r.context["country_options"]})

"""SMS-Activate accounts whose host publishes no catalogue can be ordered from (issue 10).

Two hosts in the sandbox's "minimal" dialect, both spoken to by the
SMS-Activate client: a plain SMS-Activate clone without getCountries,
getServicesList, getPrices or getActiveActivations (its getNumberV2 states the
cost), and SMSPool's stub keeping only getBalance, getNumber, getStatus,
setStatus and getFullSms (no price anywhere). Real stack, real HTTP: the
account is added in the team settings, its catalogue is the protocol's
standard numbering, the order form offers every pair at a "price known after
purchase", a member orders, the code arrives through a sync cycle, another
order is cancelled after the provider's lock, and the books agree.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from orders import quotes, services
from orders.errors import CancelLocked
from orders.models import Order, State
from providers.models import (
    CatalogCountry,
    CatalogPrice,
    CatalogService,
    Country,
    ProviderAccount,
    Service,
)
from reports.models import LedgerEntry
from tests.orders.base import SandboxTestCase

CANCEL_LOCK = 30  # upstream seconds the sandbox refuses an early cancel


class UnpricedHostMixin:
    """The scenario, for one host; subclasses say which host and how the sandbox books it."""

    protocol = ""  # whose accounts and orders the host trades on, in the sandbox
    handler = ""  # the handler URL's path on the sandbox
    label = ""
    reports_cost = False  # whether the purchase answer states the cost (getNumberV2)

    # --- the account, added the way a manager adds it -----------------------------------
    def add_account(self) -> ProviderAccount:
        self.client.force_login(self.mia)
        response = self.client.post(
            reverse("provider_add", args=[self.team.code]),
            {
                "kind": "smsactivate",
                "label": self.label,
                "base_url": self.sandbox.base_url + self.handler,
                "api_key": f"sbx_unpriced_{self.protocol}_key",
                "currency": "",
                "enabled": "on",
            },
            follow=True,
        )
        self.assertContains(response, "Connected. Balance 100")
        self.assertContains(response, "200 countries")
        return ProviderAccount.objects.get(label=self.label)

    # --- the sandbox's side -------------------------------------------------------------
    def upstream_account(self, account):
        state = self.sandbox.state
        with state.lock:
            upstream = state.accounts[(self.protocol, account.api_key)]
            state.settle_account(upstream)
            return upstream

    def upstream(self, order: Order):
        return self.sandbox.state.order(self.protocol, order.account.api_key, order.upstream_id)

    def spent_upstream(self, account) -> Decimal:
        upstream = self.upstream_account(account)
        return upstream.initial_balance - upstream.balance

    def ledger_total(self, account) -> Decimal:
        return sum((e.amount for e in LedgerEntry.objects.filter(account=account)), Decimal(0))

    # --- the member's side --------------------------------------------------------------
    def order_page(self, **extra):
        query = urlencode({"service": "WhatsApp", "country": "United States", **extra})
        self.client.force_login(self.bob)
        return self.client.get(reverse("order_new", args=[self.team.code]) + "?" + query)

    def whatsapp_us(self) -> list[quotes.Offer]:
        service, country = Service.objects.get(slug="whatsapp"), Country.objects.get(iso="US")
        return quotes.offers_for(self.team, service, country)

    def place_one(self, **form) -> Order:
        before = set(Order.objects.values_list("pk", flat=True))
        response = self.place(**form)
        self.assertRedirects(response, reverse("board", args=[self.team.code]))
        return Order.objects.exclude(pk__in=before).get()

    def cancel_after_the_lock(self, order: Order) -> Order:
        with self.assertRaises(CancelLocked):
            services.order_cancel(order=order, actor=self.bob)
        self.advance(CANCEL_LOCK + 1)
        later = timezone.now() + timedelta(seconds=CANCEL_LOCK + 1)
        order.refresh_from_db()
        return services.order_cancel(order=order, actor=self.bob, now=later)

    def coded_and_cancelled(self, account) -> tuple[Order, Order]:
        """One order that got its code through a sync cycle, one cancelled after the lock."""
        coded = self.place_one()
        self.deliver(coded, "Your WhatsApp code is 482-913")
        self.cycle(account)
        coded.refresh_from_db()
        cancelled = self.cancel_after_the_lock(self.place_one())
        return coded, cancelled

    # --- the tests ----------------------------------------------------------------------
    def test_it_connects_and_stores_the_standard_catalogue_without_prices(self):
        account = self.add_account()
        self.assertEqual(account.health, "ok")
        self.assertFalse(account.catalog_prices_known)
        whatsapp = CatalogService.objects.get(account=account, upstream_id="wa")
        usa = CatalogCountry.objects.get(account=account, upstream_id="187")
        self.assertEqual((whatsapp.service.slug, whatsapp.display_name), ("whatsapp", "WhatsApp"))
        self.assertEqual((usa.country.iso, usa.display_name), ("US", "United States"))
        self.assertFalse(CatalogPrice.objects.filter(account=account).exists())
        values = [value for value, _label, _group in quotes.service_options(self.team)]
        self.assertIn("whatsapp", values)
        self.assertIn("US", [value for value, _label, _group in quotes.country_options(self.team)])

    def test_the_order_form_offers_every_listed_pair_at_a_price_known_after_purchase(self):
        account = self.add_account()
        (offer,) = self.whatsapp_us()
        self.assertEqual(offer.account, account)
        self.assertFalse(offer.priced)
        self.assertIsNone(offer.choice.price)
        self.assertEqual(
            (offer.choice.service_upstream_id, offer.choice.country_upstream_id), ("wa", "187")
        )
        response = self.order_page()
        self.assertContains(response, self.label)
        self.assertContains(response, "price known after purchase")
        # Let smsdesk pick: it can only pick this one, and says so before the purchase.
        self.assertContains(response, f"smsdesk will order from <b>{self.label}</b>")
        self.assertContains(response, "the price is known after purchase")
        self.assertContains(response, "nothing is held")  # the max price's help text
        picked = self.order_page(offer=offer.key)
        self.assertContains(picked, f"You are ordering from <b>{self.label}</b>")

        # Every pair the host lists, not only the popular ones.
        service, country = Service.objects.get(slug="telegram"), Country.objects.get(iso="GB")
        (elsewhere,) = quotes.offers_for(self.team, service, country)
        self.assertEqual(elsewhere.account, account)

    def test_priced_offers_come_first_and_auto_cheapest_picks_them(self):
        unpriced = self.add_account()
        priced = self.account("numpool")
        offers = self.whatsapp_us()
        self.assertEqual([o.account for o in offers], [priced, unpriced])
        self.assertEqual([o.priced for o in offers], [True, False])
        response = self.order_page()
        self.assertContains(response, "price known after purchase")
        # It picks the priced one, and the confirmation says so with the price.
        self.assertContains(response, "smsdesk will order from <b>numpool sandbox</b> at <b>")
        self.assertNotContains(response, f"smsdesk will order from <b>{self.label}</b>")
        order = self.place_one()
        self.assertEqual(order.account, priced)

    def test_a_member_orders_reads_the_code_and_cancels_after_the_lock(self):
        account = self.add_account()
        coded, cancelled = self.coded_and_cancelled(account)
        self.assertEqual(coded.account, account)
        self.assertEqual(coded.ordered_by, self.bob)
        self.assertEqual((coded.service_upstream_id, coded.country_upstream_id), ("wa", "187"))
        self.assertEqual((coded.state, coded.last_code), (State.RECEIVED, "482913"))
        self.assertEqual(cancelled.state, State.CANCELLED)
        self.assertEqual(self.upstream(cancelled).status, "cancelled")
        charged = self.upstream(coded).price
        if self.reports_cost:
            self.assertEqual((coded.cost, coded.cost_quoted), (charged, False))
        else:
            self.assertEqual((coded.cost, coded.cost_quoted), (None, True))

    def test_the_detail_page_says_what_is_known_of_the_cost(self):
        account = self.add_account()
        order = self.place_one()
        response = self.client.get(reverse("order_detail", args=[order.code]))
        if self.reports_cost:
            cost = self.upstream(order).price
            self.assertContains(response, f"{cost.normalize()} {account.currency}")
            self.assertNotContains(response, "price not reported by the provider")
        else:
            self.assertContains(response, "price not reported by the provider")

    def test_a_max_price_below_the_price_is_refused_and_nothing_is_charged(self):
        account = self.add_account()
        response = self.place(max_price="0.01")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "at or below your maximum of 0.01")
        self.assertEqual(Order.objects.get().state, State.FAILED)
        self.assertEqual(self.spent_upstream(account), 0)
        self.assertEqual(self.ledger_total(account), 0)

    def test_the_ledger_matches_the_provider_balance(self):
        account = self.add_account()
        self.coded_and_cancelled(account)
        spent = self.spent_upstream(account)
        self.assertGreater(spent, 0)
        self.assertEqual(self.ledger_total(account), spent)

    def test_without_a_max_price_nothing_is_held_against_the_limit(self):
        self.add_account()
        self.limit_bob(Decimal("0.01"))
        order = self.place_one()
        self.assertEqual(order.state, State.WAITING)

    def test_a_refused_max_price_names_the_lowest_price_in_plain_words(self):
        self.add_account()
        response = self.place(max_price="0.01")
        lowest = re.search(r"lowest on offer is (\d+(?:\.\d+)?)", Order.objects.get().error)[1]
        error = re.search(r'id="order-error">(.*?)</div>', response.content.decode(), re.S)[1]
        self.assertIn(f"{lowest} USD", error)

    def test_a_max_price_is_held_against_the_limit_until_the_price_is_known(self):
        self.add_account()
        self.limit_bob(Decimal("0.50"))
        response = self.place(max_price="5")
        self.assertContains(response, "over your monthly limit")
        self.assertFalse(Order.objects.filter(state=State.WAITING).exists())

    def limit_bob(self, limit: Decimal) -> None:
        self.member.monthly_spend_limit = limit
        self.member.save()


class MinimalSmsActivateHostTestCase(UnpricedHostMixin, SandboxTestCase):
    sandbox_knobs = {"dialects": {"smsactivate": "minimal"}}
    protocol = "smsactivate"
    handler = "/smsactivate/stubs/handler_api.php"
    label = "Activate clone"
    reports_cost = True


class SmsPoolStubTestCase(UnpricedHostMixin, SandboxTestCase):
    sandbox_knobs = {"dialects": {"smspool_stub": "minimal"}}
    protocol = "smspool"
    handler = "/smspool/stubs/handler_api"
    label = "SMSPool stub"
    # getNumber states no cost; SMSPool's own active list (same key) does.
    reports_cost = True

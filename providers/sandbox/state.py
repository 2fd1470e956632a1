"""The simulated upstream: accounts, ledgers, orders, rentals and one clock.

Everything time-dependent is evaluated lazily: an order stores when its SMS
will arrive (`deliver_at`) and when it expires (`expires_at`), and `settle`
brings it up to date whenever it is read. Nothing runs in the background
(except SMSCode's webhook pusher, which settles the accounts that registered a
webhook so their events go out on time), so a test that advances the clock sees
exactly what a real upstream would show at that moment, and per-request work
is proportional to one account's orders, never to all of them.

One re-entrant lock guards the whole state; protocol handlers take it for
the few microseconds a request needs. The protocols format what this module
stores; this module knows no wire format.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import string
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any

from providers.sandbox import catalog
from providers.sandbox.config import PROTOCOLS, SandboxConfig

CURRENCY = {"smspool": "USD", "numpool": "USD", "smscode": "IDR", "smsactivate": "USD"}
KEY_PREFIX = "sbx_"

# Order lifecycle (provider-neutral; each protocol maps these to its words).
WAITING = "waiting"  # number issued, no SMS yet
RECEIVED = "received"  # at least one SMS; still open
FINISHED = "finished"  # closed with an SMS (finish call, or expiry after an SMS)
CANCELLED = "cancelled"  # cancelled by the customer, refunded
EXPIRED = "expired"  # lifetime over without an SMS, refunded
RESENT = "resent"  # SMSPool: replaced by a re-send order
OPEN_STATUSES = (WAITING, RECEIVED)

# Rental lifecycle.
RENTAL_ACTIVE = "active"
RENTAL_EXPIRED = "expired"
RENTAL_REFUNDED = "refunded"  # SMSPool refund, SMS-Activate early cancel
RENTAL_FINISHED = "finished"  # SMS-Activate setRentStatus 1

_CODE_RE = re.compile(r"(?<![\d])(\d{3})[- ](\d{3})(?![\d])|(?<![\d])(\d{4,8})(?![\d])")


class SandboxError(Exception):
    """An operation the simulated upstream refuses; `reason` says why."""

    def __init__(self, reason: str, **details: Any):
        super().__init__(reason)
        self.reason = reason
        self.details = details


class Clock:
    """Wall-clock time plus an offset that tests and the control API can move."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class LedgerEntry:
    at: float
    kind: str  # charge | refund | adjust
    amount: Decimal  # positive for charge and refund; signed for adjust
    ref: str
    memo: str


@dataclass
class Message:
    text: str
    code: str  # what the provider extracts; "" when the text holds no code
    delivered_at: float  # when it became visible upstream
    sender: str = ""
    fetched_at: float | None = None  # first response that carried it


@dataclass
class Order:
    protocol: str  # account family: smspool (incl. its stub), numpool, smscode, smsactivate
    id: str
    api_key: str
    service: str  # catalog slug
    country: str  # ISO
    price: Decimal
    phone: str  # national number, digits
    dial: str  # calling code, digits
    created_at: float
    expires_at: float
    cancel_after: float
    status: str = WAITING
    deliver_at: float | None = None  # when the next SMS arrives; None = never
    messages: list[Message] = field(default_factory=list)
    pool: int | None = None
    product_id: int | None = None  # SMSCode tier
    catalog_product_id: int | None = None
    operator_id: int | None = None
    retry_pending: bool = False  # another SMS was asked for and has not come yet
    resend_available_at: float | None = None
    resent_to: str = ""  # SMSPool: the order that replaced this one
    resent_from: str = ""
    reactivated_from: str = ""
    ready: bool = False  # SMS-Activate setStatus 1
    archived: bool = False
    via: str = "api"  # "stub" for SMSPool's SMS-Activate stub
    refund_amount: Decimal = Decimal(0)
    closed_at: float | None = None

    @property
    def e164(self) -> str:
        return self.dial + self.phone

    @property
    def last_message(self) -> Message | None:
        return self.messages[-1] if self.messages else None

    @property
    def code(self) -> str:
        """The latest extracted code, "" before any."""
        for message in reversed(self.messages):
            if message.code:
                return message.code
        return ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class Rental:
    protocol: str
    id: str
    api_key: str
    country: str
    service: str  # "" when not tied to a service
    phone: str
    dial: str
    created_at: float
    expires_at: float
    price: Decimal  # the first charge
    product: str  # SMSPool rental id, NumPool duration key, SMS-Activate hours
    days: int = 0
    hours: int = 0
    paid: Decimal = Decimal(0)  # every charge so far (purchase and extensions)
    status: str = RENTAL_ACTIVE
    auto_extend: bool = False
    messages: list[Message] = field(default_factory=list)
    next_message_at: float | None = None
    # SMSPool lines sleep: messages arrive only until `available_until`, and
    # retrieve_status wakes them. None means always reachable.
    needs_wake: bool = False
    available_until: float | None = None
    closed_at: float | None = None

    @property
    def e164(self) -> str:
        return self.dial + self.phone


@dataclass
class Account:
    protocol: str
    api_key: str
    currency: str
    initial_balance: Decimal
    balance: Decimal
    created_at: float
    ledger: list[LedgerEntry] = field(default_factory=list)
    # Insertion order is creation order; `open_orders` holds only orders that
    # can still change, so bulk reads stay proportional to live work.
    orders: dict[str, Order] = field(default_factory=dict)
    open_orders: dict[str, Order] = field(default_factory=dict)
    rentals: dict[str, Rental] = field(default_factory=dict)
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)

    def totals(self) -> dict[str, Decimal]:
        sums = {"charges": Decimal(0), "refunds": Decimal(0), "adjustments": Decimal(0)}
        names = {"charge": "charges", "refund": "refunds", "adjust": "adjustments"}
        for entry in self.ledger:
            sums[names[entry.kind]] += entry.amount
        return sums


class RequestStats:
    """Request and 429 counts per protocol, key and endpoint (own lock: hot path)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])

    def count(self, protocol: str, key: str, endpoint: str, limited: bool) -> None:
        with self.lock:
            row = self.counts[(protocol, key or "-", endpoint)]
            row[0] += 1
            row[1] += int(limited)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            rows = list(self.counts.items())
        out: dict[str, Any] = {}
        for (protocol, key, endpoint), (requests, limited) in rows:
            per_key = out.setdefault(protocol, {}).setdefault(key, {})
            per_key[endpoint] = {"requests": requests, "rate_limited": limited}
        return out

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()


class SandboxState:
    """The whole simulated upstream of all four providers."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.lock = threading.RLock()
        self.clock = Clock()
        self.rng = random.Random(self.config.seed)
        self.stats = RequestStats()
        # Called (under the lock) with (order, what) when an order changes by itself or
        # by a call: what is "sms" (a message became visible) or the status it closed
        # with. SMSCode's webhook pushes events from here.
        self.order_listeners: list[Callable[[Order, str], None]] = []
        self._reset_data()

    def _reset_data(self) -> None:
        self.accounts: dict[tuple[str, str], Account] = {}
        self.orders: dict[tuple[str, str], Order] = {}
        self.rentals: dict[tuple[str, str], Rental] = {}
        # SMSCode and SMS-Activate ids are integers that only grow.
        self.sequences = {"smscode": 5_000_000, "smsactivate": 635_468_000, "rental": 100_000}

    def reset(self) -> None:
        with self.lock:
            self._reset_data()
            self.clock.offset = 0.0
            self.rng = random.Random(self.config.seed)
        self.stats.reset()

    def now(self) -> float:
        return self.clock.now()

    def scaled(self, upstream_seconds: float) -> float:
        return self.config.scaled(upstream_seconds)

    # --- accounts ------------------------------------------------------------------
    def account(self, protocol: str, api_key: str) -> Account | None:
        """The account behind `api_key`; `sbx_` keys are opened on first use."""
        if not api_key:
            return None
        found = self.accounts.get((protocol, api_key))
        if found is not None or not api_key.startswith(KEY_PREFIX):
            return found
        return self.open_account(protocol, api_key)

    def open_account(self, protocol: str, api_key: str, balance: Decimal | None = None) -> Account:
        if balance is None:
            balance = self.config.default_balance(protocol)
        account = Account(protocol, api_key, CURRENCY[protocol], balance, balance, self.now())
        self.accounts[(protocol, api_key)] = account
        return account

    def set_balance(self, account: Account, balance: Decimal) -> None:
        """Set the balance, booking the difference as an adjustment."""
        delta = balance - account.balance
        account.balance = balance
        if delta:
            account.ledger.append(LedgerEntry(self.now(), "adjust", delta, "", "balance set"))

    def charge(self, account: Account, amount: Decimal, ref: str, memo: str) -> None:
        """Debit `amount`; raise SandboxError("balance") when it does not fit."""
        if amount > account.balance:
            raise SandboxError("balance", price=amount, balance=account.balance)
        account.balance -= amount
        if amount:
            account.ledger.append(LedgerEntry(self.now(), "charge", amount, ref, memo))

    def refund(self, account: Account, amount: Decimal, ref: str, memo: str) -> None:
        account.balance += amount
        if amount:
            account.ledger.append(LedgerEntry(self.now(), "refund", amount, ref, memo))

    def settle_account(self, account: Account) -> None:
        """Bring every open order and active rental of `account` up to now."""
        now = self.now()
        for order in list(account.open_orders.values()):
            self.settle(order, now)
        for rental in account.rentals.values():
            if rental.status == RENTAL_ACTIVE:
                self.settle_rental(rental, now)

    # --- ids and numbers -----------------------------------------------------------
    def _new_order_id(self, protocol: str) -> str:
        if protocol in ("smscode", "smsactivate"):
            self.sequences[protocol] += 1 + self.rng.randrange(3)
            return str(self.sequences[protocol])
        while True:
            if protocol == "smspool":
                alphabet = string.ascii_uppercase + string.digits
                new = "".join(secrets.choice(alphabet) for _ in range(8))
            else:
                new = secrets.token_hex(12)
            if (protocol, new) not in self.orders:
                return new

    def _new_rental_id(self, protocol: str) -> str:
        if protocol == "smspool":
            alphabet = string.ascii_letters + string.digits
            return "".join(secrets.choice(alphabet) for _ in range(8))
        if protocol == "numpool":
            return "r" + secrets.token_hex(10)
        self.sequences["rental"] += 1 + self.rng.randrange(5)
        return str(self.sequences["rental"])

    def new_phone(self, iso: str) -> tuple[str, str]:
        """(calling code, national number) that looks like a real mobile number."""
        country = catalog.COUNTRY_BY_ISO[iso]
        prefix = catalog.MOBILE_PREFIX.get(iso, "")
        digits = list(prefix) + [
            str(self.rng.randrange(10)) for _ in range(country.national_len - len(prefix))
        ]
        if country.dial == "1":  # NANP: area code and exchange never start with 0/1
            digits[0] = str(self.rng.randrange(2, 10))
            digits[3] = str(self.rng.randrange(2, 10))
        return country.dial, "".join(digits)

    # --- orders --------------------------------------------------------------------
    def _next_delivery(self, now: float) -> float | None:
        """When a requested SMS arrives, or None for one that never does."""
        config = self.config
        if self.rng.random() < config.no_code_share:
            return None
        delay = self.rng.uniform(config.delivery_min_seconds, config.delivery_max_seconds)
        return now + config.scaled(delay)

    def create_order(
        self,
        account: Account,
        *,
        service: str,
        country: str,
        price: Decimal,
        phone: tuple[str, str] | None = None,
        charge: bool = True,
        **extra: Any,
    ) -> Order:
        """Charge `account` and issue a number; raise SandboxError("balance")."""
        protocol = account.protocol
        now = self.now()
        order_id = self._new_order_id(protocol)
        if charge:
            self.charge(account, price, order_id, f"{service} {country}")
        dial, number = phone or self.new_phone(country)
        order = Order(
            protocol=protocol,
            id=order_id,
            api_key=account.api_key,
            service=service,
            country=country,
            price=price,
            phone=number,
            dial=dial,
            created_at=now,
            expires_at=now + self.scaled(self.config.lifetime(protocol)),
            cancel_after=now + self.scaled(self.config.cancel_lock(protocol)),
            deliver_at=self._next_delivery(now),
            **extra,
        )
        self._index_order(account, order)
        return order

    def _index_order(self, account: Account, order: Order) -> None:
        self.orders[(order.protocol, order.id)] = order
        account.orders[order.id] = order
        if order.is_open:
            account.open_orders[order.id] = order

    def order(self, protocol: str, api_key: str, order_id: str) -> Order | None:
        """The settled order `order_id` if it belongs to `api_key`, else None."""
        found = self.orders.get((protocol, str(order_id).strip()))
        if found is None or found.api_key != api_key:
            return None
        self.settle(found, self.now())
        return found

    def settle(self, order: Order, now: float) -> None:
        """Deliver due SMS and expire the order if its lifetime is over."""
        if not order.is_open:
            return
        while order.deliver_at is not None and order.deliver_at <= min(now, order.expires_at):
            self.deliver(order, at=order.deliver_at)
        if now >= order.expires_at:
            if order.status == WAITING:
                self._close(order, EXPIRED, order.expires_at)
                self.refund(self._owner(order), order.price, order.id, "expired without SMS")
                order.refund_amount = order.price
            else:
                self._close(order, FINISHED, order.expires_at)

    def _owner(self, order: Order) -> Account:
        return self.accounts[(order.protocol, order.api_key)]

    def _close(self, order: Order, status: str, at: float) -> None:
        order.status = status
        order.closed_at = at
        order.deliver_at = None
        order.retry_pending = False
        self._owner(order).open_orders.pop(order.id, None)
        self._notify(order, status)

    def _notify(self, order: Order, what: str) -> None:
        for listener in self.order_listeners:
            listener(order, what)

    def deliver(self, order: Order, *, at: float | None = None, text: str = "") -> Message:
        """Make an SMS visible on `order` (scheduled, or forced by the control API)."""
        if not order.is_open:
            raise SandboxError("final")
        at = self.now() if at is None else at
        text = text or sms_text(order.service, self.rng)
        message = Message(
            text=text,
            code=extract_code(text),
            delivered_at=at,
            sender=catalog.SERVICE_BY_SLUG[order.service].name,
        )
        order.messages.append(message)
        order.status = RECEIVED
        order.retry_pending = False
        order.deliver_at = None
        self._notify(order, "sms")
        return message

    def mark_fetched(self, order: Order) -> None:
        """Record that a response just carried this order's visible SMS."""
        if not order.messages or order.messages[-1].fetched_at is not None:
            return
        now = self.now()
        for message in order.messages:
            if message.fetched_at is None:
                message.fetched_at = now

    def cancel(self, order: Order) -> Decimal:
        """Cancel and refund a waiting order; return the refund.

        Raises SandboxError "locked" (with `seconds` left), "has_sms" once an
        SMS arrived, or "final" when the order is already closed.
        """
        now = self.now()
        self.settle(order, now)
        if not order.is_open:
            raise SandboxError("final", status=order.status)
        if order.messages:
            raise SandboxError("has_sms")
        if now < order.cancel_after:
            raise SandboxError("locked", seconds=order.cancel_after - now, until=order.cancel_after)
        self._close(order, CANCELLED, now)
        self.refund(self._owner(order), order.price, order.id, "cancelled")
        order.refund_amount = order.price
        return order.price

    def finish(self, order: Order) -> None:
        """Close an order that has an SMS; raise SandboxError otherwise."""
        self.settle(order, self.now())
        if not order.is_open:
            raise SandboxError("final", status=order.status)
        if not order.messages:
            raise SandboxError("no_sms")
        self._close(order, FINISHED, self.now())

    def request_another(self, order: Order) -> None:
        """Ask for another SMS on the same order (SMS-Activate 3, SMSCode resend)."""
        now = self.now()
        self.settle(order, now)
        if not order.is_open:
            raise SandboxError("final", status=order.status)
        if not order.messages:
            raise SandboxError("no_sms")
        order.retry_pending = True
        order.deliver_at = self._next_delivery(now)

    def resend_smspool(self, order: Order) -> Order:
        """SMSPool re-send: a new, free order on the same number waits for a new code."""
        now = self.now()
        self.settle(order, now)
        if not order.messages:
            raise SandboxError("no_sms")
        if order.status == RESENT or order.status not in (RECEIVED, FINISHED):
            raise SandboxError("not_resendable")
        account = self._owner(order)
        fresh = self.create_order(
            account,
            service=order.service,
            country=order.country,
            price=Decimal("0.00"),
            phone=(order.dial, order.phone),
            charge=False,
            pool=order.pool,
            resent_from=order.id,
            via=order.via,
        )
        if order.is_open:
            self._close(order, RESENT, now)
        else:
            order.status = RESENT
        order.resent_to = fresh.id
        return fresh

    def resend_smspool_in_place(self, order: Order) -> Order:
        """SMSPool re-send as the endpoint page answers it: the same order waits
        for a new code, free. An order that closed with its SMS opens again for
        a fresh lifetime. Raises SandboxError "no_sms" before the first SMS,
        "not_resendable" while a re-send is pending or once the order was replaced.
        """
        now = self.now()
        self.settle(order, now)
        if not order.messages:
            raise SandboxError("no_sms")
        if order.retry_pending or order.status not in (RECEIVED, FINISHED):
            raise SandboxError("not_resendable")
        if order.status == FINISHED:
            self._reopen(order, now)
        order.retry_pending = True
        order.deliver_at = self._next_delivery(now)
        return order

    def _reopen(self, order: Order, now: float) -> None:
        order.status = RECEIVED
        order.closed_at = None
        order.expires_at = now + self.scaled(self.config.lifetime(order.protocol))
        self._owner(order).open_orders[order.id] = order

    # --- rentals -------------------------------------------------------------------
    def create_rental(
        self,
        account: Account,
        *,
        country: str,
        service: str,
        price: Decimal,
        duration: float,
        product: str,
        needs_wake: bool = False,
        **extra: Any,
    ) -> Rental:
        """Charge and start a rental lasting `duration` upstream seconds."""
        rental_id = self._new_rental_id(account.protocol)
        self.charge(account, price, rental_id, "rental")
        now = self.now()
        dial, number = self.new_phone(country)
        rental = Rental(
            protocol=account.protocol,
            id=rental_id,
            api_key=account.api_key,
            country=country,
            service=service,
            phone=number,
            dial=dial,
            created_at=now,
            expires_at=now + self.scaled(duration),
            price=price,
            product=product,
            paid=price,
            needs_wake=needs_wake,
            **extra,
        )
        if needs_wake:
            self.wake(rental)  # a new line starts awake
        else:
            rental.next_message_at = now + self._rental_gap()
        self.rentals[(rental.protocol, rental.id)] = rental
        account.rentals[rental.id] = rental
        return rental

    def _rental_gap(self) -> float:
        config = self.config
        gap = self.rng.uniform(config.rental_message_min_seconds, config.rental_message_max_seconds)
        return config.scaled(gap)

    def rental(self, protocol: str, api_key: str, rental_id: str) -> Rental | None:
        found = self.rentals.get((protocol, str(rental_id).strip()))
        if found is None or found.api_key != api_key:
            return None
        self.settle_rental(found, self.now())
        return found

    def settle_rental(self, rental: Rental, now: float) -> None:
        """Deliver due messages, then renew (auto-extend) or close at expiry."""
        while rental.status == RENTAL_ACTIVE:
            self._rental_messages(rental, min(now, rental.expires_at))
            if now < rental.expires_at:
                return
            if not (rental.auto_extend and self._auto_extend(rental)):
                rental.status = RENTAL_EXPIRED
                rental.closed_at = rental.expires_at
                rental.next_message_at = None

    def _rental_messages(self, rental: Rental, until: float) -> None:
        while rental.next_message_at is not None and rental.next_message_at <= until:
            at = rental.next_message_at
            if rental.needs_wake and (
                rental.available_until is None or at > rental.available_until
            ):
                rental.next_message_at = None  # the line fell asleep; wait for a wake-up
                return
            self.rental_message(rental, at=at)
            rental.next_message_at = at + self._rental_gap()

    def rental_message(self, rental: Rental, *, at: float | None = None, text: str = "") -> Message:
        if rental.status != RENTAL_ACTIVE:
            raise SandboxError("final")
        service = rental.service or self.rng.choice(list(catalog.SERVICE_BY_SLUG))
        text = text or sms_text(service, self.rng)
        sender = catalog.SERVICE_BY_SLUG[service].name
        message = Message(text, extract_code(text), self.now() if at is None else at, sender)
        rental.messages.append(message)
        return message

    def wake(self, rental: Rental) -> bool:
        """SMSPool retrieve_status: make a sleeping line available for activeFor seconds.

        Returns True when this call woke the line (it was asleep until now).
        """
        now = self.now()
        if rental.status != RENTAL_ACTIVE or not rental.needs_wake:
            return False
        if rental.available_until is not None and rental.available_until > now:
            return False
        rental.available_until = now + self.scaled(self.config.rental_active_for_seconds)
        if rental.next_message_at is None or rental.next_message_at > rental.available_until:
            rental.next_message_at = self._next_delivery(now) or now + self._rental_gap()
        return True

    def is_available(self, rental: Rental) -> bool:
        if rental.status != RENTAL_ACTIVE:
            return False
        if not rental.needs_wake:
            return True
        return rental.available_until is not None and rental.available_until > self.now()

    def extend_rental(self, rental: Rental, price: Decimal, duration: float, memo: str) -> None:
        """Charge `price` and push the end back by `duration` upstream seconds."""
        account = self.accounts[(rental.protocol, rental.api_key)]
        self.settle_rental(rental, self.now())
        if rental.status != RENTAL_ACTIVE:
            raise SandboxError("final", status=rental.status)
        self.charge(account, price, rental.id, memo)
        rental.paid += price
        rental.expires_at += self.scaled(duration)

    def _auto_extend(self, rental: Rental) -> bool:
        """Renew an SMSPool rental at its end; False when it cannot pay."""
        product = catalog.SMSPOOL_RENTAL_BY_ID.get(int(rental.product))
        if product is None or not product.extend:
            return False
        days = (
            str(rental.days) if str(rental.days) in product.extend else min(product.extend, key=int)
        )
        price = Decimal(product.extend[days])
        account = self.accounts[(rental.protocol, rental.api_key)]
        if price > account.balance:
            return False
        self.charge(account, price, rental.id, "auto-extend")
        rental.paid += price
        rental.expires_at += self.scaled(int(days) * 86400)
        return True

    def refund_rental(self, rental: Rental, memo: str = "rental refund") -> Decimal:
        """Close the rental and give back everything paid for it."""
        account = self.accounts[(rental.protocol, rental.api_key)]
        amount = rental.paid
        rental.status = RENTAL_REFUNDED
        rental.closed_at = self.now()
        rental.next_message_at = None
        self.refund(account, amount, rental.id, memo)
        return amount

    def finish_rental(self, rental: Rental) -> None:
        rental.status = RENTAL_FINISHED
        rental.closed_at = self.now()
        rental.next_message_at = None

    def mark_rental_fetched(self, rental: Rental) -> None:
        now = self.now()
        for message in rental.messages:
            if message.fetched_at is None:
                message.fetched_at = now

    # --- persistence ---------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": 1,
                "saved_at": self.now(),
                "sequences": dict(self.sequences),
                "accounts": [_account_dict(a) for a in self.accounts.values()],
            }

    def load(self, data: dict[str, Any]) -> None:
        with self.lock:
            self._reset_data()
            self.sequences.update(data.get("sequences", {}))
            for raw in data.get("accounts", []):
                account = _account_from(raw)
                self.accounts[(account.protocol, account.api_key)] = account
                for order in account.orders.values():
                    self.orders[(order.protocol, order.id)] = order
                    if order.is_open:
                        account.open_orders[order.id] = order
                for rental in account.rentals.values():
                    self.rentals[(rental.protocol, rental.id)] = rental

    def save_file(self, path: str) -> None:
        """Write the state as JSON atomically (a crash never leaves half a file)."""
        data = json.dumps(self.dump(), default=str, indent=1)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".sandbox-state-")
        with os.fdopen(fd, "w") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def load_file(self, path: str) -> bool:
        if not path or not os.path.exists(path):
            return False
        with open(path) as fh:
            self.load(json.load(fh))
        return True


# --- SMS texts and code extraction ----------------------------------------------
def sms_text(service: str, rng: random.Random) -> str:
    """A realistic verification SMS for `service` carrying a fresh code."""
    info = catalog.SERVICE_BY_SLUG[service]
    code = f"{rng.randrange(1000000):06d}"
    name = info.name
    templates = {
        "dashed": f"Your {name} code is {code[:3]}-{code[3:]}. Don't share this code with others",
        "hash": f"<#> {code} is your {name} code. Do not give it to anyone.",
        "google": f"G-{code} is your {name} verification code.",
        "fb": f"{code[:5]} is your {name} confirmation code",
        "bracket": f"[{name}] Your verification code is {code}. Valid for 5 minutes.",
        "plain": f"Your {name} verification code is: {code}",
    }
    return templates.get(info.template, templates["plain"])


def extract_code(text: str) -> str:
    """The code a provider would extract: digits, separators removed ("482-913" -> "482913")."""
    match = _CODE_RE.search(text)
    if not match:
        return ""
    if match.group(1):
        return match.group(1) + match.group(2)
    return match.group(3)


# --- (de)serialisation helpers ------------------------------------------------------
def _account_dict(account: Account) -> dict[str, Any]:
    raw = asdict(account)
    raw.pop("open_orders")
    raw["orders"] = list(raw["orders"].values())
    raw["rentals"] = list(raw["rentals"].values())
    raw["idempotency"] = {k: v for k, v in account.idempotency.items() if v.get("done")}
    return raw


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _build(cls: type, raw: dict[str, Any], money: tuple[str, ...]) -> Any:
    known = {f.name for f in fields(cls)}
    values = {k: v for k, v in raw.items() if k in known}
    for name in money:
        if name in values:
            values[name] = _dec(values[name])
    if "messages" in values:
        values["messages"] = [Message(**m) for m in values["messages"]]
    return cls(**values)


def _account_from(raw: dict[str, Any]) -> Account:
    orders = [_build(Order, o, ("price", "refund_amount")) for o in raw.get("orders", [])]
    rentals = [_build(Rental, r, ("price", "paid")) for r in raw.get("rentals", [])]
    ledger = [
        LedgerEntry(e["at"], e["kind"], _dec(e["amount"]), e["ref"], e["memo"])
        for e in raw.get("ledger", [])
    ]
    account = Account(
        protocol=raw["protocol"],
        api_key=raw["api_key"],
        currency=raw["currency"],
        initial_balance=_dec(raw["initial_balance"]),
        balance=_dec(raw["balance"]),
        created_at=raw["created_at"],
        ledger=ledger,
        idempotency=raw.get("idempotency", {}),
        webhook=raw.get("webhook", {}),
    )
    account.orders = {o.id: o for o in orders}
    account.rentals = {r.id: r for r in rentals}
    return account


__all__ = ["PROTOCOLS", "Account", "Order", "Rental", "SandboxError", "SandboxState"]

"""`manage.py generate_data --teams 100 --orders 1000000`: a portal's worth of history for
measuring reports and pages at size (issue 13; docs/BENCHMARKS.md).

What it makes, over the last `--days` days (180): teams of 3-8 members, each with
one provider account of each kind (SMSCode bills in IDR, the others in USD), and
`--orders` orders spread over the teams unevenly (a few big teams, a long tail),
more by day than by night. Each order is booked like a real one: a purchase
ledger entry of its cost; a code and its message for about 80 %; the rest expired,
cancelled or refunded with a refund entry of the whole cost, and about 1 % failed
purchases with no charge. Rentals (one per 200 orders) with their rental and
extension charges and a few messages. IDR rates for every day of the period.
`--active` orders per team (10) are still open (waiting or with a code) so the
board has rows. The closed days of the history are then rolled up for the cost
report (reports.rollup), as `manage.py rollup_costs` would.

Generated rows are marked: teams "Generated team NNN", users "gen-NNN-MM"
(password `--password`, unusable without it). Running it again with the same
teams does nothing (it says so); `--clear` deletes what it generated before
(and only that), alone or before generating afresh.

Fast: rows are built in memory in chunks and written with PostgreSQL's COPY (on
SQLite, executemany); ids are assigned up front and the sequences moved past
them afterwards, so run it on a database nothing else writes to meanwhile.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Membership, Team
from accounts.roles import Role
from orders.models import Order, OrderMessage, State
from providers.clients import client_class
from providers.models import Country, ExchangeRate, ProviderAccount, RateSource, Service
from rentals.models import Rental, RentalMessage, RentalState
from reports import rollup
from reports.models import LedgerEntry, LedgerKind

TEAM_PREFIX = "Generated team "
USER_PREFIX = "gen-"
KINDS = ("smspool", "smscode", "smsactivate", "numpool")
CURRENCY = {"smscode": "IDR"}
SERVICES = (
    ("whatsapp", "WhatsApp"),
    ("telegram", "Telegram"),
    ("google", "Google"),
    ("discord", "Discord"),
    ("facebook", "Facebook"),
    ("instagram", "Instagram"),
    ("tiktok", "TikTok"),
    ("uber", "Uber"),
)
COUNTRIES = (
    ("US", "United States", "1"),
    ("GB", "United Kingdom", "44"),
    ("DE", "Germany", "49"),
    ("NL", "Netherlands", "31"),
    ("IN", "India", "91"),
    ("ID", "Indonesia", "62"),
    ("BR", "Brazil", "55"),
    ("PH", "Philippines", "63"),
)
# Outcomes of a finished order: (state, share, got a code, refunded).
OUTCOMES = (
    # A code came (an order that runs out with its code is completed, as the sync
    # engine does; "received" is an open order's state and would put it on the board).
    (State.COMPLETED, 0.80, True, False),
    (State.EXPIRED, 0.10, False, True),
    (State.CANCELLED, 0.05, False, True),
    (State.REFUNDED, 0.04, False, True),
    (State.FAILED, 0.01, False, False),
)
IDR_PER_USD = Decimal("16250")
CHUNK = 20_000


class Command(BaseCommand):
    help = "Generate teams, orders, messages, ledger rows and rentals for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--teams", type=int, default=100)
        parser.add_argument("--orders", type=int, default=1_000_000)
        parser.add_argument("--days", type=int, default=180)
        parser.add_argument("--active", type=int, default=10, help="open orders per team")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--password", default="", help="password of every generated user")
        parser.add_argument("--clear", action="store_true", help="delete generated data first")

    def handle(self, *args, **opts):
        for name in ("teams", "orders", "days", "active"):
            if opts[name] < 0:
                raise CommandError(f"--{name} cannot be negative.")
        if opts["days"] < 1:
            raise CommandError("--days must be at least 1.")
        started = time.monotonic()
        if opts["clear"]:
            cleared = clear()
            self.stdout.write(f"Cleared {cleared} generated teams and everything they held.")
            if not opts["teams"] or not opts["orders"]:
                return
        existing = Team.objects.filter(name__startswith=TEAM_PREFIX).count()
        if existing:
            self.stdout.write(
                f"{existing} generated teams are already there; nothing generated "
                "(--clear deletes them first)."
            )
            return
        if not opts["teams"]:
            return
        counts = Generator(self.stdout, **_pick(opts)).run()
        seconds = time.monotonic() - started
        self.stdout.write(
            f"Generated {counts['teams']} teams, {counts['orders']} orders, "
            f"{counts['messages']} messages, {counts['ledger']} ledger entries, "
            f"{counts['rentals']} rentals in {seconds:.1f} s."
        )
        # The history's closed days, rolled up as the schedule and rollup_costs would.
        started = time.monotonic()
        days = rollup.backfill(Team.objects.filter(name__startswith=TEAM_PREFIX).order_by("pk"))
        self.stdout.write(
            f"Rolled up {days} days of {counts['teams']} teams "
            f"in {time.monotonic() - started:.1f} s."
        )


def _pick(opts) -> dict:
    return {k: opts[k] for k in ("teams", "orders", "days", "active", "seed", "password")}


# --- clearing -------------------------------------------------------------------------------


def clear() -> int:
    """Delete every generated team and all its rows; returns how many teams."""
    teams = list(Team.objects.filter(name__startswith=TEAM_PREFIX).values_list("pk", flat=True))
    if not teams:
        return 0
    from reports.models import SpendHold

    with transaction.atomic():
        for queryset in (
            *(model.objects.filter(team_id__in=teams) for model in rollup.ROLLED_MODELS),
            LedgerEntry.objects.filter(team_id__in=teams),
            SpendHold.objects.filter(team_id__in=teams),
            OrderMessage.objects.filter(order__team_id__in=teams),
            Order.objects.filter(team_id__in=teams, replaces__isnull=False),
            Order.objects.filter(team_id__in=teams),
            RentalMessage.objects.filter(rental__team_id__in=teams),
            Rental.objects.filter(team_id__in=teams),
        ):
            queryset._raw_delete(queryset.db)
        ProviderAccount.objects.filter(team_id__in=teams).delete()
        Membership.objects.filter(team_id__in=teams).delete()
        Team.objects.filter(pk__in=teams).delete()
        get_user_model().objects.filter(username__startswith=USER_PREFIX).delete()
        ExchangeRate.objects.filter(source_detail="generate_data").delete()
    return len(teams)


# --- writing rows fast -------------------------------------------------------------------------


class Ids:
    """Ids handed out up front (the table's largest + 1 onwards)."""

    def __init__(self, model) -> None:
        self.model = model
        self.next = (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


class Row(dict):
    """One row to write: field attnames to values, read and set as attributes."""

    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__

    @property
    def pk(self):
        return self["id"]


def _layout(model) -> tuple[list, dict, list]:
    """The model's columns, the prepared value of each default, and the fields whose
    default is computed per row (uuid4; JSON defaults are the same text every row)."""
    fields = model._meta.concrete_fields
    template = model()
    defaults = {}
    for f in fields:
        value = f.get_db_prep_save(getattr(template, f.attname), connection)
        defaults[f.attname] = json.dumps(value) if isinstance(value, dict | list) else value
    per_row = [
        f
        for f in fields
        if f.has_default() and callable(f.default) and not isinstance(f.get_default(), dict | list)
    ]
    return fields, defaults, per_row


def write(model, rows: list[Row]) -> int:
    """Insert `rows` (ids set) as they are: no save(), no auto_now. PostgreSQL gets plain
    tuples through COPY; other databases model instances' prepared values."""
    if not rows:
        return 0
    fields, defaults, per_row = _layout(model)
    columns = [f.column for f in fields]
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            names = [f.attname for f in fields]
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    for f in per_row:
                        if f.attname not in row:
                            row[f.attname] = f.get_default()
                    copy.write_row(tuple(row.get(n, defaults[n]) for n in names))
        else:
            prepared = [
                tuple(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields)
                for obj in (model(**row) for row in rows)
            ]
            marks = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({quoted}) VALUES ({marks})"  # noqa: S608 - model names
            cursor.executemany(sql, prepared)
    return len(rows)


def reset_sequences(*models) -> None:
    """Move the id sequences past the ids written, and ANALYZE the tables: without fresh
    statistics PostgreSQL plans a million new rows as a few hundred."""
    if connection.vendor != "postgresql":
        return  # SQLite's rowid moves past the largest id by itself
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
            table = model._meta.db_table  # a model's table name, not input
            largest = f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}"  # noqa: S608
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), COALESCE(({largest}), 1))",
                [table],
            )


# --- generating ------------------------------------------------------------------------------


class Generator:
    def __init__(self, stdout, *, teams, orders, days, active, seed, password) -> None:
        self.stdout = stdout
        self.teams, self.orders, self.days, self.active = teams, orders, days, active
        self.rng = random.Random(seed)
        self.password = make_password(password) if password else make_password(None)
        self.now = timezone.now().replace(microsecond=0)
        self.start = self.now - timedelta(days=days)
        self.counts = {"teams": 0, "orders": 0, "messages": 0, "ledger": 0, "rentals": 0}

    def say(self, message: str) -> None:
        self.stdout.write(f"[{time.strftime('%H:%M:%S')}] {message}")

    def run(self) -> dict[str, int]:
        self.services = self._services()
        self.countries = self._countries()
        self._rates()
        teams = self._teams()
        self.say(f"{len(teams)} teams, {sum(len(t['members']) for t in teams)} members")
        self.order_ids, self.message_ids = Ids(Order), Ids(OrderMessage)
        self.ledger_ids, self.rental_ids = Ids(LedgerEntry), Ids(RentalMessage)
        self.rental_row_ids = Ids(Rental)
        shares = self._shares(len(teams))
        per_team = _apportion(self.orders, shares)
        for team, count in zip(teams, per_team, strict=True):
            team["orders"] = count
        written = 0
        batch: list[tuple[dict, int]] = []
        for team in teams:
            left = team["orders"]
            serial = 0
            while left:
                take = min(left, CHUNK)
                batch.append((team, serial, take))
                serial += take
                left -= take
        for team, serial, take in batch:
            self._orders_chunk(team, serial, take)
            written += take
            if written % 100_000 < take or written == self.orders:
                self.say(f"{written} orders")
        for team in teams:
            self._rentals(team)
        reset_sequences(Order, OrderMessage, LedgerEntry, Rental, RentalMessage)
        return self.counts

    # reference data

    def _services(self) -> list:
        found = []
        for slug, name in SERVICES:
            service = Service.objects.filter(slug=slug).first()
            found.append(service or Service.objects.create(slug=slug, name=name))
        return found

    def _countries(self) -> list:
        found = []
        for iso, name, dial in COUNTRIES:
            country = Country.objects.filter(iso=iso).first()
            found.append(
                (country or Country.objects.create(iso=iso, name=name, dial_code=dial), dial)
            )
        return found

    def _rates(self) -> None:
        have = set(ExchangeRate.objects.filter(currency="IDR").values_list("valid_from", flat=True))
        day = self.start.date() - timedelta(days=1)
        rows = []
        while day <= self.now.date():
            if day not in have:
                drift = Decimal(self.rng.randint(-300, 300))
                rows.append(
                    ExchangeRate(
                        currency="IDR",
                        units_per_usd=IDR_PER_USD + drift,
                        valid_from=day,
                        source=RateSource.STAFF,
                        source_detail="generate_data",
                    )
                )
            day += timedelta(days=1)
        ExchangeRate.objects.bulk_create(rows)

    def _teams(self) -> list[dict]:
        User = get_user_model()
        teams = []
        for n in range(1, self.teams + 1):
            team = Team.objects.create(name=f"{TEAM_PREFIX}{n:03d}")
            members = []
            for m in range(1, self.rng.randint(3, 8) + 1):
                user = User(username=f"{USER_PREFIX}{n:03d}-{m:02d}", password=self.password)
                user.save()
                role = Role.OWNER if m == 1 else Role.MANAGER if m == 2 else Role.MEMBER
                Membership.objects.create(team=team, user=user, role=role)
                members.append(user)
            accounts = []
            for kind in KINDS:
                account = ProviderAccount(
                    team=team,
                    kind=kind,
                    label=f"{kind} {n:03d}",
                    base_url=client_class(kind).default_base_url,
                    currency=CURRENCY.get(kind, "USD"),
                )
                account.set_api_key(f"generated-{kind}-{n:03d}-{uuid.uuid4().hex[:8]}")
                account.save()
                accounts.append(account)
            teams.append({"team": team, "members": members, "accounts": accounts})
            self.counts["teams"] += 1
        return teams

    def _shares(self, n: int) -> list[float]:
        """A few big teams and a long tail (Zipf-like weights, shuffled)."""
        weights = [1 / (rank + 1) ** 0.8 for rank in range(n)]
        self.rng.shuffle(weights)
        return weights

    # orders

    def _when(self, recent: bool) -> datetime:
        if recent:
            return self.now - timedelta(seconds=self.rng.randint(30, 900))
        # Spread over the period, more by day than by night.
        seconds = self.rng.random() * self.days * 86400
        when = self.start + timedelta(seconds=seconds)
        if when.hour < 7 and self.rng.random() < 0.6:
            when += timedelta(hours=9)
        return min(when, self.now - timedelta(minutes=30))

    def _cost(self, kind: str) -> Decimal:
        if kind == "smscode":
            return Decimal(self.rng.randrange(2000, 16000, 250))
        return Decimal(self.rng.randint(5, 250)) / 100

    def _orders_chunk(self, team: dict, serial: int, count: int) -> None:
        orders, messages, ledger = [], [], []
        active_left = self.active if serial == 0 else 0
        for i in range(count):
            account = self.rng.choice(team["accounts"])
            member = self.rng.choice(team["members"])
            service = self.rng.choice(self.services)
            country, dial = self.rng.choice(self.countries)
            recent = i < active_left
            created = self._when(recent)
            if recent:
                state, has_code, refunded = (
                    (State.RECEIVED, True, False) if i % 2 else (State.WAITING, False, False)
                )
            else:
                state, has_code, refunded = self._outcome()
            pk = self.order_ids.take()
            upstream = f"G{pk:09d}"
            failed = state == State.FAILED
            cost = None if failed else self._cost(account.kind)
            wait = timedelta(seconds=self.rng.randint(8, 240))
            order = Row(
                id=pk,
                team_id=team["team"].pk,
                account_id=account.pk,
                ordered_by_id=member.pk,
                idempotency_key=f"gen-{pk}",
                service_id=service.pk,
                country_id=country.pk,
                service_upstream_id=service.slug,
                country_upstream_id=country.iso,
                service_name=service.name,
                country_name=country.name,
                state=state,
                upstream_id="" if failed else upstream,
                upstream_status=state,
                phone_number="" if failed else f"{dial}{self.rng.randint(10**8, 10**9 - 1)}",
                dial_code=dial,
                cost=cost,
                currency=account.currency,
                last_code=f"{self.rng.randint(0, 999999):06d}" if has_code else "",
                code_received_at=created + wait if has_code else None,
                expires_at=created + timedelta(minutes=20),
                error="The provider had no number left." if failed else "",
                error_category="no_numbers" if failed else "",
                last_checked_at=created + wait,
                created=created,
                updated=created + wait,
                finished_at=None if recent else created + wait,
            )
            orders.append(order)
            if has_code:
                messages.append(
                    Row(
                        id=self.message_ids.take(),
                        order_id=pk,
                        upstream_order_id=upstream,
                        code=order.last_code,
                        text=f"Your {service.name} code is {order.last_code}",
                        sender=service.name,
                        received_at=order.code_received_at,
                        fingerprint=f"gen-{pk}",
                    )
                )
            if failed:
                continue
            ledger.append(self._entry(team, account, member, LedgerKind.PURCHASE, cost, order))
            if refunded:
                refund = self._entry(team, account, member, LedgerKind.REFUND, -cost, order)
                refund.created = created + wait
                ledger.append(refund)
        with transaction.atomic():
            self.counts["orders"] += write(Order, orders)
            self.counts["messages"] += write(OrderMessage, messages)
            self.counts["ledger"] += write(LedgerEntry, ledger)

    def _outcome(self):
        roll = self.rng.random()
        for state, share, has_code, refunded in OUTCOMES:
            if roll < share:
                return state, has_code, refunded
            roll -= share
        return OUTCOMES[0][0], True, False

    def _entry(self, team, account, member, kind, amount, order=None, rental=None, event=""):
        subject = order or rental
        ref = subject.upstream_id
        return Row(
            id=self.ledger_ids.take(),
            code=uuid.UUID(int=self.rng.getrandbits(128), version=4),
            team_id=team["team"].pk,
            account_id=account.pk,
            member_id=member.pk,
            kind=kind,
            amount=amount,
            currency=account.currency,
            order_id=order.pk if order else None,
            rental_id=rental.pk if rental else None,
            upstream_ref=ref,
            dedupe_key=f"gen:{account.pk}:{kind}:{ref}{':' + event if event else ''}",
            created=subject.created,
        )

    # rentals

    def _rentals(self, team: dict) -> None:
        count = max(1, team["orders"] // 200) if team["orders"] else 0
        rentals, messages, ledger = [], [], []
        for _ in range(count):
            account = self.rng.choice(team["accounts"])
            member = self.rng.choice(team["members"])
            service = self.rng.choice(self.services)
            country, dial = self.rng.choice(self.countries)
            created = self._when(False)
            days = self.rng.choice((1, 3, 7, 14, 30))
            pk = self.rental_row_ids.take()
            expires = created + timedelta(days=days)
            rental = Row(
                id=pk,
                team_id=team["team"].pk,
                account_id=account.pk,
                rented_by_id=member.pk,
                idempotency_key=f"gen-rental-{pk}",
                upstream_offer_id=f"offer-{service.slug}",
                service_id=service.pk,
                country_id=country.pk,
                service_upstream_id=service.slug,
                service_name=service.name,
                country_name=country.name,
                state=RentalState.ACTIVE if expires > self.now else RentalState.EXPIRED,
                upstream_id=f"GR{pk:08d}",
                upstream_status="active" if expires > self.now else "expired",
                phone_number=f"{dial}{self.rng.randint(10**8, 10**9 - 1)}",
                cost=self._cost(account.kind) * 20 * days,
                currency=account.currency,
                duration=days,
                started_at=created,
                expires_at=expires,
                message_count=0,
                created=created,
                updated=created,
                finished_at=None if expires > self.now else expires,
            )
            for m in range(self.rng.randint(0, 3)):
                at = created + timedelta(hours=self.rng.randint(1, 24 * days))
                messages.append(
                    Row(
                        id=self.rental_ids.take(),
                        rental_id=pk,
                        sender=service.name,
                        text=f"Your {service.name} code is {self.rng.randint(0, 999999):06d}",
                        received_at=min(at, self.now),
                        fingerprint=f"gen-{pk}-{m}",
                    )
                )
                rental.message_count += 1
            rentals.append(rental)
            ledger.append(
                self._entry(team, account, member, LedgerKind.RENTAL, rental.cost, rental=rental)
            )
            if self.rng.random() < 0.2:
                extension = self._entry(
                    team,
                    account,
                    member,
                    LedgerKind.EXTENSION,
                    rental.cost / days,
                    rental=rental,
                    event="1",
                )
                extension.created = min(expires, self.now)
                ledger.append(extension)
        with transaction.atomic():
            self.counts["rentals"] += write(Rental, rentals)
            write(RentalMessage, messages)
            self.counts["ledger"] += write(LedgerEntry, ledger)


def _apportion(total: int, weights: list[float]) -> list[int]:
    """`total` split in proportion to `weights`, in whole numbers that add up."""
    if not weights:
        return []
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % len(counts)] += 1
    return counts

"""Two teams with everything a page can show, built straight in the database.

Team B ("Borealis") is the team whose objects fill the URLs; team A ("Atlas")
is the other team, owned by the "owner of another team" persona; team C has the
outsider. Each of A and B has a provider account with a key, unmapped and
mapped catalogue rows, a priced offer, an order with a code, a rental, ledger
entries and an audit event, each carrying values that appear nowhere else, so a
page that shows them can be caught.

No request leaves the process: the provider account points at the real host,
and the tests patch the HTTP chokepoint (see `no_network`).
"""

from __future__ import annotations

import ipaddress
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import requests
from django.contrib.auth import get_user_model
from django.utils import timezone

import audit
from accounts.models import Membership, Team
from accounts.roles import Role
from orders.models import Order, OrderMessage, State
from providers.models import (
    CatalogCountry,
    CatalogPrice,
    CatalogService,
    Country,
    ProviderAccount,
    Service,
)
from providers.services import ensure_canonical
from rentals.models import Rental, RentalOffer, RentalState
from reports.models import LedgerEntry, LedgerKind

PASSWORD = "correct horse battery staple"


@dataclass
class TeamData:
    """One team's rows, and the values that only this team's pages may show."""

    team: Team
    owner: object
    account: ProviderAccount
    api_key: str
    order: Order
    rental: Rental
    ledger: LedgerEntry
    owner_membership: Membership
    unmapped_service: CatalogService
    unmapped_country: CatalogCountry
    rental_offer: RentalOffer
    secrets: dict[str, str] = field(default_factory=dict)

    def markers(self) -> dict[str, str]:
        """What must never appear on a page of someone outside this team: name -> text."""
        return {
            "team code": str(self.team.code),
            "team name": self.team.name,
            "account code": str(self.account.code),
            "account label": self.account.label,
            "order code": str(self.order.code),
            "order phone number": self.order.phone_number,
            "order SMS code": self.order.last_code,
            "order cost": "813.47" if self.team.name.startswith("Borealis") else "377.29",
            "rental code": str(self.rental.code),
            "rental phone number": self.rental.phone_number,
            "ledger code": str(self.ledger.code),
            "membership code": str(self.owner_membership.code),
        }


@dataclass
class World:
    a: TeamData
    b: TeamData
    c_team: Team
    personas: dict[str, object | None]

    @property
    def keys(self) -> list[str]:
        return [self.a.api_key, self.b.api_key]


def make_user(username: str, **extra):
    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.org", password=PASSWORD, **extra
    )


def _team(prefix: str, name: str, api_key: str, phone: str, rental_phone: str, sms: str, cost):
    team = Team.objects.create(name=name)
    owner = make_user(f"{prefix}_owner")
    owner_membership = Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    account = ProviderAccount(
        team=team,
        kind="smspool",
        label=f"{name.split()[0]} Pool",
        base_url="https://api.smspool.net",
    )
    account.set_api_key(api_key)
    account.save()
    us, whatsapp = Country.objects.get(iso="US"), Service.objects.get(slug="whatsapp")
    mapped_country = CatalogCountry.objects.create(
        account=account, upstream_id="1", name="United States", iso="US", country=us
    )
    mapped_service = CatalogService.objects.create(
        account=account, upstream_id="1", name="WhatsApp", service=whatsapp
    )
    unmapped_country = CatalogCountry.objects.create(
        account=account, upstream_id="901", name=f"{prefix.upper()}-land"
    )
    unmapped_service = CatalogService.objects.create(
        account=account, upstream_id="902", name=f"{prefix.upper()}-chat"
    )
    pairs = [(mapped_service, mapped_country), (unmapped_service, unmapped_country)]
    for service, country in pairs:
        CatalogPrice.objects.create(
            account=account,
            service=service,
            country=country,
            price=Decimal("0.25"),
            currency="USD",
            stock=10,
        )
    order = Order.objects.create(
        team=team,
        account=account,
        ordered_by=owner,
        idempotency_key=f"{prefix}-k1",
        service=whatsapp,
        country=us,
        service_upstream_id="1",
        country_upstream_id="1",
        service_name="WhatsApp",
        country_name="United States",
        state=State.RECEIVED,
        upstream_id=f"{prefix}-U1",
        phone_number=phone,
        dial_code="1",
        cost=cost,
        currency="USD",
        last_code=sms,
        expires_at=timezone.now() + timedelta(minutes=20),
    )
    OrderMessage.objects.create(
        order=order,
        upstream_order_id=order.upstream_id,
        code=sms,
        text=f"code {sms}",
        fingerprint="f",
    )
    offer = RentalOffer.objects.create(
        account=account,
        upstream_id="r1",
        name="United States rental",
        country=us,
        prices={"7": "18.00"},
        extend_prices={"7": "18.00"},
        currency="USD",
        extendable=True,
        refundable=True,
    )
    rental = Rental.objects.create(
        team=team,
        account=account,
        rented_by=owner,
        idempotency_key=f"{prefix}-r1",
        offer=offer,
        upstream_offer_id="r1",
        country=us,
        state=RentalState.ACTIVE,
        upstream_id=f"{prefix}-R1",
        phone_number=rental_phone,
        cost=Decimal("18.00"),
        currency="USD",
        duration=7,
        started_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=7),
    )
    ledger = LedgerEntry.objects.create(
        team=team,
        account=account,
        member=owner,
        kind=LedgerKind.PURCHASE,
        amount=cost,
        currency="USD",
        order=order,
        dedupe_key=f"{prefix}-p1",
    )
    LedgerEntry.objects.create(
        team=team,
        account=account,
        member=owner,
        kind=LedgerKind.RENTAL,
        amount=Decimal("18.00"),
        currency="USD",
        rental=rental,
        dedupe_key=f"{prefix}-r1",
    )
    audit.record(team=team, actor=owner, action="order.placed", target=order, payload={"n": 1})
    return TeamData(
        team=team,
        owner=owner,
        account=account,
        api_key=api_key,
        order=order,
        rental=rental,
        ledger=ledger,
        owner_membership=owner_membership,
        unmapped_service=unmapped_service,
        unmapped_country=unmapped_country,
        rental_offer=offer,
    )


def build_world() -> World:
    """Teams A, B and C, and the personas of the isolation matrix (see its docstring)."""
    ensure_canonical()
    a = _team(
        "a",
        "Atlas QA",
        api_key="sk_Hq4Tz8Wm2Rv6Np3Lc7Xk4V",
        phone="12025550147",
        rental_phone="12025550163",
        sms="604271",
        cost=Decimal("377.29"),
    )
    b = _team(
        "b",
        "Borealis Ops",
        api_key="sk_Jd5Ys9Fg1Ku8Pe2Mb6Zq9W",
        phone="14155550188",
        rental_phone="14155550199",
        sms="580314",
        cost=Decimal("813.47"),
    )
    c_team = Team.objects.create(name="Cobalt Labs")
    personas: dict[str, object | None] = {"anonymous": None}
    personas["outsider"] = make_user("c_member")
    Membership.objects.create(team=c_team, user=personas["outsider"], role=Role.MEMBER)
    for role in (Role.VIEWER, Role.MEMBER, Role.MANAGER):
        user = make_user(f"b_{role}")
        Membership.objects.create(team=b.team, user=user, role=role)
        personas[str(role)] = user
    personas["owner of another team"] = a.owner
    personas["superuser"] = get_user_model().objects.create_superuser(
        username="root", email="root@example.org", password=PASSWORD
    )
    return World(a=a, b=b, c_team=c_team, personas=personas)


class _Offline(requests.Session):
    """Every provider call is refused as an authentication failure: fast, never retried."""

    def request(self, method, url, *args, **kwargs):
        response = requests.Response()
        response.status_code = 401
        response._content = b'{"success": 0, "message": "offline test"}'
        response.headers["Content-Type"] = "application/json"
        response.url = url
        return response


_getaddrinfo = socket.getaddrinfo


def _numeric_only(host, *args, **kwargs):
    """Resolve addresses and localhost (the database, Redis); refuse names, as offline."""
    if host in ("localhost", None) or _is_address(host):
        return _getaddrinfo(host, *args, **kwargs)
    raise socket.gaierror(socket.EAI_NONAME, "offline test: names do not resolve")


def _is_address(host) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host)
    except ValueError:
        return False
    return True


@contextmanager
def no_network():
    """Keep every provider call in the process: requests are answered here, and host
    names (a base URL's, checked before a key goes there) do not resolve."""
    with (
        mock.patch("providers.http.session_for", return_value=_Offline()),
        mock.patch("socket.getaddrinfo", _numeric_only),
    ):
        yield

"""Rental actions: offers sync, rent, extend, refund, wake, auto-extend, refresh.

Same safety as orders: idempotent renting with the row written before the
upstream call, failures in plain words, one ledger entry per charge or refund,
one audit event per action.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

import audit
from accounts.errors import ActionError
from accounts.roles import Permission
from providers import leases
from providers.canonical import country_iso_for, service_slug_for
from providers.codes import extract_code
from providers.errors import InsufficientBalance, NotFound, OutOfStock, ProviderError, RateLimited
from providers.models import Country, ProviderAccount, Service
from providers.types import Capability, RentalRequest
from providers.types import RentalState as UpstreamRental
from rentals.models import (
    FINAL_RENTAL_STATES,
    Rental,
    RentalMessage,
    RentalOffer,
    RentalState,
    Unit,
)
from reports import ledger
from reports.models import LedgerKind

log = logging.getLogger(__name__)


class RentalError(ActionError):
    """A rental action that could not be done; the message is for the member."""


# --- offers ---------------------------------------------------------------------------------


def rental_offers_sync(*, account: ProviderAccount) -> int:
    """Store the account's rental offers; return how many. Raises ProviderError."""
    if not account.supports(Capability.RENTALS):
        return 0
    offers = account.client().list_rental_offers()
    countries = {c.iso: c for c in Country.objects.all()}
    services = {s.slug: s for s in Service.objects.all()}
    now = timezone.now()
    keep = []
    with transaction.atomic():
        for offer in offers:
            iso = country_iso_for(iso=offer.country_iso, name=offer.name)
            slug = (
                service_slug_for(name=offer.name, code=offer.service_id) if offer.service_id else ""
            )
            row, _ = RentalOffer.objects.update_or_create(
                account=account,
                upstream_id=offer.id,
                service_upstream_id=offer.service_id,
                defaults={
                    "name": _offer_name(offer, services.get(slug)),
                    "country": countries.get(iso),
                    "service": services.get(slug),
                    "unit": offer.unit,
                    "prices": {str(k): str(v) for k, v in offer.durations.items()},
                    "extend_prices": {str(k): str(v) for k, v in offer.extend_durations.items()},
                    "single_service_prices": {
                        str(k): str(v) for k, v in offer.single_service_durations.items()
                    },
                    "currency": offer.currency,
                    "extendable": offer.extendable,
                    "refundable": offer.refundable,
                    "refund_within_hours": offer.refund_within_hours,
                    "stock": offer.stock,
                    "updated": now,
                },
            )
            keep.append(row.pk)
        RentalOffer.objects.filter(account=account).exclude(pk__in=keep).delete()
    return len(keep)


def on_catalog_synced(sender, account: ProviderAccount, **kwargs) -> int:
    """Rental offers are part of the catalogue: store them with it; return how many.
    A failure here keeps the rest of the catalogue."""
    try:
        return rental_offers_sync(account=account)
    except ProviderError as exc:
        account.record_error(exc)
        return 0


def _offer_name(offer, service: Service | None) -> str:
    # SMS-Activate names an offer by its service code ("wa"): show the service.
    if service is not None and offer.name in ("", offer.service_id):
        return service.name
    return offer.name[:120]


def offers_for(team, *, country: Country | None = None, service: Service | None = None):
    """The team's rental offers for a country and/or service, side by side."""
    offers = RentalOffer.objects.filter(account__team=team, account__enabled=True).select_related(
        "account", "country", "service"
    )
    if country is not None:
        offers = offers.filter(country=country)
    if service is not None:
        offers = offers.filter(service__in=[service, None])
    return offers.order_by("account__label", "name")


# --- renting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RentChoice:
    offer: RentalOffer
    duration: int
    service: Service | None = None  # SMSPool single-service discount, SMS-Activate service

    @property
    def single_service(self) -> bool:
        return bool(self.service and self.offer.single_service_prices)

    @property
    def price(self) -> Decimal | None:
        if self.single_service:
            return self.offer.price_for(self.duration, single_service=True)
        return self.offer.price_for(self.duration)


def _upstream_service_id(choice: RentChoice) -> str:
    if choice.offer.service_upstream_id:
        return choice.offer.service_upstream_id
    if choice.service is None:
        return ""
    from providers.models import CatalogService

    row = CatalogService.objects.filter(
        account=choice.offer.account, service=choice.service
    ).first()
    return row.upstream_id if row else ""


def rental_rent(
    *,
    membership,
    choice: RentChoice,
    idempotency_key: str,
    label: str = "",
    note: str = "",
    request=None,
) -> Rental:
    """Rent a number; idempotent per key. Raises RentalError in plain words."""
    if not membership.can(Permission.ORDER):
        raise RentalError("Your role cannot rent numbers.", category="forbidden")
    if choice.price is None:
        raise RentalError(
            f"{choice.offer.name} cannot be rented for {choice.duration} "
            f"{choice.offer.get_unit_display()}.",
            next_step="Pick one of the lengths offered.",
        )
    existing = Rental.objects.filter(team=membership.team, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    try:
        rental = _create_placing_row(membership, choice, idempotency_key, label, note)
    except IntegrityError:
        return Rental.objects.get(team=membership.team, idempotency_key=idempotency_key)
    offer = choice.offer
    try:
        bought = offer.account.client().rent(
            RentalRequest(
                offer_id=offer.upstream_id,
                duration=choice.duration,
                service_id=_upstream_service_id(choice),
            )
        )
    except ProviderError as exc:
        if exc.outcome_unknown:
            return rental_unconfirmed(rental, exc, actor=membership.user, request=request)
        raise _rent_failed(rental, exc, membership.user, request) from exc
    return record_rental(rental, bought, actor=membership.user, request=request)


def _reserve(membership, amount, currency: str, *, purpose: str, rental: Rental):
    """Hold `amount` against the member's limit and the team's budget (inside the
    caller's transaction). Raises RentalError when it does not fit."""
    try:
        return ledger.reserve(membership, amount, currency, purpose=purpose, rental=rental)
    except ledger.SpendRefused as exc:
        raise RentalError(exc.message, next_step=exc.next_step, category=exc.category) from exc


def _create_placing_row(membership, choice: RentChoice, key, label, note) -> Rental:
    offer = choice.offer
    service = choice.service or offer.service
    with transaction.atomic():
        rental = Rental.objects.create(
            team=membership.team,
            account=offer.account,
            rented_by=membership.user,
            idempotency_key=key,
            offer=offer,
            upstream_offer_id=offer.upstream_id,
            service=service,
            country=offer.country,
            service_upstream_id=_upstream_service_id(choice),
            service_name=service.name if service else "",
            country_name=offer.country.name if offer.country else offer.name,
            label=label[:100],
            note=note[:500],
            duration=choice.duration,
            unit=offer.unit,
            currency=offer.currency,
            cost=choice.price,
            refundable=offer.refundable,
            refund_within_hours=offer.refund_within_hours,
        )
        _reserve(membership, choice.price, offer.currency, purpose="rental", rental=rental)
        return rental


def rental_unconfirmed(rental: Rental, exc: ProviderError, *, actor, request=None) -> Rental:
    """The rent may or may not have happened: keep the row and its spend hold for the
    rental sync to resolve from the provider's list. Returns the rental."""
    updated = Rental.objects.filter(pk=rental.pk, state=RentalState.PLACING).update(
        state=RentalState.UNCONFIRMED,
        error=exc.message[:500],
        next_check_at=timezone.now(),
        updated=timezone.now(),  # the call ended now: the provider's list settles from here
    )
    rental.refresh_from_db()
    if updated:
        audit.record(
            team=rental.team,
            actor=actor,
            action="rental.unconfirmed",
            target=rental,
            payload={"provider": rental.account.label, "reason": exc.message},
            request=request,
        )
        leases.mark_due(rental.account_id)
    return rental


def mark_rental_failed(rental: Rental, message: str, category: str, actor=None, request=None):
    """Close a rent that rented nothing and give its reservation back; True when this
    call closed it."""
    with transaction.atomic():
        closed = Rental.objects.filter(
            pk=rental.pk,
            state__in=(RentalState.PLACING, RentalState.UNCONFIRMED),
            upstream_id="",
        ).update(state=RentalState.FAILED, error=message[:500], finished_at=timezone.now())
        if not closed:
            return False
        ledger.release(rental=rental)
        audit.record(
            team=rental.team,
            actor=actor,
            action="rental.failed",
            target=rental,
            payload={"category": category, "message": message},
            request=request,
        )
    rental.refresh_from_db()
    return True


def _rent_failed(rental: Rental, exc: ProviderError, actor, request) -> RentalError:
    mark_rental_failed(rental, exc.message, exc.category, actor, request)
    account = rental.account
    if isinstance(exc, OutOfStock):
        return RentalError(
            f"{account.label} has no numbers to rent for this right now.",
            next_step="Try another length, country or provider.",
            category=exc.category,
        )
    if isinstance(exc, InsufficientBalance):
        return RentalError(
            f"{account.label} does not have enough balance: {exc.message}",
            next_step="Top up that provider account.",
            category=exc.category,
        )
    if isinstance(exc, RateLimited):
        return RentalError(
            f"{account.label} is limiting requests right now.",
            next_step="Try again in a few seconds.",
            category=exc.category,
        )
    return RentalError(f"{account.label} refused the rental: {exc.message}", category=exc.category)


def record_rental(rental: Rental, bought, *, actor, request=None) -> Rental:
    """Record the rented number on its row (once), book the charge and release the hold."""
    now = timezone.now()
    with transaction.atomic():
        rental = Rental.objects.select_for_update().get(pk=rental.pk)
        if rental.upstream_id:
            return rental  # recorded already (the rental sync found it first)
        rental.upstream_id = bought.rental_id
        rental.phone_number = bought.phone_number
        rental.cost = bought.cost if bought.cost is not None else rental.cost
        rental.currency = bought.currency or rental.currency
        rental.started_at = now
        rental.expires_at = bought.expires_at or now + _length(rental.duration, rental.unit)
        rental.state = RentalState.ACTIVE
        rental.error = ""
        rental.next_check_at = now
        rental.finished_at = None
        rental.save()
        if rental.cost:
            ledger.book_for(rental, kind=LedgerKind.RENTAL, amount=rental.cost)
        ledger.release(rental=rental)
        audit.record(
            team=rental.team,
            actor=actor,
            action="rental.rented",
            target=rental,
            payload={
                "provider": rental.account.label,
                "number": rental.phone_number,
                "duration": rental.duration,
                "unit": rental.unit,
                "cost": str(rental.cost) if rental.cost is not None else None,
                "currency": rental.currency,
            },
            request=request,
        )
    leases.mark_due(rental.account_id)
    return rental


def _length(duration: int, unit: str) -> timedelta:
    return timedelta(hours=duration) if unit == Unit.HOUR else timedelta(days=duration)


# --- acting on a rental ------------------------------------------------------------


def _require_active(rental: Rental) -> None:
    if not rental.is_active:
        raise RentalError(f"This rental is {rental.get_state_display().lower()}.")


def _failed(rental: Rental, action: str, exc: ProviderError) -> RentalError:
    return RentalError(
        f"{rental.account.label} could not {action} this rental: {exc.message}",
        category=exc.category,
    )


def rental_extend(*, rental: Rental, duration: int, actor, request=None) -> Rental:
    """Extend by `duration` units at the offer's price; book the charge."""
    _require_active(rental)
    if not rental.account.supports(Capability.RENTAL_EXTEND):
        raise RentalError(f"{rental.account.label} rentals cannot be extended.")
    price = rental.offer.extend_price_for(duration) if rental.offer else None
    if price is None:
        raise RentalError(
            f"This rental cannot be extended by {duration} {rental.get_unit_display()}.",
            next_step="Pick one of the lengths offered.",
        )
    hold = _reserve_extension(rental, price, actor)
    try:
        state = rental.account.client().extend_rental(rental.upstream_id, duration)
    except ProviderError as exc:
        ledger.release_hold(hold)
        raise _failed(rental, "extend", exc) from exc
    with transaction.atomic():
        before = rental.expires_at
        rental.expires_at = state.expires_at or (before or timezone.now()) + _length(
            duration, rental.unit
        )
        rental.reminder_sent_at = None
        rental.save()
        ledger.book_for(
            rental, kind=LedgerKind.EXTENSION, amount=price, event=rental.expires_at.isoformat()
        )
        ledger.release_hold(hold)
        audit.record(
            team=rental.team,
            actor=actor,
            action="rental.extended",
            target=rental,
            payload={
                "duration": duration,
                "unit": rental.unit,
                "cost": str(price),
                "currency": rental.currency,
                "before": before.isoformat() if before else None,
                "after": rental.expires_at.isoformat(),
            },
            request=request,
        )
    return rental


def _reserve_extension(rental: Rental, price: Decimal, actor):
    """Hold an extension's price against the limit of whoever extends it (the renter,
    when the system extends) and the team's budget. Raises RentalError."""
    from accounts.models import Membership

    user = actor if actor is not None and actor.is_authenticated else rental.rented_by
    membership = Membership.objects.filter(team=rental.team, user=user).first()
    if membership is None:  # the renter left the team: only the team's budget applies
        membership = Membership(team=rental.team, user=None)
    with transaction.atomic():
        return _reserve(membership, price, rental.currency, purpose="extension", rental=rental)


def refund_status(rental: Rental, now=None) -> tuple[bool, str]:
    """(allowed, reason): whether the provider's rules allow a refund now, and why not."""
    now = now or timezone.now()
    if not rental.account.supports(Capability.RENTAL_REFUND):
        return False, f"{rental.account.get_kind_display()} rentals are non-refundable."
    if not rental.is_active:
        return False, f"The rental is {rental.get_state_display().lower()}."
    if not rental.refundable:
        return False, "This rental offer is non-refundable."
    if rental.message_count:
        return False, "A message has been received, so the rental can no longer be refunded."
    window, words = _refund_window(rental)
    if window is not None and rental.started_at and now > rental.started_at + window:
        return False, f"Refunds are possible only in the first {words}."
    return True, ""


def _refund_window(rental: Rental) -> tuple[timedelta | None, str]:
    """How long after renting a refund is allowed: the offer's hours, or the protocol's rule."""
    if rental.refund_within_hours is not None:
        hours = rental.refund_within_hours
        return timedelta(hours=hours), f"{hours} hours"
    window = rental.account.client_class.rental_refund_window
    if window is None:
        return None, ""
    return window, f"{int(window.total_seconds() // 60)} minutes"


def rental_refund(*, rental: Rental, actor, request=None) -> Rental:
    allowed, reason = refund_status(rental)
    if not allowed:
        raise RentalError(reason)
    try:
        result = rental.account.client().refund_rental(rental.upstream_id)
    except ProviderError as exc:
        raise _failed(rental, "refund", exc) from exc
    amount = result.refunded if result.refunded is not None else _paid(rental)
    return _finish(
        rental,
        RentalState.REFUNDED,
        actor=actor,
        action="rental.refunded",
        refund=amount,
        request=request,
    )


def _paid(rental: Rental) -> Decimal:
    """Everything booked as charges for this rental (the rent plus extensions)."""
    from django.db.models import Sum

    charges = rental.ledger.filter(amount__gt=0).aggregate(total=Sum("amount"))["total"]
    return charges or Decimal(0)


def _finish(
    rental: Rental, state: RentalState, *, actor, action: str, refund=None, request=None
) -> Rental:
    with transaction.atomic():
        current = Rental.objects.select_for_update().get(pk=rental.pk)
        if current.state in FINAL_RENTAL_STATES:
            return current
        current.state = state
        current.finished_at = timezone.now()
        current.save()
        ledger.book_refund(
            current,
            refund,
            kind=LedgerKind.RENTAL_REFUND,
            action=action,
            actor=actor,
            request=request,
        )
    return current


def rental_wake(*, rental: Rental, actor, request=None) -> Rental:
    """Ask the provider to make the line ready to receive; remember until when."""
    _require_active(rental)
    if not rental.account.supports(Capability.RENTAL_WAKE):
        raise RentalError(f"{rental.account.label} lines are always ready.")
    try:
        state = rental.account.client().wake_rental(rental.upstream_id)
    except ProviderError as exc:
        raise _failed(rental, "wake", exc) from exc
    _apply_status(rental, state)
    audit.record(
        team=rental.team,
        actor=actor,
        action="rental.woken",
        target=rental,
        payload={
            "available": rental.available,
            "awake_until": rental.awake_until.isoformat() if rental.awake_until else None,
        },
        request=request,
    )
    return rental


def rental_set_auto_extend(*, rental: Rental, enabled: bool, actor, request=None) -> Rental:
    _require_active(rental)
    if not rental.account.supports(Capability.RENTAL_AUTO_EXTEND):
        raise RentalError(f"{rental.account.label} has no automatic extension.")
    try:
        final = rental.account.client().set_rental_auto_extend(rental.upstream_id, enabled)
    except ProviderError as exc:
        raise _failed(rental, "change auto-extend on", exc) from exc
    before = rental.auto_extend
    rental.auto_extend = final
    rental.save(update_fields=["auto_extend", "updated"])
    audit.record(
        team=rental.team,
        actor=actor,
        action="rental.auto_extend_changed",
        target=rental,
        payload={"before": before, "after": final},
        request=request,
    )
    return rental


def rental_set_details(*, rental: Rental, label: str, note: str, actor, request=None) -> Rental:
    before = {"label": rental.label, "note": rental.note}
    rental.label, rental.note = label.strip()[:100], note.strip()[:500]
    rental.save(update_fields=["label", "note", "updated"])
    audit.record(
        team=rental.team,
        actor=actor,
        action="rental.details_changed",
        target=rental,
        payload={"before": before, "after": {"label": rental.label, "note": rental.note}},
        request=request,
    )
    return rental


# --- following a rental upstream ---------------------------------------------------


def rental_refresh(*, rental: Rental, now=None) -> Rental:
    """Read status and inbox upstream; record messages, wake state, expiry and
    automatic extensions. Raises ProviderError on upstream failure."""
    now = now or timezone.now()
    if not rental.upstream_id or rental.state in FINAL_RENTAL_STATES:
        return rental
    client = rental.account.client(max_attempts=2, max_wait=2.0)
    try:
        state = client.get_rental(rental.upstream_id)
    except NotFound:
        return _expire(rental, now)
    _apply_status(rental, state, now=now)
    if rental.state in FINAL_RENTAL_STATES:
        return rental
    record_messages(rental, client.list_rental_messages(rental.upstream_id), now)
    if rental.expires_at and rental.expires_at <= now and not rental.auto_extend:
        return _expire(rental, now)
    return rental


def _apply_status(rental: Rental, state: UpstreamRental, now=None) -> None:
    now = now or timezone.now()
    changes = {"last_checked_at": now, "upstream_status": (state.status or "")[:40]}
    if state.available is not None:
        changes["available"] = state.available
        changes["awake_until"] = (
            now + timedelta(seconds=state.active_for)
            if state.available and state.active_for
            else None
        )
    if state.auto_extend is not None:
        changes["auto_extend"] = state.auto_extend
    if state.phone_number and not rental.phone_number:
        changes["phone_number"] = state.phone_number
    moved = state.expires_at and rental.expires_at and state.expires_at > rental.expires_at
    if state.expires_at:
        changes["expires_at"] = state.expires_at
    previous_expiry = rental.expires_at
    for name, value in changes.items():
        setattr(rental, name, value)
    rental.save()
    if moved and (rental.auto_extend or state.auto_extend):
        _book_auto_extension(rental, previous_expiry)
    if state.status in ("expired", "cancelled", "refunded", "finished"):
        final = {
            "expired": RentalState.EXPIRED,
            "cancelled": RentalState.CANCELLED,
            "refunded": RentalState.REFUNDED,
            "finished": RentalState.FINISHED,
        }
        _finish(rental, final[state.status], actor=None, action=f"rental.{state.status}")


def _book_auto_extension(rental: Rental, previous_expiry) -> None:
    """The provider extended the rental by itself (auto-extend): book and audit it."""
    gained = rental.expires_at - previous_expiry
    units = round(gained.total_seconds() / (3600 if rental.unit == Unit.HOUR else 86400))
    price = rental.offer.extend_price_for(units) if rental.offer and units else None
    if price is not None:
        ledger.book_for(
            rental, kind=LedgerKind.EXTENSION, amount=price, event=rental.expires_at.isoformat()
        )
    audit.record(
        team=rental.team,
        actor=None,
        action="rental.auto_extended",
        target=rental,
        payload={
            "units": units,
            "cost": str(price) if price is not None else None,
            "expires_at": rental.expires_at.isoformat(),
        },
    )


def record_messages(rental: Rental, messages, now) -> int:
    """Store the inbox messages not seen before; return how many were new."""
    new = 0
    for message in messages:
        fingerprint = hashlib.sha256(
            f"{message.id}|{message.received_at}|{message.sender}|{message.text}".encode()
        ).hexdigest()
        _, created = RentalMessage.objects.get_or_create(
            rental=rental,
            fingerprint=fingerprint,
            defaults={
                "upstream_message_id": message.id[:64],
                "sender": message.sender[:100],
                "text": message.text,
                "code": (message.code or extract_code(message.text))[:64],
                "received_at": message.received_at or now,
            },
        )
        new += created
    if new:
        count = rental.messages.count()
        Rental.objects.filter(pk=rental.pk).update(message_count=count, last_message_at=now)
        rental.message_count, rental.last_message_at = count, now
        audit.record(
            team=rental.team,
            actor=None,
            action="rental.message_received",
            target=rental,
            payload={"new_messages": new},
        )
    return new


def _expire(rental: Rental, now) -> Rental:
    return _finish(rental, RentalState.EXPIRED, actor=None, action="rental.expired")

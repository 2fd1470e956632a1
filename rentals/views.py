from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, Sum
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import get_object_for_user, get_team_for_user
from accounts.roles import Permission
from audit.models import AuditEvent
from providers import picks
from providers.errors import ProviderError
from providers.forms import new_idempotency_key
from providers.models import CatalogCountry, CatalogService
from providers.types import Capability
from rentals import services
from rentals.forms import (
    DetailsForm,
    ExtendForm,
    RentalFilterForm,
    RentalSearchForm,
    RentForm,
    canonical,
)
from rentals.models import Rental, RentalState, Unit
from rentals.reminders import expiring_soon


@login_required
@require_GET
def rentals_list(request, code):
    membership = get_team_for_user(request, code)
    team = membership.team
    form = RentalFilterForm(request.GET or None, team=team)
    rentals = Rental.objects.filter(team=team).select_related("account", "rented_by")
    if form.is_bound and not form.is_valid():
        rentals = rentals.none()  # the errors say why; never "everything" for a typo
    elif form.is_bound:
        rentals = _filtered(rentals, form.cleaned_data)
    ctx = {
        "team": team,
        "form": form,
        "rentals": rentals[:200],
        "expiring": expiring_soon(team),
        "can_order": membership.can(Permission.ORDER),
    }
    return render(request, "rentals/list.html", ctx)


def _filtered(rentals, data: dict):
    if data["state"]:
        rentals = rentals.filter(state=data["state"])
    if data["provider"]:
        rentals = rentals.filter(account__code=data["provider"])
    if data["member"]:
        rentals = rentals.filter(rented_by_id=data["member"])
    if data["country"] is not None:
        rentals = rentals.filter(data["country"])
    if data["q"]:
        rentals = rentals.filter(
            Q(phone_number__contains=data["q"]) | Q(label__icontains=data["q"])
        )
    return rentals


def _offer_table(request, team) -> dict:
    """The offers for the page's search; none, with the reason as a message, when the
    search names something the team's providers do not have."""
    form = RentalSearchForm(request.GET, team=team)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return {"offers": None}
    country, service = form.cleaned_data["country"], form.cleaned_data["service"]
    offers = services.offers_for(team, country=canonical(country), service=canonical(service))
    return {"offers": _at_catalogue_rows(offers, country, service), **form.cleaned_data}


def _at_catalogue_rows(offers, country, service):
    """`offers` narrowed to the account of an unmapped catalogue entry ("u<id>", the
    search's "Other" options), which no canonical country or service stands for."""
    if isinstance(country, CatalogCountry) and country.country is None:
        offers = offers.filter(account=country.account, name__iexact=country.name)
    if isinstance(service, CatalogService) and service.service is None:
        offers = offers.filter(account=service.account).filter(
            Q(service_upstream_id=service.upstream_id)
            | Q(service__isnull=True, service_upstream_id="")
        )
    return offers


@login_required
@require_http_methods(["GET", "POST"])
def rental_new(request, code):
    membership = get_team_for_user(request, code)
    team = membership.team
    if request.method == "POST":
        get_team_for_user(request, code, Permission.ORDER)
        return _rent(request, membership)
    rentals = Rental.objects.filter(team=team)
    ctx = {
        "team": team,
        "can_order": membership.can(Permission.ORDER),
        # Favourites of the rent page are the team's rentals (the order form's, its orders).
        "service_options": picks.service_options(team, history=rentals),
        "country_options": picks.country_options(team, history=rentals),
        "idempotency_key": new_idempotency_key(),
        "query": request.GET,
        **_offer_table(request, team),
    }
    return render(request, "rentals/new.html", ctx)


def _rent_data(post):
    """The form data, with the offers table's one radio ("<offer>:<length>") split."""
    data = post.copy()
    offer, _, length = data.get("choice", "").partition(":")
    if offer and length:
        data["offer"], data["duration"] = offer, length
    return data


def _rent(request, membership):
    team = membership.team
    form = RentForm(_rent_data(request.POST), team=team)
    if not form.is_valid():
        messages.error(request, form.error_text())
        return redirect("rental_new", code=team.code)
    offer = form.cleaned_data["offer"]
    choice = services.RentChoice(
        offer=offer, duration=form.cleaned_data["duration"], service=form.cleaned_data["service"]
    )
    if request.POST.get("confirm") != "1":
        ctx = {"team": team, "choice": choice, "form": form, "offer": offer}
        return render(request, "rentals/confirm.html", ctx)
    try:
        rental = services.rental_rent(
            membership=membership,
            choice=choice,
            idempotency_key=form.cleaned_data["idempotency_key"],
            label=form.cleaned_data["label"],
            note=form.cleaned_data["note"],
            request=request,
        )
    except services.RentalError as exc:
        messages.error(request, " ".join(filter(None, [exc.message, exc.next_step])))
        return redirect("rental_new", code=team.code)
    if rental.state == RentalState.FAILED:
        messages.error(request, f"This rental failed earlier: {rental.error}")
        return redirect("rental_new", code=team.code)
    if rental.state in (RentalState.UNCONFIRMED, RentalState.PLACING):
        messages.warning(
            request,
            f"{rental.account.label} did not answer clearly ({rental.error or 'still renting'}). "
            "smsdesk is checking with the provider whether the number was rented; this page "
            "shows it once confirmed, and nothing is charged if it was not.",
        )
        return redirect("rental_detail", rental_code=rental.code)
    messages.success(
        request,
        f"Rented {rental.international_number} until "
        f"{timezone.localtime(rental.expires_at):%b %d, %H:%M}.",
    )
    return redirect("rental_detail", rental_code=rental.code)


def _detail_context(request, rental, membership, details_form=None) -> dict:
    refund_allowed, refund_reason = services.refund_status(rental)
    offer = rental.offer
    return {
        "team": rental.team,
        "rental": rental,
        "inbox": rental.messages.all()[:200],
        "can_order": membership.can(Permission.ORDER),
        "refund_allowed": refund_allowed,
        "refund_reason": refund_reason,
        "extend_options": offer.extend_durations()
        if offer and rental.account.supports(Capability.RENTAL_EXTEND)
        else [],
        "supports_wake": rental.account.supports(Capability.RENTAL_WAKE),
        "supports_auto_extend": rental.account.supports(Capability.RENTAL_AUTO_EXTEND),
        "details_form": details_form
        or DetailsForm(initial={"label": rental.label, "note": rental.note}),
        "events": AuditEvent.objects.filter(target_type="rental", target_code=str(rental.code))[
            :50
        ],
        "charges": rental.ledger.order_by("created", "id"),
        "now": timezone.now(),
    }


@login_required
@require_GET
def rental_detail(request, rental_code):
    rental, membership = get_object_for_user(
        request, Rental.objects.select_related("account", "offer", "rented_by"), rental_code
    )
    return render(request, "rentals/detail.html", _detail_context(request, rental, membership))


@login_required
@require_GET
def rental_inbox(request, rental_code):
    rental, membership = get_object_for_user(
        request, Rental.objects.select_related("account", "offer"), rental_code
    )
    ctx = _detail_context(request, rental, membership)
    return render(request, "rentals/detail.html#inbox", ctx)


def _act(request, rental_code, action, success: str):
    rental, _ = get_object_for_user(
        request, Rental.objects.select_related("account", "offer"), rental_code, Permission.ORDER
    )
    try:
        action(rental)
    except services.RentalError as exc:
        messages.error(request, " ".join(filter(None, [exc.message, exc.next_step])))
    except ProviderError as exc:
        messages.error(request, f"{rental.account.label}: {exc.message}")
    else:
        messages.success(request, success)
    return redirect("rental_detail", rental_code=rental.code)


def _confirm_context(request, rental_code):
    """The rental (for a member who may act on it) and what its detail page knows."""
    rental, membership = get_object_for_user(
        request, Rental.objects.select_related("account", "offer"), rental_code, Permission.ORDER
    )
    return rental, _detail_context(request, rental, membership)


def _length(duration: int, unit: str) -> timedelta:
    """How long `duration` units of the rental last (the provider's answer decides)."""
    return timedelta(hours=duration) if unit == Unit.HOUR else timedelta(days=duration)


def _charged(rental) -> Decimal:
    """Everything charged for the rental so far (the rent and its extensions)."""
    return rental.ledger.filter(amount__gt=0).aggregate(total=Sum("amount"))["total"] or Decimal(0)


@login_required
@require_http_methods(["GET", "POST"])
def rental_extend(request, rental_code):
    """GET (the detail page's form): the confirmation step, with the price and the new
    expiry; POST: extend."""
    if request.method == "GET":
        rental, ctx = _confirm_context(request, rental_code)
        form = ExtendForm(request.GET)
        duration = form.cleaned_data["duration"] if form.is_valid() else None
        price = dict(ctx["extend_options"]).get(duration)
        if not rental.is_active or price is None:
            messages.error(
                request,
                f"The rental is {rental.get_state_display().lower()}: it cannot be extended."
                if not rental.is_active
                else "Choose one of the lengths offered for this rental.",
            )
            return redirect("rental_detail", rental_code=rental.code)
        ctx.update(
            action="extend",
            duration=duration,
            price=price,
            new_expiry=(rental.expires_at or timezone.now()) + _length(duration, rental.unit),
        )
        return render(request, "rentals/confirm_action.html", ctx)
    form = ExtendForm(request.POST)
    duration = form.cleaned_data["duration"] if form.is_valid() else 0

    def extend(rental):
        if not duration:
            raise services.RentalError("Choose how long to extend by.")
        services.rental_extend(
            rental=rental, duration=duration, actor=request.user, request=request
        )

    return _act(request, rental_code, extend, "Rental extended.")


@login_required
@require_http_methods(["GET", "POST"])
def rental_refund(request, rental_code):
    """GET: the confirmation step, with the amount; POST: refund."""
    if request.method == "GET":
        rental, ctx = _confirm_context(request, rental_code)
        if not ctx["refund_allowed"]:
            messages.error(request, ctx["refund_reason"])
            return redirect("rental_detail", rental_code=rental.code)
        ctx.update(action="refund", amount=_charged(rental))
        return render(request, "rentals/confirm_action.html", ctx)
    return _act(
        request,
        rental_code,
        lambda r: services.rental_refund(rental=r, actor=request.user, request=request),
        "Rental refunded.",
    )


@login_required
@require_POST
def rental_wake(request, rental_code):
    return _act(
        request,
        rental_code,
        lambda r: services.rental_wake(rental=r, actor=request.user, request=request),
        "The line is awake and ready to receive.",
    )


@login_required
@require_POST
def rental_auto_extend(request, rental_code):
    enabled = request.POST.get("enabled") == "1"
    return _act(
        request,
        rental_code,
        lambda r: services.rental_set_auto_extend(
            rental=r, enabled=enabled, actor=request.user, request=request
        ),
        "Auto-extend turned " + ("on." if enabled else "off."),
    )


@login_required
@require_POST
def rental_details(request, rental_code):
    form = DetailsForm(request.POST)
    if form.is_valid():
        return _act(
            request,
            rental_code,
            lambda r: services.rental_set_details(
                rental=r, actor=request.user, request=request, **form.cleaned_data
            ),
            "Saved.",
        )
    rental, membership = get_object_for_user(
        request, Rental.objects.select_related("account", "offer"), rental_code, Permission.ORDER
    )
    # Refused whole, the text kept in the fields to shorten: nothing is cut silently.
    messages.error(request, form.error_text())
    ctx = _detail_context(request, rental, membership, details_form=form)
    return render(request, "rentals/detail.html", ctx, status=400)


@login_required
@require_POST
def rental_refresh(request, rental_code):
    return _act(
        request,
        rental_code,
        lambda r: services.rental_refresh(rental=r),
        "Refreshed from the provider.",
    )

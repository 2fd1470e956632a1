from __future__ import annotations

import csv
import functools
from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.forms.utils import ErrorDict
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.backends.utils import csrf_input
from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import get_object_for_user, get_team_for_user
from accounts.redirects import redirect_next
from accounts.roles import Permission
from audit.models import AuditEvent
from orders import board as live
from orders import bulk, quickpicks, quotes, services
from orders.errors import CancelLocked, OrderActionError
from orders.forms import (
    AUTO_CHEAPEST,
    AUTO_RELIABLE,
    BoardFilterForm,
    HistoryFilterForm,
    NoteForm,
    OrderForm,
    PairForm,
)
from orders.models import BOARD_STATES, Order, OrderMessage, State
from providers.forms import new_idempotency_key
from providers.types import PricingOption

HISTORY_PAGE = 50


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- the live board -----------------------------------------------------------------------


def _board_form(request, membership):
    """(the filter form, its Filters or None when a value is not valid)."""
    form = BoardFilterForm(request.GET, team=membership.team, user=request.user)
    return form, (form.filters() if form.is_valid() else None)


def _board_context(request, membership, form, filters, version=None) -> dict:
    """The board's rows (the first `filters.rows` of them) and what the page says
    about them; no rows at all when the filters are not valid. `version`: the board's,
    when the caller has just read it (read before the rows, it may only be older)."""
    team = membership.team
    ctx = {
        "team": team,
        "form": form,
        "filters": filters,
        "version": version or live.version(team),
        "can_order": membership.can(Permission.ORDER),
        "csrf_field": csrf_input(request),
        "now": timezone.now(),
        "orders": [],
        "total": 0,
    }
    if filters is None:
        return ctx
    rows = live.rows_for(team, filters)
    ctx["orders"] = _board_rows(rows[: filters.rows], filters)
    ctx["total"] = rows.count()
    ctx["hidden"] = ctx["total"] - len(ctx["orders"])
    query = request.GET.copy()
    for name in ("v", "rows"):
        query.pop(name, None)
    ctx["live_query"] = query.urlencode()
    if ctx["hidden"] > 0:
        ctx["more_rows"] = min(live.WINDOW_MAX, filters.rows + live.WINDOW_STEP)
        query["rows"] = str(ctx["more_rows"])
        ctx["more_query"] = query.urlencode() if ctx["more_rows"] > filters.rows else ""
    return ctx


def _board_rows(orders, filters) -> list[Order]:
    """`orders` ready for the row template: cancel state and the key they sort by."""
    orders = with_cancel_state(orders)
    for order in orders:
        order.sort_key = live.sort_key(order, filters.sort)
    return orders


def with_cancel_state(orders, now=None) -> list[Order]:
    """`orders` as a list, each with `cancel_button` and `cancel_dropped` set.

    `cancel_button`: "" (none), "cancel" (the provider allows it now) or
    "when_allowed". `cancel_dropped`: why a "cancel when allowed" was given up
    ("a code arrived"), or "".
    """
    orders = list(orders)
    now = now or timezone.now()
    dropped = _dropped_cancels([o for o in orders if o.state == State.RECEIVED])
    texts = _sms_texts([o for o in orders if o.last_code])
    links = _link_patterns(get_script_prefix())
    for order in orders:
        order.sms_text = texts.get(order.pk, "")
        order.cancel_button = _cancel_button(order, now)
        order.cancel_dropped = dropped.get(str(order.code), "")
        code = str(order.code)
        order.links = {name: url.replace(PLACEHOLDER, code) for name, url in links.items()}
        order.left = (
            live.duration((order.expires_at - now).total_seconds()) if order.expires_at else ""
        )
    return orders


PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


@functools.cache
def _link_patterns(prefix: str) -> dict[str, str]:
    """The row's links with a placeholder code, reversed once: a board of hundreds of rows
    spent more time reversing URLs than anything else."""
    names = ("detail", "cancel", "resend", "complete", "replace")
    return {name: reverse(f"order_{name}", args=[PLACEHOLDER]) for name in names}


# Providers whose order status says when cancelling opens, and null once it is open
# (SMSCode's cancel_available_at). The others lock cancelling at first without saying
# for how long (SMSPool, NumPool, SMS-Activate): for them no time means "not known".
CANCEL_TIME_REPORTED = frozenset({"smscode"})


def _cancel_button(order: Order, now) -> str:
    if not order.awaits_code or order.cancel_requested:
        return ""
    # "When allowed" cancels at once where the provider allows it and otherwise
    # schedules the cancel; a plain Cancel would be refused while the lock lasts.
    lock = order.cancel_available_at
    if order.cancel_refusals or (lock is not None and lock > now):
        return "when_allowed"
    if lock is None and order.account.kind not in CANCEL_TIME_REPORTED:
        return "when_allowed"  # maybe locked, for how long nobody says
    return "cancel"


def _sms_texts(orders: list[Order]) -> dict[int, str]:
    """{order id: the text of its newest SMS} for `orders` (one query)."""
    if not orders:
        return {}
    texts = (
        OrderMessage.objects.filter(order_id__in=[o.pk for o in orders])
        .order_by("order_id", "received_at", "id")
        .values_list("order_id", "text")
    )
    return dict(texts)  # the newest of each order comes last, and stays


def _dropped_cancels(orders: list[Order]) -> dict[str, str]:
    """{order code: why its scheduled cancel was dropped} for `orders` (one query)."""
    if not orders:
        return {}
    events = AuditEvent.objects.filter(
        team_id=orders[0].team_id,
        target_type="order",
        target_code__in=[str(o.code) for o in orders],
        action=services.CANCEL_DROPPED,
    ).values_list("target_code", "payload")
    return {code: (payload or {}).get("reason", "") for code, payload in events}


@login_required
@require_GET
def board(request, code):
    membership = get_team_for_user(request, code)
    form, filters = _board_form(request, membership)
    ctx = _board_context(request, membership, form, filters)
    ctx["service_names"] = _board_services(membership.team, form)
    return render(request, "orders/board.html", ctx, status=200 if filters else 400)


def _board_services(team, form) -> list[str]:
    """The services of the numbers on the board (the service filter's choices)."""
    names = set(
        Order.objects.filter(team=team, state__in=BOARD_STATES)
        .order_by()
        .values_list("service_name", flat=True)
        .distinct()
    )
    if form.is_valid() and form.cleaned_data["service"]:
        names.add(form.cleaned_data["service"])
    return sorted(names, key=str.lower)


@login_required
@require_GET
def board_fragment(request, code):
    """The board's live part. With the version the browser has (`v`): 204 while nothing
    changed, else only the rows that changed, entered or left (orders/board.py).
    Without one: the whole board."""
    membership = get_team_for_user(request, code)
    team = membership.team
    current = live.version(team)
    sent = request.GET.get("v", "")
    if sent == current:
        return HttpResponse(status=204)
    form, filters = _board_form(request, membership)
    seen = live.parse(sent)
    if seen is None or filters is None:
        ctx = _board_context(request, membership, form, filters, current)
        return render(request, "orders/board.html#board", ctx, status=200 if filters else 400)
    rows, gone = live.split(live.changed_since(team, seen, current), team, filters)
    ctx = {
        "team": team,
        "orders": _board_rows(rows, filters),
        "gone": gone,
        "version": current,
        "total": _live_total(team, filters, seen, current),
        "filters": filters,
        "can_order": membership.can(Permission.ORDER),
        "csrf_field": csrf_input(request),
    }
    return render(request, "orders/board.html#changes", ctx)


def _live_total(team, filters, seen, current) -> int | None:
    """How many rows the board has now; None (the browser's count stands) when an
    unfiltered board holds the same orders as before (a code arrived, say)."""
    if not filters.narrowed and live.same_rows(seen, current):
        return None
    return live.rows_for(team, filters).count()


BULK_ACTIONS = {"cancel", "complete", "resend"}
BULK_MAX = 500


@login_required
@require_POST
def board_bulk(request, code):
    """One action on the selected rows, each order through its own service; one
    summary message ("3 cancelled, 1 scheduled, 1 refused: why")."""
    membership = get_team_for_user(request, code, Permission.ORDER)
    team = membership.team
    back = reverse("board", args=[team.code])
    action = request.POST.get("action", "")
    codes = request.POST.getlist("order")
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose what to do with the selected numbers.")
    elif not codes:
        messages.error(request, "Select at least one number first.")
    elif len(codes) > BULK_MAX:
        messages.error(request, f"Select at most {BULK_MAX} numbers at once.")
    else:
        outcome = _bulk(request, team, action, codes)
        level = messages.success if not outcome.refused else messages.warning
        level(request, outcome.summary(action))
    return redirect_next(request, request.POST.get("next"), back)


def _bulk(request, team, action: str, codes: list[str]) -> bulk.Outcome:
    outcome = bulk.Outcome()
    valid = bulk.valid_codes(codes)
    orders = Order.objects.filter(team=team, code__in=valid).select_related("account", "team")
    found = {str(o.code): o for o in orders}
    for text in dict.fromkeys(codes):
        order = found.get(text.strip().lower())
        if order is None:
            outcome.refuse(text[:40], "not a number of this team")
            continue
        _bulk_one(request, order, action, outcome)
    return outcome


def _bulk_one(request, order: Order, action: str, outcome: bulk.Outcome) -> None:
    """One order of a bulk action, through the same service as its own button."""
    label = order.international_number or order.service_name
    try:
        if action == "cancel":
            done = services.order_cancel(
                order=order, actor=request.user, when_allowed=True, request=request
            )
            outcome.add("cancelled" if done.state == State.CANCELLED else "ended", label)
        elif action == "complete":
            services.order_complete(order=order, actor=request.user, request=request)
            outcome.add("done", label)
        else:
            services.order_resend(order=order, actor=request.user, request=request)
            outcome.add("asked for another code", label)
    except CancelLocked:
        outcome.add("scheduled", label)
    except OrderActionError as exc:
        outcome.refuse(label, exc.message)


# --- ordering ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def order_new(request, code):
    membership = get_team_for_user(request, code)
    team = membership.team
    if request.method == "POST" and request.POST.get("show_offers"):
        return _show_offers(request, membership)
    if request.method == "POST":
        get_team_for_user(request, code, Permission.ORDER)
        return _place(request, membership)
    initial = {"idempotency_key": new_idempotency_key(), "offer": AUTO_CHEAPEST}
    form = OrderForm(initial={**initial, **request.GET.dict()}, team=team)
    ctx = _order_form_context(request, membership, form)
    ctx.update(_offers_context(request, team, request.GET))
    return render(request, "orders/new.html", ctx)


def _order_form_context(request, membership, form) -> dict:
    team = membership.team
    return {
        "team": team,
        "form": form,
        "can_order": membership.can(Permission.ORDER),
        "service_options": quotes.service_options(team),
        "country_options": quotes.country_options(team),
    }


def _show_offers(request, membership):
    """ "Show offers" (and Enter in a field): the form again, with the offers, by POST
    so that the CSRF token and the idempotency key never reach a URL. Buys nothing."""
    form = OrderForm(request.POST, team=membership.team)
    form.is_valid()
    # Only what the offers need is checked here; the rest is checked when buying.
    form._errors = ErrorDict({k: v for k, v in form.errors.items() if k in ("service", "country")})
    ctx = _order_form_context(request, membership, form)
    ctx.update(_offers_context(request, membership.team, request.POST))
    return render(request, "orders/new.html", ctx)


def _offers_context(request, team, data) -> dict:
    if not data.get("service") or not data.get("country"):
        return {"offers": None}
    pair = PairForm(data, team=team)
    if not pair.is_valid():
        return {"offers": None, "pair_errors": pair.errors}
    service, country = pair.cleaned_data["service"], pair.cleaned_data["country"]
    offers = quotes.offers_for(team, service, country)
    selected = data.get("offer") or AUTO_CHEAPEST
    picked = None if selected.startswith("auto:") else _find(offers, selected)
    lost = not selected.startswith("auto:") and picked is None
    if lost:
        selected = AUTO_CHEAPEST  # the pick is not sold for this pair: say so below
    return {
        "offers": offers,
        "service": service,
        "country": country,
        "selected_offer": selected,
        "pick_lost": lost,
        "charged": picked or _auto_pick(offers, selected),
    }


def _find(offers, key: str):
    return next((o for o in offers if o.key == key), None)


def _auto_pick(offers, selected: str):
    """The offer "let smsdesk pick" would buy from now, or None."""
    strategy = PricingOption.BEST_SUCCESS if selected == AUTO_RELIABLE else PricingOption.CHEAPEST
    ranked = quotes.sort_offers(offers, strategy)
    return ranked[0] if ranked and ranked[0].in_stock else None


@login_required
@require_GET
def offers(request, code):
    """The offers table for a service and country (htmx fragment)."""
    membership = get_team_for_user(request, code)
    ctx = {"team": membership.team, **_offers_context(request, membership.team, request.GET)}
    return render(request, "orders/offers.html", ctx)


def _place(request, membership):
    team = membership.team
    form = OrderForm(request.POST, team=team)
    if not form.is_valid():
        return _form_again(request, membership, form, status=400)
    data = form.cleaned_data
    all_offers = quotes.offers_for(team, data["service"], data["country"])
    options = services.Options(
        max_price=data["max_price"],
        pricing_option=form.strategy,
        quantity=data["quantity"],
        area_codes=data["area_codes"],
        exclude_area_codes=data["exclude_area_codes"],
        carrier=data["carrier"],
        activation_type=data["activation_type"],
        operator=data["operator"],
    )
    choices = _choices(form, all_offers, options)
    if not choices:
        form.add_error(None, "No provider account of the team offers this with these options.")
        return _form_again(request, membership, form, status=400)
    try:
        placed = services.order_place(
            membership=membership,
            choices=choices,
            options=options,
            idempotency_key=data["idempotency_key"],
            note=data["note"],
            auto_replace=data["auto_replace"],
            failover=data["failover"],
            request=request,
        )
    except OrderActionError as exc:
        return _form_again(request, membership, form, error=exc, status=200)
    return _placed(request, team, placed, data["quantity"])


def _choices(form, all_offers, options) -> list[services.Choice]:
    """The offers to try, in order: the picked one first, then (for failover) the rest."""
    workable = [o for o in all_offers if not options.unsupported_by(o.account)]
    picked_key = form.cleaned_data["offer"]
    if picked_key.startswith("auto:"):
        return [o.choice for o in quotes.sort_offers(workable, form.strategy)]
    picked = next((o for o in workable if o.key == picked_key), None)
    if picked is None:
        return []
    return [picked.choice, *[o.choice for o in workable if o.key != picked.key]]


def _form_again(request, membership, form, *, error=None, status=200):
    # A failed attempt used its key; a new attempt must get a fresh one.
    data = request.POST.copy()
    data["idempotency_key"] = new_idempotency_key()
    fresh = OrderForm(data, team=membership.team)
    fresh.is_valid()
    if form.errors:
        fresh._errors = form.errors
    ctx = _order_form_context(request, membership, fresh)
    ctx.update(_offers_context(request, membership.team, request.POST))
    ctx["error"] = error
    return render(request, "orders/new.html", ctx, status=status)


def _placed(request, team, placed: list[Order], quantity: int = 1):
    first = placed[0]
    if first.state == State.FAILED:
        messages.error(request, f"This order failed earlier: {first.error}")
    elif first.state == State.UNCONFIRMED:
        messages.warning(
            request,
            f"{first.account.label} did not answer clearly ({first.error}). smsdesk is "
            "checking with the provider whether this purchase went through; the board shows "
            "the number once it is confirmed, and nothing is charged if it was not.",
        )
    elif quantity == 1 and len(placed) == 1:
        messages.success(
            request,
            f"{first.international_number} ordered for {first.service_name} "
            f"({first.account.label}). The code appears here as soon as it arrives.",
        )
    else:
        _placed_several(request, placed, quantity)
    return redirect("board", code=team.code)


def _placed_several(request, placed: list[Order], quantity: int) -> None:
    bought, why = services.placement_summary(placed, quantity)
    labels = ", ".join(sorted({o.account.label for o in placed if o.upstream_id}))
    if not why:
        messages.success(
            request, f"{bought} numbers ordered ({labels}). Codes appear as they arrive."
        )
        return
    others = quantity - bought
    messages.warning(
        request,
        f"{bought} of {quantity} numbers ordered ({labels}); the other {others} "
        f"{'was' if others == 1 else 'were'} not: {why}.",
    )


# --- one order -----------------------------------------------------------------------------


@login_required
@require_GET
def order_detail(request, order_code):
    order, membership = get_object_for_user(
        request, Order.objects.select_related("account", "ordered_by"), order_code
    )
    note_form = NoteForm(initial={"note": order.note})
    return render(request, "orders/detail.html", _detail_context(order, membership, note_form))


def _detail_context(order: Order, membership, note_form) -> dict:
    events = AuditEvent.objects.filter(target_type="order", target_code=str(order.code))
    return {
        "team": order.team,
        "order": with_cancel_state([order])[0],
        "order_messages": order.messages.all(),
        "events": events[:50],
        "can_order": membership.can(Permission.ORDER),
        "note_form": note_form,
        "replaced_by": Order.objects.filter(replaces=order).first(),
    }


@login_required
@require_GET
def order_row(request, order_code):
    order, membership = get_object_for_user(request, Order.objects, order_code)
    return _row(request, order, membership)


def _row(request, order: Order, membership, status=200):
    """The order's board row, plus the flash messages swapped out of band."""
    order = Order.objects.select_related("account", "ordered_by").get(pk=order.pk)
    ctx = {
        "order": with_cancel_state([order])[0],
        "can_order": membership.can(Permission.ORDER),
        "csrf_field": csrf_input(request),
        "team": order.team,
    }
    row = render_to_string("orders/board.html#row", ctx, request=request)
    flash = render_to_string("includes/messages.html", {"oob": True}, request=request)
    return HttpResponse(row + flash, status=status)


def _act(request, order_code, action):
    """Run an order action; answer with the updated row (htmx) or a redirect."""
    order, membership = get_object_for_user(request, Order.objects, order_code, Permission.ORDER)
    response_order = order
    try:
        response_order = action(order, membership) or order
    except CancelLocked as exc:
        text = (
            f"{exc} smsdesk will cancel it then."
            if exc.scheduled
            else f"{exc} Use “cancel when allowed” to have smsdesk do it."
        )
        # Tagged with the order: the board takes the notice down if the cancel is dropped.
        messages.warning(request, text, extra_tags=f"cancel-{order.code}")
    except OrderActionError as exc:
        messages.error(request, " ".join(filter(None, [exc.message, exc.next_step])))
    if _is_htmx(request):
        response = _row(
            request,
            response_order if response_order.team_id == order.team_id else order,
            membership,
        )
        response["HX-Trigger"] = "orders-changed"
        return response
    return redirect_next(
        request, request.POST.get("next"), reverse("board", args=[order.team.code])
    )


@login_required
@require_POST
def order_cancel(request, order_code):
    when_allowed = request.POST.get("when_allowed") == "1"
    return _act(request, order_code, lambda order, m: _cancelled(request, order, when_allowed))


def _cancelled(request, order, when_allowed):
    done = services.order_cancel(
        order=order, actor=request.user, when_allowed=when_allowed, request=request
    )
    messages.success(request, f"{order.international_number} cancelled; refund recorded.")
    return done


@login_required
@require_POST
def order_resend(request, order_code):
    def resend(order, membership):
        done = services.order_resend(order=order, actor=request.user, request=request)
        messages.success(request, "Another code requested; it appears here when it arrives.")
        return done

    return _act(request, order_code, resend)


@login_required
@require_POST
def order_complete(request, order_code):
    def complete(order, membership):
        done = services.order_complete(order=order, actor=request.user, request=request)
        messages.success(request, f"{order.international_number} marked as done.")
        return done

    return _act(request, order_code, complete)


@login_required
@require_POST
def order_replace(request, order_code):
    def new_number(order, membership):
        new = services.order_replace(order=order, membership=membership, request=request)
        messages.success(request, f"New number {new.international_number} ordered.")
        return new

    return _act(request, order_code, new_number)


@login_required
@require_POST
def order_note(request, order_code):
    order, membership = get_object_for_user(
        request, Order.objects.select_related("account", "ordered_by"), order_code, Permission.ORDER
    )
    form = NoteForm(request.POST)
    if not form.is_valid():
        # Refused whole, the text kept in the field to shorten: nothing is cut silently.
        messages.error(request, form.error_text())
        ctx = _detail_context(order, membership, form)
        return render(request, "orders/detail.html", ctx, status=400)
    services.order_set_note(
        order=order, note=form.cleaned_data["note"], actor=request.user, request=request
    )
    messages.success(request, "Note saved.")
    return redirect("order_detail", order_code=order.code)


# --- history --------------------------------------------------------------------------------


def _filtered_history(team, form):
    orders = Order.objects.filter(team=team).select_related("account", "ordered_by")
    if not form.is_valid():
        return orders
    data = form.cleaned_data
    if data["member"]:
        orders = orders.filter(ordered_by_id=data["member"])
    if data["service"]:
        orders = orders.filter(service_name=data["service"])
    if data["country"]:
        orders = orders.filter(country_name=data["country"])
    if data["provider"]:
        orders = orders.filter(account__code=data["provider"])
    if data["status"]:
        orders = orders.filter(state=data["status"])
    tz = timezone.get_current_timezone()
    if data["since"]:
        orders = orders.filter(created__gte=datetime.combine(data["since"], time.min, tz))
    if data["until"]:
        orders = orders.filter(created__lte=datetime.combine(data["until"], time.max, tz))
    if data["q"]:
        digits = "".join(ch for ch in data["q"] if ch.isdigit())
        orders = orders.filter(phone_number__contains=digits or data["q"])
    return orders


def _keyset(orders, cursor: str):
    """Orders older than `cursor` ("<created iso>_<id>"); ignores a malformed cursor."""
    try:
        created_text, pk_text = cursor.rsplit("_", 1)
        created, pk = datetime.fromisoformat(created_text), int(pk_text)
    except (ValueError, AttributeError):
        return orders
    # Out of range, the database (or the conversion to UTC) fails rather than filters.
    if not pk_text.isascii() or not 0 < pk < 2**63 or not 2000 <= created.year < 9999:
        return orders
    if timezone.is_naive(created):
        created = timezone.make_aware(created, timezone.get_current_timezone())
    return orders.filter(Q(created__lt=created) | Q(created=created, id__lt=pk))


@login_required
@require_GET
def history(request, code):
    membership = get_team_for_user(request, code)
    team = membership.team
    form = HistoryFilterForm(request.GET or None, team=team)
    orders = _filtered_history(team, form).order_by("-created", "-id")
    if request.GET.get("format") == "csv":
        return _csv(team, orders)
    page = list(_keyset(orders, request.GET.get("before", ""))[: HISTORY_PAGE + 1])
    has_more = len(page) > HISTORY_PAGE
    page = page[:HISTORY_PAGE]
    query = request.GET.copy()
    query.pop("before", None)
    ctx = {
        "team": team,
        "form": form,
        "orders": page,
        "next_cursor": f"{page[-1].created.isoformat()}_{page[-1].pk}" if has_more else "",
        "query": query.urlencode(),
        "first_page": not request.GET.get("before"),
    }
    return render(request, "orders/history.html", ctx)


class _Echo:
    def write(self, value):
        return value


CSV_COLUMNS = [
    "created",
    "order",
    "member",
    "provider",
    "service",
    "country",
    "phone_number",
    "status",
    "upstream_status",
    "cost",
    "currency",
    "codes",
    "note",
]


def _csv(team, orders):
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for order in orders.prefetch_related("messages").iterator(chunk_size=500):
            yield writer.writerow(
                [
                    order.created.isoformat(),
                    order.code,
                    order.ordered_by.get_username() if order.ordered_by else "system",
                    order.account.label,
                    order.service_name,
                    order.country_name,
                    order.international_number,
                    order.state,
                    order.upstream_status,
                    order.cost if order.cost is not None else "",
                    order.currency,
                    " ".join(m.code for m in order.messages.all() if m.code),
                    order.note,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
    return response


@login_required
@require_POST
def order_favourite(request, code):
    """Star (or unstar) the service and country in the order form for the member, and
    show the form again with them."""
    membership = get_team_for_user(request, code)
    team = membership.team
    pair = PairForm(request.POST, team=team)
    back = reverse("order_new", args=[team.code])
    if not pair.is_valid():
        messages.error(request, " ".join(e for errors in pair.errors.values() for e in errors))
        return redirect(back)
    starred = quickpicks.favourite_toggle(
        team=team,
        user=request.user,
        service=pair.cleaned_data["service"],
        country=pair.cleaned_data["country"],
    )
    text = f"{pair.data['service']} · {pair.data['country']}"
    if starred:
        messages.success(request, f"{text} is one click away now, at the top of this form.")
    else:
        messages.info(request, f"{text} is no longer a favourite.")
    query = urlencode({"service": pair.data["service"], "country": pair.data["country"]})
    return redirect(f"{back}?{query}")

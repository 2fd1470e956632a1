"""Webhook pages for managers: endpoints, their delivery log, a test button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import RoleRequired, get_object_for_user, get_team_for_user
from accounts.roles import Permission
from webhooks import services
from webhooks.forms import EndpointForm
from webhooks.models import Attempt, Delivery, Endpoint

LOG_SIZE = 50


def _endpoints(team):
    return Endpoint.objects.filter(team=team).select_related("owner").with_trouble()


@login_required
@require_http_methods(["GET", "POST"])
def webhooks(request, code):
    membership = get_team_for_user(request, code, Permission.MANAGE_TEAM)
    team = membership.team
    form = EndpointForm(request.POST or None)
    ctx = {"team": team, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.endpoint_create(
                team=team, actor=request.user, request=request, **form.cleaned_data
            )
        except services.WebhookError as exc:
            form.add_error("url", exc.message)
        else:
            # Shown on this answer only: it is never displayed again.
            ctx.update(new_endpoint=endpoint, secret=secret, form=EndpointForm())
    ctx["endpoints"] = _endpoints(team)
    return render(request, "webhooks/list.html", ctx, status=200)


def _get(request, endpoint_code) -> tuple[Endpoint, object]:
    endpoint, membership = get_object_for_user(request, Endpoint.objects, endpoint_code)
    _check_may_manage(membership, endpoint)
    return endpoint, membership


def _check_may_manage(membership, endpoint: Endpoint) -> None:
    """The team's managers manage every endpoint; a member, their personal ones."""
    if endpoint.owner_id is not None and endpoint.owner_id == membership.user_id:
        return
    if not membership.can(Permission.MANAGE_TEAM):
        raise RoleRequired(membership, Permission.MANAGE_TEAM)


def _home(endpoint: Endpoint, membership):
    """Where the endpoint is listed: its owner's API page, or the team's webhooks."""
    if endpoint.is_personal and endpoint.owner_id == membership.user_id:
        return redirect("api_keys", code=membership.team.code)
    return redirect("webhooks", code=membership.team.code)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request, endpoint_code):
    endpoint, _ = _get(request, endpoint_code)
    initial = {k: getattr(endpoint, k) for k in ("url", "description", "events", "enabled")}
    form = EndpointForm(request.POST or None, initial=initial, personal=endpoint.is_personal)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(
                endpoint=endpoint, actor=request.user, request=request, **form.cleaned_data
            )
        except services.WebhookError as exc:
            form.add_error("url", exc.message)
        else:
            messages.success(request, "Webhook saved.")
            return redirect("webhook_detail", endpoint_code=endpoint.code)
    return render(request, "webhooks/detail.html", _detail_context(endpoint, form))


def _detail_context(endpoint: Endpoint, form, **extra) -> dict:
    deliveries = (
        Delivery.objects.filter(endpoint=endpoint)
        .prefetch_related(Prefetch("tries", queryset=Attempt.objects.order_by("number")))
        .order_by("-created", "-id")[:LOG_SIZE]
    )
    return {
        "team": endpoint.team,
        "endpoint": endpoint,
        "form": form,
        "deliveries": deliveries,
        **extra,
    }


@login_required
@require_POST
def webhook_test(request, endpoint_code):
    endpoint, _ = _get(request, endpoint_code)
    try:
        delivery = services.endpoint_send_test(
            endpoint=endpoint, actor=request.user, request=request
        )
    except services.WebhookError as exc:
        messages.error(request, exc.message)
        return redirect("webhook_detail", endpoint_code=endpoint.code)
    attempt = delivery.tries.last()
    if attempt is not None and attempt.ok:
        messages.success(
            request, f"Test event delivered: {attempt.status_code} in {attempt.duration_ms} ms."
        )
    elif attempt is not None:
        outcome = attempt.status_code or attempt.error
        messages.error(request, f"Test event not accepted: {outcome}")
    return redirect("webhook_detail", endpoint_code=endpoint.code)


@login_required
@require_POST
def webhook_redeliver(request, delivery_code):
    delivery, membership = get_object_for_user(
        request, Delivery.objects.select_related("endpoint"), delivery_code
    )
    _check_may_manage(membership, delivery.endpoint)
    try:
        delivery = services.delivery_redeliver(
            delivery=delivery, actor=request.user, request=request
        )
    except services.WebhookError as exc:
        messages.error(request, exc.message)
    else:
        attempt = delivery.tries.order_by("number").last()
        outcome = attempt.status_code or attempt.error if attempt else ""
        level = messages.success if attempt is not None and attempt.ok else messages.error
        level(request, f"Sent again: {outcome}")
    return redirect("webhook_detail", endpoint_code=delivery.endpoint.code)


@login_required
@require_POST
def webhook_secret(request, endpoint_code):
    endpoint, _ = _get(request, endpoint_code)
    secret = services.endpoint_rotate_secret(endpoint=endpoint, actor=request.user, request=request)
    initial = {k: getattr(endpoint, k) for k in ("url", "description", "events", "enabled")}
    form = EndpointForm(initial=initial, personal=endpoint.is_personal)
    ctx = _detail_context(endpoint, form, secret=secret)
    return render(request, "webhooks/detail.html", ctx)


@login_required
@require_POST
def webhook_delete(request, endpoint_code):
    endpoint, membership = _get(request, endpoint_code)
    services.endpoint_delete(endpoint=endpoint, actor=request.user, request=request)
    messages.success(request, "Webhook removed; its pending retries stop.")
    return _home(endpoint, membership)

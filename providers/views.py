from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import get_object_for_user, get_team_for_user
from accounts.roles import Permission
from config import queue
from providers import services
from providers.forms import ProviderAccountForm
from providers.models import CatalogCountry, CatalogService, ProviderAccount

FORM_FIELDS = (
    "kind",
    "label",
    "base_url",
    "currency",
    "enabled",
    "rate_limit_requests",
    "rate_limit_period",
)


def provider_accounts_context(request, membership) -> dict:
    """The provider section of the team settings page."""
    accounts = (
        ProviderAccount.objects.live()
        .filter(team=membership.team)
        .annotate(
            country_count=_catalog_rows(CatalogCountry),
            service_count=_catalog_rows(CatalogService),
        )
        .order_by("label")
    )
    removed = ProviderAccount.objects.filter(team=membership.team, removed_at__isnull=False)
    return {
        "provider_accounts": accounts,
        "removed_accounts": removed.select_related("removed_by").order_by("-removed_at"),
        "can_manage_providers": membership.can(Permission.MANAGE_PROVIDERS),
        "can_remove_providers": membership.can(Permission.REMOVE_PROVIDERS),
    }


def _catalog_rows(model) -> Coalesce:
    """An account's `model` rows, counted on their own: joining both catalogue tables
    and counting distinct rows walks countries x services (200,000 rows at live size)."""
    rows = model.objects.filter(account=OuterRef("pk")).order_by().values("account")
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")), 0)


def _settings(account):
    return redirect("team_settings", code=account.team.code)


@login_required
@require_http_methods(["GET", "POST"])
def provider_add(request, code):
    membership = get_team_for_user(request, code, Permission.MANAGE_PROVIDERS)
    form = ProviderAccountForm(
        request.POST or None,
        team=membership.team,
        may_move_key=membership.can(Permission.MOVE_PROVIDER_KEYS),
    )
    if request.method == "POST" and form.is_valid():
        account = services.provider_account_create(
            team=membership.team,
            actor=request.user,
            api_key=form.cleaned_data["api_key"],
            request=request,
            **{name: form.cleaned_data[name] for name in FORM_FIELDS},
        )
        report = services.provider_account_test(account=account, actor=request.user)
        _report_message(request, account, report)
        if report.ok:
            queue.enqueue("providers.tasks.sync_catalog", account.pk, group="catalog")
        return _settings(account)
    return render(request, "providers/account_form.html", {"team": membership.team, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def provider_edit(request, account_code):
    account, membership = get_object_for_user(
        request, ProviderAccount.objects.live(), account_code, Permission.MANAGE_PROVIDERS
    )
    # The form works on its own copy so the service can compare before/after.
    copy = ProviderAccount.objects.get(pk=account.pk)
    form = ProviderAccountForm(
        request.POST or None,
        instance=copy,
        team=membership.team,
        may_move_key=membership.can(Permission.MOVE_PROVIDER_KEYS),
    )
    if request.method == "POST" and form.is_valid():
        services.provider_account_update(
            account=account,
            actor=request.user,
            api_key=form.cleaned_data["api_key"],
            request=request,
            **{name: form.cleaned_data[name] for name in FORM_FIELDS},
        )
        messages.success(request, f"{account.label} saved.")
        return _settings(account)
    ctx = {"team": membership.team, "form": form, "account": account}
    return render(request, "providers/account_form.html", ctx)


def _report_message(request, account, report) -> None:
    if report.ok:
        messages.success(request, f"{account.label}: {report.summary()}")
    else:
        messages.error(request, f"{account.label}: connection failed. {report.summary()}")


@login_required
@require_POST
def provider_test(request, account_code):
    account, _ = get_object_for_user(
        request, ProviderAccount.objects.live(), account_code, Permission.MANAGE_PROVIDERS
    )
    report = services.provider_account_test(account=account, actor=request.user, request=request)
    _report_message(request, account, report)
    return _settings(account)


@login_required
@require_POST
def provider_sync(request, account_code):
    account, _ = get_object_for_user(
        request, ProviderAccount.objects.live(), account_code, Permission.MANAGE_PROVIDERS
    )
    queue.enqueue("providers.tasks.sync_catalog", account.pk, group="catalog")
    messages.info(request, f"Catalog sync of {account.label} started; prices refresh shortly.")
    return _settings(account)


@login_required
@require_POST
def provider_toggle(request, account_code):
    account, _ = get_object_for_user(
        request, ProviderAccount.objects.live(), account_code, Permission.MANAGE_PROVIDERS
    )
    services.provider_account_set_enabled(
        account=account, enabled=not account.enabled, actor=request.user, request=request
    )
    state = "enabled" if account.enabled else "disabled"
    messages.success(request, f"{account.label} {state}.")
    return _settings(account)


@login_required
@require_http_methods(["GET", "POST"])
def provider_remove(request, account_code):
    """GET: what removing the account means, with what it was charged (the confirmation
    step); POST: remove it (owners only)."""
    account, membership = get_object_for_user(
        request, ProviderAccount.objects.live(), account_code, Permission.REMOVE_PROVIDERS
    )
    if request.method == "POST":
        try:
            services.provider_account_remove(account=account, actor=request.user, request=request)
        except services.RemovalRefused as exc:
            messages.error(request, str(exc))
            return redirect("provider_remove", account_code=account.code)
        messages.success(
            request,
            f"{account.label} removed. Its orders, rentals, charges and audit log stay.",
        )
        return _settings(account)
    ctx = {
        "team": membership.team,
        "account": account,
        "impact": services.provider_account_removal_impact(account),
    }
    return render(request, "providers/account_remove.html", ctx)

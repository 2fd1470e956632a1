"""The gateway endpoint and the member's API page."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

import audit
from accounts.access import client_ip, get_team_for_user
from accounts.roles import Permission
from api import gateway, key_webhooks, keys
from api.forms import KeyForm, KeyWebhookForm
from api.models import ApiKey
from api.services import ApiKeyError, api_key_create, api_key_revoke
from webhooks.models import Endpoint
from webhooks.services import WebhookError

# --- the SMS-Activate-compatible endpoint -------------------------------------------------------


PARAM_MAX = 200  # longer values name nothing the gateway knows


def _params(request) -> dict[str, str]:
    """The request's parameters, query string and form body together (the body wins).

    A value with a NUL byte (PostgreSQL refuses it in any query) or longer than
    PARAM_MAX counts as absent: the action then answers its error token.
    """
    params = {k: request.GET.get(k, "") for k in request.GET}
    if request.method == "POST":
        params.update({k: request.POST.get(k, "") for k in request.POST})
    return {k: ("" if "\x00" in v or len(v) > PARAM_MAX else v) for k, v in params.items()}


def _reply(answer: gateway.Answer) -> HttpResponse:
    kind = "application/json" if answer.is_json else "text/plain; charset=utf-8"
    return HttpResponse(answer.content(), status=answer.status, content_type=kind)


@login_not_required
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def handler_api(request):
    """`/api/handler_api.php`: the SMS-Activate protocol, authenticated by `api_key`."""
    params = _params(request)
    action = params.get("action", "")
    key = keys.authenticate(
        params.get("api_key"),
        ip=client_ip(request),
        activation=gateway.polled_activation(action, params),
        call=action,
    )
    if key is None:
        return _reply(gateway.token("BAD_KEY"))
    wait = keys.retry_after(key)
    if wait:
        return keys.too_many_requests(wait, "TOO_MANY_REQUESTS")
    with audit.attributed(api_key=key.name, prefix=key.prefix, via="sms-activate"):
        answer = gateway.handle(key, action, params, request=request)
    return _reply(answer)


# --- the member's API page ------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_keys(request, code):
    """The member's keys: create (the key is shown once, in this answer), revoke."""
    membership = get_team_for_user(request, code)
    form = KeyForm(scopes=keys.scopes_for(membership))
    if request.method == "POST" and request.POST.get("revoke"):
        return _revoke(request, membership, request.POST["revoke"])
    if request.method == "POST" and "webhook-key" in request.POST:
        return _add_webhook(request, membership, form)
    if request.method == "POST":
        form = KeyForm(request.POST, scopes=keys.scopes_for(membership))
        created = _create(request, membership, form)
        if created is not None:
            form = KeyForm(scopes=keys.scopes_for(membership))
            return render(request, "api/keys.html", _context(request, membership, form, created))
        return render(request, "api/keys.html", _context(request, membership, form), status=400)
    return render(request, "api/keys.html", _context(request, membership, form))


def _create(request, membership, form) -> tuple[ApiKey, str] | None:
    if not form.is_valid():
        return None
    days = form.cleaned_data["expires"]
    try:
        return api_key_create(
            membership=membership,
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            expires_at=timezone.now() + timedelta(days=int(days)) if days else None,
            actor=request.user,
            request=request,
        )
    except ApiKeyError as exc:
        form.add_error("name" if exc.category != "forbidden" else "scope", exc.message)
        return None


def _revoke(request, membership, key_code: str):
    try:
        key = ApiKey.objects.select_related("team", "user").get(code=key_code, team=membership.team)
    except (ApiKey.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("No such key.") from exc
    try:
        api_key_revoke(key=key, membership=membership, request=request)
    except ApiKeyError as exc:
        raise Http404("No such key.") from exc  # another member's key: not theirs to see
    messages.success(request, f"Key “{key.name}” revoked: it stopped working at once.")
    return redirect("api_keys", code=membership.team.code)


def _add_webhook(request, membership, key_form):
    """A personal webhook for one of the member's keys; its secret is shown on this answer."""
    usable = _usable_keys(membership)
    hook_form = KeyWebhookForm(request.POST, keys=usable)
    if hook_form.is_valid():
        key = next(k for k in usable if str(k.code) == hook_form.cleaned_data["key"])
        try:
            endpoint, secret = key_webhooks.key_webhook_create(
                key=key,
                membership=membership,
                url=hook_form.cleaned_data["url"],
                events=hook_form.cleaned_data["events"],
                request=request,
            )
        except (ApiKeyError, WebhookError) as exc:
            hook_form.add_error("url", exc.message)
        else:
            context = _context(request, membership, key_form, hook_form=KeyWebhookForm(keys=usable))
            context.update(new_endpoint=endpoint, secret=secret)
            return render(request, "api/keys.html", context)
    context = _context(request, membership, key_form, hook_form=hook_form)
    return render(request, "api/keys.html", context, status=400)


def _usable_keys(membership) -> list[ApiKey]:
    return list(ApiKey.objects.usable().filter(membership=membership).order_by("name"))


def _context(request, membership, form, created=None, hook_form=None) -> dict:
    team = membership.team
    base = request.build_absolute_uri(reverse("handler_api_php"))
    own = ApiKey.objects.filter(membership=membership).order_by("revoked_at", "-created")
    others = None
    if membership.can(Permission.MANAGE_MEMBERS):
        others = (
            ApiKey.objects.filter(team=team, revoked_at__isnull=True)
            .exclude(membership=membership)
            .select_related("user")
            .order_by("user__username", "name")
        )
    return {
        "team": team,
        "form": form,
        "keys": own,
        "others": others,
        "created": created[0] if created else None,
        "raw_key": created[1] if created else "",
        "base_url": base,
        "rest_base": request.build_absolute_uri(reverse("api-v1:openapi-view")).removesuffix(
            "/docs"
        ),
        "rest_docs": reverse("api-v1:openapi-view"),
        "now": timezone.now(),
        "hook_form": hook_form or KeyWebhookForm(keys=_usable_keys(membership)),
        "key_endpoints": Endpoint.objects.filter(owner=membership.user, team=team)
        .exclude(audience="")
        .select_related("owner")
        .with_trouble(),
    }

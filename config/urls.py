from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from api.urls import gateway_patterns
from config.health import health
from sync.hooks import smscode_hook

# A role that may not do something gets a page naming the role that may (not a bare 403).
handler403 = "accounts.views.permission_denied"

admin.site.site_header = "smsdesk administration"
admin.site.site_title = "smsdesk admin"

urlpatterns = [
    # First: the SMS-Activate gateway, the most requested URL (api/urls.py).
    *gateway_patterns,
    # For load balancers and monitors: no login, no HTTPS redirect (SECURE_REDIRECT_EXEMPT).
    path("health", health, name="health"),
    # SMSCode's webhook pushes (signed; no login, no CSRF token): sync/hooks.py.
    path("hooks/smscode/<uuid:account_code>/", smscode_hook, name="smscode_hook"),
    path("admin/", admin.site.urls),
    # Reset by email only when mail is configured (EMAIL_URL); these two come
    # before Django's own auth URLs so they win.
    path("accounts/password_reset/", account_views.password_reset, name="password_reset"),
    path(
        "accounts/password_reset/done/",
        account_views.password_reset_done,
        name="password_reset_done",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("accounts.urls")),
    path("", include("portal.urls")),
    path("", include("audit.urls")),
    path("", include("providers.urls")),
    path("", include("orders.urls")),
    path("", include("rentals.urls")),
    path("", include("reports.urls")),
    path("", include("webhooks.urls")),
    path("", include("api.urls")),
]

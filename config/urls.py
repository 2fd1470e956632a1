from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "smsdesk administration"
admin.site.site_title = "smsdesk admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("accounts.urls")),
    path("", include("audit.urls")),
    path("", include("providers.urls")),
    path("", include("orders.urls")),
    path("", include("rentals.urls")),
    path("", include("reports.urls")),
]

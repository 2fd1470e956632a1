from django.urls import path

from providers import views

urlpatterns = [
    path("teams/<uuid:code>/providers/new/", views.provider_add, name="provider_add"),
    path("providers/<uuid:account_code>/edit/", views.provider_edit, name="provider_edit"),
    path("providers/<uuid:account_code>/test/", views.provider_test, name="provider_test"),
    path("providers/<uuid:account_code>/sync/", views.provider_sync, name="provider_sync"),
    path("providers/<uuid:account_code>/toggle/", views.provider_toggle, name="provider_toggle"),
    path("providers/<uuid:account_code>/remove/", views.provider_remove, name="provider_remove"),
]

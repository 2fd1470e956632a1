from django.urls import path

from webhooks import views

urlpatterns = [
    path("teams/<uuid:code>/webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<uuid:endpoint_code>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<uuid:endpoint_code>/test/", views.webhook_test, name="webhook_test"),
    path("webhooks/<uuid:endpoint_code>/secret/", views.webhook_secret, name="webhook_secret"),
    path("webhooks/<uuid:endpoint_code>/delete/", views.webhook_delete, name="webhook_delete"),
    path(
        "webhooks/deliveries/<uuid:delivery_code>/redeliver/",
        views.webhook_redeliver,
        name="webhook_redeliver",
    ),
]

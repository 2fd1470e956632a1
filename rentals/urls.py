from django.urls import path

from rentals import views

urlpatterns = [
    path("teams/<uuid:code>/rentals/", views.rentals_list, name="rentals"),
    path("teams/<uuid:code>/rentals/new/", views.rental_new, name="rental_new"),
    path("rentals/<uuid:rental_code>/", views.rental_detail, name="rental_detail"),
    path("rentals/<uuid:rental_code>/inbox/", views.rental_inbox, name="rental_inbox"),
    path("rentals/<uuid:rental_code>/extend/", views.rental_extend, name="rental_extend"),
    path("rentals/<uuid:rental_code>/refund/", views.rental_refund, name="rental_refund"),
    path("rentals/<uuid:rental_code>/wake/", views.rental_wake, name="rental_wake"),
    path(
        "rentals/<uuid:rental_code>/auto-extend/",
        views.rental_auto_extend,
        name="rental_auto_extend",
    ),
    path("rentals/<uuid:rental_code>/details/", views.rental_details, name="rental_details"),
    path("rentals/<uuid:rental_code>/refresh/", views.rental_refresh, name="rental_refresh"),
]

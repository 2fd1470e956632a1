from django.urls import path

from orders import views

urlpatterns = [
    path("teams/<uuid:code>/orders/", views.board, name="board"),
    path("teams/<uuid:code>/orders/live/", views.board_fragment, name="board_fragment"),
    path("teams/<uuid:code>/orders/bulk/", views.board_bulk, name="board_bulk"),
    path("teams/<uuid:code>/orders/new/", views.order_new, name="order_new"),
    path("teams/<uuid:code>/orders/offers/", views.offers, name="order_offers"),
    path("teams/<uuid:code>/orders/favourite/", views.order_favourite, name="order_favourite"),
    path("teams/<uuid:code>/orders/history/", views.history, name="order_history"),
    path("orders/<uuid:order_code>/", views.order_detail, name="order_detail"),
    path("orders/<uuid:order_code>/row/", views.order_row, name="order_row"),
    path("orders/<uuid:order_code>/cancel/", views.order_cancel, name="order_cancel"),
    path("orders/<uuid:order_code>/resend/", views.order_resend, name="order_resend"),
    path("orders/<uuid:order_code>/complete/", views.order_complete, name="order_complete"),
    path("orders/<uuid:order_code>/replace/", views.order_replace, name="order_replace"),
    path("orders/<uuid:order_code>/note/", views.order_note, name="order_note"),
]

from django.urls import path

from portal import views

urlpatterns = [
    path("teams/<uuid:code>/", views.dashboard, name="dashboard"),
    path(
        "teams/<uuid:code>/members/<uuid:membership_code>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("teams/<uuid:code>/settings/", views.team_settings, name="team_settings"),
]

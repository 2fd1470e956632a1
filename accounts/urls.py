from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.index, name="index"),
    path("teams/", views.teams, name="teams"),
    path("teams/switch/", views.switch_team, name="switch_team"),
    path("teams/<uuid:code>/members/", views.members, name="members"),
    path(
        "teams/<uuid:code>/members/<uuid:membership_code>/role/",
        views.member_role,
        name="member_role",
    ),
    path(
        "teams/<uuid:code>/members/<uuid:membership_code>/limit/",
        views.member_spend_limit,
        name="member_spend_limit",
    ),
    path(
        "teams/<uuid:code>/invitations/<uuid:invitation_code>/resend/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "teams/<uuid:code>/invitations/<uuid:invitation_code>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    # The link in an invitation email (no login needed: it lets the person create one).
    path("invitations/<str:token>/", views.invitation, name="invitation"),
]

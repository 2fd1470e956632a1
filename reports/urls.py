from django.urls import path

from reports import views

urlpatterns = [
    path("teams/<uuid:code>/reports/", views.costs, name="reports"),
    path("teams/<uuid:code>/reports/budgets/", views.budgets_page, name="budgets"),
    path(
        "teams/<uuid:code>/reports/budgets/<uuid:membership_code>/",
        views.member_limits,
        name="member_limits",
    ),
    path("teams/<uuid:code>/reports/balances/", views.balances, name="balances"),
    path(
        "teams/<uuid:code>/reports/balances/<uuid:account_code>/alert/",
        views.balance_threshold,
        name="balance_threshold",
    ),
    path(
        "teams/<uuid:code>/reports/balances/<uuid:account_code>/reconcile/",
        views.reconciliation,
        name="reconciliation",
    ),
]

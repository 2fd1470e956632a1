from django.contrib import admin

from reports.models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """The ledger is written by services only; staff read it."""

    list_display = [
        "created",
        "team",
        "account",
        "member",
        "kind",
        "amount",
        "currency",
        "order",
        "rental",
    ]
    list_filter = ["kind", "currency", "account", "team"]
    search_fields = ["upstream_ref", "dedupe_key", "member__username"]
    date_hierarchy = "created"
    list_select_related = ["team", "account", "member", "order", "rental"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

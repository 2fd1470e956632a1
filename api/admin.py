from django.contrib import admin

from api.models import ApiKey, ApiOrder


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made by their members (or `manage.py api_key_create`), never here;
    staff can see them and revoke them by setting `revoked_at`. The hash is not shown."""

    list_display = ["name", "prefix", "user", "team", "scope", "created", "last_used_at"]
    list_filter = ["scope", "team"]
    search_fields = ["name", "prefix", "user__username", "team__name"]
    list_select_related = ["user", "team"]
    fields = [
        "team",
        "membership",
        "user",
        "name",
        "prefix",
        "scope",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "last_used_at",
        "last_used_ip",
        "created",
    ]
    readonly_fields = [
        "team",
        "membership",
        "user",
        "name",
        "prefix",
        "scope",
        "revoked_by",
        "last_used_at",
        "last_used_ip",
        "created",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(ApiOrder)
class ApiOrderAdmin(admin.ModelAdmin):
    list_display = ["activation_id", "order", "key_name", "team", "created"]
    search_fields = ["activation_id", "key_name"]
    raw_id_fields = ["order", "team", "user", "key"]
    list_select_related = ["order", "team"]

    def has_add_permission(self, request):
        return False

from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the log is append-only."""

    list_display = ["created", "team", "actor_name", "action", "target_type", "target_label"]
    list_filter = ["action", "team", "target_type"]
    search_fields = ["actor_name", "action", "target_label", "target_code"]
    date_hierarchy = "created"
    list_select_related = ["team"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

from django.contrib import admin

from accounts.models import Invitation, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role", "monthly_spend_limit", "created"]
    readonly_fields = ["created"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "member_count", "created"]
    search_fields = ["name", "code"]
    readonly_fields = ["code", "created"]
    inlines = [MembershipInline]

    @admin.display(description="Members")
    def member_count(self, obj):
        return obj.memberships.count()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "monthly_spend_limit", "created"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "user__email", "team__name"]
    raw_id_fields = ["user", "team"]
    list_select_related = ["user", "team"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: invitations are sent, re-sent and revoked on the team's members page
    (audited there); the stored token hash is never shown."""

    list_display = ["email", "team", "role", "invited_by", "sent_at", "expires_at", "status"]
    list_filter = ["role"]
    search_fields = ["email", "team__name"]
    list_select_related = ["team", "invited_by"]
    exclude = ["token_hash"]

    @admin.display(description="State")
    def status(self, obj):
        return obj.state().label

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

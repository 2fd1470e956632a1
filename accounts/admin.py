from django.contrib import admin

from accounts.models import Membership, Team


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

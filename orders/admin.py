from django.contrib import admin, messages

from orders import services
from orders.errors import CancelLocked, OrderActionError
from orders.models import Order, OrderMessage, State
from reports.admin_totals import charged_text, charges_breakdown, net_charged, short_time


class OrderMessageInline(admin.TabularInline):
    model = OrderMessage
    extra = 0
    can_delete = False
    fields = ["received_at", "code", "text", "upstream_order_id", "revision"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    # Key columns first, narrow enough for a laptop: the rest is in the filters,
    # the search and the order's own page.
    list_display = [
        "phone_number",
        "service_name",
        "country_name",
        "state",
        "charged",
        "when",
        "ordered_by",
        "team",
        "provider",
    ]
    list_display_links = ["phone_number"]
    list_filter = ["state", "is_orphan", "account__kind", "account", "team"]
    search_fields = [
        "phone_number",
        "upstream_id",
        "code",
        "service_name",
        "country_name",
        "ordered_by__username",
        "note",
    ]
    date_hierarchy = "created"
    list_select_related = ["team", "ordered_by", "account"]
    inlines = [OrderMessageInline]
    actions = ["refresh_from_upstream", "cancel_orders", "settle_as_not_bought"]
    readonly_fields = [
        "charges",
        "code",
        "team",
        "account",
        "ordered_by",
        "idempotency_key",
        "service",
        "country",
        "service_upstream_id",
        "country_upstream_id",
        "service_name",
        "country_name",
        "options",
        "state",
        "upstream_id",
        "upstream_status",
        "previous_upstream_ids",
        "phone_number",
        "dial_code",
        "cost",
        "currency",
        "expires_at",
        "cancel_available_at",
        "sms_revision",
        "last_code",
        "code_received_at",
        "error",
        "error_category",
        "cancel_requested",
        "replace_count",
        "replaces",
        "is_orphan",
        "last_checked_at",
        "next_check_at",
        "created",
        "updated",
        "finished_at",
    ]
    fields = ["note", "auto_replace", *readonly_fields]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(charged_total=net_charged("order"))

    def changelist_view(self, request, extra_context=None):
        # The list gets the screen's width: the app sidebar would take a third of a
        # laptop's (the breadcrumbs and the admin index still lead everywhere).
        extra_context = {**(extra_context or {}), "is_nav_sidebar_enabled": False}
        return super().changelist_view(request, extra_context)

    @admin.display(description="Charged", ordering="charged_total")
    def charged(self, order) -> str:
        """The ledger's net for the order (purchase, resends, corrections, refunds)."""
        return charged_text(order.charged_total, order.currency)

    @admin.display(description="Provider", ordering="account__label")
    def provider(self, obj) -> str:
        return obj.account.label

    @admin.display(description="Created", ordering="created")
    def when(self, order) -> str:
        return short_time(order.created)

    @admin.display(description="Charges")
    def charges(self, order) -> str:
        return charges_breakdown(order.ledger.all())

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Refresh from upstream")
    def refresh_from_upstream(self, request, queryset):
        for order in queryset.select_related("account"):
            try:
                services.order_refresh(order=order)
            except OrderActionError as exc:
                self.message_user(request, f"{order}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Refreshed {queryset.count()} order(s).")

    @admin.action(description="Cancel (refund)")
    def cancel_orders(self, request, queryset):
        for order in queryset.select_related("account"):
            try:
                services.order_cancel(order=order, actor=request.user, request=request)
            except CancelLocked as exc:
                self.message_user(request, f"{order}: {exc}", messages.WARNING)
            except OrderActionError as exc:
                self.message_user(request, f"{order}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{order}: cancelled.")

    @admin.action(description="Unconfirmed purchase: settle as not bought (checked upstream)")
    def settle_as_not_bought(self, request, queryset):
        settled = 0
        for order in queryset.filter(state=State.UNCONFIRMED, upstream_id=""):
            settled += services.mark_not_found_upstream(
                order,
                f"Checked on the provider's side by {request.user}: nothing was bought.",
                category="settled_by_staff",
            )
        self.message_user(request, f"Settled {settled} unconfirmed purchase(s) as not bought.")


@admin.register(OrderMessage)
class OrderMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "order", "code", "text"]
    search_fields = ["code", "text", "order__phone_number"]
    list_select_related = ["order"]
    readonly_fields = [
        "order",
        "upstream_order_id",
        "code",
        "text",
        "sender",
        "revision",
        "received_at",
        "fingerprint",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

from django.contrib import admin, messages

from providers.errors import ProviderError
from rentals import services
from rentals.models import Rental, RentalMessage, RentalOffer
from reports.admin_totals import charged_text, charges_breakdown, net_charged, short_time


class RentalMessageInline(admin.TabularInline):
    model = RentalMessage
    extra = 0
    can_delete = False
    fields = ["received_at", "sender", "text", "code"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Rental)
class RentalAdmin(admin.ModelAdmin):
    # Key columns first, narrow enough for a laptop: the rest is in the filters,
    # the search and the rental's own page.
    list_display = [
        "phone_number",
        "label",
        "state",
        "expires",
        "charged",
        "rented_by",
        "team",
        "provider",
    ]
    list_display_links = ["phone_number"]
    list_filter = ["state", "auto_extend", "account__kind", "account", "team"]
    search_fields = ["phone_number", "upstream_id", "label", "note", "rented_by__username"]
    date_hierarchy = "created"
    list_select_related = ["team", "rented_by", "account"]
    inlines = [RentalMessageInline]
    actions = ["refresh", "extend_by_shortest", "refund"]
    readonly_fields = [
        "charges",
        "code",
        "team",
        "account",
        "rented_by",
        "idempotency_key",
        "offer",
        "upstream_offer_id",
        "service",
        "country",
        "service_upstream_id",
        "service_name",
        "country_name",
        "state",
        "upstream_id",
        "upstream_status",
        "phone_number",
        "cost",
        "currency",
        "duration",
        "unit",
        "started_at",
        "expires_at",
        "auto_extend",
        "available",
        "awake_until",
        "refundable",
        "refund_within_hours",
        "message_count",
        "last_message_at",
        "reminder_sent_at",
        "error",
        "last_checked_at",
        "next_check_at",
        "created",
        "updated",
        "finished_at",
    ]
    fields = ["label", "note", *readonly_fields]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(charged_total=net_charged("rental"))

    def changelist_view(self, request, extra_context=None):
        # The list gets the screen's width: the app sidebar would take a third of a
        # laptop's (the breadcrumbs and the admin index still lead everywhere).
        extra_context = {**(extra_context or {}), "is_nav_sidebar_enabled": False}
        return super().changelist_view(request, extra_context)

    @admin.display(description="Charged", ordering="charged_total")
    def charged(self, rental) -> str:
        """The ledger's net for the rental: first charge, extensions, refunds."""
        return charged_text(rental.charged_total, rental.currency)

    @admin.display(description="Provider", ordering="account__label")
    def provider(self, obj) -> str:
        return obj.account.label

    @admin.display(description="Expires", ordering="expires_at")
    def expires(self, rental) -> str:
        return short_time(rental.expires_at)

    @admin.display(description="Charges")
    def charges(self, rental) -> str:
        return charges_breakdown(rental.ledger.all())

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _each(self, request, queryset, action, done: str):
        for rental in queryset.select_related("account", "offer"):
            try:
                action(rental)
            except services.RentalError as exc:
                self.message_user(request, f"{rental}: {exc.message}", messages.ERROR)
            except ProviderError as exc:
                self.message_user(request, f"{rental}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{rental}: {done}")

    @admin.action(description="Refresh from upstream")
    def refresh(self, request, queryset):
        self._each(request, queryset, lambda r: services.rental_refresh(rental=r), "refreshed")

    @admin.action(description="Extend by the shortest length offered")
    def extend_by_shortest(self, request, queryset):
        def extend(rental):
            options = rental.offer.extend_durations() if rental.offer else []
            if not options:
                raise services.RentalError("No extension offered.")
            services.rental_extend(
                rental=rental, duration=options[0][0], actor=request.user, request=request
            )

        self._each(request, queryset, extend, "extended")

    @admin.action(description="Refund (where the provider allows)")
    def refund(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda r: services.rental_refund(rental=r, actor=request.user, request=request),
            "refunded",
        )


@admin.register(RentalMessage)
class RentalMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "rental", "sender", "code", "text"]
    search_fields = ["text", "code", "rental__phone_number"]
    list_select_related = ["rental"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RentalOffer)
class RentalOfferAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "account",
        "country",
        "service",
        "unit",
        "currency",
        "extendable",
        "refundable",
        "stock",
        "updated",
    ]
    list_filter = ["account", "unit", "extendable", "refundable"]
    search_fields = ["name", "upstream_id"]

from django.conf import settings

SCHEDULES = [
    {
        "name": "providers.sync_all_catalogs",
        "func": "providers.tasks.sync_all_catalogs",
        "minutes": getattr(settings, "CATALOG_SYNC_MINUTES", 60),
    },
    {
        "name": "providers.refresh_balances",
        "func": "providers.tasks.refresh_balances",
        "minutes": 15,
    },
    {
        "name": "providers.refresh_exchange_rates",
        "func": "providers.tasks.refresh_exchange_rates",
        "minutes": 360,
    },
    {
        "name": "providers.purge_rate_counters",
        "func": "providers.tasks.purge_rate_counters",
        "minutes": 60,
    },
]

from django.apps import AppConfig


class RentalsConfig(AppConfig):
    name = "rentals"

    def ready(self) -> None:
        from providers.services import catalog_synced
        from rentals.services import on_catalog_synced

        catalog_synced.connect(on_catalog_synced, dispatch_uid="rentals.offers")

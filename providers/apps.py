from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers and catalog"

    def ready(self) -> None:
        from providers.services import catalog_synced
        from providers.webhooks import on_catalog_synced

        # At account setup and every catalogue sync: SMSCode's webhook (push).
        catalog_synced.connect(on_catalog_synced, dispatch_uid="providers.webhook")

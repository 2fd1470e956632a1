from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Sync engine"

    def ready(self) -> None:
        from providers.leases import sync_requested
        from sync import engine

        sync_requested.connect(engine.on_sync_requested, dispatch_uid="sync.wake")

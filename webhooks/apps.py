from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        # Listens to the audit log, the one record of every order and rental event,
        # so no product app imports webhooks.
        from webhooks import events  # noqa: F401

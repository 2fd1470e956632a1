from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        # Listens to the audit log, the one record of every order and rental event,
        # so no product app imports webhooks.
        from providers import crypto
        from webhooks import listeners  # noqa: F401

        # Signing secrets are encrypted with the provider keys' keys: rotated with them.
        crypto.register_encrypted("webhooks.Endpoint", "secret_encrypted")

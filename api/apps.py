from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Member API"

    def ready(self) -> None:
        # Personal webhooks hear the events of their key's orders (webhooks can't
        # import api: it sits below it).
        from api import key_webhooks

        key_webhooks.register()

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from providers import crypto
from providers.models import ProviderAccount


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored provider API key (and webhook secret) with the newest "
        "key in FIELD_ENCRYPTION_KEYS. Run after adding a new key in front; then the "
        "old keys can be removed."
    )

    def handle(self, *args, **options):
        rotated = 0
        fields = ("api_key_encrypted", "webhook_secret_encrypted")
        with transaction.atomic():
            for account in ProviderAccount.objects.select_for_update().only("pk", *fields):
                changed = {}
                for field in fields:
                    token = getattr(account, field)
                    if token and (new_token := crypto.rotate(token)) != token:
                        changed[field] = new_token
                if changed:
                    ProviderAccount.objects.filter(pk=account.pk).update(**changed)
                    rotated += len(changed)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} secret(s)."))

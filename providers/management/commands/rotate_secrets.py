from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from providers import crypto
from providers.models import ProviderAccount


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored provider API key with the newest key in "
        "FIELD_ENCRYPTION_KEYS. Run after adding a new key in front; then the "
        "old keys can be removed."
    )

    def handle(self, *args, **options):
        rotated = 0
        with transaction.atomic():
            for account in ProviderAccount.objects.select_for_update().only(
                "pk", "api_key_encrypted"
            ):
                new_token = crypto.rotate(account.api_key_encrypted)
                if new_token != account.api_key_encrypted:
                    ProviderAccount.objects.filter(pk=account.pk).update(
                        api_key_encrypted=new_token
                    )
                    rotated += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} secret(s)."))

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from providers import crypto
from providers.models import ProviderAccount


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored provider API key (and webhook secret, and every secret "
        "another app registered with providers.crypto.register_encrypted) with the newest "
        "key in FIELD_ENCRYPTION_KEYS. Run after adding a new key in front; then the "
        "old keys can be removed."
    )

    def handle(self, *args, **options):
        rotated = 0
        fields = ("api_key_encrypted", "webhook_secret_encrypted")
        with transaction.atomic():
            rotated += _rotate(ProviderAccount, fields)
            for label, more in crypto.encrypted_elsewhere():
                rotated += _rotate(apps.get_model(label), more)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} secret(s)."))


def _rotate(model, fields: tuple[str, ...]) -> int:
    """Re-encrypt `fields` of every row of `model` with the newest key; return how many."""
    rotated = 0
    for row in model.objects.select_for_update().only("pk", *fields):
        changed = {}
        for field in fields:
            token = getattr(row, field)
            if token and (new_token := crypto.rotate(token)) != token:
                changed[field] = new_token
        if changed:
            model.objects.filter(pk=row.pk).update(**changed)
            rotated += len(changed)
    return rotated

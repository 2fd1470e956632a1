from django.core.management.base import BaseCommand

from providers.crypto import generate_key


class Command(BaseCommand):
    help = "Print a new Fernet key for FIELD_ENCRYPTION_KEYS (put it first to rotate)."

    def handle(self, *args, **options):
        self.stdout.write(generate_key())

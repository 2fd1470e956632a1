from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from providers.clients import KINDS, client_class
from providers.http import Transport
from providers.models import ProviderAccount
from providers.services import check_client


class Command(BaseCommand):
    help = (
        "Check provider credentials without saving them: balance, catalog size and one "
        "sample quote, or the error category and message. Exit status 0 on success."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=KINDS)
        parser.add_argument("--base-url", default="")
        parser.add_argument("--api-key", default="")
        parser.add_argument("--account", help="Check a saved account by its code instead.")
        parser.add_argument("--currency", default="")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        client = self._client(options)
        report = check_client(client)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        elif report.ok:
            self.stdout.write(self.style.SUCCESS(report.summary()))
        else:
            self.stderr.write(self.style.ERROR(report.summary()))
        if not report.ok:
            raise SystemExit(2)

    def _client(self, options):
        if options["account"]:
            try:
                account = ProviderAccount.objects.get(code=options["account"])
            except (ProviderAccount.DoesNotExist, ValueError) as exc:
                raise CommandError(f"No provider account with code {options['account']}.") from exc
            return account.client()
        if not options["kind"] or not options["api_key"]:
            raise CommandError(
                "Give --kind and --api-key (and optionally --base-url), or --account."
            )
        api_key = options["api_key"]
        transport = Transport(label=f"{options['kind']}:check", secrets=(api_key,))
        return client_class(options["kind"])(
            base_url=options["base_url"],
            api_key=api_key,
            transport=transport,
            currency=options["currency"],
        )

"""Run the sync benchmark (docs/BENCHMARKS.md): `make bench` or `python manage.py bench`.

The benchmark needs a database of its own, so this command starts
`python -m orders.bench` with the same flags: that process points Django at a
throwaway SQLite file under var/bench/ before reading settings, starts its own
sandbox provider, and never touches the database configured here.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders import bench


class Command(BaseCommand):
    help = "Benchmark the sync engine against the sandbox and the live board (own database)."

    def add_arguments(self, parser) -> None:
        bench.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        command = [sys.executable, "-m", "orders.bench", *bench.argv_from(options)]
        code = subprocess.call(command, cwd=settings.BASE_DIR)  # noqa: S603 - our interpreter
        if code:
            raise CommandError(f"The benchmark failed (exit status {code}).")

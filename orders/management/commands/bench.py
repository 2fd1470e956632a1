"""Run the sync benchmark (docs/BENCHMARKS.md): `make bench` or `python manage.py bench`.

The benchmark needs a database of its own, so this command starts
`python -m orders.bench` with the same flags: that process points Django at a
throwaway SQLite file under var/bench/ before reading settings, starts its own
sandbox provider, and never touches the database configured here.

`--catalog` runs the live-size catalogue benchmark (`python -m
providers.bench_catalog`, flags prefixed `--catalog-`) the same way instead.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders import bench
from providers import bench_catalog


class Command(BaseCommand):
    help = "Benchmark the sync engine against the sandbox and the live board (own database)."

    def add_arguments(self, parser) -> None:
        bench.add_arguments(parser)
        # The live-size catalogue benchmark (providers/bench_catalog.py) instead.
        parser.add_argument(
            "--catalog", action="store_true", help="run the live-size catalogue benchmark"
        )
        bench_catalog.add_arguments(parser, prefix="catalog-")
        parser.add_argument(
            "--catalog-no-streaming", action="store_true", help="skip the streaming prototype"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["catalog"]:
            return self._run("providers.bench_catalog", self._catalog_argv(options))
        self._run("orders.bench", bench.argv_from(options))

    def _catalog_argv(self, options: dict[str, Any]) -> list[str]:
        argv = bench_catalog.argv_from(options, prefix="catalog-")
        if options.get("keep_db"):
            argv.append("--keep-db")
        if options.get("catalog_no_streaming"):
            argv.append("--no-streaming")
        return argv

    def _run(self, module: str, argv: list[str]) -> None:
        command = [sys.executable, "-m", module, *argv]
        code = subprocess.call(command, cwd=settings.BASE_DIR)  # noqa: S603 - our interpreter
        if code:
            raise CommandError(f"The benchmark failed (exit status {code}).")

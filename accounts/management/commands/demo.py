"""`manage.py demo`: set up demo data and run portal, task cluster and sandbox together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import LOGINS, create_demo_team, create_sandbox_accounts

BASE_DIR = Path(settings.BASE_DIR)
COLOURS = {"web": "\033[36m", "tasks": "\033[35m", "sandbox": "\033[33m"}
RESET = "\033[0m"


class Command(BaseCommand):
    help = "Set up the demo (idempotent) and run web, task cluster and sandbox until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--setup-only", action="store_true", help="Set up data, run nothing.")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("The demo runs with DEBUG on only (it prints known passwords).")
        self.processes: list[tuple[str, subprocess.Popen]] = []
        team = create_demo_team()
        try:
            if settings.SANDBOX_ENABLED:
                self._start_sandbox()
                self._set_up_sandbox_accounts(team)
            call_command("setup_schedules", stdout=self.stdout)
            self._print_logins(options["port"])
            if options["setup_only"]:
                return
            self._start("web", ["runserver", f"127.0.0.1:{options['port']}", "--noreload"])
            self._start("tasks", ["qcluster"])
            self._wait()
        finally:
            self._stop_all()

    # --- processes --------------------------------------------------------------------
    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # we stop it ourselves, whole process group
        )
        self.processes.append((name, process))
        threading.Thread(target=self._pump, args=(name, process), daemon=True).start()
        return process

    def _pump(self, name: str, process: subprocess.Popen) -> None:
        prefix = f"{COLOURS.get(name, '')}{name:<8}|{RESET} "
        for line in process.stdout:
            sys.stdout.write(prefix + line)
            sys.stdout.flush()

    def _wait(self) -> None:
        try:
            while True:
                for name, process in self.processes:
                    if process.poll() is not None:
                        raise CommandError(f"{name} stopped (exit {process.returncode}).")
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping web, tasks and sandbox…")

    def _stop_all(self) -> None:
        for _name, process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _name, process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    # --- sandbox ----------------------------------------------------------------------
    def _start_sandbox(self) -> None:
        url = urlsplit(settings.SANDBOX_URL)
        host, port = url.hostname or "127.0.0.1", url.port or 8001
        if _listening(host, port):
            self.stdout.write(f"A sandbox is already listening on {host}:{port}; using it.")
            return
        (BASE_DIR / "var").mkdir(exist_ok=True)
        self._start(
            "sandbox",
            [
                "sandbox",
                "--host",
                host,
                "--port",
                str(port),
                "--state-file",
                str(BASE_DIR / "var" / "sandbox.json"),
                # Rented numbers get a message every 15-60 s, so the demo shows
                # an inbox filling up without a long wait.
                "--set",
                "rental_message_min_seconds=15",
                "--set",
                "rental_message_max_seconds=60",
            ],
        )
        deadline = time.monotonic() + 20
        while not _listening(host, port):
            if time.monotonic() > deadline:
                raise CommandError(f"The sandbox did not start on {host}:{port}.")
            time.sleep(0.2)

    def _set_up_sandbox_accounts(self, team) -> None:
        from providers.errors import ProviderError
        from providers.services import catalog_sync, provider_account_test

        for account in create_sandbox_accounts(team):
            try:
                result = catalog_sync(account=account)
            except ProviderError as exc:
                self.stderr.write(f"{account.label}: catalog sync failed: {exc.message}")
                continue
            report = provider_account_test(account=account, actor=None)
            self.stdout.write(
                f"{account.label}: {result.countries} countries, {result.services} services, "
                f"{result.prices} prices; {report.summary()}"
            )

    def _print_logins(self, port: int) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nsmsdesk demo: http://127.0.0.1:{port}/"))
        for login in LOGINS:
            self.stdout.write(f"  {login.username:<8} / {login.password:<16} {login.note}")
        self.stdout.write(f"  (owner is also an admin: http://127.0.0.1:{port}/admin/)")
        self.stdout.write("Ctrl-C stops everything.\n")


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0

"""Run the sandbox provider: all four provider protocols on one port.

    python manage.py sandbox --port 8001 --time-scale 10 --state-file var/sandbox.json

Refuses to start unless settings.SANDBOX_ENABLED is true. Knobs come from
SANDBOX_* environment variables, then from these flags; `--set knob=value`
reaches any knob without a flag of its own. See docs/SANDBOX.md.
"""

from __future__ import annotations

import signal
import threading
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from providers.sandbox import SandboxConfig, SandboxServer
from providers.sandbox.config import ConfigError

# flag dest -> knob name, for the flags that map one to one.
FLAG_KNOBS = {
    "host": "host",
    "port": "port",
    "time_scale": "time_scale",
    "delivery_min": "delivery_min_seconds",
    "delivery_max": "delivery_max_seconds",
    "no_code_share": "no_code_share",
    "cancel_lock": "cancel_lock_seconds",
    "failures": "failures",
    "failure_timeout": "failure_timeout_seconds",
    "seed": "seed",
    "state_file": "state_file",
    "control_token": "control_token",
}


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the sandbox provider (SMSPool, NumPool, SMSCode, SMS-Activate) for demos and tests."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", help="Interface to listen on (default: from SANDBOX_URL).")
        parser.add_argument("--port", type=int, help="Port (default: from SANDBOX_URL, 8001).")
        parser.add_argument("--time-scale", type=float, help="Upstream time runs N times faster.")
        parser.add_argument("--delivery-min", type=float, help="Shortest SMS delay, seconds.")
        parser.add_argument("--delivery-max", type=float, help="Longest SMS delay, seconds.")
        parser.add_argument(
            "--no-code-share", type=float, help="Share of orders that never get an SMS."
        )
        parser.add_argument(
            "--cancel-lock", type=float, help="Cancel lock after purchase, seconds."
        )
        parser.add_argument(
            "--out-of-stock",
            help='ISO codes out of stock: "US,GB" for every protocol or "smspool:US,numpool:GB".',
        )
        parser.add_argument(
            "--failures", help='JSON, e.g. {"smspool": {"http_500": 0.05, "timeout": 0.01}}.'
        )
        parser.add_argument("--failure-timeout", type=float, help="Seconds a 'timeout' stalls.")
        parser.add_argument("--no-rate-limits", action="store_true", help="Switch every 429 off.")
        parser.add_argument("--seed", type=int, help="Seed the randomness (reproducible demos).")
        parser.add_argument("--state-file", help="Keep accounts and orders across restarts (JSON).")
        parser.add_argument("--control-token", help="Require X-Sandbox-Token on /control.")
        parser.add_argument(
            "--set", action="append", default=[], metavar="KNOB=VALUE", help="Any other knob."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "SANDBOX_ENABLED", False):
            raise CommandError(
                "The sandbox provider is disabled (settings.SANDBOX_ENABLED is false). It is a "
                "fake upstream for demos and tests; set SANDBOX_ENABLED=true to run it on purpose."
            )
        try:
            config = self._config(options)
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        server = SandboxServer(config=config)
        try:
            server.bind()
        except OSError as exc:
            raise CommandError(f"Cannot listen on {config.host}:{config.port}: {exc}") from exc
        self._announce(server)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _interrupt)  # a service stop saves state like Ctrl-C
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            self.stdout.write("Sandbox stopped.")

    def _config(self, options: dict[str, Any]) -> SandboxConfig:
        default = urlsplit(getattr(settings, "SANDBOX_URL", "") or "http://127.0.0.1:8001")
        config = SandboxConfig(host=default.hostname or "127.0.0.1", port=default.port or 8001)
        env = SandboxConfig.from_env()
        # Environment variables beat the SANDBOX_URL defaults; flags beat both.
        defaults = SandboxConfig()
        overrides = {k: v for k, v in env.to_dict().items() if v != getattr(defaults, k)}
        config.update(overrides)
        config.update(
            {
                knob: options[dest]
                for dest, knob in FLAG_KNOBS.items()
                if options.get(dest) is not None
            }
        )
        if options.get("out_of_stock"):
            config.update({"out_of_stock": _out_of_stock(options["out_of_stock"])})
        if options.get("no_rate_limits"):
            config.update({"rate_limits_enabled": False})
        for item in options.get("set") or []:
            knob, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"--set takes KNOB=VALUE, not {item!r}.")
            config.update({knob.strip(): value})
        return config

    def _announce(self, server: SandboxServer) -> None:
        config = server.config
        self.stdout.write(
            self.style.SUCCESS(
                f"Sandbox provider on {server.base_url} (time scale {config.time_scale:g})"
            )
        )
        for kind, url in server.urls().items():
            self.stdout.write(f"  {kind:<12} {url}")
        self.stdout.write("API keys starting with sbx_ open an account on first use. Ctrl-C stops.")


def _out_of_stock(raw: str) -> dict[str, list[str]]:
    """ "US,GB" -> {"all": [...]}; "smspool:US,numpool:GB" -> per protocol."""
    scopes: dict[str, list[str]] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        scope, _sep, iso = item.rpartition(":")
        scopes.setdefault(scope or "all", []).append(iso.upper())
    return scopes

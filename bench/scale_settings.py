"""Settings of the scale benchmark's processes (`python -m bench --scale`): the
production settings (config.settings, read from the environment the benchmark sets:
PostgreSQL, Redis, Q_WORKERS) plus the task probe, and SYNC_AUTOSTART from
BENCH_SYNC_AUTOSTART (off while the reconstructed one-poller-per-account engine runs,
so the new engine's dispatcher never starts beside it)."""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.scale_probe.ProbeConfig"]
SYNC_AUTOSTART = os.environ.get("BENCH_SYNC_AUTOSTART", "true") == "true"

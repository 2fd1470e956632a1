"""Helpers for tests that run `manage.py` commands as real processes against the test
database and check that every process they started is gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
MANAGE = [sys.executable, "manage.py"]


def database_url() -> str:
    """DATABASE_URL of the test database this test runs on (SQLite file or PostgreSQL)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    host = f"{credentials}@" if credentials else ""
    return f"postgres://{host}{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def command_env(**extra: str) -> dict[str, str]:
    """Production settings on the test database; the test process's keys, so secrets
    it encrypted and tasks it signed are readable."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SMSDESK_ENV_FILE": "",
        "DATABASE_URL": database_url(),
        "Q_SYNC": "false",
        "Q_WORKERS": "2",
        "ALLOWED_PROVIDER_HOSTS": "127.0.0.1,localhost",  # sandboxes on free ports
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def create_cache_table() -> None:
    """The database cache the commands use (the test settings cache in memory instead)."""
    subprocess.run([*MANAGE, "createcachetable"], cwd=ROOT, env=command_env(), check=True)


def processes() -> dict[int, tuple[str, int, int, int]]:
    """Every process on the machine: pid -> (state, parent pid, process group, session)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (fields[0], int(fields[1]), int(fields[2]), int(fields[3]))
    return found


def descendants(pid: int) -> set[int]:
    """The live children of `pid`, their children, and so on."""
    table = processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (_s, ppid, _g, _sid) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive_in_groups(groups: set[int]) -> set[int]:
    """Processes in any of these process groups, zombies aside (they hold nothing)."""
    table = processes().items()
    return {pid for pid, (state, _pp, pgid, _sid) in table if pgid in groups and state != "Z"}


def wait_until(condition, timeout: float, step: float = 0.1) -> float | None:
    """Seconds until `condition()` held, or None when it did not within `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(step)
    return None


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        try:
            sock.connect(("127.0.0.1", port))
            # A free port of the ephemeral range can connect to itself: nobody listens.
            return sock.getsockname() != sock.getpeername()
        except OSError:
            return False


def port_free(port: int) -> bool:
    """True when a server could listen on `port` now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def describe(pids: set[int]) -> str:
    """What these processes are and where they wait (for failure messages)."""
    lines = []
    for pid in sorted(pids):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            wchan = Path(f"/proc/{pid}/wchan").read_text()
        except OSError:
            continue
        state = processes().get(pid, ("?",))[0]
        lines.append(f"{pid} {state} {wchan} {cmd}")
    return "\n".join(lines)

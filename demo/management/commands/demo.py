"""`manage.py demo`: set up demo data and run portal, task cluster and sandbox together.

SIGTERM, SIGINT (Ctrl-C) and SIGHUP stop all three within GRACE_SECONDS: each gets
SIGTERM, and whatever is left of its process group then gets SIGKILL. On Linux the
children also get SIGTERM when the demo itself dies, even by SIGKILL.

The demo runs one thread. The kernel sends a child its parent-death signal again
each time the child passes to another thread of a dying parent, and a second
SIGTERM deadlocks django-q2's cluster (its signal handler is not reentrant). So
children's output goes to files the main loop reads, not to pipes read by threads;
a file also never blocks a child nor breaks when the demo dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from demo.data import (
    LOGINS,
    SANDBOX_TOKEN_FILE,
    create_demo_team,
    create_sandbox_accounts,
    sandbox_token,
)

BASE_DIR = Path(settings.BASE_DIR)
COLOURS = {"web": "\033[36m", "tasks": "\033[35m", "sandbox": "\033[33m"}
RESET = "\033[0m"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# Seconds the children get to stop after SIGTERM before SIGKILL (a supervisor
# usually allows 10 s in all). The task cluster needs about 2 s.
GRACE_SECONDS = 8.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Loaded before any fork: a child between fork and exec only calls into it.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class Stopped(Exception):
    """A stop signal arrived."""


# The task cluster's own line per task ("processing", "Processed", "Enqueued"): hidden
# unless LOG_LEVEL=DEBUG, so the demo shows one line per sync cycle (sync.engine) and
# what else happens, not three lines of bookkeeping per task.
TASK_CHATTER = re.compile(rb" INFO django-q (?:Process-\S+ processing |Processed '|Enqueued \[)")


class Output:
    """What a child writes (to an unlinked file), shown line by line with a prefix."""

    def __init__(self, name: str, hide: re.Pattern | None = None):
        self.hide = hide
        fd, path = tempfile.mkstemp(prefix=f"smsdesk-demo-{name}-")
        self.fd = fd  # the child's stdout and stderr; closed here once it is started
        self.reader = open(path, "rb")  # noqa: SIM115 - lives as long as the child
        os.unlink(path)
        self.prefix = f"{COLOURS.get(name, '')}{name:<8}|{RESET} "
        self.partial = b""

    def show(self, out) -> None:
        """Write the complete lines that arrived since the last call."""
        *lines, self.partial = (self.partial + self.reader.read()).split(b"\n")
        for line in lines:
            if self.hide is not None and self.hide.search(line):
                continue
            out.write(self.prefix + line.decode(errors="replace"))
        out.flush()


class Command(BaseCommand):
    help = (
        "Set up the demo (idempotent) and run web, task cluster and sandbox until Ctrl-C "
        "(or SIGTERM, SIGHUP)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="Web server port (8000).")
        parser.add_argument(
            "--sandbox-port", type=int, help="Sandbox port (default: from SANDBOX_URL, 8001)."
        )
        parser.add_argument(
            "--sandbox-state",
            default=str(BASE_DIR / "var" / "sandbox.json"),
            help="The sandbox's accounts and orders across runs (var/sandbox.json).",
        )
        parser.add_argument("--setup-only", action="store_true", help="Set up data, run nothing.")
        parser.add_argument(
            "--logins",
            action="store_true",
            help="Print the demo's address and logins again (for --port), and nothing else.",
        )
        parser.add_argument(
            "--sandbox-token-file",
            default=str(SANDBOX_TOKEN_FILE),
            help="This checkout's sandbox token (var/sandbox.token): a sandbox already on the "
            "port is reused only when it answers to it.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("The demo runs with DEBUG on only (it prints known passwords).")
        if options.get("logins"):
            self._print_logins(options["port"], running=False)
            return
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.outputs: list[Output] = []
        previous = {signum: signal.signal(signum, _raise_stopped) for signum in STOP_SIGNALS}
        try:
            self._run(options)
        except Stopped as stop:
            self.stdout.write(f"\n{stop}: stopping web, tasks and sandbox…")
        finally:
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut it short
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _run(self, options) -> None:
        if options["sandbox_port"]:
            _use_sandbox_port(options["sandbox_port"])
        if not options["setup_only"] and _listening("127.0.0.1", options["port"]):
            raise CommandError(
                f"Port {options['port']} is taken (another demo, or another program). "
                f"Choose free ones: make demo PORT={options['port'] + 10} "
                f"SANDBOX_PORT={options['port'] + 11}"
            )
        self.token = sandbox_token(options.get("sandbox_token_file") or SANDBOX_TOKEN_FILE)
        team = create_demo_team()
        if settings.SANDBOX_ENABLED:
            self._start_sandbox(Path(options["sandbox_state"]))
            self._set_up_sandbox_accounts(team)
            self._set_up_activity(team)
        call_command("setup_schedules", stdout=self.stdout)
        if options["setup_only"]:
            self._print_logins(options["port"], running=False)
            return
        web = self._start("web", ["runserver", f"127.0.0.1:{options['port']}", "--noreload"])
        self._start("tasks", ["qcluster"])
        self._wait_until_serving(web, options["port"])
        # Last, after the children's start-up lines, where it stays visible.
        self._print_logins(options["port"])
        self._wait()

    def _wait_until_serving(self, web: subprocess.Popen, port: int) -> None:
        deadline = time.monotonic() + 30
        while not _listening("127.0.0.1", port):
            self._show_output()
            if time.monotonic() > deadline or _exit_status(web.pid) is not None:
                raise CommandError(f"The web server did not start on port {port}.")
            time.sleep(0.2)
        time.sleep(0.5)  # its "Starting development server" lines come first
        self._show_output()

    # --- processes --------------------------------------------------------------------
    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "SANDBOX_URL": settings.SANDBOX_URL}
        if name == "sandbox":  # by the environment: a flag would show in `ps` to every user
            env["SANDBOX_CONTROL_TOKEN"] = self.token
        quiet = name == "tasks" and os.environ.get("LOG_LEVEL", "").upper() != "DEBUG"
        output = Output(name, hide=TASK_CHATTER if quiet else None)
        try:
            process = subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
                [sys.executable, "manage.py", *args],
                cwd=BASE_DIR,
                env=env,
                stdout=output.fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: we stop it as a whole
                preexec_fn=_die_with(os.getpid()),  # only prctl: see _die_with
            )
        finally:
            os.close(output.fd)
        self.processes.append((name, process))
        self.outputs.append(output)
        return process

    def _show_output(self) -> None:
        for output in self.outputs:
            output.show(self.stdout)

    def _wait(self) -> None:
        while True:
            self._show_output()
            for name, process in self.processes:
                status = _exit_status(process.pid)
                if status is not None:
                    self._show_output()
                    raise CommandError(f"{name} stopped (exit {status}).")
            time.sleep(0.2)

    def _stop_all(self) -> None:
        """SIGTERM every child, wait up to GRACE_SECONDS, SIGKILL what is left of each
        process group (the children's own children included), reap."""
        running = [p for _name, p in self.processes if _exit_status(p.pid) is None]
        for process in running:
            # The main process only, not its group: each stops its own children, and
            # django-q2's cluster hangs when its sentinel gets SIGTERM along with it.
            _signal(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and any(_exit_status(p.pid) is None for p in running):
            self._show_output()
            time.sleep(0.1)
        for name, process in self.processes:
            if _exit_status(process.pid) is None:
                self.stderr.write(f"{name} did not stop within {GRACE_SECONDS:.0f} s: killed.")
            # Unreaped until just below, the leader still holds its group id: this
            # reaches its own group only (stragglers, or all of it if it ignored SIGTERM).
            _signal(process.pid, signal.SIGKILL, group=True)
            process.wait()
        self._show_output()

    # --- sandbox ----------------------------------------------------------------------
    def _start_sandbox(self, state_file: Path) -> None:
        url = urlsplit(settings.SANDBOX_URL)
        host, port = url.hostname or "127.0.0.1", url.port or 8001
        if _listening(host, port):
            owner = _sandbox_owner(f"http://{host}:{port}", self.token)
            if owner == "ours":
                self.stdout.write(f"This checkout's sandbox is already on {host}:{port}; using it.")
                return
            what = (
                "somebody else's sandbox (it does not answer to this checkout's token)"
                if owner == "theirs"
                else "a program that is not a smsdesk sandbox"
            )
            raise CommandError(
                f"Port {port} has {what}: the demo will not use it. Choose another port: "
                f"make demo SANDBOX_PORT=<free port> (and PORT=<free port> for the portal)."
            )
        state_file.parent.mkdir(parents=True, exist_ok=True)
        sandbox = self._start(
            "sandbox",
            [
                "sandbox",
                "--host",
                host,
                "--port",
                str(port),
                "--state-file",
                str(state_file),
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
            if time.monotonic() > deadline or _exit_status(sandbox.pid) is not None:
                raise CommandError(f"The sandbox did not start on {host}:{port}.")
            time.sleep(0.2)

    def _set_up_sandbox_accounts(self, team) -> None:
        from providers.errors import ProviderError
        from providers.services import catalog_sync, provider_account_test

        for account in create_sandbox_accounts(team):
            _follow_sandbox(account)
            self._show_output()
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

    def _set_up_activity(self, team) -> None:
        from demo.activity import create_demo_activity

        placed = create_demo_activity(team)
        if placed:
            self.stdout.write(f"Demo activity: {placed} orders bought from the sandbox.")

    def _print_logins(self, port: int, *, running: bool = True) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nsmsdesk demo: http://127.0.0.1:{port}/"))
        for login in LOGINS:
            self.stdout.write(f"  {login.username:<8} / {login.password:<16} {login.note}")
        self.stdout.write(f"  (owner is also an admin: http://127.0.0.1:{port}/admin/)")
        self.stdout.write(f"These again: python manage.py demo --logins --port {port}")
        if running:
            self.stdout.write("Ctrl-C stops everything.\n")


def _raise_stopped(signum: int, frame) -> None:
    raise Stopped(signal.Signals(signum).name)


def _die_with(parent: int):
    """A preexec_fn: the child gets SIGTERM when `parent` dies, even by SIGKILL (Linux
    only; None elsewhere). Runs between fork and exec, so it only calls prctl."""
    if _LIBC is None:
        return None

    def preexec() -> None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _exit_status(pid: int) -> int | None:
    """The child's exit status once it has exited, else None; leaves it unreaped."""
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return None if info is None else info.si_status


def _signal(pid: int, signum: int, *, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError):
        (os.killpg if group else os.kill)(pid, signum)


def _use_sandbox_port(port: int) -> None:
    """Point this run (and the children it starts) at a sandbox on `port`."""
    url = urlsplit(settings.SANDBOX_URL)
    settings.SANDBOX_URL = url._replace(netloc=f"{url.hostname or '127.0.0.1'}:{port}").geturl()


def _follow_sandbox(account) -> None:
    """Re-point a demo account created for another sandbox address (another port)."""
    from providers.models import ProviderAccount

    url, sandbox = urlsplit(account.base_url), urlsplit(settings.SANDBOX_URL)
    if url.netloc != sandbox.netloc:
        account.base_url = url._replace(scheme=sandbox.scheme, netloc=sandbox.netloc).geturl()
        ProviderAccount.objects.filter(pk=account.pk).update(base_url=account.base_url)


def _sandbox_owner(base_url: str, token: str) -> str:
    """Who runs the sandbox at `base_url`: "ours" (its /control answers to `token` and
    to nobody without it), "theirs" (another token, or none: anyone's), or "other" (no
    smsdesk sandbox answers there)."""
    try:
        with_token = requests.get(
            f"{base_url}/control/health", headers={"X-Sandbox-Token": token}, timeout=3
        )
        without = requests.get(f"{base_url}/control/health", timeout=3)
    except requests.RequestException:
        return "other"
    if with_token.headers.get("X-Smsdesk-Sandbox") != "1":
        return "other"
    return "ours" if with_token.status_code == 200 and without.status_code == 401 else "theirs"


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        try:
            sock.connect((host, port))
            # A free port of the ephemeral range can connect to itself (TCP
            # simultaneous open): that is nobody listening.
            return sock.getsockname() != sock.getpeername()
        except OSError:
            return False

"""`manage.py demo` stops web, task cluster and sandbox, with their own children, within
10 s of SIGTERM, SIGINT or SIGHUP, and they stop too when the demo is SIGKILLed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from io import StringIO

import pytest

from demo.management.commands import demo as demo_command
from tests.processes import (
    MANAGE,
    ROOT,
    alive_in_groups,
    command_env,
    create_cache_table,
    descendants,
    describe,
    free_port,
    listening,
    port_free,
    processes,
    wait_until,
)

STOP_WITHIN = 10  # seconds, what a supervisor allows before SIGKILL
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # ignores it too
print("ready", flush=True)
time.sleep(60)
"""


def test_a_child_that_ignores_sigterm_is_killed_with_its_own_children(monkeypatch):
    monkeypatch.setattr(demo_command, "GRACE_SECONDS", 0.5)
    stubborn = subprocess.Popen(
        [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert stubborn.stdout.readline().strip() == "ready"
    errors = StringIO()
    command = demo_command.Command(stdout=StringIO(), stderr=errors)
    command.processes, command.outputs = [("stubborn", stubborn)], []
    started = time.monotonic()
    command._stop_all()
    assert time.monotonic() - started < 3
    assert not alive_in_groups({stubborn.pid})
    assert "stubborn did not stop" in errors.getvalue()
    stubborn.stdout.close()


@pytest.fixture
def running_demo(transactional_db, tmp_path):
    """`manage.py demo` on free ports, up and serving; yields the process, its ports, its
    log and a set for the process groups the test sees (all are killed afterwards)."""
    create_cache_table()
    web, sandbox = free_port(), free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                *MANAGE,
                "demo",
                "--port",
                str(web),
                "--sandbox-port",
                str(sandbox),
                "--sandbox-state",
                str(tmp_path / "sandbox.json"),
            ],
            cwd=ROOT,
            env=command_env(DEBUG="true"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def up_or_ended() -> bool:
        if process.poll() is not None:
            return True
        return listening(web) and listening(sandbox) and "[smsdesk] running" in log.read_text()

    groups: set[int] = set()
    try:
        started = wait_until(up_or_ended, timeout=120, step=0.3)
        assert started is not None and process.poll() is None, log.read_text()[-5000:]
        assert "catalog sync failed" not in log.read_text()  # accounts follow --sandbox-port
        yield process, (web, sandbox), log, groups
    finally:
        groups |= {process.pid} | process_groups(process.pid)
        for pid in alive_in_groups(groups):  # a failed test must not leave them running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def process_groups(pid: int) -> set[int]:
    table = processes()
    return {table[p][2] for p in descendants(pid) if p in table}


def gone(process, groups: set[int], ports) -> bool:
    return (
        process.poll() is not None
        and not alive_in_groups(groups)
        and all(port_free(port) for port in ports)
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_each_stop_signal_ends_the_run_and_stops_the_children(settings, monkeypatch, signum):
    settings.DEBUG = True
    before = signal.getsignal(signum)
    command = demo_command.Command(stdout=StringIO(), stderr=StringIO())

    def run(options):
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the signal ends this at once
        pytest.fail("the signal did not stop the demo")

    stopped = []
    monkeypatch.setattr(command, "_run", run)
    monkeypatch.setattr(command, "_stop_all", lambda: stopped.append(True))
    started = time.monotonic()
    command.handle(port=8000, sandbox_port=None, sandbox_state="", setup_only=False)
    assert time.monotonic() - started < 2
    assert stopped == [True]
    assert signal.getsignal(signum) == before


@pytest.mark.slow
def test_sigterm_stops_everything_and_frees_the_ports(running_demo):
    process, ports, log, groups = running_demo
    groups |= process_groups(process.pid)
    assert len(groups) == 3  # web, tasks (with its sentinel and workers) and sandbox
    assert len(descendants(process.pid)) >= 7

    process.send_signal(signal.SIGTERM)
    took = wait_until(lambda: gone(process, groups, ports), STOP_WITHIN)
    left = describe(alive_in_groups(groups))
    assert took is not None, f"left:\n{left}\n{[port_free(p) for p in ports]}\n{log.read_text()}"
    assert process.returncode == 0
    assert "stopping web, tasks and sandbox" in log.read_text()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_children_stop_when_the_demo_is_killed(running_demo):
    process, ports, log, groups = running_demo
    groups |= process_groups(process.pid)

    process.kill()
    took = wait_until(lambda: gone(process, groups, ports), STOP_WITHIN)
    left = describe(alive_in_groups(groups))
    assert took is not None, f"left:\n{left}\n{[port_free(p) for p in ports]}\n{log.read_text()}"

"""`make demo` for people: ports to choose, the logins last and on request, and a
sandbox on the port used only when it is this checkout's own."""

from __future__ import annotations

import re
import shutil
import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from demo.data import LOGINS, sandbox_token
from demo.management.commands import demo as demo_command
from tests.conftest import start_sandbox
from tests.processes import ROOT, free_port


def test_the_logins_are_printed_again_on_request(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("demo", "--logins", "--port", "8010", stdout=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8010/" in text
    for login in LOGINS:
        assert f"{login.username:<8} / {login.password}" in text
    assert "Ctrl-C" not in text  # nothing was started


def test_the_logins_are_never_printed_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG on only"):
        call_command("demo", "--logins", stdout=StringIO())


def test_the_token_is_made_once_and_kept_private(tmp_path):
    path = tmp_path / "var" / "sandbox.token"
    token = sandbox_token(path)
    assert len(token) >= 24 and sandbox_token(path) == token
    assert path.stat().st_mode & 0o077 == 0


def test_it_tells_its_own_sandbox_from_somebody_elses():
    ours, theirs, anyones = (
        start_sandbox(control_token="our-token"),
        start_sandbox(control_token="their-token"),
        start_sandbox(),
    )
    try:
        assert demo_command._sandbox_owner(ours.base_url, "our-token") == "ours"
        assert demo_command._sandbox_owner(theirs.base_url, "our-token") == "theirs"
        assert demo_command._sandbox_owner(anyones.base_url, "our-token") == "theirs"
        nowhere = f"http://127.0.0.1:{free_port()}"
        assert demo_command._sandbox_owner(nowhere, "our-token") == "other"
    finally:
        for server in (ours, theirs, anyones):
            server.stop()


@pytest.mark.django_db
def test_the_demo_refuses_somebody_elses_sandbox_on_its_port(settings, tmp_path):
    settings.DEBUG = True
    settings.SANDBOX_ENABLED = True
    theirs = start_sandbox(control_token="their-token")
    try:
        with pytest.raises(CommandError, match="somebody else's sandbox") as refused:
            call_command(
                "demo",
                "--setup-only",
                "--sandbox-port",
                str(theirs.port),
                "--sandbox-token-file",
                str(tmp_path / "sandbox.token"),
                stdout=StringIO(),
            )
        assert "SANDBOX_PORT=" in str(refused.value)
    finally:
        theirs.stop()


@pytest.mark.django_db
def test_the_demo_reuses_its_own_sandbox(settings, tmp_path):
    settings.DEBUG = True
    settings.SANDBOX_ENABLED = True
    token_file = tmp_path / "sandbox.token"
    ours = start_sandbox(control_token=sandbox_token(token_file))
    out = StringIO()
    try:
        call_command(
            "demo",
            "--setup-only",
            "--sandbox-port",
            str(ours.port),
            "--sandbox-token-file",
            str(token_file),
            stdout=out,
        )
    finally:
        ours.stop()
    text = out.getvalue()
    assert "This checkout's sandbox is already on" in text
    # The logins come last.
    assert text.rstrip().splitlines()[-1].startswith("These again: python manage.py demo --logins")


def test_a_taken_web_port_is_refused_in_plain_words(settings, tmp_path):
    settings.DEBUG = True
    busy = start_sandbox()  # anything listening will do
    try:
        with pytest.raises(CommandError, match=f"Port {busy.port} is taken"):
            call_command("demo", "--port", str(busy.port), stdout=StringIO())
    finally:
        busy.stop()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_takes_both_ports_and_the_sandbox_follows_the_portal():
    def dry_run(*args: str) -> str:
        done = subprocess.run(
            ["make", "-n", "demo", *args], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return next(line for line in done.stdout.splitlines() if " demo --port" in line)

    assert re.search(
        r"demo --port 8010 --sandbox-port 8011$", dry_run("PORT=8010", "SANDBOX_PORT=8011")
    )
    assert re.search(r"demo --port 8020 --sandbox-port 8021$", dry_run("PORT=8020"))
    assert re.search(r"demo --port 8000 --sandbox-port 8001$", dry_run())


def test_the_task_clusters_bookkeeping_lines_are_hidden(tmp_path):
    lines = [
        b"12:00:01,000 INFO django-q Process-ab12 processing jig-one 'sync.tasks.cycle' [sync]",
        b"12:00:01,100 INFO sync.engine sync SMSPool (sandbox): 1 requests; following 2 orders",
        b"12:00:01,200 INFO django-q Processed 'sync.tasks.cycle' (jig-one)",
        b"12:00:01,300 INFO django-q Enqueued [smsdesk] 22",
        b"12:00:01,400 INFO django-q Q Cluster fish-oscar [smsdesk] running.",
    ]
    output = demo_command.Output("tasks", hide=demo_command.TASK_CHATTER)
    with open(output.fd, "wb") as child:
        child.write(b"\n".join(lines) + b"\n")
    shown = StringIO()
    output.show(shown)
    text = shown.getvalue()
    assert "sync SMSPool (sandbox)" in text and "[smsdesk] running" in text
    assert "processing" not in text and "Processed" not in text and "Enqueued" not in text

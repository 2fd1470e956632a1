"""What docs/DEPLOY.md relies on: the scheduler switch, JSON logs in real processes, the
gunicorn config, and the Procfile, systemd units and nginx file agreeing with them."""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import signal
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from tests.processes import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SMSDESK_ENV_FILE": "",
    "SECRET_KEY": "s" * 60,
    "FIELD_ENCRYPTION_KEYS": "kN6o4yL0wTqJ3y9mJcS4mU5C8v7m6d2pWZb3qv9dYtA=",
    "ALLOWED_HOSTS": "127.0.0.1",
}
CLEARED = {"DEBUG", "DATABASE_URL", "REDIS_URL", "Q_SCHEDULER", "LOG_FORMAT", "GUNICORN_BIND"}


def production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return {**env, **PRODUCTION, **extra}


def python(code: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=production_env(**extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- exactly one cluster runs the schedules ------------------------------------------------

SCHEDULER = "import django; django.setup(); from django_q.conf import Conf; print(Conf.SCHEDULER)"


def test_the_scheduler_runs_unless_q_scheduler_is_off():
    assert python(SCHEDULER).stdout.strip() == "True"  # `make demo`: one cluster, schedules on
    assert python(SCHEDULER, Q_SCHEDULER="false").stdout.strip() == "False"
    assert python(SCHEDULER, Q_SCHEDULER="true").stdout.strip() == "True"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(SYSTEMD / name)
    return parser


def test_exactly_one_process_type_and_one_unit_run_the_scheduler():
    processes = procfile()
    assert set(processes) == {"web", "worker", "scheduler-worker"}
    assert "Q_SCHEDULER=false" in processes["worker"]
    assert "Q_SCHEDULER=true" in processes["scheduler-worker"]
    assert unit("smsdesk-worker@.service")["Service"]["ExecStart"].startswith(
        "/usr/bin/env Q_SCHEDULER=false "
    )
    assert unit("smsdesk-scheduler-worker.service")["Service"]["ExecStart"].startswith(
        "/usr/bin/env Q_SCHEDULER=true "
    )


def test_task_clusters_are_stopped_through_their_main_process_only():
    # django-q2 hangs when every process of a cluster gets SIGTERM at once.
    task_timeout = 90  # settings.Q_CLUSTER["timeout"]
    for name in ("smsdesk-worker@.service", "smsdesk-scheduler-worker.service"):
        service = unit(name)["Service"]
        assert service["KillMode"] == "mixed", name
        assert "manage.py qcluster" in service["ExecStart"], name
        assert int(service["TimeoutStopSec"]) > task_timeout, name
    web = unit("smsdesk-web.service")["Service"]
    assert web["ExecStart"].endswith("gunicorn -c config/gunicorn.conf.py")
    assert web["KillMode"] == "mixed"
    assert int(web["TimeoutStopSec"]) > gunicorn_config().graceful_timeout


def test_nginx_sends_the_headers_the_settings_trust():
    conf = (ROOT / "deploy" / "nginx" / "smsdesk.conf").read_text()
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf  # USE_X_FORWARDED_PROTO
    # TRUST_X_FORWARDED_FOR reads the first address: nginx must not append to a client's.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "$proxy_add_x_forwarded_for" not in conf
    assert "proxy_set_header X-Request-ID $request_id;" in conf
    assert "location = /health" in conf


# --- gunicorn ---------------------------------------------------------------------------------


def gunicorn_config(**env: str):
    """config/gunicorn.conf.py loaded as gunicorn loads it, under `env`."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        spec = importlib.util.spec_from_file_location(
            "gunicorn_conf", ROOT / "config" / "gunicorn.conf.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_the_gunicorn_config_reads_the_environment():
    conf = gunicorn_config(
        GUNICORN_BIND="127.0.0.1:8650", WEB_CONCURRENCY="3", GUNICORN_THREADS="4"
    )
    assert conf.wsgi_app == "config.wsgi:application"
    assert conf.bind == ["127.0.0.1:8650"]
    assert (conf.workers, conf.threads, conf.worker_class) == (3, 4, "gthread")
    assert conf.graceful_timeout < conf.timeout
    assert conf.accesslog == "-"
    assert not hasattr(gunicorn_config(LOG_FORMAT="text"), "logger_class")
    assert gunicorn_config(LOG_FORMAT="json").logger_class.__name__ == "JsonLogger"


def test_gunicorn_accepts_the_config():
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "--check-config"],
        cwd=ROOT,
        env=production_env(LOG_FORMAT="json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_a_json_access_line_has_the_request_id_and_no_secret():
    class Response:
        status = "200 OK"
        sent = 512
        headers = [("Content-Type", "text/html"), ("X-Request-ID", "ab" * 16)]

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/accounts/reset/MQ/cz8b-a1b2c3d4e5/",
        "QUERY_STRING": "next=/board&token=9f8e7d6c5b4a",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_FORWARDED_FOR": "203.0.113.9",
    }
    conf = gunicorn_config(LOG_FORMAT="json")
    fields = conf.access_fields(Response(), environ, timedelta(milliseconds=12.5))
    assert fields["status"] == 200 and fields["duration_ms"] == 12.5
    assert fields["forwarded_for"] == "203.0.113.9"
    text = json.dumps(fields)
    assert "a1b2c3d4e5" not in text and "9f8e7d6c5b4a" not in text
    assert fields["query"] == "next=/board&token=[redacted]"


@pytest.mark.slow
def test_gunicorn_serves_health_and_logs_json(tmp_path):
    """The real server with the real config: an access line per request, as JSON, with the
    id the response carries."""
    port = free_port()
    env = production_env(
        LOG_FORMAT="json",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",  # empty: /health says 503
        SECURE_SSL_REDIRECT="false",
    )
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with stdout.open("w") as out, stderr.open("w") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}/health"
        assert wait_until(lambda: _get(url) is not None, 30), stderr.read_text()
        status, request_id = _get(url)
        assert status == 503  # no tables in this database
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    access = [json.loads(line) for line in stdout.read_text().splitlines()]
    mine = [line for line in access if line.get("request_id") == request_id]
    assert len(mine) == 1, stdout.read_text()
    assert mine[0]["logger"] == "gunicorn.access"
    assert mine[0]["http"]["path"] == "/health" and mine[0]["http"]["status"] == 503
    errors = [json.loads(line) for line in stderr.read_text().splitlines() if line.strip()]
    assert any(line["logger"] == "gunicorn.error" for line in errors)
    assert any(line.get("request_id") == request_id for line in errors)  # Django's warning


def _get(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return response.status, response.headers["X-Request-ID"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["X-Request-ID"]
    except OSError:
        return None

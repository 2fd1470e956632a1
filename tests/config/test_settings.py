"""Settings come from the environment; a few are refused outright."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], "
    "'db': settings.DATABASES['default'].get('NAME'), "
    "'options': settings.DATABASES['default'].get('OPTIONS', {}), "
    "'cache': settings.CACHES['default']['BACKEND'], "
    "'q': {k: v for k, v in settings.Q_CLUSTER.items() "
    "if k in ('orm', 'redis', 'timeout', 'retry')}, "
    "'debug': settings.DEBUG}))"
)


def run(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "DEBUG",
            "DATABASE_URL",
            "REDIS_URL",
            "FIELD_ENCRYPTION_KEYS",
        }
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "SMSDESK_ENV_FILE": ""})
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", PRINT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {
    "SECRET_KEY": "s" * 60,
    "FIELD_ENCRYPTION_KEYS": "kN6o4yL0wTqJ3y9mJcS4mU5C8v7m6d2pWZb3qv9dYtA=",
}


def test_it_refuses_to_start_without_secret_key_when_debug_is_off():
    result = run({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_it_refuses_to_start_without_encryption_keys_when_debug_is_off():
    result = run({"DEBUG": "false", "SECRET_KEY": "s" * 60})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr


def test_it_starts_in_debug_without_secrets():
    result = run({"DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is True


def test_it_defaults_to_tuned_sqlite_and_the_orm_broker():
    result = run(PRODUCTION)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["engine"] == "django.db.backends.sqlite3"
    assert data["options"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in data["options"]["init_command"]
    assert data["options"]["timeout"] >= 10
    assert data["q"]["orm"] == "default"
    assert data["q"]["timeout"] < data["q"]["retry"]
    assert data["cache"] == "django.core.cache.backends.db.DatabaseCache"


def test_database_url_selects_postgresql():
    result = run({**PRODUCTION, "DATABASE_URL": "postgres://u:p@db.example:5432/smsdesk"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["engine"] == "django.db.backends.postgresql"
    assert data["db"] == "smsdesk"


def test_redis_url_selects_redis_broker_and_cache():
    result = run({**PRODUCTION, "REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert data["q"]["redis"] == "redis://127.0.0.1:6379/3"
    assert "orm" not in data["q"]

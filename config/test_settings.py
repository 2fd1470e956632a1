"""Settings for the test suite: the production settings with test-friendly overrides."""

import os

os.environ.setdefault("SMSDESK_ENV_FILE", "")  # never read a developer's .env in tests
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "kN6o4yL0wTqJ3y9mJcS4mU5C8v7m6d2pWZb3qv9dYtA=")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SANDBOX_ENABLED", "true")

from config.settings import *  # noqa: F403
from config.settings import CACHES, Q_CLUSTER, REDIS_URL, STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Templates render {% static %} without a collectstatic manifest.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# Tasks run inline so a test sees their effect at once.
Q_CLUSTER["sync"] = True

if not REDIS_URL:
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}

MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

# Login throttling (django-axes) stays on, as in production: its attempts live in
# the database, so every test starts unlocked. Log in with `force_login` or by
# posting the login form; `client.login()` fails, as axes needs the request.

# Tests drive the sync engine explicitly, one cycle at a time.
SYNC_AUTOSTART = False

# Tests run sandboxes and test doubles on loopback ports of their own.
ALLOWED_PROVIDER_HOSTS = ["127.0.0.1", "localhost"]
WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]  # receivers in tests
WEBHOOK_PERSONAL_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# ... and receive the sandbox's webhook pushes on a live server over http.
PUSH_ALLOW_HTTP = True
SYNC_RUN_SECONDS = 0

# A file, not a shared in-memory database: the tests that run work in threads
# (live server, the sync engine) then see WAL and the busy timeout exactly as
# production does.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # One file per test process, so concurrent runs never share it.
    _name = f"test-db-{os.getpid()}.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / _name)}  # noqa: F405
    (BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405

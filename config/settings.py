"""smsdesk settings, read from the environment (12-factor).

Every value comes from an environment variable or the optional `.env` file next
to manage.py (see `.env.example`). Nothing secret has a production default:
with DEBUG off, SECRET_KEY must be set or the process refuses to start.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# SMSDESK_ENV_FILE lets tests and operators choose (or disable) the dotenv file.
ENV_FILE = os.environ.get("SMSDESK_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. smsdesk refuses to start with DEBUG off and no "
            "SECRET_KEY: set it in the environment or in .env (see .env.example)."
        )
    SECRET_KEY = "insecure-development-only-key-never-used-when-debug-is-off"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_q",
    "ninja",  # the REST API's interactive docs, served from its bundled static files
    "axes",
    "accounts",
    "audit",
    "providers",
    "orders",
    "rentals",
    "reports",
    "webhooks",
    "sync",
    "api",
    "portal",
    "demo",
]

MIDDLEWARE = [
    # First, so every log line of the request (redirects included) carries its id.
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "config.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.teams",
                "reports.context_processors.low_balance",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -----------------------------------------------------------------
# SQLite by default, tuned so the web process and the task cluster share it
# without "database is locked": WAL lets readers run beside one writer, the busy
# timeout waits for the lock instead of failing, and IMMEDIATE transactions take
# the write lock up front instead of failing when a read turns into a write.
SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and task broker ----------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "smsdesk",
        }
    }
else:
    # The database cache is shared by every process on the machine (web and
    # qcluster), which the catalog quote cache relies on; `make` targets run
    # `createcachetable`.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "smsdesk_cache",
        }
    }

Q_CLUSTER = {
    "name": "smsdesk",
    "workers": env.int("Q_WORKERS", default=6),
    "recycle": 500,
    # A task may run for `timeout` seconds; the broker re-delivers it after
    # `retry` seconds, so timeout must stay below retry or work runs twice.
    "timeout": 90,
    "retry": 120,
    "max_attempts": 1,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 500,
    "label": "Tasks",
    # Exactly one cluster of a deployment runs the schedules (the sync watchdog,
    # catalogs, balances): the Procfile's and the systemd units' plain workers set
    # Q_SCHEDULER=false, the one scheduler worker true (docs/DEPLOY.md).
    "scheduler": env.bool("Q_SCHEDULER", default=True),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.5
if env.bool("Q_SYNC", default=False):
    Q_CLUSTER["sync"] = True

# --- Auth -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "index"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for
# one username from one address, that pair is locked for LOGIN_LOCKOUT_MINUTES,
# on the portal and the admin alike. Keyed on the pair, so one attacker cannot
# lock a colleague out and a shared office address does not lock everyone.
# Staff see and clear lockouts in the admin ("Access attempts").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The same client address as the audit log: X-Forwarded-For only behind a
# proxy the operator trusts (TRUST_X_FORWARDED_FOR).
AXES_CLIENT_IP_CALLABLE = "accounts.access.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
AXES_RESET_ON_SUCCESS = True
# The lock ends LOGIN_LOCKOUT_MINUTES after it started, whatever is tried
# meanwhile, so the lockout page can say when.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False

# --- I18N ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise serves them in every mode) -----------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production defaults; `check --deploy` must be clean) ------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Load balancers probe /health over plain http (config/health.py).
SECURE_REDIRECT_EXEMPT = [r"^health$"]
X_FRAME_OPTIONS = "DENY"
TRUST_X_FORWARDED_FOR = env.bool("TRUST_X_FORWARDED_FOR", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (Django's own middleware): only our own files run or
# style the page; no inline script or style attribute exists in any template,
# and htmx is told not to inject its indicator styles or evaluate expressions.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "object-src": [CSP.NONE],
}
# Browser features the portal never uses, switched off for every page
# (config.middleware.PermissionsPolicyMiddleware). Autoplay and the clipboard
# stay: the code-arrival beep and the copy buttons use them.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# --- Email (optional: rental reminders are mailed only when configured) --------
EMAIL_URL = env.str("EMAIL_URL", default="")
EMAIL_ENABLED = bool(EMAIL_URL)


def _mailer_from_url(url: str) -> dict:
    config = env.email_url_config(url)
    options = {
        "host": config.get("EMAIL_HOST", ""),
        "port": config.get("EMAIL_PORT"),
        "username": config.get("EMAIL_HOST_USER", ""),
        "password": config.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": config.get("EMAIL_USE_TLS", False),
        "use_ssl": config.get("EMAIL_USE_SSL", False),
    }
    return {"BACKEND": config["EMAIL_BACKEND"], "OPTIONS": options}


if EMAIL_URL:
    MAILERS = {"default": _mailer_from_url(EMAIL_URL)}
elif DEBUG:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    # No mail configured: smsdesk sends none (EMAIL_ENABLED is off); Django's
    # own SMTP default stays in place for anything an operator adds.
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}
# The portal's public address, for links in emails.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="smsdesk <smsdesk@localhost>")

# --- smsdesk ---------------------------------------------------------------------
# Fernet keys (urlsafe base64, 32 bytes) separated by commas, newest first. The
# first encrypts; every key decrypts, so a new key can be added in front and
# `rotate_secrets` re-encrypts stored secrets with it.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS is not set. Provider API keys are encrypted at rest; "
        "generate a key with `python manage.py generate_encryption_key`."
    )

# The built-in sandbox provider is a test mode; production never reaches it
# unless an operator turns it on explicitly.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
SANDBOX_URL = env.str("SANDBOX_URL", default="http://127.0.0.1:8001")
# Hosts besides the providers' own where an account may send its key ("host" or
# "host:port"; http allowed): a company proxy, a test double. See providers/hosts.py.
ALLOWED_PROVIDER_HOSTS = env.list("ALLOWED_PROVIDER_HOSTS", default=[])
# Hosts ("host" or "host:port") a webhook may POST to although they are inside the
# network or plain http; every other webhook URL must be https to a public host.
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
# The same for members' personal webhooks (any member adds one for their API key):
# empty by default, so members reach only public https hosts.
WEBHOOK_PERSONAL_ALLOWED_HOSTS = env.list("WEBHOOK_PERSONAL_ALLOWED_HOSTS", default=[])
# The portal's public address (https://desk.example.com). When set, smsdesk registers
# PUBLIC_BASE_URL/hooks/smscode/<account>/ as each SMSCode account's webhook and
# applies the pushed events (providers/webhooks.py); polling stays as the fallback.
# SMSCode accepts only https; PUSH_ALLOW_HTTP lets tests and benchmarks on loopback
# register http.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")
PUSH_ALLOW_HTTP = env.bool("PUSH_ALLOW_HTTP", default=False)

# Logs go to the console (stderr; journald under systemd). LOG_FORMAT=json writes
# one JSON object per line with the request id (config.middleware.RequestIdMiddleware)
# or the django-q2 task id; both formats scrub secrets (config/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.logs.ContextFilter"}},
    "formatters": {
        "text": {
            "()": "config.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # django-axes announces itself at every start; its lockouts stay logged.
        "axes.apps": {"level": "WARNING"},
    },
}

# Minutes between automatic catalog refreshes (each account, all prices and stock).
CATALOG_SYNC_MINUTES = env.int("CATALOG_SYNC_MINUTES", default=60)
# Where the shared provider rate budget counts requests: "auto" picks Redis or
# local memory when configured as the cache, else a database table.
RATE_BUDGET_STORE = env.str("RATE_BUDGET_STORE", default="auto")
# Exchange rates are data, not settings: providers.ExchangeRate, read daily from
# providers that publish one (SMSCode) or entered in the admin (issue 15).

# Orders: how many times an order that expires without a code is replaced
# automatically (when the member asked for it).
ORDERS_AUTO_REPLACE_LIMIT = env.int("ORDERS_AUTO_REPLACE_LIMIT", default=3)
# The sync engine: seconds one poller task runs before handing over to the
# next (must stay below Q_CLUSTER timeout), and whether services start pollers.
SYNC_RUN_SECONDS = env.int("SYNC_RUN_SECONDS", default=50)
# Cycles the dispatcher keeps queued or running at once (a few per worker keeps
# every worker busy without queueing cycles long enough for their lease to end).
# Cycles a task runs one after another when many accounts are due at once.
SYNC_BATCH = env.int("SYNC_BATCH", default=4)
SYNC_MAX_IN_FLIGHT = env.int("SYNC_MAX_IN_FLIGHT", default=2 * Q_CLUSTER["workers"] * SYNC_BATCH)
# Seconds to connect to a provider and to wait for each read of its answer.
PROVIDER_TIMEOUT = (
    env.float("PROVIDER_CONNECT_TIMEOUT", default=5.0),
    env.float("PROVIDER_READ_TIMEOUT", default=20.0),
)
SYNC_AUTOSTART = True  # services wake the sync engine when they give it work

# Rentals: seconds between inbox checks of one rental (slower than orders), and
# how long before expiry (without auto-extend) the renter is reminded.
RENTAL_POLL_SECONDS = env.int("RENTAL_POLL_SECONDS", default=15)
RENTAL_REMINDER_HOURS = env.int("RENTAL_REMINDER_HOURS", default=24)

# The member API (api/): each personal key may make API_KEY_RATE_LIMIT requests per
# API_KEY_RATE_PERIOD seconds across all web workers; beyond that, 429 and Retry-After.
API_KEY_RATE_LIMIT = env.int("API_KEY_RATE_LIMIT", default=100)
API_KEY_RATE_PERIOD = env.float("API_KEY_RATE_PERIOD", default=10.0)

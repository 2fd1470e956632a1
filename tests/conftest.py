"""Shared fixtures for the whole suite."""

import uuid

import pytest

from providers.sandbox import SandboxConfig, SandboxServer

# Where each protocol lives on the sandbox (the prefixes the portal stores).
SANDBOX_PREFIXES = {
    "smspool": "/smspool",
    "numpool": "/numpool/api/v1",
    "smscode": "/smscode",
    "smsactivate": "/smsactivate/stubs/handler_api.php",
}


def start_sandbox(**knobs) -> SandboxServer:
    """A deterministic sandbox: codes arrive only when a test delivers them."""
    defaults = {
        "seed": 11,
        "no_code_share": 0.0,
        "delivery_min_seconds": 86400.0,
        "delivery_max_seconds": 86400.0,
        "rental_message_min_seconds": 86400.0,
        "rental_message_max_seconds": 86400.0,
        "log_requests": False,
    }
    return SandboxServer(config=SandboxConfig(**{**defaults, **knobs})).start()


def sandbox_account(team, server: SandboxServer, kind: str, *, sync: bool = True, **fields):
    """A provider account of `kind` at the sandbox (catalog synced unless told not to)."""
    from providers.models import ProviderAccount
    from providers.services import catalog_sync

    account = ProviderAccount(
        team=team,
        kind=kind,
        label=fields.pop("label", f"{kind} sandbox"),
        base_url=server.base_url + SANDBOX_PREFIXES[kind],
        currency=fields.pop("currency", "IDR" if kind == "smscode" else "USD"),
        **fields,
    )
    account.set_api_key(f"sbx_{uuid.uuid4().hex}")  # random, as real keys are
    account.save()
    if sync:
        catalog_sync(account=account)
    return account


@pytest.fixture
def sandbox():
    server = start_sandbox()
    yield server
    server.stop()


# --- no part of a provider key leaves smsdesk (issue 11) ---------------------------------------

SECRET_RUN = 6  # characters of a key that count as the key (providers.http.SECRET_RUN)


class SecretWatch:
    """Collects every key a test stores and everything the test let out: portal and
    admin responses, log records, audit payloads."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        # Keys one response may show (a personal API key, on the page that created it).
        self.shown_once: set[str] = set()
        self.outputs: list[tuple[str, str]] = []

    def leaks(self) -> list[str]:
        # Windows with a digit: real keys are random, while the readable test keys
        # ("sbx_dialect_guide") share whole words with ordinary log lines.
        windows = {
            key[i : i + SECRET_RUN]: key
            for key in self.keys
            if len(key) >= SECRET_RUN
            for i in range(len(key) - SECRET_RUN + 1)
            if any(c.isdigit() for c in key[i : i + SECRET_RUN])
        }
        found = []
        shown: dict[str, int] = {}  # key shown once -> the output that showed it
        for index, (where, text) in enumerate(self.outputs):
            for window, key in windows.items():
                if window not in text:
                    continue
                once = key in self.shown_once and where.startswith("response")
                if once and shown.setdefault(key, index) == index:
                    continue
                found.append(f"{where} contains {window!r} of a stored key")
                break
        return found


class _LogCollector(__import__("logging").Handler):
    def __init__(self, watch: SecretWatch) -> None:
        super().__init__(level=0)
        self.watch = watch

    def emit(self, record) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is not this check's business
            text = str(record.msg)
        self.watch.outputs.append((f"log {record.name}", text))


@pytest.fixture(autouse=True)
def no_key_leaves(request, monkeypatch):
    """Fail a test when anything it produced carries 6 or more characters of a key it
    stored: a response body, a log record or an audit payload."""
    import logging

    from django.test.client import Client

    from providers.models import ProviderAccount

    watch = SecretWatch()
    set_api_key = ProviderAccount.set_api_key

    def remembering(self, api_key):
        watch.keys.add(api_key.strip())
        return set_api_key(self, api_key)

    monkeypatch.setattr(ProviderAccount, "set_api_key", remembering)
    _watch_api_keys(watch, monkeypatch)
    send = Client.request

    def recording(self, **kwargs):
        response = send(self, **kwargs)
        if not getattr(response, "streaming", False):
            path = kwargs.get("PATH_INFO", "")
            watch.outputs.append((f"response {path}", response.content.decode(errors="replace")))
        return response

    monkeypatch.setattr(Client, "request", recording)
    collector = _LogCollector(watch)
    root = logging.getLogger()
    root.addHandler(collector)
    # Provider requests are logged at DEBUG (INFO keeps one line per sync cycle): the
    # check must see those lines too, whatever level the suite logs at.
    chokepoint = logging.getLogger("providers")
    level = chokepoint.level
    chokepoint.setLevel(logging.DEBUG)
    yield watch
    chokepoint.setLevel(level)
    root.removeHandler(collector)
    if watch.keys and "secret_leak_expected" not in request.keywords:
        watch.outputs += _audit_payloads(request)
        leaks = watch.leaks()
        assert not leaks, "\n".join(leaks[:5])


def _watch_api_keys(watch: SecretWatch, monkeypatch) -> None:
    """Personal API keys count as stored keys too: their secret part (the prefix is
    shown in lists on purpose) may appear in one response, the one that created it."""
    from api import keys

    new_raw_key = keys.new_raw_key

    def remembering():
        raw = new_raw_key()
        secret = keys.split(raw)[1]
        watch.keys.add(secret)
        watch.shown_once.add(secret)
        return raw

    monkeypatch.setattr(keys, "new_raw_key", remembering)


def _audit_payloads(request) -> list[tuple[str, str]]:
    """Audit payloads, when the test has a database to read them from."""
    import json

    if not any(name in request.fixturenames for name in ("db", "transactional_db")) and not (
        request.instance is not None and hasattr(request.instance, "_fixture_setup")
    ):
        return []
    try:
        from audit.models import AuditEvent

        return [
            ("audit payload", json.dumps(p, default=str))
            for p in AuditEvent.objects.values_list("payload", flat=True)
        ]
    except Exception:  # the database is gone already (some teardown orders)
        return []

"""Shared fixtures for the whole suite."""

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
    account.set_api_key(f"sbx_{kind}_{team.pk}_{account.label.replace(' ', '_')}")
    account.save()
    if sync:
        catalog_sync(account=account)
    return account


@pytest.fixture
def sandbox():
    server = start_sandbox()
    yield server
    server.stop()

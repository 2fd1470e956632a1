"""Provider clients, one module per wire protocol."""

from __future__ import annotations

from importlib import import_module

from providers.clients.base import ProviderClient

_MODULES = {
    "smspool": ("providers.clients.smspool", "SmsPoolClient"),
    "numpool": ("providers.clients.numpool", "NumPoolClient"),
    "smscode": ("providers.clients.smscode", "SmsCodeClient"),
    "smsactivate": ("providers.clients.smsactivate", "SmsActivateClient"),
}

KINDS = tuple(_MODULES)


def client_class(kind: str) -> type[ProviderClient]:
    """Return the client class for a provider kind; KeyError for an unknown kind."""
    module, name = _MODULES[kind]
    return getattr(import_module(module), name)

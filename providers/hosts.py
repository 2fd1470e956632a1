"""Where smsdesk may send a provider account's key.

A base URL is the one thing a manager types that decides where the team's key
goes, so it is held to a rule: https to a public host. Allowed besides: the
provider's documented host, the built-in sandbox when it is enabled, and hosts
an operator lists in ALLOWED_PROVIDER_HOSTS ("host" or "host:port"). A name
that resolves to a private, loopback or link-local address is refused like the
address itself, at the form and again at the HTTP chokepoint, so nobody can
make the server call inside its own network.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urlsplit

from django.conf import settings

RESOLVE_CACHE_SECONDS = 300
_resolved: dict[str, tuple[float, tuple[str, ...]]] = {}


def _default_hosts() -> set[str]:
    from providers.clients import KINDS, client_class

    hosts = {urlsplit(client_class(kind).default_base_url).hostname for kind in KINDS}
    return {h for h in hosts if h}


def is_allowed_host(url: str) -> bool:
    """Whether `url` goes to a host the rule above allows without looking it up."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    listed = {h.lower() for h in settings.ALLOWED_PROVIDER_HOSTS}
    if host in listed or parts.netloc.lower() in listed:
        return True
    if settings.SANDBOX_ENABLED and parts.netloc == urlsplit(settings.SANDBOX_URL).netloc:
        return True
    return host in _default_hosts()


def base_url_problem(url: str) -> str:
    """What is wrong with sending a key to `url`, in plain words; "" when nothing is."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter a full address such as https://api.provider.example."
    if parts.username or parts.password:
        return "Leave user names and passwords out of the address; the key goes in its own field."
    if is_allowed_host(url):
        return ""
    if parts.scheme != "https":
        return "Use an https address: the key must not travel unencrypted."
    addresses = _addresses(parts.hostname)
    if not addresses:
        return f"{parts.hostname} does not resolve to any address."
    if any(not ipaddress.ip_address(a).is_global for a in addresses):
        return (
            f"{parts.hostname} is an address inside the network; smsdesk sends keys only to "
            "public hosts. An operator can allow it in ALLOWED_PROVIDER_HOSTS."
        )
    return ""


def points_inside(url: str) -> bool:
    """True when `url`'s host is not allowed by name and resolves to a non-public
    address (the chokepoint's check; a name that does not resolve fails on its own)."""
    parts = urlsplit(url)
    if not parts.hostname or is_allowed_host(url):
        return False
    return any(not ipaddress.ip_address(a).is_global for a in _addresses(parts.hostname))


def is_inside(host: str) -> bool:
    """True when `host` is, or resolves to, a private, loopback, link-local or other
    non-public address (webhooks hold their URLs to the same rule). A name that does
    not resolve is not inside; sending to it fails on its own."""
    return any(not ipaddress.ip_address(a).is_global for a in _addresses(host))


def _addresses(host: str) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    now = time.monotonic()
    cached = _resolved.get(host)
    if cached and now - cached[0] < RESOLVE_CACHE_SECONDS:
        return cached[1]
    try:
        found = tuple({info[4][0].split("%")[0] for info in socket.getaddrinfo(host, None)})
    except (OSError, UnicodeError):
        found = ()
    _resolved[host] = (now, found)
    return found

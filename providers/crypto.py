"""Encryption at rest for provider API keys (Fernet, several keys for rotation).

FIELD_ENCRYPTION_KEYS lists Fernet keys, newest first. The first key encrypts;
any key decrypts, so adding a new key in front keeps old secrets readable
until `manage.py rotate_secrets` re-encrypts them with the new one.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


def _keys() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip())
    if keys:
        return keys
    if settings.DEBUG:
        # Development only: a key derived from SECRET_KEY, so `make demo` works
        # before anyone configures encryption. Production refuses to start
        # without FIELD_ENCRYPTION_KEYS (see settings).
        digest = hashlib.sha256(("smsdesk-dev-field-key:" + settings.SECRET_KEY).encode())
        return (base64.urlsafe_b64encode(digest.digest()).decode(),)
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is not set.")


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(_keys())


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS."
        ) from exc


# Encrypted columns of apps above providers, for `rotate_secrets`: each app registers
# its own ("app_label.Model", field names) in AppConfig.ready(), so providers imports none.
_ELSEWHERE: list[tuple[str, tuple[str, ...]]] = []


def register_encrypted(model_label: str, *fields: str) -> None:
    """Have `rotate_secrets` re-encrypt these columns of `model_label` too."""
    if (model_label, fields) not in _ELSEWHERE:
        _ELSEWHERE.append((model_label, fields))


def encrypted_elsewhere() -> list[tuple[str, tuple[str, ...]]]:
    return list(_ELSEWHERE)


def rotate(token: str) -> str:
    """Re-encrypt `token` with the newest key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("A stored secret cannot be decrypted for rotation.") from exc

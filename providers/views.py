from __future__ import annotations


def provider_accounts_context(request, membership) -> dict:
    return {}

"""Roles and what each may do: the one place this is written down.

Views and services ask `can(role, Permission.X)`; nothing else compares role
names, so changing what a role may do is a one-line change here.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


class Permission(StrEnum):
    VIEW = "view"  # see the team, its orders, rentals and audit log
    ORDER = "order"  # order, cancel, resend and rent numbers
    MANAGE_MEMBERS = "manage_members"  # invite, change roles, remove
    MANAGE_OWNERS = "manage_owners"  # grant, change or remove the owner role
    MANAGE_PROVIDERS = "manage_providers"  # provider accounts and keys
    # Where a provider account sends its key: whoever changes it may send the key anywhere.
    MOVE_PROVIDER_KEYS = "move_provider_keys"
    MANAGE_TEAM = "manage_team"  # rename the team, spend limits
    VIEW_REPORTS = "view_reports"  # cost reports and exports


_ALL = frozenset(Role)
_WRITERS = frozenset({Role.OWNER, Role.MANAGER, Role.MEMBER})
_MANAGERS = frozenset({Role.OWNER, Role.MANAGER})

PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.VIEW: _ALL,
    Permission.ORDER: _WRITERS,
    Permission.MANAGE_MEMBERS: _MANAGERS,
    Permission.MANAGE_OWNERS: frozenset({Role.OWNER}),
    Permission.MANAGE_PROVIDERS: _MANAGERS,
    Permission.MOVE_PROVIDER_KEYS: frozenset({Role.OWNER}),
    Permission.MANAGE_TEAM: _MANAGERS,
    Permission.VIEW_REPORTS: _MANAGERS,
}


def can(role: str, permission: Permission) -> bool:
    """Return True when `role` is allowed `permission`."""
    return role in PERMISSIONS[permission]

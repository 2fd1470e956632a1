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
    VIEW_REPORTS = "view_reports"  # cost reports and exports (read-only: for oversight)
    REMOVE_PROVIDERS = "remove_providers"  # remove a provider account for good
    # Through the REST API: every member's orders and rentals (without it, a key sees its
    # own member's only; the portal's board shows the whole team to everyone).
    API_ALL_ORDERS = "api_all_orders"


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
    Permission.VIEW_REPORTS: _ALL,
    Permission.REMOVE_PROVIDERS: frozenset({Role.OWNER}),
    Permission.API_ALL_ORDERS: _MANAGERS,
}


def can(role: str, permission: Permission) -> bool:
    """Return True when `role` is allowed `permission`."""
    return role in PERMISSIONS[permission]


def roles_with(permission: Permission) -> list[Role]:
    """The roles allowed `permission`, most powerful first (for "needs Manager or Owner")."""
    return [role for role in Role if role in PERMISSIONS[permission]]


# What each role may do, in the words the members page and the 403 page use. The
# test_roles tests hold these sentences to the PERMISSIONS table above.
ROLE_SUMMARIES: dict[Role, str] = {
    Role.OWNER: "Everything, including making others owners and removing provider accounts.",
    Role.MANAGER: "Invites and manages members, provider accounts, spend limits and reports.",
    Role.MEMBER: "Orders, cancels, resends and rents numbers; sees cost reports.",
    Role.VIEWER: "Sees the team, its orders, rentals, audit log and cost reports; changes nothing.",
}

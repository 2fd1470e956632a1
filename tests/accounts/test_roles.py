"""The permission table, enforced: what each role may do."""

import pytest

from accounts.roles import PERMISSIONS, Permission, Role, can

EXPECTED = {
    Role.OWNER: set(Permission),
    Role.MANAGER: set(Permission) - {Permission.MANAGE_OWNERS, Permission.MOVE_PROVIDER_KEYS},
    Role.MEMBER: {Permission.VIEW, Permission.ORDER},
    Role.VIEWER: {Permission.VIEW},
}


@pytest.mark.parametrize("role", list(Role))
def test_it_grants_exactly_the_documented_permissions(role):
    granted = {p for p in Permission if can(role, p)}
    assert granted == EXPECTED[role]


def test_it_covers_every_permission():
    assert set(PERMISSIONS) == set(Permission)


def test_it_refuses_unknown_roles():
    assert not any(can("emperor", p) for p in Permission)

"""The permission table, enforced: what each role may do, and the words that say so."""

import pytest

from accounts.roles import PERMISSIONS, ROLE_SUMMARIES, Permission, Role, can, roles_with

OWNER_ONLY = {Permission.MANAGE_OWNERS, Permission.MOVE_PROVIDER_KEYS, Permission.REMOVE_PROVIDERS}
EXPECTED = {
    Role.OWNER: set(Permission),
    Role.MANAGER: set(Permission) - OWNER_ONLY,
    # Cost reports are read-only oversight: every role sees them.
    Role.MEMBER: {Permission.VIEW, Permission.ORDER, Permission.VIEW_REPORTS},
    Role.VIEWER: {Permission.VIEW, Permission.VIEW_REPORTS},
}


@pytest.mark.parametrize("role", list(Role))
def test_it_grants_exactly_the_documented_permissions(role):
    granted = {p for p in Permission if can(role, p)}
    assert granted == EXPECTED[role]


def test_it_covers_every_permission():
    assert set(PERMISSIONS) == set(Permission)


def test_it_refuses_unknown_roles():
    assert not any(can("emperor", p) for p in Permission)


def test_it_names_the_roles_with_a_permission_most_powerful_first():
    assert roles_with(Permission.MANAGE_MEMBERS) == [Role.OWNER, Role.MANAGER]
    assert roles_with(Permission.REMOVE_PROVIDERS) == [Role.OWNER]


def test_the_role_summaries_say_what_the_table_grants():
    """The members page shows these sentences; they must not promise what the table refuses."""
    assert set(ROLE_SUMMARIES) == set(Role)
    assert "removing provider accounts" in ROLE_SUMMARIES[Role.OWNER]
    assert (
        "reports" in ROLE_SUMMARIES[Role.VIEWER]
        and "changes nothing" in ROLE_SUMMARIES[Role.VIEWER]
    )
    assert "reports" in ROLE_SUMMARIES[Role.MEMBER]
    assert not can(Role.VIEWER, Permission.ORDER)
    assert can(Role.VIEWER, Permission.VIEW_REPORTS) and can(Role.MEMBER, Permission.VIEW_REPORTS)
    assert can(Role.MANAGER, Permission.MANAGE_MEMBERS)
    assert not can(Role.MANAGER, Permission.REMOVE_PROVIDERS)

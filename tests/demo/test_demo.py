import pytest

from accounts.models import Membership, Team
from demo.data import LOGINS, TEAM_NAME, create_demo_team, create_sandbox_accounts
from providers.models import ProviderAccount


@pytest.mark.django_db
def test_the_demo_team_is_created_once(settings):
    first = create_demo_team()
    second = create_demo_team()
    assert first == second
    assert Team.objects.filter(name=TEAM_NAME).count() == 1
    roles = dict(Membership.objects.filter(team=first).values_list("user__username", "role"))
    assert roles == {"owner": "owner", "member": "member"}
    assert len(LOGINS) == 3  # alex exists but is not in the team yet


@pytest.mark.django_db
def test_one_sandbox_account_of_each_kind_is_created_once(settings):
    settings.SANDBOX_URL = "http://127.0.0.1:8001"
    team = create_demo_team()
    create_sandbox_accounts(team)
    create_sandbox_accounts(team)
    accounts = ProviderAccount.objects.filter(team=team)
    assert sorted(accounts.values_list("kind", flat=True)) == [
        "numpool",
        "smsactivate",
        "smscode",
        "smspool",
    ]
    assert all(a.is_sandbox for a in accounts)
    assert all(a.api_key.startswith("sbx_") for a in accounts)


@pytest.mark.django_db
def test_a_removed_sandbox_account_is_replaced_not_revived(settings):
    from providers.services import provider_account_remove

    settings.SANDBOX_URL = "http://127.0.0.1:8001"
    team = create_demo_team()
    pool = next(a for a in create_sandbox_accounts(team) if a.kind == "smspool")
    provider_account_remove(account=pool, actor=team.owners().first().user)
    again = next(a for a in create_sandbox_accounts(team) if a.kind == "smspool")
    assert again.pk != pool.pk and again.enabled and again.label == "SMSPool (sandbox)"
    assert ProviderAccount.objects.get(pk=pool.pk).removed_at is not None

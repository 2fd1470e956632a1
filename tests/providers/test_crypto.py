from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from accounts.models import Team
from providers import crypto
from providers.models import ProviderAccount

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def _account(team, key="sk_live_abcdef123456"):
    account = ProviderAccount(
        team=team, kind="smspool", label="Main", base_url="https://api.smspool.net"
    )
    account.set_api_key(key)
    account.save()
    return account


@pytest.mark.django_db
def test_it_encrypts_at_rest_and_keeps_only_the_last_four(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    account = _account(Team.objects.create(name="T"))
    row = ProviderAccount.objects.values("api_key_encrypted", "api_key_last4").get()
    assert "abcdef123456" not in row["api_key_encrypted"]
    assert row["api_key_last4"] == "3456"
    assert account.masked_key == "••••3456"
    assert ProviderAccount.objects.get().api_key == "sk_live_abcdef123456"


@pytest.mark.django_db
def test_secrets_written_with_an_old_key_still_decrypt_after_a_new_key_is_added(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    _account(Team.objects.create(name="T"))
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert ProviderAccount.objects.get().api_key == "sk_live_abcdef123456"


@pytest.mark.django_db
def test_the_rotate_command_re_encrypts_with_the_newest_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    _account(Team.objects.create(name="T"))
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    out = StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "Re-encrypted 1 secret" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key can now go
    assert ProviderAccount.objects.get().api_key == "sk_live_abcdef123456"


@pytest.mark.django_db
def test_a_secret_under_a_lost_key_fails_clearly(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    _account(Team.objects.create(name="T"))
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(crypto.DecryptionError) as info:
        ProviderAccount.objects.get().api_key  # noqa: B018
    assert "abcdef" not in str(info.value)


def test_generate_encryption_key_prints_a_usable_key():
    out = StringIO()
    call_command("generate_encryption_key", stdout=out)
    Fernet(out.getvalue().strip().encode())

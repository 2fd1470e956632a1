"""`manage.py provider_check`: credentials checked without saving them."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import Team
from providers.models import ProviderAccount
from tests.conftest import SANDBOX_PREFIXES


def run(*args) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("provider_check", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(SANDBOX_PREFIXES))
def test_it_reports_balance_catalog_and_a_quote(sandbox, kind):
    url = sandbox.base_url + SANDBOX_PREFIXES[kind]
    code, out, _ = run("--kind", kind, "--base-url", url, "--api-key", "sbx_check", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True
    assert data["countries"] > 30 and data["services"] > 25
    assert data["sample_quote"]["price"]
    assert not ProviderAccount.objects.exists()  # nothing saved


@pytest.mark.django_db
def test_a_bad_key_fails_with_the_category(sandbox):
    url = sandbox.base_url + SANDBOX_PREFIXES["smspool"]
    code, _, err = run("--kind", "smspool", "--base-url", url, "--api-key", "wrong-key")
    assert code != 0
    assert "auth_failed" in err
    assert "wrong-key" not in err


@pytest.mark.django_db
def test_json_failure_output(sandbox):
    url = sandbox.base_url + SANDBOX_PREFIXES["numpool"]
    code, out, _ = run("--kind", "numpool", "--base-url", url, "--api-key", "nope", "--json")
    assert code != 0
    assert json.loads(out)["error"]["category"] == "auth_failed"


@pytest.mark.django_db
def test_it_checks_a_saved_account(sandbox):
    account = ProviderAccount(
        team=Team.objects.create(name="T"),
        kind="smscode",
        label="C",
        base_url=sandbox.base_url + "/smscode",
        currency="IDR",
    )
    account.set_api_key("sbx_saved")
    account.save()
    code, out, _ = run("--account", str(account.code))
    assert code == 0
    assert "Connected. Balance 1600000 IDR" in out


@pytest.mark.django_db
def test_it_explains_missing_arguments():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--kind and --api-key"):
        call_command("provider_check")

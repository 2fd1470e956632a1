"""`manage.py sandbox`: refuses unless enabled, and turns flags into knobs."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from providers.management.commands.sandbox import Command


def options(**given):
    parser = Command().create_parser("manage.py", "sandbox")
    argv = []
    for name, value in given.items():
        argv += (
            [f"--{name.replace('_', '-')}", str(value)]
            if value is not True
            else [f"--{name.replace('_', '-')}"]
        )
    return vars(parser.parse_args(argv))


@override_settings(SANDBOX_ENABLED=False)
def test_it_refuses_to_start_when_disabled():
    with pytest.raises(CommandError, match="SANDBOX_ENABLED"):
        call_command("sandbox", "--port", "0")


@override_settings(SANDBOX_URL="http://127.0.0.1:8765")
def test_it_listens_where_sandbox_url_says(monkeypatch):
    monkeypatch.delenv("SANDBOX_PORT", raising=False)
    config = Command()._config(options())
    assert (config.host, config.port) == ("127.0.0.1", 8765)


def test_it_maps_flags_env_and_set_onto_knobs(monkeypatch):
    monkeypatch.setenv("SANDBOX_NO_CODE_SHARE", "0.25")
    monkeypatch.setenv("SANDBOX_TIME_SCALE", "3")
    config = Command()._config(
        options(port=9000, time_scale=20, out_of_stock="US,smspool:GB", no_rate_limits=True)
        | {"set": ["delivery_max_seconds=12", "smscode_fx_rate=15500"]}
    )
    assert config.port == 9000 and config.time_scale == 20  # the flag beats the env
    assert config.no_code_share == 0.25  # the env beats the default
    assert config.out_of_stock == {"all": ["US"], "smspool": ["GB"]}
    assert config.rate_limits_enabled is False
    assert config.delivery_max_seconds == 12 and config.smscode_fx_rate == 15500


def test_it_rejects_unknown_knobs():
    with pytest.raises(CommandError, match="Unknown knob"):
        call_command("sandbox", "--set", "warp_speed=9")

"""Fixtures for the sandbox tests: an in-process server over real HTTP.

Every test gets a fresh server on an ephemeral port (starting one costs a
few milliseconds once the catalog is built), so knobs, clock moves and
accounts never leak between tests. Time is moved with `server.state.clock`
and codes are delivered through the control API: no test sleeps for long.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from providers.sandbox import SandboxServer
from tests.sandbox.helpers import Api, ledger_holds, make_server


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    srv = make_server()
    yield srv
    srv.stop()


@pytest.fixture
def key() -> str:
    """A fresh sandbox key (auto-provisioned on first use)."""
    return f"sbx_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def api(server: SandboxServer) -> Api:
    return Api(server)


@pytest.fixture(name="ledger_holds")
def ledger_holds_fixture():
    """balance == initial + adjustments - charges + refunds, as a callable."""
    return ledger_holds

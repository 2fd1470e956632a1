"""Fixtures for the security tests: the two-team world, offline."""

from __future__ import annotations

import pytest

from tests.security.world import build_world, no_network


@pytest.fixture
def world(db):
    with no_network():
        yield build_world()

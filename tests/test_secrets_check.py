"""The secrets check itself (tests/conftest.py `no_key_leaves`) sees what it must."""

import logging


def test_it_sees_a_provider_request_logged_at_debug(no_key_leaves):
    # Provider requests are DEBUG lines while the suite logs at INFO: a key in one of
    # them must still be caught.
    no_key_leaves.keys.add("sk_live_4f9a7c21b8")
    logging.getLogger("providers.http").debug("GET /orders?key=%s", "sk_live_4f9a7c21b8")
    leaks = no_key_leaves.leaks()
    no_key_leaves.outputs.clear()  # the leak was planted: let the teardown pass
    assert leaks and "log providers.http" in leaks[0]


def test_provider_debug_lines_are_recorded_during_a_test(no_key_leaves):
    assert logging.getLogger("providers").getEffectiveLevel() == logging.DEBUG

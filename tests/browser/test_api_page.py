"""The member's API page in a real browser: a new key fills the examples, and each
example's copy button puts the whole block, key included, on the clipboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login

pytestmark = pytest.mark.browser


def test_a_new_key_s_examples_copy_whole(page, team, live_server, policy_violations):
    login(page, "bob", f"/teams/{team.code}/api/")
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    raw = page.locator("[data-new-key]").inner_text()
    assert raw.startswith("smsd")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    for block in ("example-curl", "example-python", "example-rest"):
        copy = page.locator(f"button[data-copy-from={block}]")
        copy.click()
        expect(copy).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == page.locator(f"#{block}").inner_text()
        assert raw in copied and "YOUR_API_KEY" not in copied
    rest = page.evaluate("navigator.clipboard.readText()")
    assert f"Authorization: Bearer {raw}" in rest and "/api/v1/orders" in rest
    assert not policy_violations, policy_violations

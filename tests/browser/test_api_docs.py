"""The REST API's interactive docs (/api/v1/docs) work in a real browser under the
portal's Content-Security-Policy: Swagger UI renders from ninja's bundled files (no CDN,
no inline script), and "Try it out" with a personal key calls the API."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from api.models import Scope
from api.services import api_key_create

pytestmark = pytest.mark.browser


def test_the_docs_render_and_try_it_out_calls_the_api(page, team, live_server, policy_violations):
    member = Membership.objects.get(team=team, user__username="bob")
    _, raw = api_key_create(membership=member, name="docs", scope=Scope.READ, actor=member.user)
    outside = []
    page.on(
        "request", lambda r: None if r.url.startswith(live_server.url) else outside.append(r.url)
    )
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("smsdesk API")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/balance")).to_be_visible()

    page.get_by_role("button", name=re.compile("Authorize")).first.click()
    page.locator(".modal-ux input").first.fill(raw)
    page.locator(".modal-ux button.modal-btn.authorize").click()
    page.locator(".modal-ux button.btn-done").click()

    balance = page.locator(
        ".opblock",
        has=page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/v1/balance$")),
    )
    balance.locator(".opblock-summary").click()
    balance.get_by_role("button", name="Try it out").click()
    balance.get_by_role("button", name="Execute").click()
    expect(
        balance.locator(".live-responses-table tbody .response-col_status").first
    ).to_contain_text("200")
    expect(balance.locator(".live-responses-table")).to_contain_text("spent_month")
    assert outside == [], outside
    page.wait_for_timeout(200)  # console messages arrive asynchronously
    assert not policy_violations, policy_violations

"""The board and the dashboard fit a phone; screenshots go to var/screenshots/ for a look."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from sync import engine
from tests.browser.helpers import DESKTOP, PHONE, SCREENSHOTS, deliver, login, place
from tests.conftest import sandbox_account

pytestmark = pytest.mark.browser


def overflow(page) -> int:
    """How many pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate(
        "Math.max(0, document.documentElement.scrollWidth - window.innerWidth,"
        " document.body.scrollWidth - window.innerWidth)"
    )


def test_board_and_dashboard_fit_a_phone_and_a_desktop(page, team, sandbox):
    account = sandbox_account(team, sandbox, "smspool")
    bob = Membership.objects.get(team=team, user__username="bob").user
    waiting = place(team, bob, account)
    received = place(team, Membership.objects.get(user__username="alice").user, account)
    deliver(sandbox, received, "Your WhatsApp code is 482-913. Do not share it with anyone.")
    engine.run_cycle(account)

    login(page, "bob")
    pages = {
        "board": reverse("board", args=[team.code]),
        "dashboard": reverse("dashboard", args=[team.code]),
    }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    too_wide = []
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for name, url in pages.items():
            page.goto(url)
            if name == "board":
                expect(page.locator(f"#order-{waiting.code}")).to_contain_text("waiting…")
                expect(page.locator(f"#order-{received.code} .code-value")).to_have_text("482913")
            else:
                expect(page.get_by_role("heading", level=1)).to_have_text("Alpha QA")
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width_name}.png"), full_page=True)
            if overflow(page) > 1:
                too_wide.append(f"{name} by {overflow(page)}px at {width_name} width")
    assert not too_wide, f"wider than the viewport: {too_wide}"

"""Steps the browser tests share."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.test import Client
from django.urls import reverse

from orders.models import Order
from providers.forms import new_idempotency_key
from tests.base import PASSWORD

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def login(page, username: str, next_url: str = "") -> None:
    """Log in through the real login form."""
    page.goto(reverse("login") + ("?" + urlencode({"next": next_url}) if next_url else ""))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def mark_document(page) -> None:
    """Tag the loaded document; `assert_same_document` proves no reload happened since."""
    page.evaluate("window.__smsdeskMark = 'still here'")


def assert_same_document(page) -> None:
    assert page.evaluate("window.__smsdeskMark") == "still here", "the page reloaded"


def deliver(sandbox, order: Order, text: str) -> None:
    """The provider receives an SMS for the order (in the sandbox)."""
    upstream = sandbox.state.order(order.account.kind, order.account.api_key, order.upstream_id)
    with sandbox.state.lock:
        sandbox.state.deliver(upstream, text=text)


def place(team, user, account) -> Order:
    """Order a WhatsApp number in the United States through the portal's own view."""
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("order_new", args=[team.code]),
        {
            "service": "WhatsApp",
            "country": "United States",
            "offer": "auto:cheapest",
            "idempotency_key": new_idempotency_key(),
            "quantity": 1,
            "activation_type": "SMS",
            "failover": "",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    return Order.objects.get(account=account, ordered_by=user)

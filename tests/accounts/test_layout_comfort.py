"""Every page: a favicon, a skip link, the phone menu button, the shortcut list."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.urls import reverse

from tests.base import BaseTestCase


class LayoutTestCase(BaseTestCase):
    def test_every_page_links_a_favicon_that_exists(self):
        r = self.client.get(reverse("login"))
        self.assertContains(r, '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">')
        icon = Path(settings.BASE_DIR) / "static" / "favicon.svg"
        self.assertIn("<svg", icon.read_text())

    def test_a_signed_in_page_has_the_skip_link_menu_and_shortcuts(self):
        self.login(self.bob)
        r = self.client.get(reverse("dashboard", args=[self.team.code]))
        self.assertContains(r, '<a class="skip-link" href="#main">Skip to content</a>')
        self.assertContains(r, '<main id="main" tabindex="-1">')
        self.assertContains(r, 'aria-controls="site-menu"')
        self.assertContains(r, 'id="shortcuts-help"')
        new_order = reverse("order_new", args=[self.team.code])
        self.assertContains(r, f'data-new-order-url="{new_order}"')

    def test_without_javascript_the_menu_stays_open(self):
        r = self.client.get(reverse("login"))
        self.assertContains(r, '<noscript><link rel="stylesheet" href="/static/css/nojs.css"')

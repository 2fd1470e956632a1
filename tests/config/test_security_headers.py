"""Content-Security-Policy and Permissions-Policy on every page, and no inline script or
style anywhere: every portal page a team owner can open is crawled from the URL resolver."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.test import SimpleTestCase
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from orders.models import Order
from rentals.models import Rental
from tests.base import make_user
from tests.rentals.test_rentals import RentalTestCase

TEMPLATES = Path(settings.BASE_DIR) / "templates"
NONCE = re.compile(r"'nonce-([^']+)'")


class InlineCode(HTMLParser):
    """Collect what a strict CSP would block or need eval for, tag by tag."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        # A JSON data block (json_script, Swagger UI's settings) is never executed.
        if tag == "script" and not attrs.get("src") and attrs.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs.items():
            value = value or ""
            if name == "style":
                self.found.append(f'style="{value}" on <{tag}>')
            elif name.startswith("on") or name.startswith("hx-on"):
                self.found.append(f"{name}= on <{tag}>")
            elif value.strip().lower().startswith("javascript:"):
                self.found.append(f"{name}=javascript: on <{tag}>")
            elif name in ("hx-vals", "hx-vars") and value.startswith("js:"):
                self.found.append(f"{name}=js: on <{tag}>")
            elif name == "hx-trigger" and "[" in value:
                self.found.append(f"trigger filter (needs eval) {value!r} on <{tag}>")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def portal_patterns(patterns=None, prefix="", namespace=""):
    """Yield (route, name) for every portal URL (not the admin's), names namespaced."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            if p.app_name != "admin":
                inner = ":".join(filter(None, [namespace, p.namespace]))
                yield from portal_patterns(p.url_patterns, prefix + str(p.pattern), inner)
        elif isinstance(p, URLPattern) and p.name:
            yield prefix + str(p.pattern), ":".join(filter(None, [namespace, p.name]))


class SecurityHeadersTestCase(RentalTestCase):
    """alice (owner) with a provider account, an order and a rental, over the sandbox."""

    def setUp(self):
        super().setUp()
        self.smspool = self.account("smspool")
        self.place(self.bob)
        self.rent(self.offer(self.smspool, country__iso="US"))
        self.client.force_login(self.alice)
        self.kwargs = {
            "code": self.team.code,
            "account_code": self.smspool.code,
            "order_code": Order.objects.get().code,
            "rental_code": Rental.objects.get().code,
            "membership_code": self.member.code,
        }

    def portal_urls(self) -> list[str]:
        urls = []
        for route, name in portal_patterns():
            wanted = re.findall(r"<(?:\w+:)?(\w+)>", route)
            if all(arg in self.kwargs for arg in wanted):
                urls.append(reverse(name, kwargs={arg: self.kwargs[arg] for arg in wanted}))
        # The fragments a filled-in form asks for.
        query = "?" + urlencode({"service": "WhatsApp", "country": "United States"})
        urls.append(reverse("order_offers", args=[self.team.code]) + query)
        urls.append(reverse("order_new", args=[self.team.code]) + query)
        urls.append(reverse("rental_new", args=[self.team.code]) + "?country=US")
        return sorted(set(urls))

    def assert_headers(self, url, response):
        csp = response.headers.get("Content-Security-Policy", "")
        for directive in (
            "default-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "object-src 'none'",
        ):
            self.assertIn(directive, csp, url)
        self.assertRegex(csp, r"script-src 'self'( 'nonce-[^']+')?;", url)
        self.assertNotIn("unsafe", csp, url)
        policy = response.headers.get("Permissions-Policy", "")
        for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
            self.assertIn(feature, policy, url)

    def test_every_portal_page_has_the_headers_and_no_inline_code(self):
        pages = 0
        for url in self.portal_urls():
            r = self.client.get(url)
            self.assertNotEqual(r.status_code, 500, url)
            self.assert_headers(url, r)
            if r.status_code == 200 and r["Content-Type"].startswith("text/html"):
                pages += 1
                self.assertEqual(inline_code(r.content.decode()), [], url)
        # Dashboard, members, settings, board, order form, history, detail, rentals,
        # rental detail, reports, audit... (a drop here means the crawl lost pages).
        self.assertGreaterEqual(pages, 25)

    def test_every_script_carries_the_nonce_the_header_names(self):
        for url in (reverse("dashboard", args=[self.team.code]), reverse("login")):
            r = self.client.get(url)
            nonce = NONCE.search(r.headers["Content-Security-Policy"]).group(1)
            scripts = re.findall(r"<script\b[^>]*>", r.content.decode())
            self.assertEqual(len(scripts), 2, url)  # htmx and smsdesk.js
            for tag in scripts:
                self.assertIn(f'nonce="{nonce}"', tag, url)
            # A fresh nonce per response.
            again = self.client.get(url).headers["Content-Security-Policy"]
            self.assertNotIn(nonce, again)

    def test_htmx_is_told_not_to_inject_styles_or_eval(self):
        r = self.client.get(reverse("board", args=[self.team.code]))
        self.assertContains(r, '"includeIndicatorStyles": false')
        self.assertContains(r, '"allowEval": false')

    def test_anonymous_pages_and_errors_have_the_headers(self):
        self.client.logout()
        for url in (reverse("login"), reverse("password_reset"), reverse("teams"), "/nowhere/"):
            self.assert_headers(url, self.client.get(url))

    def test_admin_pages_have_the_headers(self):
        root = make_user("root", is_staff=True, is_superuser=True)
        self.client.force_login(root)
        urls = [reverse("admin:index")]
        for model in admin.site._registry:
            opts = model._meta
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        for url in urls:
            r = self.client.get(url)
            self.assertEqual(r.status_code, 200, url)
            self.assert_headers(url, r)
            self.assertNotIn("unsafe-inline", r.headers["Content-Security-Policy"])
        self.client.logout()
        self.assert_headers("admin login", self.client.get(reverse("admin:login")))


class TemplateSourceTestCase(SimpleTestCase):
    """Every template file, rendered or not, is free of inline script and style."""

    def test_no_template_holds_inline_script_or_style(self):
        found = {}
        for path in TEMPLATES.rglob("*.html"):
            # Template tags inside attribute values are harmless to the parser.
            problems = inline_code(path.read_text())
            if problems:
                found[str(path.relative_to(TEMPLATES))] = problems
        self.assertEqual(found, {})

"""Comfort (issue 12): the phone menu, dark mode, the skip link, keyboard shortcuts.

Screenshots go to var/screenshots/ (git-ignored) for a look.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from sync import engine
from tests.browser.helpers import DESKTOP, PHONE, SCREENSHOTS, deliver, login, place
from tests.conftest import sandbox_account

pytestmark = pytest.mark.browser


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def inside_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


def test_the_phone_menu_reaches_every_page_by_keyboard(new_context, team):
    page = new_context(viewport=PHONE).new_page()
    login(page, "alice", reverse("dashboard", args=[team.code]))
    toggle = page.get_by_role("button", name="Menu")
    menu = page.locator("#site-menu")
    audit, members, settings = (
        menu.get_by_role("link", name=name, exact=True)
        for name in ("Audit log", "Members", "Settings")
    )
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(audit).to_be_hidden()
    shot(page, "menu-phone-closed")

    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    for link in (audit, members, settings):
        expect(link).to_be_visible()
        assert inside_viewport(page, link), "a menu entry is off-screen"
    shot(page, "menu-phone-open")
    dashboard = menu.get_by_role("link", name="Dashboard").bounding_box()
    log_out = menu.get_by_role("button", name="Log out").bounding_box()
    assert dashboard["y"] < log_out["y"], "the pages come first in the menu, the account last"

    # Tab goes from the button into the menu; Escape closes it and returns to the button.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#site-menu') !== null")
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    expect(audit).to_be_hidden()

    page.keyboard.press("Space")
    expect(members).to_be_visible()
    members.click()
    page.wait_for_url(re.compile(r"/members/?$"))
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")

    # Wider screens show every entry, none past the edge, and no button.
    for viewport in ({"width": 800, "height": 800}, {"width": 1024, "height": 768}, DESKTOP):
        page.set_viewport_size(viewport)
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        for link in page.locator("#site-menu a").all():
            expect(link).to_be_visible()
            assert inside_viewport(page, link), f"{link.text_content()} off-screen at {viewport}"
            assert page.evaluate(
                "el => { const r = el.getBoundingClientRect();"
                " const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);"
                " return el.contains(hit); }",
                link.element_handle(),
            ), f"{link.text_content()} is covered or clipped at {viewport}"
    shot(page, "menu-desktop")


def background(page, selector: str) -> tuple[int, ...]:
    colour = page.eval_on_selector(selector, "el => getComputedStyle(el).backgroundColor")
    return tuple(int(n) for n in re.findall(r"\d+", colour)[:3])


def brightness(rgb: tuple[int, ...]) -> float:
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


def test_dark_mode_follows_the_system_setting(new_context, team, sandbox):
    sandbox_account(team, sandbox, "smspool")
    pages = {}
    for scheme in ("light", "dark"):
        page = new_context(color_scheme=scheme).new_page()
        login(page, "alice", reverse("order_new", args=[team.code]))
        page.get_by_label("Service").fill("WhatsApp")
        page.get_by_label("Country").fill("United States")
        page.get_by_label("Country").press("Tab")
        expect(page.locator("#offers input[name=offer]").first).to_be_visible()
        shot(page, f"order-form-{scheme}")
        page.goto(reverse("dashboard", args=[team.code]))
        shot(page, f"dashboard-{scheme}")
        pages[scheme] = page

    light, dark = pages["light"], pages["dark"]
    assert brightness(background(light, "html")) > 0.8
    assert brightness(background(dark, "html")) < 0.2
    assert brightness(background(dark, ".card")) < 0.2
    text = dark.eval_on_selector("body", "el => getComputedStyle(el).color")
    assert brightness(tuple(int(n) for n in re.findall(r"\d+", text)[:3])) > 0.7
    dark.goto(reverse("order_new", args=[team.code]))
    assert brightness(background(dark, "#id_service")) < 0.2, "a white field in dark mode"


def test_skip_link_shortcuts_and_their_help(new_context, team, sandbox):
    account = sandbox_account(team, sandbox, "smspool")
    alice = Membership.objects.get(team=team, user__username="alice").user
    older = place(team, alice, account)
    deliver(sandbox, older, "Your WhatsApp code is 111-222.")
    engine.run_cycle(account)
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    login(page, "alice", reverse("board", args=[team.code]))
    expect(page.locator(".code-value")).to_have_text("111222")

    # The skip link is the first stop and lands on the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # "?" lists the shortcuts; Escape closes the list.
    page.keyboard.press("?")
    help_ = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_).to_be_visible()
    expect(help_).to_contain_text("New order")
    expect(help_).to_contain_text("Copy the latest code")
    shot(page, "shortcuts-help")
    page.keyboard.press("Escape")
    expect(help_).to_be_hidden()

    # "c" copies the latest code: one that arrives while the page is open.
    bob = Membership.objects.get(team=team, user__username="bob").user
    newer = place(team, bob, account)
    deliver(sandbox, newer, "Your WhatsApp code is 333-444.")
    engine.run_cycle(account)
    expect(page.locator(f"#order-{newer.code} .code-value")).to_have_text("333444", timeout=15_000)
    page.locator("main").focus()
    page.keyboard.press("c")
    expect(page.locator("[data-shortcut-status]")).to_have_text("Copied code 333444")
    assert page.evaluate("navigator.clipboard.readText()") == "333444"

    # "n" opens a new order; typed in a field, it is just a letter.
    page.keyboard.press("n")
    page.wait_for_url(f"**{reverse('order_new', args=[team.code])}")
    service = page.get_by_label("Service")
    service.click()
    page.keyboard.type("nc")
    expect(service).to_have_value("nc")
    assert page.url.endswith(reverse("order_new", args=[team.code]))
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()

    # The footer names the shortcuts for those who do not guess "?".
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()


def test_the_admin_lists_fit_a_laptop(new_context, team, sandbox):
    from tests.base import make_user

    make_user("staff", is_staff=True, is_superuser=True)
    account = sandbox_account(team, sandbox, "smspool")
    bob = Membership.objects.get(team=team, user__username="bob").user
    alice = Membership.objects.get(team=team, user__username="alice").user
    for user in (bob, alice):
        place(team, user, account)
    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    login(page, "staff", reverse("admin:orders_order_changelist"))
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    shot(page, "admin-orders-laptop")
    too_wide = page.evaluate(
        "(() => { const box = document.querySelector('#changelist .results');"
        " return Math.max(box.scrollWidth - box.clientWidth,"
        " box.getBoundingClientRect().right - window.innerWidth); })()"
    )
    assert too_wide <= 0, f"the order list is {too_wide}px wider than a laptop screen"
    expect(page.locator("#result_list thead th").nth(1)).to_contain_text("Phone number")
    expect(page.locator("#result_list thead")).to_contain_text("Charged")


def test_a_forgiving_search_and_a_favourite_one_click_away(new_context, team, sandbox):
    sandbox_account(team, sandbox, "smspool")
    page = new_context().new_page()
    login(page, "bob", reverse("order_new", args=[team.code]))
    page.get_by_label("Service").fill("whats")
    page.get_by_label("Country").fill("usa")
    page.get_by_role("button", name="Show offers").click()
    expect(page.locator("#offers")).to_contain_text("smspool sandbox")
    expect(page.locator("[data-confirm]")).to_contain_text("smspool sandbox")

    page.get_by_role("button", name="Add to favourites").click()
    expect(page.locator(".messages")).to_contain_text("one click away")
    page.goto(reverse("order_new", args=[team.code]))
    chip = page.get_by_role("link", name="WhatsApp · United States")
    expect(chip).to_be_visible()
    shot(page, "order-form-favourites")
    chip.click()
    expect(page.get_by_label("Service")).to_have_value("WhatsApp")
    expect(page.get_by_label("Country")).to_have_value("United States")
    expect(page.locator("#offers")).to_contain_text("smspool sandbox")
    expect(page.get_by_role("button", name="Favourite (click to remove)")).to_be_visible()

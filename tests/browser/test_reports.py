"""The cost report in a real browser (issue 15): every chart is drawn (server-side SVG,
also without JavaScript, under the Content-Security-Policy), readable in light and dark
mode, with its table beside it; the CSV a manager downloads holds the table's rows.
Screenshots go to var/screenshots (git-ignored)."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from accounts.roles import Role
from tests.base import make_user
from tests.browser.helpers import SCREENSHOTS, login
from tests.reports import fixture

pytestmark = pytest.mark.browser

QUERY = "?period=custom&since=2026-03-01&until=2026-03-31"
CHARTS = ("provider", "service", "country", "member", "day")


@pytest.fixture
def report_url(team):
    from django.contrib.auth import get_user_model

    mia = make_user("mia")
    Membership.objects.create(team=team, user=mia, role=Role.MANAGER)
    bob = get_user_model().objects.get(username="bob")
    fixture.build(team, bob, mia)
    return reverse("reports", args=[team.code]) + QUERY


def colour(page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_chart_is_drawn_beside_its_table_in_light_and_dark(new_context, report_url, scheme):
    page = new_context(color_scheme=scheme).new_page()
    login(page, "mia", report_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Costs")
    for name in CHARTS:
        section = page.locator(f"#t-{name}")
        chart, table = section.locator("svg.chart"), section.locator("table")
        expect(chart).to_be_visible()
        expect(table).to_be_visible()
        box = chart.bounding_box()
        assert box["width"] > 200 and box["height"] > 40, (name, box)
        widest = max(
            float(w)
            for w in chart.locator("rect.chart-bar").evaluate_all(
                "bars => bars.map(b => b.getAttribute('width') || b.getAttribute('height'))"
            )
        )
        assert widest > 0, name
        # Beside (desktop): the table starts right of the chart, on the same band.
        table_box = table.bounding_box()
        assert table_box["x"] >= box["x"] + box["width"] - 1, (name, box, table_box)
    card = "#t-provider"
    background = colour(page, card, "backgroundColor")
    assert colour(page, "#t-provider .chart-bar", "fill") != background
    assert colour(page, "#t-provider .chart-label", "fill") != background
    assert colour(page, "#t-provider .chart-label", "fill") == colour(page, card, "color")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"reports-{scheme}.png"), full_page=True)


def test_without_javascript_the_charts_and_tables_are_there(new_context, report_url):
    page = new_context(java_script_enabled=False).new_page()
    login(page, "mia", report_url)
    for name in CHARTS:
        expect(page.locator(f"#t-{name} svg.chart")).to_be_visible()
        expect(page.locator(f"#t-{name} table tbody tr").first).to_be_visible()


def test_on_a_phone_the_table_follows_the_chart(new_context, report_url):
    from tests.browser.helpers import PHONE

    page = new_context(viewport=PHONE).new_page()
    login(page, "mia", report_url)
    chart = page.locator("#t-service svg.chart").bounding_box()
    table = page.locator("#t-service .table-wrap").bounding_box()
    assert chart["width"] <= PHONE["width"]
    assert table["y"] >= chart["y"] + chart["height"] - 1
    page.screenshot(path=str(SCREENSHOTS / "reports-phone.png"), full_page=True)


def test_the_downloaded_csv_holds_the_tables_rows(page, report_url):
    login(page, "mia", report_url + "&originals=on")
    section = page.locator("#t-provider")
    rows = section.locator("table tbody tr")
    shown = [
        [cell.strip().replace(",", "").replace("—", "") for cell in row]
        for row in rows.evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => c.dataset.value ?? c.innerText))"
        )
    ]
    with page.expect_download() as download:
        section.get_by_role("link", name="CSV").click()
    path = download.value.path()
    with open(path, encoding="utf-8") as handle:
        exported = list(csv.reader(io.StringIO(handle.read())))
    assert download.value.suggested_filename == "costs-provider-20260301-20260331.csv"
    assert exported[1:] == shown
    assert exported[0][:4] == ["Provider account", "Charges USD", "Refunds USD", "Net USD"]

"""Charts drawn on the server as inline SVG: no JavaScript, nothing for the
Content-Security-Policy to allow (no style attributes: presentation comes from
classes in smsdesk.css, colours from its variables and `currentColor`, so the
charts follow light and dark mode). Every chart sits beside the table it draws;
the table is the fallback for screen readers and for anyone who wants numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from config.money import money_text

WIDTH = 640
LABEL_WIDTH = 170
ROW = 24
MAX_BARS = 12


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal


def _short(text: str, size: int = 24) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def bar_chart(bars: list[Bar], *, title: str, currency: str) -> SafeString:
    """Horizontal bars, biggest first; beyond MAX_BARS the rest are summed as "others"."""
    bars = sorted(bars, key=lambda b: (-b.value, b.label))
    if len(bars) > MAX_BARS:
        rest = sum((b.value for b in bars[MAX_BARS - 1 :]), Decimal(0))
        bars = [*bars[: MAX_BARS - 1], Bar(f"{len(bars) - MAX_BARS + 1} others", rest)]
    top = max((b.value for b in bars), default=Decimal(0))
    span = WIDTH - LABEL_WIDTH - 90
    height = ROW * len(bars) + 8
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, bar in enumerate(bars):
        y = 4 + i * ROW
        length = float(bar.value / top) * span if top > 0 and bar.value > 0 else 0.0
        shown = money_text(bar.value, currency, approx=True)
        parts.append(
            f'<g class="chart-row"><title>{escape(bar.label)}: {escape(shown)}</title>'
            f'<text class="chart-label" x="{LABEL_WIDTH - 8}" y="{y + 16}" '
            f'text-anchor="end">{escape(_short(bar.label))}</text>'
            f'<rect class="chart-bar" x="{LABEL_WIDTH}" y="{y + 4}" '
            f'width="{length:.1f}" height="{ROW - 8}" rx="2"></rect>'
            f'<text class="chart-value" x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 16}">'
            f"{escape(shown)}</text></g>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it is escaped


def column_chart(days: list[tuple[date, Decimal]], *, title: str, currency: str) -> SafeString:
    """One column per day (zero days included), the largest labelled, dates under the axis."""
    n = max(len(days), 1)
    left, bottom, plot_h = 8, 22, 150
    step = max((WIDTH - left * 2) / n, 2.0)
    width = left * 2 + step * n
    height = plot_h + bottom + 18
    top = max((v for _, v in days), default=Decimal(0))
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width:.0f} {height}" '
        f'width="{width:.0f}" height="{height}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line class="chart-axis" x1="{left}" y1="{18 + plot_h}" x2="{width - left:.0f}" '
        f'y2="{18 + plot_h}"></line>',
    ]
    if top > 0:
        parts.append(
            f'<text class="chart-value" x="{left}" y="12">highest: '
            f"{escape(money_text(top, currency, approx=True))}</text>"
        )
    label_every = max(1, round(n / 8))
    for i, (day, value) in enumerate(days):
        x = left + i * step
        h = float(value / top) * plot_h if top > 0 and value > 0 else 0.0
        shown = money_text(value, currency, approx=True)
        parts.append(
            f'<rect class="chart-bar" x="{x + step * 0.15:.1f}" y="{18 + plot_h - h:.1f}" '
            f'width="{step * 0.7:.1f}" height="{h:.1f}"><title>{day:%b} {day.day}: '
            f"{escape(shown)}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text class="chart-label" x="{x + step / 2:.1f}" y="{height - 4}" '
                f'text-anchor="middle">{day:%b} {day.day}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it is escaped

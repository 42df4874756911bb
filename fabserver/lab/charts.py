"""Small bar charts drawn on the server as SVG, for the reports page.

Hand-written: a few horizontal bars need no chart library, no script and no
CDN, and an inline SVG passes the pages' strict content security policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

PALETTE = ("#2f6f4f", "#d08c2c", "#b5473a", "#4a6fa5", "#9a9a9a")
_LABEL_W = 190
_LABEL_CHARS = 27  # what fits in _LABEL_W at 12 px; longer names are shortened
_BAR_W = 360
_ROW_H = 26
_BAR_H = 16


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    colour: str


def _number(value: float, decimal_comma: bool) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return text.replace(".", ",") if decimal_comma else text


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    stacked: bool = True,
    unit: str = "",
    decimal_comma: bool = True,
) -> str:
    """Horizontal bars, one row per category: stacked (parts of a whole) or side by
    side (two figures to compare), with a legend and the totals written out."""
    per_row = 1 if stacked else max(len(series), 1)
    row_h = _ROW_H if stacked else _BAR_H * per_row + 10
    totals = [
        sum(s.values[i] for s in series)
        if stacked
        else max((s.values[i] for s in series), default=0)
        for i in range(len(categories))
    ]
    top = max(totals, default=0) or 1.0
    legend_h = 24
    height = 34 + legend_h + row_h * max(len(categories), 1)
    width = _LABEL_W + _BAR_W + 90
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f"aria-label={quoteattr(title)}>",
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-size="15" font-weight="600">{escape(title)}</text>',
    ]
    x = 0
    for s in series:
        parts.append(
            f'<rect class="legend" x="{x}" y="28" width="12" height="12" fill="{s.colour}"/>'
            f'<text x="{x + 16}" y="39" font-size="12">{escape(s.label)}</text>'
        )
        x += 26 + 7 * len(s.label)
    y0 = 34 + legend_h
    for i, category in enumerate(categories):
        y = y0 + i * row_h
        short = category if len(category) <= _LABEL_CHARS else category[: _LABEL_CHARS - 1] + "…"
        parts.append(
            f'<text x="{_LABEL_W - 8}" y="{y + _BAR_H - 3}" font-size="12" '
            f'text-anchor="end"><title>{escape(category)}</title>{escape(short)}</text>'
        )
        offset = 0.0
        for k, s in enumerate(series):
            value = float(s.values[i])
            if value <= 0:
                continue
            w = _BAR_W * value / top
            bx = _LABEL_W + (offset if stacked else 0.0)
            by = y if stacked else y + k * _BAR_H
            label = f"{s.label} : {_number(value, decimal_comma)}{unit}"
            parts.append(
                f'<rect class="bar" x="{bx:.1f}" y="{by}" width="{max(w, 1.0):.1f}" '
                f'height="{_BAR_H - 2}" fill="{s.colour}"><title>{escape(label)}</title></rect>'
            )
            if stacked:
                offset += w
            else:
                parts.append(
                    f'<text x="{bx + w + 4:.1f}" y="{by + _BAR_H - 4}" font-size="11">'
                    f"{_number(value, decimal_comma)}{escape(unit)}</text>"
                )
        if stacked:
            parts.append(
                f'<text x="{_LABEL_W + offset + 4:.1f}" y="{y + _BAR_H - 3}" font-size="11">'
                f"{_number(totals[i], decimal_comma)}{escape(unit)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)

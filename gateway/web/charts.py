"""Charts as server-side SVG: no script, no other host, readable by a screen reader (a text summary
in ``aria-label`` and every value in a ``<title>`` tooltip)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

# Distinguishable on white and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
OUTCOME_COLOURS = {"succeeded": "#009e73", "failed": "#d55e00"}

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 96, 8, 10, 36


def colour_of(names: Sequence[str], fixed: Mapping[str, str] | None = None) -> dict[str, str]:
    fixed = fixed or {}
    return {name: fixed.get(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(names)}


def _nice_max(value: int) -> int:
    if value <= 5:
        return max(value, 1)
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def stacked_bars(
    label: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[int]],
    colours: Mapping[str, str],
    *,
    format_value: object = str,
    every_nth_label: int = 1,
) -> Markup:
    """Bars per category, stacked by series (each series one value per category)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(categories), 1)
    bar_w = max(slot * 0.7, 1.0)
    fmt = format_value if callable(format_value) else str
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="system-ui, sans-serif">'
    ]
    for tick in (0, top // 2, top):
        y = TOP + plot_h - plot_h * tick / top
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>')
        parts.append(
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#57606a">'
            f"{escape(str(fmt(tick)))}</text>"
        )
    for i, category in enumerate(categories):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = TOP + plot_h
        for name, values in series.items():
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colours[name]}">'
                f"<title>{escape(category)} · {escape(name)}: {escape(str(fmt(value)))}</title></rect>"
            )
        if i % every_nth_label == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
                f'fill="#57606a">{escape(category)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it went through escape())


def legend(colours: Mapping[str, str]) -> Markup:
    items = "".join(
        f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{c}"/></svg> '
        f"{escape(name)}</li>"
        for name, c in colours.items()
    )
    return Markup(f'<ul class="legend">{items}</ul>')  # noqa: S704 (names escaped above)

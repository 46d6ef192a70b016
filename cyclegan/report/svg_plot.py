"""A line chart as inline SVG text: the report's loss plot, with no plotting library and no script."""
from __future__ import annotations

import math
from html import escape

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    return ticks


def line_chart(series: dict[str, tuple[list[float], list[float]]], title: str = "",
               xlabel: str = "", ylabel: str = "", width: int = 760, height: int = 320) -> str:
    """SVG for one chart with one polyline per series and a legend; empty series are skipped."""
    series = {name: (xs, ys) for name, (xs, ys) in series.items() if xs and ys}
    left, right, top, bottom = 60, 150, 30, 45
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [f'<svg class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="14" font-family="sans-serif">{escape(title)}</text>']
    if not series:
        parts.append(f'<text x="{left}" y="{top + plot_h / 2}" font-size="13" font-family="sans-serif" '
                     'fill="#666">no values logged yet</text></svg>')
        return "\n".join(parts)
    all_x = [x for xs, _ in series.values() for x in xs]
    all_y = [y for _, ys in series.values() for y in ys if math.isfinite(y)] or [0.0]
    x_ticks = nice_ticks(min(all_x), max(all_x))
    y_ticks = nice_ticks(min(all_y), max(all_y))
    x0, x1 = x_ticks[0], x_ticks[-1] if x_ticks[-1] > x_ticks[0] else x_ticks[0] + 1
    y0, y1 = y_ticks[0], y_ticks[-1] if y_ticks[-1] > y_ticks[0] else y_ticks[0] + 1

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y0) / (y1 - y0) * plot_h

    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    for tick in x_ticks:
        parts.append(f'<line x1="{px(tick):.1f}" y1="{top}" x2="{px(tick):.1f}" y2="{top + plot_h}" stroke="#eee"/>'
                     f'<text x="{px(tick):.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle" '
                     f'font-family="sans-serif">{tick:g}</text>')
    for tick in y_ticks:
        parts.append(f'<line x1="{left}" y1="{py(tick):.1f}" x2="{left + plot_w}" y2="{py(tick):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" font-size="11" text-anchor="end" '
                     f'font-family="sans-serif">{tick:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" font-size="12" text-anchor="middle" '
                 f'font-family="sans-serif">{escape(xlabel)}</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2}" font-size="12" text-anchor="middle" font-family="sans-serif" '
                 f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(ylabel)}</text>')
    for i, (name, (xs, ys)) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys) if math.isfinite(y))
        parts.append(f'<polyline class="series" data-name="{escape(name)}" fill="none" stroke="{colour}" '
                     f'stroke-width="1.5" points="{points}"/>')
        if len(xs) == 1:  # a single point draws no line: mark it
            parts.append(f'<circle cx="{px(xs[0]):.1f}" cy="{py(ys[0]):.1f}" r="3" fill="{colour}"/>')
        ly = top + 12 + 18 * i
        parts.append(f'<line x1="{left + plot_w + 12}" y1="{ly - 4}" x2="{left + plot_w + 32}" y2="{ly - 4}" '
                     f'stroke="{colour}" stroke-width="3"/><text x="{left + plot_w + 38}" y="{ly}" font-size="12" '
                     f'font-family="sans-serif">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)

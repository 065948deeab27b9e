"""Small charts as inline SVG for the HTML pages: line panels, dot charts and heatmaps.

Pure Python (no matplotlib, so a student's install stays light). Every text is escaped
here (student-named sources, labels and classes reach the page only through ``_esc``); the
result has no scripts, no external references and no XML prolog, ready to inline. Charts
scale to their container (``viewBox``, ``width: 100%``) so they read on a phone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

# matplotlib's tab10, the colours people know from their own plots
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
DASHES = {"solid": "", "dashed": "6 4", "dotted": "1.5 3"}
FONT = 'font-family="system-ui, sans-serif" font-size="11"'
CHAR_WIDTH = 6.2  # average width of an 11px character, for laying out legends
MAX_LABEL = 60


def _esc(text: object, limit: int = MAX_LABEL) -> str:
    value = str(text)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return escape(value, quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (about ``count`` of them)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high == low:
        spread = abs(high) * 0.1 or 1.0
        low, high = low - spread, high + spread
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 0.5 and len(ticks) < 50:
        ticks.append(round(value, 12))
        value += step
    return ticks


def tick_label(value: float) -> str:
    return f"{value:.4g}"


@dataclass
class Series:
    label: str
    points: Sequence[tuple[float, float]]
    colour: str = PALETTE[0]
    dash: str = "solid"  # solid | dashed | dotted
    markers: bool = True


@dataclass
class Panel:
    ylabel: str
    series: list[Series]
    vlines: list[float] = field(default_factory=list)  # dotted vertical lines at these x


@dataclass
class _Frame:
    """Maps data to pixels inside a plot area."""

    left: float
    top: float
    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def x(self, value: float) -> float:
        lo, hi = self.x_range
        return self.left + (value - lo) / ((hi - lo) or 1) * self.width

    def y(self, value: float) -> float:
        lo, hi = self.y_range
        return self.top + self.height - (value - lo) / ((hi - lo) or 1) * self.height


def _axes(frame: _Frame, xticks: list[float], yticks: list[float], xlabels=None) -> list[str]:
    out = [f'<rect x="{_num(frame.left)}" y="{_num(frame.top)}" width="{_num(frame.width)}" '
           f'height="{_num(frame.height)}" fill="none" stroke="#888"/>']  # fmt: skip
    for value in yticks:
        y = frame.y(value)
        out.append(f'<line x1="{_num(frame.left)}" x2="{_num(frame.left + frame.width)}" '
                   f'y1="{_num(y)}" y2="{_num(y)}" stroke="#ddd"/>')  # fmt: skip
        out.append(f'<text x="{_num(frame.left - 4)}" y="{_num(y + 4)}" text-anchor="end">'
                   f"{_esc(tick_label(value))}</text>")  # fmt: skip
    for index, value in enumerate(xticks):
        x = frame.x(value)
        label = xlabels[index] if xlabels else tick_label(value)
        out.append(f'<text x="{_num(x)}" y="{_num(frame.top + frame.height + 14)}" '
                   f'text-anchor="middle">{_esc(label)}</text>')  # fmt: skip
    return out


def _legend(entries: list[tuple[str, str, str, str]], left: float, top: float, width: float):
    """``entries``: (label, colour, dash, kind: line|dot|mark). Returns (svg parts, height)."""
    out, x, y = [], left, top
    for label, stroke, dash, kind in entries:
        text = _esc(label)
        needed = 26 + CHAR_WIDTH * min(len(label), MAX_LABEL) + 12
        if x > left and x + needed > left + width:
            x, y = left, y + 16
        if kind == "line":
            out.append(f'<line x1="{_num(x)}" x2="{_num(x + 20)}" y1="{_num(y)}" y2="{_num(y)}" '
                       f'stroke="{stroke}" stroke-width="2" stroke-dasharray="{DASHES[dash]}"/>')  # fmt: skip
        elif kind == "mark":
            out.append(f'<line x1="{_num(x + 4)}" x2="{_num(x + 16)}" y1="{_num(y)}" '
                       f'y2="{_num(y)}" stroke="{stroke}" stroke-width="3"/>')  # fmt: skip
        else:
            out.append(f'<circle cx="{_num(x + 10)}" cy="{_num(y)}" r="4" fill="{stroke}"/>')
        out.append(f'<text x="{_num(x + 26)}" y="{_num(y + 4)}">{text}</text>')
        x += needed
    return out, (y - top + 16) if entries else 0


def _svg(width: float, height: float, parts: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_num(width)} {_num(height)}" '
        f'width="100%" style="max-width:{_num(width)}px;height:auto" role="img" '
        f'aria-label="{_esc(title)}" {FONT}><title>{_esc(title)}</title>'
        + "".join(parts)
        + "</svg>"
    )


def line_panels(panels: list[Panel], xlabel: str, width: float = 720, height: float = 220) -> str:
    """One plot per panel, stacked, sharing the x axis; each with its legend below."""
    panels = [p for p in panels if any(s.points for s in p.series)]
    if not panels:
        return ""
    xs = [x for p in panels for s in p.series for x, _ in s.points]
    low, high = (min(xs), max(xs)) if max(xs) > min(xs) else (min(xs) - 1, max(xs) + 1)
    pad = (high - low) * 0.03
    x_range = (low - pad, high + pad)
    xticks = [t for t in nice_ticks(low, high, count=8) if low <= t <= high]
    if all(float(x).is_integer() for x in xs):
        xticks = [t for t in xticks if float(t).is_integer()] or [low]
    parts, top = [], 8.0
    for panel in panels:
        ys = [y for s in panel.series for _, y in s.points if math.isfinite(y)] or [0.0]
        yticks = nice_ticks(min(ys), max(ys))
        frame = _Frame(56, top, width - 72, height - 40, x_range, (yticks[0], yticks[-1]))
        parts += _axes(frame, xticks, yticks)
        parts.append(f'<text transform="translate(12 {_num(top + frame.height / 2)}) rotate(-90)" '
                     f'text-anchor="middle">{_esc(panel.ylabel)}</text>')  # fmt: skip
        for x in panel.vlines:
            if x_range[0] < x < x_range[1]:
                px = _num(frame.x(x))
                parts.append(f'<line x1="{px}" x2="{px}" y1="{_num(frame.top)}" '
                             f'y2="{_num(frame.top + frame.height)}" stroke="#777" '
                             'stroke-dasharray="1.5 3"/>')  # fmt: skip
        for s in panel.series:
            points = [(frame.x(x), frame.y(y)) for x, y in s.points if math.isfinite(y)]
            if not points:
                continue
            path = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{s.colour}" '
                         f'stroke-width="1.8" stroke-dasharray="{DASHES[s.dash]}">'
                         f"<title>{_esc(s.label)}</title></polyline>")  # fmt: skip
            if s.markers:
                parts += [f'<circle cx="{_num(x)}" cy="{_num(y)}" r="2.5" fill="{s.colour}"/>'
                          for x, y in points]  # fmt: skip
        top += frame.height + 22
        legend, used = _legend([(s.label, s.colour, s.dash, "line") for s in panel.series],
                               frame.left, top + 4, frame.width)  # fmt: skip
        parts += legend
        top += used + 14
    parts.append(f'<text x="{_num(56 + (width - 72) / 2)}" y="{_num(top + 4)}" '
                 f'text-anchor="middle">{_esc(xlabel, 200)}</text>')  # fmt: skip
    return _svg(width, top + 12, parts, xlabel)


@dataclass
class DotGroup:
    """One category on the x axis (a target date, say) with its dots and its true value."""

    label: str
    dots: list[tuple[str, float, str]]  # (label, value, colour)
    mark: float | None = None  # the true/observed value, drawn as a bar across the group


def dot_chart(groups: list[DotGroup], ylabel: str, title: str, mark_label: str = "observed",
              width: float = 520, height: float = 240) -> str:  # fmt: skip
    """Dots per category (jittered when many), with the true value as a bar: predictions
    against what was observed, one chart per student or for the whole class."""
    values = [v for g in groups for _, v, _ in g.dots if math.isfinite(v)]
    values += [g.mark for g in groups if g.mark is not None and math.isfinite(g.mark)]
    if not groups or not values:
        return ""
    yticks = nice_ticks(min(values), max(values))
    frame = _Frame(56, 8, width - 72, height - 40, (-0.5, len(groups) - 0.5),
                   (yticks[0], yticks[-1]))  # fmt: skip
    parts = _axes(frame, list(range(len(groups))), yticks, [g.label for g in groups])
    parts.append(f'<text transform="translate(12 {_num(8 + frame.height / 2)}) rotate(-90)" '
                 f'text-anchor="middle">{_esc(ylabel)}</text>')  # fmt: skip
    band = frame.width / len(groups)
    for index, group in enumerate(groups):
        centre = frame.x(index)
        if group.mark is not None and math.isfinite(group.mark):
            y = _num(frame.y(group.mark))
            parts.append(f'<line x1="{_num(centre - band * 0.35)}" x2="{_num(centre + band * 0.35)}" '
                         f'y1="{y}" y2="{y}" stroke="#222" stroke-width="3">'
                         f"<title>{_esc(mark_label)}: {_esc(tick_label(group.mark))}</title></line>")  # fmt: skip
        dots = [d for d in group.dots if math.isfinite(d[1])]
        spread = min(band * 0.6, 6 * len(dots))
        for n, (label, value, fill) in enumerate(dots):
            offset = 0 if len(dots) == 1 else (n / (len(dots) - 1) - 0.5) * spread
            parts.append(f'<circle cx="{_num(centre + offset)}" cy="{_num(frame.y(value))}" '
                         f'r="4" fill="{fill}" fill-opacity="0.8"><title>{_esc(label)}: '
                         f"{_esc(tick_label(value))}</title></circle>")  # fmt: skip
    entries = [(mark_label, "#222", "solid", "mark")]
    seen: dict[str, str] = {}
    for group in groups:
        for label, _, fill in group.dots:
            seen.setdefault(label, fill)
    if len(seen) <= 12:
        entries += [(label, fill, "solid", "dot") for label, fill in seen.items()]
    legend, used = _legend(entries, frame.left, frame.top + frame.height + 34, frame.width)
    return _svg(width, frame.top + frame.height + 34 + used, parts + legend, title)


def heatmap(matrix: Sequence[Sequence[float]], rows: Sequence[str], columns: Sequence[str],
            title: str, row_title: str = "true", column_title: str = "predicted") -> str:  # fmt: skip
    """A matrix of counts as shaded cells with their numbers (a confusion matrix, say)."""
    if not matrix or not rows or not columns or any(len(r) != len(columns) for r in matrix):
        return ""
    cell = 44 if len(columns) <= 8 else 28
    label_width = min(160, 16 + CHAR_WIDTH * max(len(str(r)) for r in rows))
    left, top = label_width + 20, 40
    peak = max((v for r in matrix for v in r if math.isfinite(v)), default=0) or 1
    parts = [f'<text x="{_num(left + cell * len(columns) / 2)}" y="12" text-anchor="middle">'
             f"{_esc(column_title)}</text>",
             f'<text transform="translate(10 {_num(top + cell * len(rows) / 2)}) rotate(-90)" '
             f'text-anchor="middle">{_esc(row_title)}</text>']  # fmt: skip
    for c, name in enumerate(columns):
        parts.append(f'<text x="{_num(left + cell * (c + 0.5))}" y="32" text-anchor="middle">'
                     f"{_esc(str(name)[:8])}<title>{_esc(name)}</title></text>")  # fmt: skip
    for r, name in enumerate(rows):
        y = top + cell * r
        parts.append(f'<text x="{_num(left - 6)}" y="{_num(y + cell / 2 + 4)}" text-anchor="end">'
                     f"{_esc(name)}</text>")  # fmt: skip
        for c, value in enumerate(matrix[r]):
            share = max(0.0, min(1.0, value / peak)) if math.isfinite(value) else 0.0
            fill = f"rgba(31,119,180,{0.08 + 0.85 * share:.2f})"
            ink = "#fff" if share > 0.55 else "#111"
            x = left + cell * c
            parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{cell}" height="{cell}" '
                         f'fill="{fill}" stroke="#fff"><title>{_esc(name)} as '
                         f"{_esc(columns[c])}: {_esc(tick_label(value))}</title></rect>")  # fmt: skip
            parts.append(f'<text x="{_num(x + cell / 2)}" y="{_num(y + cell / 2 + 4)}" '
                         f'text-anchor="middle" fill="{ink}">{_esc(tick_label(value))}</text>')  # fmt: skip
    width = left + cell * len(columns) + 12
    return _svg(width, top + cell * len(rows) + 8, parts, title)

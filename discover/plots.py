"""Small hand-written SVG charts for the run report: one function per kind of plot, no dependencies.

Every function returns an ``<svg class="plot">`` element as text, sized by its ``width`` and
``height`` attributes and scaled by its ``viewBox``, with ``<title>`` tooltips on the marks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def color(k: int) -> str:
    """Return the k-th categorical colour (cycling)."""
    return PALETTE[k % len(PALETTE)]


def lighten(hex_color: str) -> str:
    """Return the colour two thirds of the way to white (box fills)."""
    r, g, b = (int(hex_color[k:k + 2], 16) for k in (1, 3, 5))
    return f"#{(r + 2 * 255) // 3:02x}{(g + 2 * 255) // 3:02x}{(b + 2 * 255) // 3:02x}"


def thin(xs: list[float], ys: list[float], max_points: int = 600) -> tuple[list[float], list[float]]:
    """Return at most ``max_points`` evenly spread points of a line, the last one always kept."""
    if len(xs) <= max_points:
        return xs, ys
    step = len(xs) / max_points
    keep = sorted({int(k * step) for k in range(max_points)} | {len(xs) - 1})
    return [xs[k] for k in keep], [ys[k] for k in keep]


def round_up(x: float) -> int:
    """Return the smallest of 1, 2, 5, 10, 20, 25, 50, 100, ... that is at least ``x`` (bin widths)."""
    mag = 1
    while True:
        for m in (1, 2, 2.5, 5):
            if m * mag >= x and float(m * mag).is_integer():
                return int(m * mag)
        mag *= 10


@dataclass(frozen=True)
class Series:
    """A line: points (x, y) in data units."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str
    dashed: bool = False
    width: float = 1.8


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        return f"{v:.1e}"
    if a >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Return round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else [0.0]
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def _open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}" {FONT}>',
            f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">{_e(title)}</text>']


def _empty(width: int, height: int, title: str, message: str) -> str:
    parts = _open(width, height, title)
    parts.append(f'<rect x="1" y="24" width="{width - 2}" height="{height - 26}" fill="none" stroke="#ccc"/>')
    parts.append(f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" fill="#666">'
                 f'{_e(message)}</text></svg>')
    return "\n".join(parts)


@dataclass(frozen=True)
class _Frame:
    """The plotting area and the data ranges mapped onto it."""

    left: float
    top: float
    right: float
    bottom: float
    x0: float
    x1: float
    y0: float
    y1: float
    log_y: bool = False

    def x(self, v: float) -> float:
        span = self.x1 - self.x0 or 1.0
        return self.left + (v - self.x0) / span * (self.right - self.left)

    def y(self, v: float) -> float:
        v = min(max(v, self.y0), self.y1)
        lo, hi = self.y0, self.y1
        if self.log_y:
            v, lo, hi = math.log10(v), math.log10(lo), math.log10(hi)
        return self.bottom - (v - lo) / ((hi - lo) or 1.0) * (self.bottom - self.top)

    def y_ticks(self) -> list[float]:
        if not self.log_y:
            return ticks(self.y0, self.y1)
        lo, hi = math.floor(math.log10(self.y0)), math.ceil(math.log10(self.y1))
        steps = (1, 2, 5) if hi - lo <= 3 else (1,)
        values = (m * 10.0 ** e for e in range(lo, hi + 1) for m in steps)
        return [v for v in values if self.y0 <= v <= self.y1]


def _axes(f: _Frame, x_label: str, y_label: str, x_ticks: bool = True) -> list[str]:
    out = [f'<rect x="{f.left}" y="{f.top}" width="{f.right - f.left}" height="{f.bottom - f.top}" '
           'fill="#fafafa" stroke="#999"/>']
    for v in f.y_ticks():
        y = f.y(v)
        out.append(f'<line x1="{f.left}" y1="{y:.1f}" x2="{f.right}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{f.left - 5}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
    if x_ticks:
        for v in ticks(f.x0, f.x1, 6):
            x = f.x(v)
            out.append(f'<line x1="{x:.1f}" y1="{f.bottom}" x2="{x:.1f}" y2="{f.bottom + 4}" stroke="#999"/>')
            out.append(f'<text x="{x:.1f}" y="{f.bottom + 16}" text-anchor="middle">{_fmt(v)}</text>')
    out.append(f'<text x="{(f.left + f.right) / 2:.0f}" y="{f.bottom + 32}" text-anchor="middle">'
               f'{_e(x_label)}</text>')
    cy = (f.top + f.bottom) / 2
    out.append(f'<text x="14" y="{cy:.0f}" text-anchor="middle" transform="rotate(-90 14 {cy:.0f})">'
               f'{_e(y_label)}</text>')
    return out


def _legend(items: Sequence[tuple[str, str, bool]], x: float, y: float, swatch: bool = False) -> list[str]:
    out = []
    for k, (label, col, dashed) in enumerate(items):
        yy = y + 16 * k
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        if swatch:
            out.append(f'<rect x="{x + 6}" y="{yy - 6:.0f}" width="12" height="12" fill="{col}"/>')
        else:
            out.append(f'<line x1="{x}" y1="{yy:.0f}" x2="{x + 22}" y2="{yy:.0f}" stroke="{col}" '
                       f'stroke-width="2.5"{dash}/>')
        out.append(f'<text x="{x + 27}" y="{yy + 4:.0f}">{_e(label)}</text>')
    return out


def line_chart(series: Sequence[Series], title: str, x_label: str, y_label: str, width: int = 760,
               height: int = 340, y_max: float | None = None, legend: Sequence[tuple[str, str, bool]] = (),
               log_floor: float | None = None) -> str:
    """Return a line chart; ``y_max`` clips the y axis (points above it are drawn on the top edge).

    With ``log_floor`` the y axis is logarithmic and values below the floor are drawn on it.
    """
    pts = [(x, y) for s in series for x, y in zip(s.xs, s.ys, strict=True) if math.isfinite(y)]
    if not pts:
        return _empty(width, height, title, "no data")
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    if log_floor is not None:
        y0 = max(log_floor, 10 ** math.floor(math.log10(max(min(ys), log_floor))))
        y1 = max(y_max if y_max is not None else max(ys), y0 * 10)
        y1 = 10 ** math.ceil(math.log10(y1) - 1e-9)
    else:
        y0 = min(0.0, min(ys))
        y1 = y_max if y_max is not None else max(ys)
        y1 = (y1 if y1 > y0 else y0 + 1.0) * 1.04
    x0, x1 = min(xs), max(xs)
    f = _Frame(64, 28, width - (170 if legend else 16), height - 46, x0, x1 if x1 > x0 else x0 + 1, y0, y1,
               log_floor is not None)
    out = _open(width, height, title) + _axes(f, x_label, y_label)
    for s in series:
        coords = [(f.x(x), f.y(y)) for x, y in zip(s.xs, s.ys, strict=True) if math.isfinite(y)]
        if not coords:
            continue
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        if len(coords) == 1:
            out.append(f'<circle cx="{coords[0][0]:.1f}" cy="{coords[0][1]:.1f}" r="3" fill="{s.color}">'
                       f'<title>{_e(s.label)}</title></circle>')
        else:
            out.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="{s.width}"'
                       f'{dash}><title>{_e(s.label)}</title></polyline>')
    out += _legend(legend, width - 160, 40)
    out.append("</svg>")
    return "\n".join(out)


def stacked_bars(labels: Sequence[str], layers: Sequence[tuple[str, str, Sequence[float]]], title: str,
                 x_label: str, y_label: str, width: int = 760, height: int = 340) -> str:
    """Return stacked bars: one bar per label, ``layers`` = (name, colour, value per bar), bottom first."""
    if not labels:
        return _empty(width, height, title, "no data")
    totals = [sum(layer[2][k] for layer in layers) for k in range(len(labels))]
    top = max(totals) or 1.0
    f = _Frame(64, 28, width - 170, height - 46, 0, len(labels), 0, top)
    out = _open(width, height, title) + _axes(f, x_label, y_label, x_ticks=False)
    bw = (f.right - f.left) / len(labels)
    step = max(1, len(labels) // 8)
    for k, lab in enumerate(labels):
        x = f.left + k * bw
        base = 0.0
        for name, col, values in layers:
            v = values[k]
            if v > 0:
                y_top, y_bot = f.y(base + v), f.y(base)
                out.append(f'<rect x="{x + 1:.1f}" y="{y_top:.1f}" width="{max(bw - 2, 1):.1f}" '
                           f'height="{max(y_bot - y_top, 0.5):.1f}" fill="{col}">'
                           f'<title>{_e(lab)}: {_e(name)} {_fmt(v)}</title></rect>')
            base += v
        if k % step == 0:
            out.append(f'<text x="{x + bw / 2:.1f}" y="{f.bottom + 16}" text-anchor="middle">'
                       f'{_e(lab)}</text>')
    out += _legend([(name, col, False) for name, col, _ in reversed(layers)], width - 160, 40, swatch=True)
    out.append("</svg>")
    return "\n".join(out)


def grouped_hbars(labels: Sequence[str], groups: Sequence[tuple[str, str, Sequence[float]]], title: str,
                  x_label: str, x_max: float = 100.0, width: int = 760, notes: Sequence[str] = ()) -> str:
    """Return horizontal bars, one group of bars per label (e.g. valid % and improved % per operator)."""
    if not labels:
        return _empty(width, 160, title, "no data")
    bar = 14
    row = bar * len(groups) + 10
    height = 28 + row * len(labels) + 50
    f = _Frame(110, 28, width - 190, height - 46, 0, x_max, 0, 1)
    out = _open(width, height, title)
    out.append(f'<rect x="{f.left}" y="{f.top}" width="{f.right - f.left}" height="{f.bottom - f.top}" '
               'fill="#fafafa" stroke="#999"/>')
    for v in ticks(0, x_max):
        x = f.x(v)
        out.append(f'<line x1="{x:.1f}" y1="{f.top}" x2="{x:.1f}" y2="{f.bottom}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{x:.1f}" y="{f.bottom + 16}" text-anchor="middle">{_fmt(v)}</text>')
    out.append(f'<text x="{(f.left + f.right) / 2:.0f}" y="{f.bottom + 32}" text-anchor="middle">'
               f'{_e(x_label)}</text>')
    for k, lab in enumerate(labels):
        y = f.top + 5 + k * row
        note = f" ({notes[k]})" if k < len(notes) and notes[k] else ""
        out.append(f'<text x="{f.left - 6}" y="{y + row / 2:.0f}" text-anchor="end">{_e(lab)}</text>')
        for g, (name, col, values) in enumerate(groups):
            v = values[k]
            w = max(f.x(min(v, x_max)) - f.left, 0)
            yy = y + g * bar
            out.append(f'<rect x="{f.left}" y="{yy:.1f}" width="{w:.1f}" height="{bar - 2}" fill="{col}">'
                       f'<title>{_e(lab)}: {_e(name)} {_fmt(v)}{_e(note)}</title></rect>')
            out.append(f'<text x="{f.left + w + 4:.1f}" y="{yy + bar - 4:.1f}" font-size="10">{v:.1f}</text>')
    out += _legend([(name, col, False) for name, col, _ in groups], width - 180, 40, swatch=True)
    out.append("</svg>")
    return "\n".join(out)


def _heat_color(v: float, vmax: float, diverging: bool) -> str:
    if vmax <= 0:
        return "#ffffff"
    t = max(-1.0, min(1.0, v / vmax))
    if not diverging or t >= 0:  # white → red
        a = abs(t)
        return f"rgb({255:.0f},{255 - 150 * a:.0f},{255 - 170 * a:.0f})"
    a = -t  # white → blue: better than the comparison
    return f"rgb({255 - 170 * a:.0f},{255 - 110 * a:.0f},{255:.0f})"


def heatmap(rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float | None]], title: str,
            row_label: str, col_label: str, diverging: bool = False, cell: int = 44,
            vmax: float | None = None) -> str:
    """Return a heatmap with the value written in each cell; diverging maps < 0 to blue, > 0 to red."""
    width = 70 + cell * len(cols) + 10
    height = 28 + 22 + cell * len(rows) + 34
    if not rows or not cols:
        return _empty(max(width, 240), max(height, 120), title, "no data")
    finite = [abs(v) for r in values for v in r if v is not None and math.isfinite(v)]
    vmax = vmax if vmax is not None else (max(finite) if finite else 1.0)
    out = _open(width, height, title)
    x0, y0 = 64, 50
    out.append(f'<text x="{x0 + cell * len(cols) / 2:.0f}" y="38" text-anchor="middle">'
               f'{_e(col_label)}</text>')
    for j, c in enumerate(cols):
        out.append(f'<text x="{x0 + cell * j + cell / 2:.0f}" y="{y0 + cell * len(rows) + 14}" '
                   f'text-anchor="middle">{_e(c)}</text>')
    cy = y0 + cell * len(rows) / 2
    out.append(f'<text x="14" y="{cy:.0f}" text-anchor="middle" transform="rotate(-90 14 {cy:.0f})">'
               f'{_e(row_label)}</text>')
    for i, r in enumerate(rows):
        out.append(f'<text x="{x0 - 6}" y="{y0 + cell * i + cell / 2 + 4:.0f}" text-anchor="end">'
                   f'{_e(r)}</text>')
        for j, c in enumerate(cols):
            v = values[i][j]
            x, y = x0 + cell * j, y0 + cell * i
            fill = "#eeeeee" if v is None else _heat_color(v, vmax, diverging)
            text = "–" if v is None else (f"{v:+.2f}" if diverging else f"{v:.2f}")
            out.append(f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{fill}">'
                       f'<title>{_e(row_label)} {_e(r)}, {_e(col_label)} {_e(c)}: {_e(text)}</title></rect>')
            out.append(f'<text x="{x + cell / 2:.0f}" y="{y + cell / 2 + 4:.0f}" text-anchor="middle" '
                       f'font-size="10">{_e(text)}</text>')
    out.append("</svg>")
    return "\n".join(out)


@dataclass(frozen=True)
class TreeNode:
    """A box of the lineage drawing: ``layer`` 0 is the top row."""

    id: int
    lines: tuple[str, ...]
    layer: int
    color: str
    tooltip: str = ""
    highlight: bool = False


def dag(nodes: Sequence[TreeNode], edges: Sequence[tuple[int, int]], title: str, box_w: int = 132,
        box_h: int = 38, gap_x: int = 14, gap_y: int = 34) -> str:
    """Return a layered drawing of a directed acyclic graph; ``edges`` are (upper id, lower id) pairs."""
    if not nodes:
        return _empty(400, 120, title, "no lineage")
    layers: dict[int, list[TreeNode]] = {}
    for n in nodes:
        layers.setdefault(n.layer, []).append(n)
    order = sorted(layers)
    pos: dict[int, float] = {}
    for layer in order:  # order each row by the mean position of its nodes' parents above (barycentre)
        row = layers[layer]
        above = {a: pos[a] for a, b in edges if a in pos}
        row.sort(key=lambda n: (sum(above[a] for a, b in edges if b == n.id and a in above) /
                                max(1, sum(1 for a, b in edges if b == n.id and a in above)), n.id))
        for k, n in enumerate(row):
            pos[n.id] = k
    widest = max(len(r) for r in layers.values())
    width = max(widest * (box_w + gap_x) + gap_x, 300)
    height = 30 + len(order) * (box_h + gap_y) + 10
    xy: dict[int, tuple[float, float]] = {}
    for li, layer in enumerate(order):
        row = layers[layer]
        offset = (width - len(row) * (box_w + gap_x) + gap_x) / 2
        for k, n in enumerate(row):
            xy[n.id] = (offset + k * (box_w + gap_x), 30 + li * (box_h + gap_y))
    out = _open(width, height, title)
    for a, b in edges:
        if a in xy and b in xy:
            (xa, ya), (xb, yb) = xy[a], xy[b]
            x1, y1, x2, y2 = xa + box_w / 2, ya + box_h, xb + box_w / 2, yb
            my = (y1 + y2) / 2
            out.append(f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{my:.1f} {x2:.1f},{my:.1f} {x2:.1f},{y2:.1f}" '
                       'fill="none" stroke="#888" stroke-width="1.2"/>')
    for n in nodes:
        x, y = xy[n.id]
        stroke = ' stroke="#000" stroke-width="2.5"' if n.highlight else ' stroke="#666"'
        out.append(f'<g><title>{_e(n.tooltip or n.lines[0])}</title>'
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{box_w}" height="{box_h}" rx="5" fill="{n.color}"'
                   f'{stroke}/>')
        for k, line in enumerate(n.lines[:2]):
            weight = ' font-weight="bold"' if k == 0 else ""
            out.append(f'<text x="{x + box_w / 2:.1f}" y="{y + 15 + 15 * k:.1f}" text-anchor="middle"'
                       f'{weight} font-size="11">{_e(line[:22])}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)

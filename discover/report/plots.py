"""The report's plots: matplotlib figures, rendered by its SVG backend and inlined in the page.

Every function returns an ``<svg class="plot">`` element as text, sized by its ``width`` and
``height`` attributes and scaled by its ``viewBox``, with ``<title>`` tooltips on the marks. The SVG
is made safe to inline in a page whose policy forbids every load: no XML prolog or namespace URLs,
no metadata, no ``<use>`` references (markers are written out in place), no clip paths, no ids.
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")
RC = {"svg.fonttype": "none", "svg.hashsalt": "discover", "font.family": "sans-serif", "font.size": 9,
      "axes.titlesize": 10, "axes.titleweight": "bold", "axes.facecolor": "#fafafa", "axes.edgecolor": "#999",
      "grid.color": "#e3e3e3", "axes.grid": False, "legend.frameon": False}
DPI = 72  # one SVG unit per pixel of the sizes below


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


def fmt(v: float) -> str:
    """Return a tick value in few characters (``1.2e+06``, ``12,345``, ``0.25``)."""
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


# --- figures and their SVG ---------------------------------------------------------------------------

class Plot:
    """A figure being drawn: the axes, and the tooltip of each mark (by the gid set on its artist)."""

    def __init__(self, width: float, height: float, title: str, legend_room: bool = False,
                 margins: tuple[float, float, float, float] = (64, 28, 16, 46)) -> None:
        from matplotlib.figure import Figure

        self.title, self.width, self.height = title, width, height
        self.fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
        self.fig.patch.set_visible(False)
        left, top, right, bottom = margins
        right = 170 if legend_room else right
        self.ax = self.fig.add_axes((left / width, bottom / height, 1 - (left + right) / width,
                                     1 - (top + bottom) / height))
        self.ax.set_title(title)
        self.tips: dict[str, str] = {}

    def tip(self, artist, text: str):
        """Give ``artist`` the tooltip ``text``; return the artist."""
        gid = f"tip{len(self.tips)}"
        artist.set_gid(gid)
        self.tips[gid] = text
        return artist

    def axes(self, x_label: str, y_label: str, y_ticks: Sequence[float] | None = None,
             x_ticks: Sequence[float] | None = None) -> None:
        """Label the axes; round ticks (``ticks``) written with ``fmt``; light horizontal grid lines."""
        from matplotlib.ticker import FixedLocator, FuncFormatter

        ax = self.ax
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        if y_ticks is not None:
            ax.yaxis.set_major_locator(FixedLocator(list(y_ticks)))
        if x_ticks is not None:
            ax.xaxis.set_major_locator(FixedLocator(list(x_ticks)))
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))
        ax.grid(True, axis="y")
        ax.set_axisbelow(True)

    def legend(self, items: Sequence[tuple[str, str, bool]], swatch: bool = False) -> None:
        """Draw a legend right of the axes: (label, colour, dashed) lines, or colour swatches."""
        from matplotlib.lines import Line2D
        from matplotlib.patches import Rectangle

        if not items:
            return
        handles = [Rectangle((0, 0), 1, 1, color=col) if swatch else
                   Line2D([], [], color=col, lw=2.5, ls="--" if dashed else "-")
                   for _label, col, dashed in items]
        self.ax.legend(handles, [label for label, _c, _d in items], loc="upper left",
                       bbox_to_anchor=(1.01, 1), borderaxespad=0)

    def svg(self) -> str:
        """Render the figure and return it as an inline-safe ``<svg class="plot">`` element."""
        from matplotlib.backends.backend_svg import FigureCanvasSVG

        buf = io.StringIO()
        FigureCanvasSVG(self.fig).print_svg(buf, metadata={"Date": None})
        return inline_svg(buf.getvalue(), self.title, self.width, self.height, self.tips)


def styled(fn: Callable[..., str]) -> Callable[..., str]:
    """Draw ``fn``'s figure in the report's style (``RC``)."""

    @functools.wraps(fn)
    def drawn(*args, **kwargs) -> str:
        import matplotlib  # here, not at import: a command that draws nothing does not pay for it

        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)

    return drawn


figure = Plot


_DEF_PATH = re.compile(r'<path id="([^"]+)" d="([^"]*)"[^>]*/>')
_USE = re.compile(r'<use xlink:href="#([^"]+)" x="([^"]+)" y="([^"]+)"( style="[^"]*")?\s*/>')


def inline_svg(text: str, title: str, width: float, height: float, tips: dict[str, str]) -> str:
    """Return matplotlib's SVG document as an element safe to inline in a page that loads nothing."""
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r"<style[^>]*>.*?</style>", "", text, flags=re.S)
    shapes = {m.group(1): m.group(2) for m in _DEF_PATH.finditer(text)}
    text = _USE.sub(lambda m: f'<path d="{shapes[m.group(1)]}" transform="translate({m.group(2)}'
                              f' {m.group(3)})"{m.group(4) or ""}/>', text)
    text = re.sub(r"<defs>.*?</defs>", "", text, flags=re.S)
    text = re.sub(r' clip-path="[^"]*"', "", text)
    for gid, tip in tips.items():
        text = text.replace(f'<g id="{gid}">', f"<g><title>{escape(tip)}</title>", 1)
    text = re.sub(r' id="[^"]*"', "", text)
    w, h = f"{width:.0f}", f"{height:.0f}"
    head = (f'<svg class="plot" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"'
            f' aria-label="{escape(title)}" style="stroke-linejoin: round; stroke-linecap: butt">')
    return head + text[text.index(">") + 1:].strip()


@styled
def empty(width: int, height: int, title: str, message: str) -> str:
    """Return a framed placeholder saying why there is nothing to draw."""
    p = figure(width, height, title, margins=(2, 24, 2, 2))
    p.ax.set_xticks([])
    p.ax.set_yticks([])
    p.ax.set_facecolor("none")
    p.ax.text(0.5, 0.5, message, ha="center", va="center", color="#666", transform=p.ax.transAxes)
    return p.svg()


# --- the plots --------------------------------------------------------------------------------------

@styled
def line_chart(series: Sequence[Series], title: str, x_label: str, y_label: str, width: int = 760,
               height: int = 340, y_max: float | None = None, legend: Sequence[tuple[str, str, bool]] = (),
               log_floor: float | None = None) -> str:
    """Return a line chart; ``y_max`` clips the y axis (points above it are drawn on the top edge).

    With ``log_floor`` the y axis is logarithmic and values below the floor are drawn on it.
    """
    pts = [(x, y) for s in series for x, y in zip(s.xs, s.ys, strict=True) if math.isfinite(y)]
    if not pts:
        return empty(width, height, title, "no data")
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
    p = figure(width, height, title, legend_room=bool(legend))
    ax = p.ax
    if log_floor is not None:
        ax.set_yscale("log")
        lo, hi = math.floor(math.log10(y0)), math.ceil(math.log10(y1))
        steps = (1, 2, 5) if hi - lo <= 3 else (1,)
        y_ticks = [v for v in (m * 10.0 ** e for e in range(lo, hi + 1) for m in steps) if y0 <= v <= y1]
    else:
        y_ticks = ticks(y0, y1)
    for s in series:
        line = [(x, min(max(y, y0), y1)) for x, y in zip(s.xs, s.ys, strict=True) if math.isfinite(y)]
        if line:
            lx, ly = zip(*line, strict=True)
            p.tip(ax.plot(lx, ly, color=s.color, lw=s.width, ls="--" if s.dashed else "-",
                          marker="o" if len(line) == 1 else None, ms=6)[0], s.label)
    ax.set_xlim(x0, x1 if x1 > x0 else x0 + 1)
    ax.set_ylim(y0, y1)
    p.axes(x_label, y_label, y_ticks, ticks(x0, x1 if x1 > x0 else x0 + 1, 6))
    p.legend(legend)
    return p.svg()


@styled
def stacked_bars(labels: Sequence[str], layers: Sequence[tuple[str, str, Sequence[float]]], title: str,
                 x_label: str, y_label: str, width: int = 760, height: int = 340) -> str:
    """Return stacked bars: one bar per label, ``layers`` = (name, colour, value per bar), bottom first."""
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter

    if not labels:
        return empty(width, height, title, "no data")
    totals = [sum(layer[2][k] for layer in layers) for k in range(len(labels))]
    top = max(totals) or 1.0
    p = figure(width, height, title, legend_room=True)
    base = [0.0] * len(labels)
    for name, col, values in layers:
        for k, (lab, v) in enumerate(zip(labels, values, strict=True)):
            if v > 0:
                bar = p.ax.add_patch(Rectangle((k + 0.04, base[k]), 0.92, v, color=col))
                p.tip(bar, f"{lab}: {name} {fmt(v)}")
            base[k] += v
    p.ax.set_xlim(0, len(labels))
    p.ax.set_ylim(0, top)
    step = max(1, len(labels) // 8)
    shown = list(range(0, len(labels), step))
    p.axes(x_label, y_label, ticks(0, top), [k + 0.5 for k in shown])
    p.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: labels[int(v)]))
    p.legend([(name, col, False) for name, col, _ in reversed(layers)], swatch=True)
    return p.svg()


@styled
def grouped_hbars(labels: Sequence[str], groups: Sequence[tuple[str, str, Sequence[float]]], title: str,
                  x_label: str, x_max: float = 100.0, width: int = 760, notes: Sequence[str] = ()) -> str:
    """Return horizontal bars, one group of bars per label (e.g. valid % and improved % per operator)."""
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FixedLocator, FuncFormatter

    if not labels:
        return empty(width, 160, title, "no data")
    bar = 14
    row = bar * len(groups) + 10
    height = 28 + row * len(labels) + 50
    p = figure(width, height, title, margins=(110, 28, 190, 46))
    ax = p.ax
    for k, lab in enumerate(labels):
        note = f" ({notes[k]})" if k < len(notes) and notes[k] else ""
        for g, (name, col, values) in enumerate(groups):
            v = values[k]
            y = k * row + 5 + g * bar
            p.tip(ax.add_patch(Rectangle((0, y), min(v, x_max), bar - 2, color=col)),
                  f"{lab}: {name} {fmt(v)}{note}")
            ax.text(min(v, x_max) + x_max * 0.006, y + (bar - 2) / 2, f"{v:.1f}", va="center", fontsize=8)
    ax.set_xlim(0, x_max)
    ax.set_ylim(row * len(labels), 0)
    p.axes(x_label, "", None, ticks(0, x_max))
    ax.yaxis.set_major_locator(FixedLocator([k * row + row / 2 for k in range(len(labels))]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: labels[min(int(v // row), len(labels) - 1)]))
    ax.grid(True, axis="x")
    ax.grid(False, axis="y")
    p.legend([(name, col, False) for name, col, _ in groups], swatch=True)
    return p.svg()


def _heat_color(v: float, vmax: float, diverging: bool) -> str:
    if vmax <= 0:
        return "#ffffff"
    t = max(-1.0, min(1.0, v / vmax))
    if not diverging or t >= 0:  # white → red
        a = abs(t)
        return f"#{255:02x}{round(255 - 150 * a):02x}{round(255 - 170 * a):02x}"
    a = -t  # white → blue: better than the comparison
    return f"#{round(255 - 170 * a):02x}{round(255 - 110 * a):02x}{255:02x}"


@styled
def heatmap(rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float | None]], title: str,
            row_label: str, col_label: str, diverging: bool = False, cell: int = 44,
            vmax: float | None = None) -> str:
    """Return a heatmap with the value written in each cell; diverging maps < 0 to blue, > 0 to red."""
    from matplotlib.patches import Rectangle

    width = 70 + cell * len(cols) + 10
    height = 28 + 22 + cell * len(rows) + 34
    if not rows or not cols:
        return empty(max(width, 240), max(height, 120), title, "no data")
    finite = [abs(v) for r in values for v in r if v is not None and math.isfinite(v)]
    vmax = vmax if vmax is not None else (max(finite) if finite else 1.0)
    p = figure(width, height, title, margins=(64, 50, 16, 34))
    ax = p.ax
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            v = values[i][j]
            fill = "#eeeeee" if v is None else _heat_color(v, vmax, diverging)
            text = "–" if v is None else (f"{v:+.2f}" if diverging else f"{v:.2f}")
            p.tip(ax.add_patch(Rectangle((j, i), 0.98, 0.98, color=fill)),
                  f"{row_label} {r}, {col_label} {c}: {text}")
            ax.text(j + 0.49, i + 0.49, text, ha="center", va="center", fontsize=8)
    ax.set_xlim(0, len(cols))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([j + 0.49 for j in range(len(cols))], list(cols))
    ax.set_yticks([i + 0.49 for i in range(len(rows))], list(rows))
    ax.xaxis.set_label_position("top")
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_facecolor("none")
    p.ax.set_title("")
    p.fig.suptitle(title, y=1 - 4 / height, va="top", fontsize=10, fontweight="bold")
    return p.svg()


@dataclass(frozen=True)
class TreeNode:
    """A box of the lineage drawing: ``layer`` 0 is the top row."""

    id: int
    lines: tuple[str, ...]
    layer: int
    color: str
    tooltip: str = ""
    highlight: bool = False


@styled
def dag(nodes: Sequence[TreeNode], edges: Sequence[tuple[int, int]], title: str, box_w: int = 132,
        box_h: int = 38, gap_x: int = 14, gap_y: int = 34) -> str:
    """Return a layered drawing of a directed acyclic graph; ``edges`` are (upper id, lower id) pairs."""
    from matplotlib.patches import FancyBboxPatch, PathPatch
    from matplotlib.path import Path

    if not nodes:
        return empty(400, 120, title, "no lineage")
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
    p = figure(width, height, title, margins=(0, 0, 0, 0))
    ax = p.ax
    ax.set_axis_off()
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.text(width / 2, 16, title, ha="center", va="baseline", fontsize=10, fontweight="bold")
    for a, b in edges:
        if a in xy and b in xy:
            (xa, ya), (xb, yb) = xy[a], xy[b]
            x1, y1, x2, y2 = xa + box_w / 2, ya + box_h, xb + box_w / 2, yb
            my = (y1 + y2) / 2
            curve = Path([(x1, y1), (x1, my), (x2, my), (x2, y2)], [Path.MOVETO] + [Path.CURVE4] * 3)
            ax.add_patch(PathPatch(curve, fill=False, edgecolor="#888", lw=1.2))
    for n in nodes:
        x, y = xy[n.id]
        box = FancyBboxPatch((x, y), box_w, box_h, boxstyle="round,pad=0,rounding_size=5", facecolor=n.color,
                             edgecolor="#000" if n.highlight else "#666", lw=2.5 if n.highlight else 1.0)
        p.tip(ax.add_patch(box), n.tooltip or n.lines[0])
        for k, line in enumerate(n.lines[:2]):
            ax.text(x + box_w / 2, y + 15 + 15 * k, line[:22], ha="center", va="baseline", fontsize=8.5,
                    fontweight="bold" if k == 0 else "normal")
    return p.svg()

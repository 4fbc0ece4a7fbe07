"""Gap against cost: Pareto fronts of a run's islands and of the archive, as tables and SVG scatters.

A point dominates another when its gap and its cost are both no higher and one is lower; the front
is the set of points nothing dominates (``discover.search.population.front_ranks`` rank 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from discover.report.plots import color, empty, figure, styled, ticks
from discover.search.population import front_ranks


@dataclass(frozen=True)
class Point:
    """One program (or archive entry) on a gap-cost plane."""

    label: str
    gap: float
    cost: float  # seconds per instance, or a ratio to a reference
    group: int = 0  # colour (an island, or references vs champions)


def on_front(points: Sequence[Point]) -> list[bool]:
    """Return, per point, whether it is on the non-dominated front (finite costs only)."""
    ranks = front_ranks([(p.gap, p.cost if math.isfinite(p.cost) else math.inf) for p in points])
    return [r == 0 and math.isfinite(p.cost) for r, p in zip(ranks, points, strict=True)]


@styled
def scatter(points: Sequence[Point], title: str, x_label: str, groups: Sequence[str] = (),
            width: int = 760, height: int = 360) -> str:
    """Return an SVG scatter of gap % against log10 of cost, with the front drawn as a step line."""
    pts = [p for p in points if math.isfinite(p.cost) and p.cost > 0 and math.isfinite(p.gap)]
    if not pts:
        return empty(width, height, title, "no measured cost")
    xs = [math.log10(p.cost) for p in pts]
    ys = [p.gap for p in pts]
    x0, x1 = min(xs) - 0.1, max(xs) + 0.1
    y0, y1 = min(0.0, min(ys)), max(ys) * 1.05 if max(ys) > 0 else 1.0
    plot = figure(width, height, title, legend_room=bool(groups))
    ax = plot.ax
    front = sorted((p for p, k in zip(pts, on_front(pts), strict=True) if k), key=lambda p: (p.cost, p.gap))
    if len(front) > 1:
        plot.tip(ax.plot([math.log10(p.cost) for p in front], [p.gap for p in front], color="#333", lw=1.2,
                         ls=(0, (4, 3)))[0], "Pareto front")
    marked = {id(p) for p in front}
    for p, x in zip(pts, xs, strict=True):
        dot = ax.plot([x], [p.gap], "o", ms=9 if id(p) in marked else 6, color=color(p.group), alpha=0.8,
                      mew=0)[0]
        plot.tip(dot, f"{p.label}: {p.gap:.3f} %, {p.cost:.3g}")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    plot.axes(f"log10 {x_label}", "gap %", ticks(y0, y1), ticks(x0, x1, 6))
    plot.legend([(name, color(k), False) for k, name in enumerate(groups)], swatch=True)
    return plot.svg()


Row = tuple[int, int, str, float, float | None]  # program, island, operator, gap, cost ratio


def island_points(rows: Sequence[Row]) -> dict[int, list[Point]]:
    """Group the valid programs (in id order) into points per island, as the islands hold them at the end.

    A ``reset`` row empties its island before joining it, as in the population.
    """
    out: dict[int, list[Point]] = {}
    for pid, island, operator, gap, ratio in rows:
        if operator == "reset":
            out[island] = []
        cost = math.inf if ratio is None else float(ratio)
        out.setdefault(island, []).append(Point(f"#{pid}", float(gap), cost, island))
    return out


def island_fronts_html(rows: Sequence[Row], reference: str, n: Any) -> str:
    """Return the report section: one scatter of every island and a table of each island's front."""
    by_island = island_points(rows)
    if not by_island:
        return scatter([], f"Training gap against cost at n = {n}", "cost") + "\n<p>no valid program</p>"
    pts = [p for island in sorted(by_island) for p in by_island[island]]
    svg = scatter(pts, f"Training gap against cost at n = {n} (ratio to {reference})",
                  f"cost (× {reference})", [f"island {i}" for i in sorted(by_island)])
    body = ["<table><tr><th>island</th><th>front: program (training gap %, cost × "
            f"{escape(reference)})</th></tr>"]
    for island in sorted(by_island):
        ps = by_island[island]
        front = sorted((p for p, k in zip(ps, on_front(ps), strict=True) if k), key=lambda p: p.gap)
        cells = ", ".join(f"{escape(p.label)} ({p.gap:.3f}, {p.cost:.3g})" for p in front)
        cells = cells or "no measured cost"
        body.append(f"<tr><td>{island}</td><td>{cells}</td></tr>")
    body.append("</table>")
    return svg + "\n" + "\n".join(body)

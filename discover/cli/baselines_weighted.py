"""`discover baselines` on a weighted set (1||Σw_jT_j): the table of the weighted rules, with the gaps
split into proven optima and best known values (``discover.cli.baselines`` picks it for the task)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from discover.cli.common import UserError, console, print_json
from evaluator.weighted.baselines import score_weighted
from evaluator.weighted.rules import ATC_K, COVERT_K, NAMES


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def show_weighted(wset: Any, as_json: bool, names: tuple[str, ...] = NAMES) -> None:
    """Print the weighted rules' gaps (or JSON) on one weighted set."""
    unknown = [h for h in names if h not in NAMES]
    if unknown:
        raise UserError(f"option --heuristics: unknown weighted rule {unknown[0]!r}; "
                        f"known: {', '.join(NAMES)}")
    scores = score_weighted(wset, names)
    known = wset.opt >= 0
    proven = int(wset.proven.sum())
    with_opt = bool(known.any())
    if as_json:
        heur = {}
        for s in scores:
            row = {"mean_seconds": s.mean_seconds, "mean_weighted_tardiness": s.summary.mean_tardiness}
            if with_opt:
                row |= {"mean_gap_pct": s.summary.mean_gap_pct, "max_gap_pct": s.summary.max_gap_pct,
                        "at_opt": s.summary.optimal, "mean_gap_proven_pct": s.gap_proven_pct,
                        "mean_gap_best_known_pct": s.gap_best_known_pct,
                        "below_best_known": s.below_best_known, "total_gap_pct": s.total_gap_pct}
            heur[s.name] = row
        print_json({"set": wset.name, "objective": "total weighted tardiness", "instances": wset.count,
                    "n": wset.n, "proven": proven, "best_known": int(known.sum()) - proven,
                    "atc_k": ATC_K, "covert_k": COVERT_K, "heuristics": heur})
        return
    title = f"{wset.name} (total weighted tardiness): {wset.count} instances, n={wset.n or 'mixed'}"
    if with_opt:
        title += (f"; opt proven optimal on {proven}, best known on {int(known.sum()) - proven}; "
                  f"gaps over the {int((wset.opt > 0).sum())} with opt > 0")
    table = Table(title=title)
    table.add_column("rule")
    cols = (("mean gap %", "on proven", "on best known", "max gap %", "at opt", "ΣH/Σopt−1 %")
            if with_opt else ("mean weighted tardiness",))
    for c in cols:
        table.add_column(c, justify="right")
    for s in scores:
        summ = s.summary
        cells = ([_fmt(summ.mean_gap_pct), _fmt(s.gap_proven_pct), _fmt(s.gap_best_known_pct),
                  f"{summ.max_gap_pct:.0f}", str(summ.optimal), _fmt(s.total_gap_pct)]
                 if with_opt else [f"{summ.mean_tardiness:.4f}"])
        table.add_row(s.name, *cells)
    console.print(table)
    below = {s.name: s.below_best_known for s in scores if s.below_best_known}
    listed = ", ".join(f"{k} on {v}" for k, v in below.items()) if below else "none"
    console.print(f"ATC k = {ATC_K:g}, COVERT k = {COVERT_K:g}; values below a best-known opt: {listed}",
                  highlight=False)

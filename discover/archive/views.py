"""Rich renderables for ``discover archive``: the list, score and class tables, lineage, diffs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from discover.archive.compare import class_gaps, max_gap, optimal_count, set_names, tally
from discover.archive.costs import dominates_text, ratio_text
from discover.archive.entries import Entry
from discover.archive.index import IndexEntry
from discover.archive.lineage import Lineage

STATUS_STYLE = {"ok": "green", "stale": "yellow", "not scored": "dim", "hash mismatch": "bold white on red",
                "bad header": "bold white on red"}


@dataclass(frozen=True)
class Row:
    """One archive entry as the list shows it."""

    entry: Entry
    rec: IndexEntry | None
    status: str
    detail: str
    order: int = 0  # position in file order (references first)

    def sort_key(self) -> tuple[int, float]:
        gap = self.rec.test_gap() if self.rec else None
        return (gap is None, gap if gap is not None else 0.0)

    def to_dict(self) -> dict[str, Any]:
        e, r = self.entry, self.rec
        d: dict[str, Any] = {"id": e.id, "kind": e.kind, "path": str(e.path), "origin": e.origin,
                             "status": self.status, "detail": self.detail,
                             "test_gap_pct": r.test_gap() if r else None, "scores": {}}
        for name, s in (r.scores.items() if r else ()):
            d["scores"][name] = {"n": s.n, "instances": s.instances, "mean_gap_pct": s.mean_gap_pct,
                                 "max_gap_pct": s.max_gap_pct, "optimal": s.optimal,
                                 "seconds_per_instance": s.seconds_per_instance, "runtime": s.runtime,
                                 "mode": s.mode, "python_seconds_per_instance": s.python_seconds_per_instance}
            if s.proven is not None:  # opt is the best known value on some instances
                d["scores"][name] |= {"proven": s.proven, "gap_proven_pct": s.gap_proven_pct,
                                      "gap_best_known_pct": s.gap_best_known_pct}
        return d


def _pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


MODE_TAG = {"compiled": "c", "python": "py"}


def _secs_mode(x: float | None, mode: str) -> str:
    """Format seconds per instance with the mode they were measured in: ``c`` compiled, ``py`` Python."""
    return "-" if x is None else f"{x:.1e} {MODE_TAG.get(mode, '?')}"


def _n_label(rec_sets: list[str], recs: list[IndexEntry]) -> dict[str, str]:
    labels = {}
    for name in rec_sets:
        n = next((r.scores[name].n for r in recs if name in r.scores), None)
        labels[name] = f"n={n}" if n else name
    return labels


def _gap(x: float | None) -> str:
    """Format a gap % in at most six characters."""
    if x is None:
        return "-"
    return f"{x:.2f}" if abs(x) < 100 else f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


def list_table(rows: list[Row], title: str, wide: bool = False,
               unproven: dict[str, int] | None = None, cost_ref: str = "Aug-MDDC") -> Table:
    """Return the archive table, rows already sorted; ``wide`` adds max gap and optimal counts.

    ``unproven`` counts, per set, the instances whose stored optimum is only the best known value:
    their columns are marked † and the caption says what that means. ``cost_ref`` is the reference
    the cost ratio is to (the task's cost reference).
    """
    recs = [r.rec for r in rows if r.rec]
    refs = [r for r in recs if r.kind == "reference"]
    names = set_names(*recs)
    labels = _n_label(names, recs)
    marked = {k: v for k, v in (unproven or {}).items() if v and k in labels}
    for name in marked:
        labels[name] += "†"
    caption = ("n=…: mean gap % to the optimum on that stored test set; mean: their average (the sort key);"
               " s/inst at the largest n, in the mode it was measured in (c: compiled, py: Python;"
               f" references: numba kernels; champions: in the sandbox); × {cost_ref}: s/inst over"
               f" {cost_ref}'s at that n in the same mode; dominates: per n, the references with a higher gap"
               " and no lower s/inst in the same mode")
    for name, k in marked.items():
        many = f"{k} optima of {name} are" if k != 1 else f"1 optimum of {name} is"
        caption += (f"\n{labels[name]}: {many} not proven; there the gap is to the best "
                    "known value, so it may understate the gap to the optimum (`show` splits the two)")
    t = Table(title=title, box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False, caption_justify="left",
              caption=caption)
    t.add_column("id", style="bold", no_wrap=True, min_width=max([len(r.entry.id) for r in rows] + [2]))
    for name in names:
        t.add_column(labels[name], justify="right", no_wrap=True)
    t.add_column("mean", justify="right", style="bold", no_wrap=True)
    if wide:
        t.add_column("max %", justify="right", no_wrap=True)
        t.add_column("optimal", justify="right", no_wrap=True)
    t.add_column("s/inst", justify="right", no_wrap=True)
    t.add_column(f"× {cost_ref}", justify="right", no_wrap=True)
    t.add_column("dominates", overflow="fold")
    t.add_column("status", no_wrap=True, min_width=max([len(r.status) for r in rows] + [6]))
    t.add_column("origin", overflow="fold")
    for r in rows:
        rec = r.rec
        gaps = [_gap(rec.scores[n].mean_gap_pct) if rec and n in rec.scores else "-" for n in names]
        last = rec.scores[max(rec.scores, key=lambda k: rec.scores[k].n or 0)] if rec and rec.scores else None
        status = Text(r.status.upper() if r.status in ("hash mismatch", "bad header") else r.status,
                      style=STATUS_STYLE.get(r.status, ""))
        extra = []
        if wide:
            opt, count = optimal_count(rec) if rec else (0, 0)
            extra = [_gap(max_gap(rec) if rec else None), f"{opt}/{count}" if rec else "-"]
        t.add_row(Text(r.entry.id), *gaps, _gap(rec.test_gap() if rec else None), *extra,
                  _secs_mode(last.seconds_per_instance, last.mode) if last else "-",
                  ratio_text(rec, refs, cost_ref) if rec else "-",
                  Text(dominates_text(rec, refs) if rec else "-"), status, Text(r.entry.origin))
    return t


def header_panel(entry: Entry, status: str, detail: str) -> Panel:
    """Return the entry's identity, integrity status and provenance."""
    t = Text()
    t.append(entry.id, style="bold")
    t.append(f"  ({entry.kind}, {entry.path})\nstatus: ")
    t.append(status, style=STATUS_STYLE.get(status, ""))
    t.append(f" {detail}" if detail else "")
    if entry.is_reference:
        t.append("\na plain-Python reference rule; scored with its numba twin (evaluator.heuristics for ΣT_j,"
                 " the task's rules for another task)")
    m = entry.meta
    for key in ("task", "origin_run", "program_id", "parents", "operator", "model", "date", "entry",
                "evaluator_version", "train_gap", "valid_gap", "reference", "reference_gap", "p_value"):
        if m.get(key) not in (None, "", []):
            t.append(f"\n{key}: {m[key]}")
    for role, s in (m.get("sets") or {}).items():
        name, sha = (s.get("name", role), s.get("sha256", "")) if isinstance(s, dict) else (role, str(s))
        t.append(f"\nset {role}: {name} sha256 {sha[:16]}…")
    return Panel(t, title="entry", expand=False)


def code_view(code: str) -> Syntax:
    """Return the code, syntax-highlighted with line numbers."""
    return Syntax(code, "python", line_numbers=True, word_wrap=True, theme="ansi_dark")


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True,
                 pad_edge=False, min_width=min(len(title), 76))


def score_table(rec: IndexEntry, others: list[IndexEntry]) -> Table:
    """Return mean gap % per n, max gap, optimal count and runtime of ``rec`` and each other entry.

    The runtimes are all on ``rec``'s largest set, in the mode ``rec`` ran in there (a compiled
    champion against the numba references, a Python one against their plain-Python files); "-"
    where none was measured so.
    """
    names = set_names(rec, *others)
    labels = _n_label(names, [rec, *others])
    top = max(rec.scores, key=lambda k: rec.scores[k].n or 0) if rec.scores else None
    mode = rec.scores[top].mode if top is not None else ""
    t = _table(f"{rec.id} against the references: mean gap % per n")
    t.add_column("entry", style="bold", no_wrap=True)
    for name in names:
        t.add_column(labels[name], justify="right", no_wrap=True)
    for col in ("max %", "optimal", f"s/inst {MODE_TAG.get(mode, '')}".strip()):
        t.add_column(col, justify="right", no_wrap=True)
    for r in [rec, *others]:
        opt, count = optimal_count(r)
        last = r.scores.get(top) if top is not None else None
        t.add_row(Text(r.id, style="bold cyan" if r is rec else ""),
                  *[_gap(r.scores[n].mean_gap_pct) if n in r.scores else "-" for n in names],
                  _gap(max_gap(r)), f"{opt}/{count}", _secs(last.seconds_in(mode) if last and mode else None))
    return t


def proven_table(rec: IndexEntry, others: list[IndexEntry]) -> Table:
    """Return, per set whose opt is the best known value on some instances, the mean gap % of ``rec`` and
    the others to the proven optima and, apart, to the best known values."""
    names = [n for n in set_names(rec, *others) if n in rec.scores and rec.scores[n].proven is not None]
    t = _table(f"{rec.id}: mean gap % to proven optima (opt) and to best known values (bk) per set")
    for col in ("set", "n", "to", "instances"):
        t.add_column(col, justify="right" if col in ("n", "instances") else "left", no_wrap=True)
    for r in [rec, *others]:
        t.add_column(Text(r.id, style="bold cyan" if r is rec else ""), justify="right", no_wrap=True)
    for name in names:
        s = rec.scores[name]
        for kind, count, field in (("opt", s.proven or 0, "gap_proven_pct"),
                                   ("bk", s.instances - (s.proven or 0), "gap_best_known_pct")):
            if count:
                cells = [_gap(getattr(r.scores[name], field)) if name in r.scores else "-"
                         for r in [rec, *others]]
                t.add_row(name, str(s.n), kind, str(count), *cells)
    t.caption = ("bk: the set's opt there is only the best known value (not proven optimal), so a gap to it"
                 " may understate the gap to the optimum; a negative one is a value below it")
    t.caption_justify = "left"
    return t


def tally_table(rec: IndexEntry, others: list[IndexEntry]) -> Table:
    """Return, per n, how many instances ``rec`` does better / equal / worse than each other entry."""
    names = set_names(rec, *others)
    labels = _n_label(names, [rec, *others])
    t = _table(f"{rec.id} instance by instance: better/equal/worse than …")
    t.add_column("than", style="bold", no_wrap=True)
    for name in names:
        t.add_column(labels[name], justify="right", no_wrap=True)
    for r in others:
        cells = []
        for name in names:
            tl = tally(rec.scores[name], r.scores[name]) if name in rec.scores and name in r.scores else None
            cells.append(Text(str(tl), style="green" if tl and tl.better > tl.worse else
                              "red" if tl and tl.worse > tl.better else "") if tl else "-")
        t.add_row(Text(r.id), *cells)
    return t


def class_table(rec: IndexEntry, others: list[IndexEntry], set_name: str | None) -> Table:
    """Return mean gap % per (RDD, TF) class for ``rec`` and the others; the best of each row in green."""
    where = f"on {set_name}" if set_name else "averaged over the test sets"
    t = _table(f"mean gap % per (RDD, TF) class, {where}; best of each row in green")
    t.add_column("RDD", justify="right")
    t.add_column("TF", justify="right")
    cols = [rec, *others]
    gaps = [class_gaps(r, set_name) for r in cols]
    for r in cols:
        t.add_column(r.id, justify="right", style="bold" if r is rec else "")
    classes = sorted({k for g in gaps for k in g})
    if not classes:
        t.caption = "no instance of these sets records its (RDD, TF) class"
    for c in classes:
        vals = [g.get(c) for g in gaps]
        best = min((v for v in vals if v is not None), default=None)
        cells = [Text(_gap(v), style="green" if v is not None and best is not None and v <= best + 1e-12
                      else "") for v in vals]
        t.add_row(f"{c[0]:g}", f"{c[1]:g}", *cells)
    return t


def _main_line(lin: Lineage) -> list[str]:
    by_id = lin.by_id()
    node, out, seen = lin.root, [], set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        out.append(f"#{node.id} {node.description}" if node.is_seed and node.operator == "seed"
                   else f"#{node.id} {node.operator}")
        parents = [by_id[q] for q in node.parents if q in by_id]
        node = min(parents, key=lambda n: (n.gap if n.gap is not None else 1e18, n.id)) if parents else None
    return out


def lineage_view(lin: Lineage | None, entry: Entry) -> Any:
    """Return the lineage: the main line (best parent each step) and every ancestor by generation."""
    if lin is None or not lin.nodes:
        if entry.is_reference:
            return Text("lineage: a reference rule (no lineage)")
        run = entry.meta.get("origin_run")
        why = (f"its run {run} is not on this disk and the index holds no copy" if run
               else "a hand-written entry")
        return Text(f"lineage: none recorded ({why})")
    seeds = sorted({n.description or f"#{n.id}" for n in lin.seeds()})
    head = Text.assemble(("lineage ", "bold"), f"({len(lin.nodes)} programs back to the seeds "
                         f"{', '.join(seeds)}; copies between islands collapsed)\n",
                         ("main line: ", "bold"), " ← ".join(_main_line(lin)))
    t = Table(show_edge=False, box=None, pad_edge=False)
    for col, just in (("depth", "right"), ("program", "right"), ("operator", "left"), ("island", "right"),
                      ("train gap %", "right"), ("parents", "left"), ("idea", "left")):
        t.add_column(col, justify=just, overflow="fold" if col == "idea" else "ellipsis",
                     max_width=60 if col == "idea" else None)
    kept = {n.id for n in lin.nodes}
    for n in lin.nodes:
        parents = ", ".join(f"#{q}" if q in kept else f"#{q}…" for q in n.parents) or "-"
        idea = Text(n.description.splitlines()[0][:200] if n.description.strip() else "")  # not markup
        t.add_row(str(n.depth), f"#{n.id}", Text(n.operator), str(n.island), _pct(n.gap, 3), parents, idea)
    parts: list[Any] = [head, t]
    if lin.omitted:
        parts.append(Text(f"… {lin.omitted} older ancestors not shown (marked …)", style="dim"))
    return Group(*parts)


def code_diff(a: Entry, b: Entry) -> Syntax | Text:
    """Return the unified diff of two entries' code."""
    lines = list(difflib.unified_diff(a.code.splitlines(), b.code.splitlines(), f"{a.id} ({a.path.name})",
                                      f"{b.id} ({b.path.name})", lineterm=""))
    if not lines:
        return Text("the code is identical")
    return Syntax("\n".join(lines), "diff", theme="ansi_dark", word_wrap=True)


def delta_table(a: IndexEntry, b: IndexEntry) -> Table:
    """Return per-n mean gaps of A and B, B − A, and B's instances better/equal/worse than A; a set whose
    opt is the best known value on some instances adds its gaps to proven optima (opt) and to best
    known values (bk) apart."""
    names = set_names(a, b)
    labels = _n_label(names, [a, b])
    t = _table(f"score deltas ({b.id} − {a.id}; negative = {b.id} better)")
    for col in ("n", f"{a.id} gap %", f"{b.id} gap %", "Δ gap", f"{a.id} max %", f"{b.id} max %",
                f"{b.id} b/e/w vs {a.id}"):
        t.add_column(col, justify="right", no_wrap=col == "n")
    for name in names:
        sa, sb = a.scores.get(name), b.scores.get(name)
        ga, gb = (sa.mean_gap_pct if sa else None), (sb.mean_gap_pct if sb else None)
        d = gb - ga if ga is not None and gb is not None else None
        tl = tally(sb, sa) if sa and sb else None
        split = next((s for s in (sa, sb) if s is not None and s.proven is not None), None)
        t.add_row(labels[name] + ("†" if split else ""), _pct(ga), _pct(gb), _delta(d),
                  _pct(sa.max_gap_pct if sa else None, 1), _pct(sb.max_gap_pct if sb else None, 1),
                  str(tl) if tl else "-")
        if split is None:
            continue
        for kind, count, field in (("opt", split.proven or 0, "gap_proven_pct"),
                                   ("bk", split.instances - (split.proven or 0), "gap_best_known_pct")):
            x, y = (getattr(s, field) if s else None for s in (sa, sb))
            if count:
                t.add_row(f"  {kind} ({count})", _pct(x), _pct(y),
                          _delta(y - x if x is not None and y is not None else None), "", "", "")
    if any(s.proven is not None for r in (a, b) for s in r.scores.values()):
        t.caption = ("†: some opt of the set is only the best known value; opt: the gaps to proven optima,"
                     " bk: to the best known values (a gap there may understate the gap to the optimum)")
        t.caption_justify = "left"
    return t


def _delta(d: float | None) -> Text:
    if d is None:
        return Text("-")
    d = round(d, 2) + 0.0  # no "-0.00"
    return Text(f"{d:+.2f}", style="green" if d < 0 else "red" if d > 0 else "")


def class_delta_table(a: IndexEntry, b: IndexEntry, set_name: str | None) -> Table:
    """Return per-class mean gaps of A and B and the difference B − A."""
    ga, gb = class_gaps(a, set_name), class_gaps(b, set_name)
    where = f"on {set_name}" if set_name else "averaged over the test sets"
    t = _table(f"per (RDD, TF) class, {where}")
    for col in ("RDD", "TF", a.id, b.id, "Δ"):
        t.add_column(col, justify="right")
    if not set(ga) | set(gb):
        t.caption = "no instance of these sets records its (RDD, TF) class"
    for c in sorted(set(ga) | set(gb)):
        x, y = ga.get(c), gb.get(c)
        t.add_row(f"{c[0]:g}", f"{c[1]:g}", _pct(x), _pct(y), _delta(y - x if x is not None and y is not None
                                                                      else None))
    return t

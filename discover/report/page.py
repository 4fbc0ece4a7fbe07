"""The HTML report of a run: one self-contained file (inline SVG and CSS, no script, no network).

Each section is one function from the run (a read-only ``RunView``) to HTML; the charts come from
``discover.report.plots``. A Content-Security-Policy in the page forbids every external load, so a report
that renders at all renders from its own bytes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import os
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from discover.archive.errors import ArchiveError
from discover.archive.lineage import Lineage, lineage
from discover.archive.runs import RunView
from discover.archive.task_tests import covered
from discover.report import plots
from discover.report.front import island_fronts_html
from evaluator import tasks
from evaluator.instances import write_atomic
from evaluator.task import Task

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
OUTCOMES = (  # (label, colour, statuses), bottom of the stack first
    ("valid", "#59a14f", ("ok",)),
    ("duplicate", "#bab0ac", ("duplicate",)),
    ("invalid output", "#edc948", ("invalid_output",)),
    ("error", "#e15759", ("error", "refused", "no_code", "no_reply")),
    ("timeout", "#b07aa1", ("timeout", "memory")),
    ("cut short", "#76b7b2", ("cut_short",)),
    ("infrastructure", "#9c755f", ("infrastructure",)),  # lost by the cluster, not the candidate's fault
)
MAX_TREE = 60  # lineage boxes drawn


def _e(x: Any) -> str:
    return escape(str(x), quote=True)


def _pct(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f} %"


def champion_id(view: RunView) -> int | None:
    """Return the run's champion program: the one the champion step chose, else the best by training gap."""
    champ = view.state("champion")
    pid = champ.get("program_id") if isinstance(champ, dict) else None
    if isinstance(pid, int) and view.program(pid) is not None:
        return pid
    best = view.best()
    return best.id if best else None


# --- sections ------------------------------------------------------------------------------------

def island_curves(view: RunView) -> str:
    """Plot each island's best and median training gap against the number of samples drawn."""
    pops: dict[int, list[float]] = {}
    curves: dict[int, tuple[list[float], list[float], list[float]]] = {}
    samples = 0
    for p in view.programs():
        if p.sample is not None:
            samples = max(samples, p.sample + 1)
        if p.operator == "reset":
            pops[p.island] = []  # a reset empties the island, then copies a founder in
        if not p.ok:
            continue
        pop = pops.setdefault(p.island, [])
        bisect.insort(pop, float(p.gap))
        xs, best, med = curves.setdefault(p.island, ([], [], []))
        if xs:  # hold the previous values until now: the curves are steps
            xs.append(samples)
            best.append(best[-1])
            med.append(med[-1])
        xs.append(samples)
        best.append(pop[0])
        med.append(pop[len(pop) // 2] if len(pop) % 2 else (pop[len(pop) // 2 - 1] + pop[len(pop) // 2]) / 2)
    series, legend = [], []
    for k, island in enumerate(sorted(curves)):
        xs, best, med = curves[island]
        xs.append(samples)
        best.append(best[-1])
        med.append(med[-1])
        col = plots.color(k)
        series.append(plots.Series(f"island {island} best", *plots.thin(xs, best), col))
        series.append(plots.Series(f"island {island} median", *plots.thin(xs, med), col, dashed=True,
                                   width=1.0))
        legend.append((f"island {island}", col, False))
    legend += [("best (solid)", "#333", False), ("median (dashed)", "#333", True)]
    return plots.line_chart(series, "Training gap per island", "samples drawn",
                            "mean gap % on the training set (log)", legend=legend, log_floor=0.01)


def outcome_shares(view: RunView, bins: int = 24) -> str:
    """Plot the share of valid, duplicate, failing and timed-out samples over the run."""
    sampled = [p for p in view.programs() if p.sample is not None]
    if not sampled:
        return plots.stacked_bars([], [], "Outcome of the samples over time", "samples", "share %")
    total = max(p.sample for p in sampled) + 1
    width = plots.round_up(total / bins)
    bins = math.ceil(total / width)
    counts = [Counter() for _ in range(bins)]
    kind = {s: label for label, _, statuses in OUTCOMES for s in statuses}
    for p in sampled:
        counts[min(int(p.sample // width), bins - 1)][kind.get(p.status, "error")] += 1
    layers = []
    for label, col, _ in OUTCOMES:
        shares = [100.0 * c[label] / max(1, sum(c.values())) for c in counts]
        layers.append((label, col, shares))
    labels = [f"{min((k + 1) * width, total)}" for k in range(bins)]
    return plots.stacked_bars(labels, layers, "Outcome of the samples over time",
                              f"samples drawn (each bar: {width} samples, labelled by the last)",
                              "share of samples %")


def operator_rates(view: RunView) -> tuple[str, str]:
    """Plot and tabulate, per operator, the share of valid children and of children beating their parents."""
    by_id = view.by_id()
    stats: dict[str, list[int]] = {}
    for p in view.programs():
        if p.sample is None:
            continue
        s = stats.setdefault(p.operator, [0, 0, 0])
        s[0] += 1
        if p.ok:
            s[1] += 1
            parents = [by_id[q].gap for q in p.parents if q in by_id and by_id[q].ok]
            if parents and p.gap < min(parents):
                s[2] += 1
    ops = sorted(stats, key=lambda o: (-stats[o][0], o))
    valid = [100.0 * stats[o][1] / stats[o][0] for o in ops]
    better = [100.0 * stats[o][2] / stats[o][0] for o in ops]
    svg = plots.grouped_hbars(ops, [("valid", "#59a14f", valid), ("beat its best parent", "#4e79a7", better)],
                              "Operator success rates", "% of the operator's samples",
                              notes=[f"{stats[o][0]} samples" for o in ops])
    rows = "".join(f"<tr><td>{_e(o)}</td><td>{stats[o][0]}</td><td>{stats[o][1]}</td>"
                   f"<td>{valid[k]:.1f} %</td><td>{stats[o][2]}</td><td>{better[k]:.1f} %</td></tr>"
                   for k, o in enumerate(ops))
    table = ("<table><tr><th>operator</th><th>samples</th><th>valid</th><th>valid %</th>"
             f"<th>better than best parent</th><th>%</th></tr>{rows}</table>")
    return svg, table


def _layers(lin: Lineage, kept: set[int]) -> dict[int, int]:
    by_id = lin.by_id()
    layer: dict[int, int] = {}

    def visit(pid: int, trail: frozenset[int]) -> int:
        if pid not in layer:
            ps = [q for q in by_id[pid].parents if q in kept and q not in trail]
            layer[pid] = 1 + max((visit(q, trail | {pid}) for q in ps), default=-1)
        return layer[pid]

    for pid in kept:
        visit(pid, frozenset())
    return layer


def lineage_tree(view: RunView, pid: int | None) -> str:
    """Draw the champion's ancestry, seeds at the top and the champion at the bottom."""
    if pid is None:
        return plots.dag([], [], "Lineage of the champion")
    lin = lineage(view, pid)
    nodes = lin.nodes[:MAX_TREE]
    kept = {n.id for n in nodes}
    layer = _layers(lin, kept)
    ops = sorted({n.operator for n in nodes if n.operator != "seed"})
    boxes = [plots.TreeNode(
        n.id, (f"#{n.id} {n.description[:12] if n.operator == 'seed' else n.operator}",
               f"gap {n.gap:.3f} %" if n.gap is not None else "no gap"), layer[n.id],
        "#dddddd" if n.operator == "seed" else plots.lighten(plots.color(ops.index(n.operator))),
        f"#{n.id} ({n.operator}, island {n.island}): {n.description}", n.id == lin.root.id) for n in nodes]
    edges = [(q, n.id) for n in nodes for q in n.parents if q in kept]
    more = len(lin.nodes) - len(nodes) + lin.omitted
    title = f"Lineage of the champion #{lin.root.id}" + (f" (nearest {len(nodes)} ancestors; {more} more)"
                                                          if more else "")
    return plots.dag(boxes, edges, title)


def _parse_class(key: str) -> tuple[float, float] | None:
    try:
        parts = dict(kv.split("=") for kv in key.split(","))
        return float(parts["rdd"]), float(parts["tf"])
    except (ValueError, KeyError):
        return None


def run_task(view: RunView) -> Task:
    """Return the run's task (a run from before tasks: total tardiness)."""
    return view.task()


def reference_classes(view: RunView, names: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
    """Return per-class training gaps of the task's class references on the run's training set (numba)."""
    from discover.search.fitness import Fitness, SetError, load_scoring_set

    task = run_task(view)
    ev = view.config().get("evaluation", {})
    try:
        train = load_scoring_set(ev.get("train_set", ""), int(ev.get("train_subset", 0)),
                                 "evaluation.train_set", task)
    except SetError:
        return {}
    fit, rules = Fitness(train, task), task.rules()
    out = {}
    for name in task.class_references if names is None else names:
        values = task.values(train, rules[name](train))
        out[name] = fit.score("ok", "", values, 0.0).per_class or {}
    return out


def class_heatmaps(view: RunView, pid: int | None) -> str:
    """Draw the champion's training gap per (RDD, TF) class and its difference to the task's class
    references (MDD and MDDC for ΣT_j)."""
    p = view.program(pid) if pid is not None else None
    if p is None or not p.per_class:
        return plots.heatmap([], [], [], "Champion's gap per class", "RDD", "TF")
    refs = reference_classes(view)
    classes = {k: c for k in p.per_class if (c := _parse_class(k)) is not None}
    rdds = sorted({c[0] for c in classes.values()})
    tfs = sorted({c[1] for c in classes.values()})
    key = {c: k for k, c in classes.items()}

    def grid(fn: Any) -> list[list[float | None]]:
        return [[fn(key[(r, t)]) if (r, t) in key else None for t in tfs] for r in rdds]

    rows, cols = [f"{r:g}" for r in rdds], [f"{t:g}" for t in tfs]
    out = [plots.heatmap(rows, cols, grid(lambda k: p.per_class[k]), f"Champion #{p.id}: gap %", "RDD", "TF")]
    deltas = {name: grid(lambda k, g=gaps: p.per_class[k] - g[k] if k in g else None)
              for name, gaps in refs.items()}
    vmax = max((abs(v) for g in deltas.values() for r in g for v in r if v is not None), default=1.0)
    for name, g in deltas.items():
        out.append(plots.heatmap(rows, cols, g, f"Champion − {name} (blue: champion better)", "RDD", "TF",
                                 diverging=True, vmax=vmax))
    if not refs:
        train = view.config().get("evaluation", {}).get("train_set", "?")
        names = " and ".join(run_task(view).class_references)
        out.append(f"<p class='note'>{_e(names)} not shown: the run's training set ({_e(train)}) is not "
                   "readable here.</p>")
    return "\n".join(out)


def usage_curves(view: RunView) -> tuple[str, str]:
    """Plot cumulative tokens and cumulative cost against minutes since the first LLM call."""
    calls = view.llm_calls()
    if not calls:
        empty = plots.line_chart([], "Tokens over time", "minutes", "tokens")
        return empty, plots.line_chart([], "Cost over time", "minutes", "USD")
    t0 = calls[0].created
    xs = [(c.created - t0) / 60.0 for c in calls]
    pt, ct, cost = [], [], []
    a = b = 0
    usd = 0.0
    for c in calls:
        a, b, usd = a + c.prompt_tokens, b + c.completion_tokens, usd + c.cost_usd
        pt.append(float(a))
        ct.append(float(b))
        cost.append(usd)
    tokens = plots.line_chart(
        [plots.Series("prompt tokens", *plots.thin(xs, pt), plots.color(0)),
         plots.Series("completion tokens", *plots.thin(xs, ct), plots.color(1))],
        "Tokens over time (cumulative)", "minutes since the first LLM call", "tokens",
        legend=[("prompt", plots.color(0), False), ("completion", plots.color(1), False)])
    money = plots.line_chart([plots.Series("cost", *plots.thin(xs, cost), plots.color(2))],
                             "Cost over time (cumulative)", "minutes since the first LLM call", "USD")
    return tokens, money


def code_html(code: str) -> str:
    """Return the code as highlighted HTML (inline styles; plain text if pygments is missing).

    Each line carries its own number (inline, not a separate column), so the numbers cannot drift from
    the lines whatever the fonts; blank lines at the top are kept, so the numbers are the file's.
    """
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f"<pre class='code'>{_e(code)}</pre>"
    return highlight(code, PythonLexer(stripnl=False),
                     HtmlFormatter(noclasses=True, linenos="inline", style="friendly"))


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"


def wall_clock(view: RunView) -> str:
    """Return the run's wall-clock time: first to last event, and the search alone (start to stop)."""
    events = view.events()
    if not events:
        return "—"
    total = events[-1].created - events[0].created
    start = [e.created for e in events if e.kind in ("start", "resume")]
    stop = [e.created for e in events if e.kind == "stop"]
    sessions = 1 + sum(e.kind == "resume" for e in events)
    text = f"{_duration(total)} from the first record to the last"
    if start and stop:
        text += f"; search {_duration(stop[-1] - start[0])}"
    return text + (f"; {sessions} sessions" if sessions > 1 else "")


TEST_REFS = ("MDD", "Aug-MDDC")


def test_sets(view: RunView, pid: int | None, archive_dir: str | Path | None = None) -> str:
    """Return the champion's scores on the stored test sets (n = 20..500) beside MDD and Aug-MDDC, as
    the archive index holds them (the champion is scored there once promoted and indexed).

    ``archive_dir``: the archive to look in (default: the one the run promotes into, champion.dir).
    A task other than ΣT_j has its test sets scored by the champion step (``task_tests``).
    """
    if run_task(view).name != tasks.DEFAULT:
        return task_test_sets(view)
    from discover.archive.index import read_index
    from discover.paths import user_archive_dir
    from discover.programs.provenance import code_digest

    champ = view.state("champion") or {}
    root = Path(archive_dir or view.config().get("champion", {}).get("dir") or user_archive_dir())
    try:
        index = read_index(root)
    except ArchiveError as e:
        return f"<p class='note'>{_e(e)}</p>"
    code = view.code(pid) if pid is not None else None
    rec = next((r for r in index.entries.values() if code and r.code_sha256 == code_digest(code)), None)
    if rec is None:
        name = champ.get("name") if isinstance(champ, dict) else None
        return (f"<p>The champion{f' {_e(name)}' if name else ''} is not scored on the stored test sets:"
                f" it is not in the archive {_e(root)}. <code>discover archive promote {_e(view.run_dir)}"
                " --force</code> then <code>discover archive index</code> score it there.</p>")
    refs = [index.get(n) for n in TEST_REFS if index.get(n) is not None]
    head = "".join(f"<th>{_e(r.id)}</th>" for r in refs)
    rows = []
    for name, sc in sorted(rec.scores.items(), key=lambda kv: kv[1].n or 0):
        cells = "".join(f"<td>{_pct(r.scores.get(name).mean_gap_pct if r.scores.get(name) else None)}</td>"
                        for r in refs)
        rows.append(f"<tr><td>{_e(name)}</td><td>{sc.n}</td><td>{sc.instances}</td><td>{_pct(sc.mean_gap_pct)}"
                    f"</td><td>{_pct(sc.max_gap_pct)}</td><td>{sc.optimal}</td>{cells}</tr>")
    return (f"<p>{_e(rec.id)} in the archive {_e(root)}: mean gap % to the optimum per stored test set.</p>"
            "<table><tr><th>set</th><th>n</th><th>instances</th><th>mean gap</th><th>max gap</th>"
            f"<th>optimal</th>{head}</tr>{''.join(rows)}</table>")


def task_test_sets(view: RunView) -> str:
    """Return the champion's and the reference rules' gaps on the task's test sets, as the champion step
    scored them, split into instances whose opt is proven optimal and those where it is best known."""
    tests = view.state("test_scores")
    if not tests:
        return "<p>The champion step has not scored the task's test sets for this run.</p>"
    if not tests.get("sets"):
        where = ", ".join(str(p) for p in run_task(view).test_sets)
        return (f"<p class='note'>None of the task's test sets was found when the champion step ran"
                f" ({_e(where)}).</p>")
    champ = tests.get("champion", {})
    if "error" in champ:
        return f"<p class='note'>The champion failed on a test set: {_e(champ['error'])}</p>"
    refs = tests.get("references", {})
    head = "".join(f"<th>{_e(r)}</th>" for r in refs)
    rows = []
    for s in tests.get("sets", []):
        c = champ.get(s, {})
        for kind, key in (("proven optimal", "gap_proven"), ("best known", "gap_best_known")):
            count = covered(c, key)
            if not count:
                continue
            cells = "".join(f"<td>{_pct(refs[r].get(s, {}).get(key))}</td>" for r in refs)
            rows.append(f"<tr><td>{_e(s)}</td><td>{c.get('n')}</td><td>{count}</td><td>{_e(kind)}</td>"
                        f"<td>{_pct(c.get(key))}</td>{cells}</tr>")
    dec = (view.state("champion") or {}).get("decision") or {}
    where = (f" The champion is archived as {_e(dec['path'])}, indexed with these scores." if dec.get("path")
             else " The champion was not promoted into the archive.")
    return ("<p>Mean gap % of the champion and the reference rules on the task's test sets, to opt: proven "
            "optimal, or the best known value (a gap there may understate the gap to the optimum)."
            f"{where}</p>"
            "<table><tr><th>set</th><th>n</th><th>instances</th><th>opt</th><th>champion</th>"
            f"{head}</tr>{''.join(rows)}</table>")


def summary(view: RunView, pid: int | None) -> str:
    """Return the table of the run's settings and totals."""
    cfg = view.config()
    llm, stop = cfg.get("llm", {}), cfg.get("stopping", {})
    progs = view.programs()
    sampled = [p for p in progs if p.sample is not None]
    calls = view.llm_calls()
    seeds = view.seed_names()
    task = run_task(view)
    base = task.baseline
    mdd = next((p.gap for p in progs if p.id in seeds and seeds[p.id].lower() == base and p.ok), None)
    champ = view.state("champion") or {}
    stop_ev = view.events("stop")
    rows = [
        ("run", str(view.run_dir)),
        ("task", f"{task.title}, {task.objective} ({task.name})"),
        ("status", f"{view.state('status', '?')}" + (f" (stopped by {stop_ev[-1].data.get('reason')})"
                                                    if stop_ev else "")),
        ("model", f"{llm.get('kind', '?')} {llm.get('model', '')}".strip()),
        ("seed / islands", f"{cfg.get('seed', '?')} / {cfg.get('search', {}).get('islands', '?')}"),
        ("samples", f"{len(sampled)} of {stop.get('samples', '?')}; valid "
                    f"{sum(p.ok for p in sampled)}"),
        ("tokens / cost", f"{sum(c.prompt_tokens + c.completion_tokens for c in calls):,} / "
                          f"${sum(c.cost_usd for c in calls):.4f}"),
        ("best training gap", _pct(view.best().gap if view.best() else None)
         + f" ({base.upper()} seed: {_pct(mdd)})"),
        ("wall clock", wall_clock(view)),
    ]
    if pid is not None:
        text = f"#{pid}"
        if isinstance(champ, dict) and champ.get("program_id") == pid:
            dec = champ.get("decision") or {}
            text += f", validation gap {_pct(champ.get('valid_gap'))}"
            if dec:
                text += f"; {'promoted' if dec.get('promoted') else 'not promoted'}: {dec.get('reason', '')}"
        else:
            text += " (best training gap; the champion step has not run)"
        rows.append(("champion", text))
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table class='summary'>{cells}</table>"


# --- the page ------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: 2px 10px; text-align: left; }
table.summary th { color: #555; font-weight: normal; } tr:nth-child(even) td { background: #f6f6f6; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: .9em; max-width: 760px; }
svg.plot { max-width: 100%; height: auto; display: inline-block; vertical-align: top; margin: 4px; }
.scroll { overflow-x: auto; } .note { color: #a33; } pre { font-size: 12px; }
"""


CAPTIONS = {
    "progress": "Best (solid) and median (dashed) training gap of each island's population after each "
                "sample; resets restart an island from another's best. Logarithmic axis; gaps below "
                "0.01 % are drawn at 0.01 %.",
    "outcomes": "What became of the samples: valid programs, duplicates of earlier ones, invalid orders, "
                "errors (including refused code and replies without code), timeouts and cascade cut-offs.",
    "operators": "Share of each operator's samples that were valid, and that beat the best of their parents "
                 "on the training set.",
    "lineage": "Seeds at the top, the champion (bold) at the bottom; copies between islands are collapsed. "
               "Hover a box for the idea it tried.",
    "classes": "Training gap % of the champion per (RDD, TF) class, and its difference to MDD and MDDC on "
               "the same instances.",
    "usage": "Cumulative LLM usage.",
}


def _figure(body: str, caption: str) -> str:
    return f"<figure><div class='scroll'>{body}</div><figcaption>{_e(caption)}</figcaption></figure>"


def gap_and_cost(view: RunView) -> str:
    """Return the section on cost: every island's (training gap, cost) front."""
    cost = view.config().get("cost", {})
    objective = view.config().get("search", {}).get("objective", "gap")
    head = (f"<p>objective: {_e(objective)}; cost is seconds per instance at n = {_e(cost.get('n', '?'))}"
            f" as a ratio to {_e(cost.get('reference', '?'))}, measured side by side in the sandbox.</p>")
    return head + island_fronts_html(view.cost_rows(), str(cost.get("reference", "the reference")),
                                     cost.get("n", "?"))


def render_report(run_dir: str | Path, archive_dir: str | Path | None = None) -> str:
    """Return the report of a run as one HTML page (test-set scores from ``archive_dir``, see test_sets).

    Raises
    ------
    ArchiveError
        When the folder holds no readable run.
    """
    with RunView(run_dir) as view:
        pid = champion_id(view)
        ops_svg, ops_table = operator_rates(view)
        tokens, cost = usage_curves(view)
        code = view.code(pid) if pid is not None else None
        sections = [
            ("Summary", summary(view, pid)),
            ("Search progress", _figure(island_curves(view), CAPTIONS["progress"])),
            ("Outcomes", _figure(outcome_shares(view), CAPTIONS["outcomes"])),
            ("Operators", _figure(ops_svg, CAPTIONS["operators"]) + ops_table),
            ("Lineage", _figure(lineage_tree(view, pid), CAPTIONS["lineage"])),
            ("Per-class gaps", _figure(class_heatmaps(view, pid), CAPTIONS["classes"].replace(
                "MDD and MDDC", " and ".join(run_task(view).class_references)))),
            ("Gap and cost", gap_and_cost(view)),
            ("Tokens and cost", _figure(tokens + cost, CAPTIONS["usage"])),
            ("Test sets", test_sets(view, pid, archive_dir)),
            ("Champion code", code_html(code) if code else "<p>no valid program</p>"),
        ]
    made = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    name = _e(Path(run_dir).name)
    body = "\n".join(f"<section><h2>{_e(t)}</h2>\n{html}\n</section>" for t, html in sections)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">\n"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
            f"<title>discover report: {name}</title>\n<style>{STYLE}</style></head>\n"
            f"<body>\n<h1>discover run {name}</h1>\n<p>made {made}</p>\n{body}\n</body></html>\n")


def write_report(run_dir: str | Path, out: str | Path | None = None,
                 archive_dir: str | Path | None = None) -> Path:
    """Write the report (default ``RUN_DIR/report.html``) atomically; return its path."""
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    write_atomic(path, render_report(run_dir, archive_dir))
    mask = os.umask(0)
    os.umask(mask)
    path.chmod(0o666 & ~mask)  # a report is for sharing: the usual file mode, not the temp file's 0600
    return path


__all__ = ["ArchiveError", "render_report", "write_report"]

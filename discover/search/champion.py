"""Champion promotion: re-score the best programs on the validation set and promote one only if it
beats the archive's best there by a paired Wilcoxon signed-rank test on per-instance gaps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import wilcoxon

from discover.config import CostConfig
from discover.paths import PROJECT_ROOT, user_archive_dir
from discover.programs import provenance
from discover.search.cost import Cost, over_budget
from discover.search.fitness import Fitness, Score
from discover.search.population import front_ranks
from discover.store import RunStore
from evaluator import EVALUATOR_VERSION, pyparse, tasks
from evaluator.instances import InstanceSet, write_atomic
from evaluator.task import Task


def run_label(run_dir: str | Path) -> str:
    """Return how a champion's header names its run: the path relative to the current directory when
    the run lies under it (``runs/demo``), else the run folder's name; never an absolute path."""
    path = Path(run_dir).absolute()
    cwd = Path.cwd()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else path.name


@dataclass(frozen=True)
class Decision:
    """Whether a candidate is promoted, and the evidence."""

    promoted: bool
    reason: str
    candidate_gap: float
    reference_gap: float
    p_value: float | None
    pairs: int
    path: Path | None = None


def _clean_pairs(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"per-instance gaps must align: {a.shape} vs {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def promote_candidate(code: str, candidate_gaps: Any, reference_gaps: Any, *, meta: Mapping[str, Any],
                      reference: str = "the archive's best", out_dir: str | Path | None = None,
                      alpha: float = 0.05, write: bool = True) -> Decision:
    """Decide whether a candidate beats the reference; if so (and ``write``), write it as a champion file.

    Parameters
    ----------
    code
        The candidate program.
    candidate_gaps, reference_gaps
        Per-instance gaps % on the same validation instances (NaN where no gap is defined).
    meta
        Provenance written in the file's header; must hold ``name``.
    reference
        What the reference is, for the reason text.
    out_dir
        Folder of champion files (default: the user archive's ``champions/``); the file is ``<name>.py``.
    alpha
        Significance level of the one-sided test (candidate gaps smaller).
    """
    cand, ref = _clean_pairs(candidate_gaps, reference_gaps)
    cg = float(cand.mean()) if cand.size else math.nan
    rg = float(ref.mean()) if ref.size else math.nan
    diff = cand - ref
    if not cand.size:
        return Decision(False, "no instance with a defined gap to compare on", cg, rg, None, 0)
    if not np.any(diff):
        return Decision(False, f"identical to {reference} on every instance", cg, rg, None, int(cand.size))
    if cg >= rg:
        return Decision(False, f"mean gap {cg:.4f} % is not below {reference}'s {rg:.4f} %", cg, rg, None,
                        int(cand.size))
    p = float(wilcoxon(diff, alternative="less").pvalue)
    if not p < alpha:
        return Decision(False, f"better on average ({cg:.4f} % vs {rg:.4f} %) but not significantly"
                        f" (Wilcoxon p = {p:.3g} ≥ {alpha})", cg, rg, p, int(cand.size))
    reason = f"beats {reference}: {cg:.4f} % vs {rg:.4f} % (Wilcoxon p = {p:.3g} < {alpha})"
    path = None
    if write:
        name = str(meta["name"])
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"champion name {name!r} must use letters, digits, '_', '.' or '-' only")
        full = dict(meta) | {"valid_gap": round(cg, 6), "reference": reference, "reference_gap": round(rg, 6),
                             "p_value": p, "pairs": int(cand.size)}
        path = Path(out_dir or user_archive_dir() / "champions") / f"{name}.py"
        write_atomic(path, provenance.render(full, code))
    return Decision(True, reason, cg, rg, p, int(cand.size), path)


@dataclass(frozen=True)
class ChampionReport:
    """The end-of-run step's outcome."""

    program_id: int
    name: str
    train_gap: float
    valid_gap: float | None
    baseline_valid_gap: float | None  # the task's baseline reference (MDD for ΣT_j) on validation
    reference: str
    reference_gap: float | None
    decision: Decision | None
    finalists: tuple[tuple[int, float, float | None], ...]  # (program, training gap, validation gap)
    cost: dict[str, Any] | None = None  # the champion's measured cost (discover.search.cost.Cost.to_dict())
    budget: str = ""  # the budget promotion required, in words
    baseline: str = "mdd"  # the task's baseline reference

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (stored as the run's ``champion`` state)."""
        d = {k: getattr(self, k) for k in ("program_id", "name", "train_gap", "valid_gap", "baseline",
                                           "baseline_valid_gap", "reference", "reference_gap")}
        d[f"{self.baseline}_valid_gap"] = self.baseline_valid_gap  # ΣT_j records have said mdd_valid_gap
        d["finalists"] = [list(f) for f in self.finalists]
        d["budget"] = self.budget  # the measured cost stays with the program (run.sqlite's cost columns)
        if self.decision is not None:
            d["decision"] = {k: getattr(self.decision, k) for k in
                             ("promoted", "reason", "candidate_gap", "reference_gap", "p_value", "pairs")}
            d["decision"]["path"] = str(self.decision.path) if self.decision.path else None
        return d


def evaluator_digest() -> str:
    """Return the sha256 of the evaluator's version and source files (what produced the scores)."""
    root = PROJECT_ROOT / "evaluator"
    h = hashlib.sha256(f"evaluator {EVALUATOR_VERSION}\n".encode())
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def archive_programs(folders: list[Path]) -> dict[str, str]:
    """Return name → code of every ``*.py`` in the folders (champion headers are stripped)."""
    out = {}
    for folder in folders:
        for f in sorted(Path(folder).glob("*.py")):
            text = f.read_text()
            try:
                _, text = provenance.parse(text, str(f))
            except provenance.HeaderError:
                pass
            out.setdefault(f.stem, text)
    return out


def finalists(store: RunStore, k: int, front: bool = False) -> list[Any]:
    """Return the best program of each of the ``k`` best behaviours on the training set (ties: lower id).

    ``front``: only programs on the non-dominated front of (training gap, cost ratio) count (pareto).
    """
    seen: set[str] = set()
    out = []
    rows = _best_rows(store, 50 * k)
    if front:
        ranks = front_ranks([(r.gap, math.inf if r.cost_ratio is None else r.cost_ratio) for r in rows])
        rows = [r for r, rank in zip(rows, ranks, strict=True) if rank == 0]
    for row in rows:
        if row.signature in seen:
            continue
        seen.add(row.signature)
        out.append(row)
        if len(out) == k:
            break
    return out


def _best_rows(store: RunStore, limit: int) -> list[Any]:
    ids = [r[0] for r in store.query(
        "SELECT id FROM programs WHERE status = 'ok' AND operator NOT IN ('seed', 'reset', 'migrate')"
        " ORDER BY gap, id LIMIT ?", (limit,))]
    return [store.program(i) for i in ids]


def validate(sandbox: Any, programs: dict[str, str], valid: InstanceSet, entry: str,
             timeout_s: float, task: Task | str | None = None) -> dict[str, tuple[Score, np.ndarray | None]]:
    """Score programs on the validation set in parallel; return name → (score, per-instance gaps)."""
    fit = Fitness(valid, task)
    with pyparse.LOCK:  # the policy check parses; see evaluator.pyparse
        futs = {name: sandbox.submit(code, valid, entry=entry, timeout_s=timeout_s, cascade=None, seed=0,
                                     task=fit.task)
                for name, code in programs.items()}
    out = {}
    for name, fut in futs.items():
        try:
            r = fut.result()
            sc = fit.score(r.status, r.error, r.tardiness, float(np.sum(r.seconds)))
        except Exception as e:  # noqa: BLE001 - a failure is that program's result
            sc = fit.score("error", f"{type(e).__name__}: {e}", np.zeros(0, np.int64), 0.0)
        out[name] = (sc, fit.gaps(sc.tardiness) if sc.ok else None)
    return out


def champion_step(store: RunStore, sandbox: Any, valid: InstanceSet, *, top_k: int, entry: str,
                  timeout_s: float, references: dict[str, str], out_dir: Path, alpha: float,
                  promote: bool, meta: Mapping[str, Any], cost: CostConfig | None = None,
                  front: bool = False, task: Task | str | None = None) -> ChampionReport:
    """Re-score the best ``top_k`` programs and the references on the validation set; maybe promote.

    The champion is the finalist with the lowest validation gap; it is compared with the best of
    ``references`` (the archive: reference heuristics and earlier champions) and written to
    ``out_dir`` when ``promote``, the paired test says it is significantly better, and (with
    ``cost``) its recorded cost is within the budget. ``front``: finalists come from the (gap, cost)
    front only. The task's baseline (MDD for ΣT_j) is reported beside it when it is a reference.
    """
    task = tasks.get(task)
    rows = finalists(store, top_k, front)
    if not rows:
        raise ValueError("the run holds no valid program to promote")
    progs = {f"#{r.id}": r.code for r in rows} | {f"ref:{n}": c for n, c in references.items()}
    scores = validate(sandbox, progs, valid, entry, timeout_s, task)
    table = tuple((r.id, r.gap, scores[f"#{r.id}"][0].gap) for r in rows)
    ranked = sorted((r for r in rows if scores[f"#{r.id}"][0].ok),
                    key=lambda r: (scores[f"#{r.id}"][0].gap, r.gap, r.id))
    champ = ranked[0] if ranked else rows[0]
    name = f"{Path(str(meta.get('origin_run', 'run'))).name}-p{champ.id}"
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    cs, cgaps = scores[f"#{champ.id}"]
    base = scores.get(f"ref:{task.baseline}", (None, None))[0]
    refs = {n[4:]: s for n, s in scores.items() if n.startswith("ref:") and s[0].ok}
    ref_name = min(refs, key=lambda n: (refs[n][0].gap, n)) if refs else None
    decision = None
    if ref_name is not None and cgaps is not None:
        full = dict(meta) | {"name": name, "program_id": champ.id, "parents": list(champ.parents),
                             "operator": champ.operator, "train_gap": champ.gap, "entry": entry}
        measured = Cost.from_dict(champ.cost)
        why = over_budget(measured, cost) if cost is not None else None
        if cost is not None and measured is None:
            why = "its cost was not measured, so it cannot be shown to be within the budget"
        if measured is not None:
            full["cost"] = {"n": measured.at_n.n, "reference": cost.reference if cost else "",
                            "ratio": measured.ratio, "seconds_per_instance": measured.seconds} \
                if measured.at_n is not None else {}
        decision = promote_candidate(champ.code, cgaps, refs[ref_name][1], meta=full, reference=ref_name,
                                     out_dir=out_dir, alpha=alpha, write=promote and why is None)
        if why is not None:
            reason = f"not promoted: {why}; on validation it {decision.reason}" if decision.promoted else \
                f"{decision.reason}; also {why}"
            decision = Decision(False, reason, decision.candidate_gap, decision.reference_gap,
                                decision.p_value, decision.pairs)
    return ChampionReport(
        program_id=champ.id, name=name, train_gap=champ.gap, valid_gap=cs.gap,
        baseline_valid_gap=base.gap if base is not None and base.ok else None, reference=ref_name or "",
        reference_gap=refs[ref_name][0].gap if ref_name else None, decision=decision, finalists=table,
        cost=champ.cost, budget=cost.budget_text() if cost is not None else "", baseline=task.baseline)


def provenance_meta(run: str, model: str, train: InstanceSet, valid: InstanceSet,
                    task: Task | str | None = None) -> dict[str, Any]:
    """Return the header fields every champion of a run shares (the task only where it is not ΣT_j)."""
    task = tasks.get(task)
    named = {} if task.name == tasks.DEFAULT else {"task": task.name}
    return {"origin_run": run_label(run), "model": model, **named,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "evaluator_version": EVALUATOR_VERSION, "evaluator_sha256": evaluator_digest(),
            "sets": {"train": {"name": train.name, "sha256": train.sha256(), "instances": train.count},
                     "valid": {"name": valid.name, "sha256": valid.sha256(), "instances": valid.count}}}

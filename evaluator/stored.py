"""The project's stored instance sets: generated with fixed seeds, solved exactly, with baseline values.

``build_stored_sets`` regenerates every file of ``archive/baselines/`` deterministically; each file is
a normal set file (loadable by ``load_set``) with two extra top-level keys: ``sha256`` (of the instance
data and optima, see ``InstanceSet.sha256``) and ``baselines`` (each heuristic's value per instance).

The large sets (n = 800 and 1000) take hours, so their build is resumable: every solved instance is
appended to ``NAME.partial.jsonl`` beside the output (see ``evaluator.exact.checkpoint``), and a new
build starts from it. They are solved under a per-instance limit of CPU seconds, the memo reset
at its cap (see ``evaluator.exact.bb.solve``); an instance not proven within it keeps the best
value found as ``opt``, with ``"proven": false`` and its ``lower_bound``. Their files also carry
a ``solve`` key: the limit and, per class, the mean and max CPU seconds and the peak memo size.
Those seconds are measurements, so a rebuild of a large set reproduces its instances, optima and
baselines (and ``sha256``) but not that key byte for byte.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluator.exact.checkpoint import ResultLog, read_log
from evaluator.exact.result import ExactResult
from evaluator.heuristics import NAMES, run_on_set
from evaluator.instances import InstanceSet, generate, load_set, write_atomic
from evaluator.kernels import tardiness_of_set

TRAIN_TF = (0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class StoredSpec:
    """How one stored set is made (``time_limit``: CPU seconds per instance, None for none)."""

    name: str
    n: int
    per_class: int
    seed: int
    tf_grid: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
    keep_negative: bool = False
    large: bool = False
    time_limit: float | None = None
    memo_cap_mb: int = 3072


SPECS = (
    StoredSpec("train_n25", 25, 80, seed=2501, tf_grid=TRAIN_TF, keep_negative=True),
    StoredSpec("valid_n25", 25, 20, seed=2502, tf_grid=TRAIN_TF, keep_negative=True),
    StoredSpec("test_n20", 20, 10, seed=2001),
    StoredSpec("test_n100", 100, 10, seed=10001),
    StoredSpec("test_n200", 200, 10, seed=20001),
    StoredSpec("test_n500", 500, 10, seed=50001),
    # Scale probes: small sets at larger n for scoring promising candidates during a search; their
    # own seeds, so they share no instance with the test sets.
    StoredSpec("probe_n100", 100, 2, seed=10002),
    StoredSpec("probe_n500", 500, 1, seed=50002),
    StoredSpec("test_n800", 800, 10, seed=80001, large=True, time_limit=3600.0),
    StoredSpec("test_n1000", 1000, 10, seed=100001, large=True, time_limit=600.0),
)

Log = Callable[[str], None]


def spec_named(name: str) -> StoredSpec:
    """Return the spec of a stored set; raise KeyError naming the known ones."""
    for spec in SPECS:
        if spec.name == name:
            return spec
    raise KeyError(f"no stored set {name!r}; known: {', '.join(s.name for s in SPECS)}")


def generate_spec(spec: StoredSpec) -> InstanceSet:
    """Return the instances of a stored set (no optima yet)."""
    return generate(spec.n, spec.per_class, spec.seed, tf_grid=spec.tf_grid,
                    keep_negative=spec.keep_negative, name=spec.name)


def class_stats(iset: InstanceSet, results: list[ExactResult]) -> list[dict]:
    """Return per (rdd, tf) class: instances, proven, mean and max CPU seconds, peak memo MiB."""
    out = []
    for rdd, tf in iset.classes():
        idx = [i for i in range(iset.count) if iset.rdd[i] == rdd and iset.tf[i] == tf]
        cpu = np.array([results[i].cpu_seconds for i in idx])
        out.append({"rdd": rdd, "tf": tf, "instances": len(idx),
                    "proven": sum(results[i].optimal for i in idx),
                    "mean_s": round(float(cpu.mean()), 2), "max_s": round(float(cpu.max()), 2),
                    "peak_memo_mb": round(max(results[i].memo_mb for i in idx), 1)})
    return out


def make_set(spec: StoredSpec, jobs: int = 1, progress=None, log_path: Path | None = None
             ) -> tuple[InstanceSet, dict[str, list[int]], dict | None]:
    """Generate, solve and score one stored set; return it, each baseline's values, and solve metadata.

    With ``log_path``, results already in that log are reused and new ones appended to it.
    The metadata (per class seconds and memory) is returned for large specs only, else None.
    """
    from evaluator.exact import solve_set

    iset = generate_spec(spec)
    done = read_log(log_path, iset) if log_path is not None else {}
    log = ResultLog(log_path, iset) if log_path is not None else None

    def on_result(count, total, i, r):
        if log is not None:
            log.append(i, r)
        if progress is not None:
            progress(count, total, i, r)

    results = solve_set(iset, method="bb", time_limit=spec.time_limit, jobs=jobs, progress=on_result,
                        memo_cap_mb=spec.memo_cap_mb, done=done, clock="cpu",
                        memo_policy="reset" if spec.large else "stop")
    not_proven = [i for i, r in enumerate(results) if r.status != "optimal"]
    if not_proven and not spec.large:
        raise RuntimeError(f"{spec.name}: instance {not_proven[0]} not solved to optimality")
    values = {name: tardiness_of_set(iset, run_on_set(name, iset)).tolist() for name in NAMES}
    best = np.array([r.value for r in results], dtype=np.int64)
    if not_proven:  # the best known value of an unproven instance: the search's or a baseline's
        best = np.minimum(best, np.min(np.array(list(values.values()), dtype=np.int64), axis=0))
    extras = tuple({} if r.optimal else {"proven": False, "lower_bound": r.lower_bound} for r in results)
    iset = iset.with_fields(opt=best, extras=extras if not_proven else ())
    meta = None
    if spec.large:
        meta = {"clock": "cpu", "time_limit_s": spec.time_limit, "memo_cap_mb": spec.memo_cap_mb,
                "memo_policy": "reset",
                "proven": iset.count - len(not_proven), "classes": class_stats(iset, results)}
    return iset, values, meta


def dumps_stored(iset: InstanceSet, values: dict[str, list[int]], solve_meta: dict | None = None) -> str:
    """Serialise a stored set: compact, one instance per line, deterministic."""
    body = iset.to_dict()
    head = {k: v for k, v in body.items() if k != "instances"}
    head["sha256"] = iset.sha256()
    head["baselines"] = values
    if solve_meta is not None:
        head["solve"] = solve_meta
    lines = [json.dumps(inst, separators=(",", ":")) for inst in body["instances"]]
    head_text = json.dumps(head, separators=(",", ":"))
    return head_text[:-1] + ',"instances":[\n' + ",\n".join(lines) + "\n]}\n"


def read_stored(path: str | Path) -> tuple[InstanceSet, dict[str, list[int]], str]:
    """Load a stored set with its baseline values and recorded sha256 (checked against the content)."""
    iset = load_set(path)
    raw = json.loads(Path(path).read_text())
    recorded = raw.get("sha256", "")
    if recorded and recorded != iset.sha256():
        raise ValueError(f"{Path(path).name}: field sha256 = {recorded[:12]}… does not match the content "
                         f"({iset.sha256()[:12]}…): the file was changed after it was built")
    return iset, raw.get("baselines", {}), recorded


def proven_mask(iset: InstanceSet) -> np.ndarray:
    """Return per instance whether its ``opt`` is a proven optimum (not marked ``proven: false``)."""
    if not iset.extras:
        return iset.has_opt.copy()
    return iset.has_opt & np.array([ex.get("proven", True) is not False for ex in iset.extras])


def _progress_line(spec: StoredSpec, log: Log):
    """Return a progress callback that logs one line per instance of a large set.

    The line names the instance and its class, the hardest so far, the peak memo size, and an ETA
    at the wall-clock pace of this run (instances are not alike, so it is a rough guide).
    """
    worst: list = [0.0, -1]
    peak = [0.0]
    t0 = time.monotonic()
    first: list = []

    def progress(count, total, i, r):
        if not first:
            first.append(count - 1)
        if r.cpu_seconds >= worst[0]:
            worst[:] = [r.cpu_seconds, i]
        peak[0] = max(peak[0], r.memo_mb)
        pace = (time.monotonic() - t0) / (count - first[0])
        eta = pace * (total - count) / 3600
        log(f"{spec.name}: {count}/{total} done; instance {i} {r.status} value {r.value} "
            f"(bound {r.lower_bound}) in {r.cpu_seconds:.1f} s cpu, memo {r.memo_mb:.0f} MiB; "
            f"hardest so far #{worst[1]} {worst[0]:.1f} s; peak memo {peak[0]:.0f} MiB; "
            f"ETA {eta:.1f} h at this run's pace")

    return progress


def build_stored_sets(out_dir: str | Path, console=None, names: tuple[str, ...] | None = None,
                      jobs: int = 2, skip_large: bool = False) -> list[Path]:
    """Regenerate the stored sets into ``out_dir`` (all, or only ``names``); return the paths written.

    ``skip_large`` leaves out the large sets (hours of solving). They resume from their partial log,
    which is kept once the set is written (so that building it again takes seconds; delete the log
    to solve it again from scratch).
    """
    out_dir = Path(out_dir)
    written = []
    say = (lambda s: console.print(s, soft_wrap=True, highlight=False, markup=False)) if console else None
    for spec in SPECS:
        if (names and spec.name not in names) or (skip_large and spec.large and not names):
            continue
        partial = out_dir / f"{spec.name}.partial.jsonl" if spec.large else None
        progress = _progress_line(spec, say) if (spec.large and say) else None
        if partial is not None and say:
            say(f"{spec.name}: solving, results logged to {partial} (a rerun resumes from it)")
        iset, values, meta = make_set(spec, jobs=jobs, progress=progress, log_path=partial)
        path = out_dir / f"{spec.name}.json"
        write_atomic(path, dumps_stored(iset, values, meta))
        written.append(path)
        if say is not None:
            mdd = np.array(values["MDD"])
            pos = iset.opt > 0
            gap = float(np.mean(100.0 * (mdd[pos] - iset.opt[pos]) / iset.opt[pos])) if pos.any() else 0.0
            proven = int(proven_mask(iset).sum())
            say(f"wrote {path} ({iset.count} instances, n={spec.n}, {proven} proven optimal, "
                f"MDD gap {gap:.2f}%, sha256 {iset.sha256()[:12]})")
    return written

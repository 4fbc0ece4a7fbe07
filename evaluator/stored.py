"""The project's stored instance sets: generated with fixed seeds, solved exactly, with baseline values.

``build_stored_sets`` regenerates every file of ``archive/baselines/`` deterministically; each file is
a normal set file (loadable by ``load_set``) with two extra top-level keys: ``sha256`` (of the instance
data and optima, see ``InstanceSet.sha256``) and ``baselines`` (each heuristic's value per instance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluator.heuristics import NAMES, run_on_set
from evaluator.instances import InstanceSet, generate, load_set, write_atomic
from evaluator.kernels import tardiness_of_set

TRAIN_TF = (0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class StoredSpec:
    """How one stored set is made."""

    name: str
    n: int
    per_class: int
    seed: int
    tf_grid: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
    keep_negative: bool = False


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
)


def make_set(spec: StoredSpec, jobs: int = 1, progress=None) -> tuple[InstanceSet, dict[str, list[int]]]:
    """Generate, solve and score one stored set; return it with each baseline's values."""
    from evaluator.exact import solve_set

    iset = generate(spec.n, spec.per_class, spec.seed, tf_grid=spec.tf_grid,
                    keep_negative=spec.keep_negative, name=spec.name)
    results = solve_set(iset, method="bb", jobs=jobs, progress=progress)
    not_proven = [i for i, r in enumerate(results) if r.status != "optimal"]
    if not_proven:
        raise RuntimeError(f"{spec.name}: instance {not_proven[0]} not solved to optimality")
    iset = iset.with_fields(opt=np.array([r.value for r in results], dtype=np.int64))
    values = {name: tardiness_of_set(iset, run_on_set(name, iset)).tolist() for name in NAMES}
    return iset, values


def dumps_stored(iset: InstanceSet, values: dict[str, list[int]]) -> str:
    """Serialise a stored set: compact, one instance per line, deterministic."""
    body = iset.to_dict()
    head = {k: v for k, v in body.items() if k != "instances"}
    head["sha256"] = iset.sha256()
    head["baselines"] = values
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


def build_stored_sets(out_dir: str | Path, console=None, names: tuple[str, ...] | None = None,
                      jobs: int = 2) -> list[Path]:
    """Regenerate the stored sets into ``out_dir`` (all, or only ``names``); return the paths written."""
    out_dir = Path(out_dir)
    written = []
    for spec in SPECS:
        if names and spec.name not in names:
            continue
        iset, values = make_set(spec, jobs=jobs)
        path = out_dir / f"{spec.name}.json"
        write_atomic(path, dumps_stored(iset, values))
        written.append(path)
        if console is not None:
            mdd = np.array(values["MDD"])
            pos = iset.opt > 0
            gap = float(np.mean(100.0 * (mdd[pos] - iset.opt[pos]) / iset.opt[pos])) if pos.any() else 0.0
            console.print(f"wrote {path} ({iset.count} instances, n={spec.n}, MDD gap {gap:.2f}%, "
                          f"sha256 {iset.sha256()[:12]})")
    return written

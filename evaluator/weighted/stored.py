"""The stored weighted sets: train/valid at n = 20 after the OR-Library scheme, with DP optima.

Each file of ``archive/baselines/wt_*.json`` is a weighted set file (``load_weighted`` reads it)
with ``sha256`` (of offsets, p, w, d and opt) and ``baselines`` (each rule's value per instance),
in the layout of the ΣT_j stored sets (``evaluator.stored.dumps_stored``). A rebuild is byte-identical.
Build with ``python -m evaluator.weighted.stored [OUT_DIR]`` (default ``archive/baselines``).
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluator.instances import write_atomic
from evaluator.stored import dumps_stored
from evaluator.weighted.exact import solve_dp_weighted
from evaluator.weighted.instances import WeightedSet, generate_weighted, load_weighted
from evaluator.weighted.kernels import weighted_of_set
from evaluator.weighted.rules import NAMES, run_on_set


@dataclass(frozen=True)
class WeightedSpec:
    """How one stored weighted set is made: 25 (RDD, TF) classes × ``per_class`` instances."""

    name: str
    n: int
    per_class: int
    seed: int


SPECS = (
    WeightedSpec("wt_train_n20", 20, 80, seed=2601),  # 2,000 instances
    WeightedSpec("wt_valid_n20", 20, 20, seed=2602),  # 500 instances
)


def spec_named(name: str) -> WeightedSpec:
    """Return the spec of a stored weighted set; raise KeyError naming the known ones."""
    for spec in SPECS:
        if spec.name == name:
            return spec
    raise KeyError(f"no stored weighted set {name!r}; known: {', '.join(s.name for s in SPECS)}")


def generate_spec(spec: WeightedSpec) -> WeightedSet:
    """Return the instances of a stored weighted set (no optima yet)."""
    return generate_weighted(spec.n, spec.per_class, spec.seed, name=spec.name)


def _solve_chunk(items: list[tuple[list[int], list[int], list[int]]]) -> list[int]:
    return [solve_dp_weighted(*item).value for item in items]


def optima(wset: WeightedSet, jobs: int = 1) -> np.ndarray:
    """Return the DP optimum of every instance (in ``jobs`` worker processes)."""
    items = [tuple(a.tolist() for a in wset.get(i)) for i in range(wset.count)]
    if jobs <= 1:
        return np.array(_solve_chunk(items), dtype=np.int64)
    chunks = [items[k::jobs] for k in range(jobs)]
    with ProcessPoolExecutor(jobs) as pool:
        parts = list(pool.map(_solve_chunk, chunks))
    out = np.empty(wset.count, np.int64)
    for k, part in enumerate(parts):
        out[k::jobs] = part
    return out


def make_set(spec: WeightedSpec, jobs: int = 1) -> tuple[WeightedSet, dict[str, list[int]]]:
    """Generate, solve and score one stored weighted set; return it and each rule's values."""
    wset = generate_spec(spec)
    opt = optima(wset, jobs)
    base = wset.base.with_fields(opt=opt)
    wset = WeightedSet(base, wset.w, np.ones(wset.count, np.bool_))
    values = {name: weighted_of_set(wset, run_on_set(name, wset)).tolist() for name in NAMES}
    return wset, values


def read_weighted_stored(path: str | Path) -> tuple[WeightedSet, dict[str, list[int]]]:
    """Load a stored weighted set and its baseline values; raise ValueError if its sha256 is off."""
    wset = load_weighted(path)
    raw = json.loads(Path(path).read_text())
    recorded = raw.get("sha256", "")
    if recorded != wset.sha256():
        raise ValueError(f"{Path(path).name}: field sha256 = {recorded[:12]}… does not match the content "
                         f"({wset.sha256()[:12]}…): the file was changed after it was built")
    return wset, raw.get("baselines", {})


def build_weighted_sets(out_dir: str | Path, jobs: int = 2, say=print) -> list[Path]:
    """Regenerate every stored weighted set into ``out_dir``; return the paths written."""
    written = []
    for spec in SPECS:
        wset, values = make_set(spec, jobs)
        path = Path(out_dir) / f"{spec.name}.json"
        write_atomic(path, dumps_stored(wset, values))
        written.append(path)
        say(f"wrote {path} ({wset.count} instances, n={spec.n}, sha256 {wset.sha256()[:12]})")
    return written


if __name__ == "__main__":
    build_weighted_sets(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
                        / "archive" / "baselines")

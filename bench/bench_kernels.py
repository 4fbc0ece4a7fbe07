"""Tardiness kernels and heuristics: numba against numpy and plain Python, side by side in one run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import best_of, shared_file  # noqa: E402
from evaluator import heuristics as H  # noqa: E402
from evaluator.instances import load_set  # noqa: E402
from evaluator.kernels import tardiness_of_set  # noqa: E402
from evaluator.reference import total_tardiness_py  # noqa: E402

STUDY_AUG_SECONDS = 0.036  # the study's reported seconds per instance for its augmented heuristics at n=500


def numpy_tardiness(p2, d2, orders2):
    """Vectorised total tardiness of one order per row (all instances of equal n)."""
    c = np.cumsum(np.take_along_axis(p2, orders2, axis=1), axis=1)
    return np.maximum(c - np.take_along_axis(d2, orders2, axis=1), 0).sum(axis=1)


def python_tardiness(iset, orders):
    """Plain-Python total tardiness, instance by instance."""
    out = []
    for i in range(iset.count):
        a, b = iset.offsets[i], iset.offsets[i + 1]
        p, d = iset.p[a:b].tolist(), iset.d[a:b].tolist()
        out.append(total_tardiness_py(p, d, orders[a:b].tolist()))
    return out


def _reference(name):
    path = Path(__file__).resolve().parents[1] / "archive" / "references" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.schedule


def bench_batch(name: str) -> dict | None:
    path = shared_file(name)
    if path is None:
        return None
    iset = load_set(path)
    n = iset.n
    orders = H.run_on_set("MDD", iset)
    p2, d2, o2 = (a.reshape(iset.count, n) for a in (iset.p, iset.d, orders))
    ref = tardiness_of_set(iset, orders)
    assert np.array_equal(numpy_tardiness(p2, d2, o2), ref)
    assert python_tardiness(iset, orders) == ref.tolist()
    t_nb = best_of(lambda: tardiness_of_set(iset, orders), 5)
    t_np = best_of(lambda: numpy_tardiness(p2, d2, o2), 3)
    t_py = best_of(lambda: python_tardiness(iset, orders), 1)
    print(f"  total tardiness, {name} ({iset.count} × n={n}): numba {t_nb * 1e3:.2f} ms, "
          f"numpy {t_np * 1e3:.2f} ms, python {t_py * 1e3:.1f} ms → numba is {t_py / t_nb:.0f}× python, "
          f"{t_np / t_nb:.1f}× numpy")
    return {"set": name, "numba_s": t_nb, "numpy_s": t_np, "python_s": t_py}


def bench_heuristics_n500() -> dict | None:
    path = shared_file("shang_n500")
    if path is None:
        return None
    iset = load_set(path)
    out = {}
    for name in ("MDD", "Aug-MDD", "Aug-MDDC"):
        H.run_on_set(name, iset.subset([0]))
        out[name] = best_of(lambda name=name: H.run_on_set(name, iset), 1) / iset.count
    py_mdd = _reference("mdd")
    few = iset.subset(range(3))
    t_py = best_of(lambda: [py_mdd(*few.get(i)) for i in range(few.count)], 1) / few.count
    print(f"  MDD at n=500: numba {out['MDD'] * 1e3:.3f} ms/instance, plain Python {t_py * 1e3:.1f} ms "
          f"→ {t_py / out['MDD']:.0f}×")
    for name in ("Aug-MDD", "Aug-MDDC"):
        print(f"  {name} at n=500: numba {out[name] * 1e3:.2f} ms/instance vs the study's "
              f"{STUDY_AUG_SECONDS * 1e3:.0f} ms → {STUDY_AUG_SECONDS / out[name]:.1f}× faster")
    small = load_set(shared_file("shang_n100")).subset(range(2))
    py_aug = _reference("aug_mddc")
    t_aug_py = best_of(lambda: [py_aug(*small.get(i)) for i in range(small.count)], 1) / small.count
    H.run_on_set("Aug-MDDC", small)
    t_aug_nb = best_of(lambda: H.run_on_set("Aug-MDDC", small), 3) / small.count
    print(f"  Aug-MDDC at n=100: numba {t_aug_nb * 1e3:.3f} ms, plain Python (the archive's reference) "
          f"{t_aug_py * 1e3:.0f} ms → {t_aug_py / t_aug_nb:.0f}×")
    return {"per_instance_s": out, "mdd_python_s": t_py}


def main() -> dict:
    print("== kernels and heuristics")
    tardiness_of_set(load_set(shared_file("shang_n100") or sys.exit(0)).subset([0]),
                     np.arange(100, dtype=np.int64))  # compile or load the cache first
    return {"train": bench_batch("paper_train_n25"), "n500": bench_batch("shang_n500"),
            "heuristics": bench_heuristics_n500()}


if __name__ == "__main__":
    main()

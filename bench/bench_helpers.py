"""The candidate toolkit and the references: numba against plain Python, side by side in one run.

Three parts, all CPU time (best of a few repeats):
1. every helper at n = 25 and n = 500: the numba kernel (``<name>_nb``), the Python wrapper (which
   checks and converts its inputs) given arrays and given the order as a list, and the plain-Python
   twin (``evaluator.helpers_reference``) given lists;
2. every reference at n = 25 and n = 500: the archive's plain-Python file against its numba twin;
3. an LLM-style compiled program built from the toolkit (MDD start, insertion and interchange
   descent) on 20 instances of the stored n = 500 test set: compile time, gap and seconds per
   instance next to Aug-MDDC's.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluator import helpers as H  # noqa: E402
from evaluator import helpers_reference as R  # noqa: E402
from evaluator.heuristics import FUNCTIONS, run_on_set  # noqa: E402
from evaluator.instances import generate  # noqa: E402
from evaluator.kernels import tardiness_of_set  # noqa: E402
from evaluator.scoring import summarize  # noqa: E402

REFERENCES = {"EDD": "edd", "SPT": "spt", "MDD": "mdd", "PSK": "psk", "EDDC": "eddc", "MDDC": "mddc",
              "Aug-MDD": "aug_mdd", "Aug-MDDC": "aug_mddc"}
SIZES = ((25, None), (500, [6, 13]))  # (n, which of the 20 classes × 2 instances; None: all 40)
PAIRS = 200  # (i, j) position pairs per instance for the deltas
DESCENT = """
import numpy as np
from numba import njit
from evaluator.helpers import (adjacent_swap_pass, insertion_pass, mdd_order, pairwise_swap_pass,
                               total_tardiness)


@njit(cache=False)
def schedule(p, d):
    order = mdd_order(p, d)
    best = total_tardiness(p, d, order)
    while True:
        order, value = insertion_pass(p, d, order)
        order, value = adjacent_swap_pass(p, d, order)
        if value == best:
            order, value = pairwise_swap_pass(p, d, order)
            if value == best:
                return order
        best = value
"""


def side_by_side(fns: dict, rounds: int = 5, least_s: float = 0.005, most_s: float = 2.0) -> dict:
    """Return the least CPU time (s) of one call of each thunk, the thunks interleaved in each round.

    A thunk is repeated within a measurement until it lasts ``least_s``; one whose first call
    took over ``most_s`` keeps that single measurement.
    """
    best, reps = {}, {}
    for name, fn in fns.items():
        best[name] = _timed(fn, 1)
        reps[name] = 0 if best[name] > most_s else max(1, int(least_s / max(best[name], 1e-7)))
    for _ in range(rounds):
        for name, fn in fns.items():
            if reps[name]:
                best[name] = min(best[name], _timed(fn, reps[name]))
    return best


def _timed(fn, reps: int) -> float:
    t0 = time.process_time()
    for _ in range(reps):
        fn()
    return (time.process_time() - t0) / reps


def instances(n: int, pick, seed: int):
    """Two instances per (RDD, TF) class, or only those at the ``pick`` indices."""
    iset = generate(n, 2, seed=seed)
    return iset if pick is None else iset.subset(pick)


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.setflags(write=False)
    return a


def _cases(iset):
    """Instances with their MDD order and fixed random position pairs, p and d read-only as in the sandbox."""
    n = iset.n
    rng = np.random.default_rng(n)
    out = []
    for k in range(iset.count):
        p, d = iset.get(k)
        out.append((_readonly(p), _readonly(d), H.mdd_order(p, d), rng.integers(0, n, (PAIRS, 2)).tolist()))
    return out


def _calls(cases):
    """Per helper: (numba kernel, Python wrapper, plain-Python twin) as thunks over all cases."""
    def each(fn, arity, lists=False, list_order=False):
        def run():
            for p, d, order, pairs in cases:
                pp, dd, oo = (p.tolist(), d.tolist(), order.tolist()) if lists else (p, d, order)
                if list_order:
                    oo = order.tolist()
                if arity == "pairs":
                    for i, j in pairs:
                        fn(pp, dd, oo, i, j)
                elif arity == "p":
                    fn(pp, oo)
                elif arity == "pd":
                    fn(pp, dd)
                else:
                    fn(pp, dd, oo.copy() if isinstance(oo, np.ndarray) else oo)
        return run

    arity = {"completion_times": "p", "move_delta": "pairs", "swap_delta": "pairs", "mdd_order": "pd",
             "edd_order": "pd"}
    twins = {"mdd_order": _module(ROOT / "archive/references/mdd.py", "mdd_ref").schedule,
             "edd_order": _module(ROOT / "archive/references/edd.py", "edd_ref").schedule}
    out = {}
    for wrapper, kernel in H.HELPERS.items():
        name = wrapper.__name__
        a = arity.get(name, "order")
        twin = twins.get(name) or getattr(R, f"{name}_py")
        out[name] = (each(kernel, a), each(wrapper, a), each(wrapper, a, list_order=True),
                     each(twin, a, lists=name not in twins))
    return out


def bench_helpers() -> dict:
    H.warm()
    results = {}
    for n, pick in SIZES:
        cases = _cases(instances(n, pick, seed=n))
        count = len(cases)
        print(f"  helpers at n={n} ({count} instances; deltas: {PAIRS} position pairs each), per call:")
        print(f"    {'helper':20s} {'numba':>10s} {'wrapper':>10s} {'w/ list':>10s} {'python':>10s}"
              "   python/numba  python/wrapper  wrapper/numba")
        for name, (kernel, wrapper, listed, twin) in _calls(cases).items():
            calls = count * (PAIRS if name in ("move_delta", "swap_delta") else 1)
            t = side_by_side({"nb": kernel, "w": wrapper, "wl": listed, "py": twin})
            t_nb, t_w, t_wl, t_py = (t[k] / calls for k in ("nb", "w", "wl", "py"))
            results[(name, n)] = {"numba_s": t_nb, "wrapper_s": t_w, "wrapper_list_s": t_wl, "python_s": t_py}
            print(f"    {name:20s} {_t(t_nb)} {_t(t_w)} {_t(t_wl)} {_t(t_py)}"
                  f"   {_r(t_py / t_nb):>11s} {_r(t_py / t_w):>14s} {_r(t_w / t_nb):>13s}")
    return results


def bench_references() -> dict:
    results = {}
    for n, pick in SIZES:
        iset = instances(n, pick, seed=n + 1)
        count = iset.count
        print(f"  references at n={n} ({count} instances), per instance: plain-Python file vs numba twin")
        for name, stem in REFERENCES.items():
            py = _module(ROOT / "archive" / "references" / f"{stem}.py", f"ref_{stem}").schedule
            nb = FUNCTIONS[name]
            inst = [iset.get(k) for k in range(iset.count)]
            nb(*inst[0])
            assert all([int(j) for j in py(p, d)] == nb(p, d).tolist() for p, d in inst), name
            t = side_by_side({"nb": lambda nb=nb, inst=inst: [nb(p, d) for p, d in inst],
                              "py": lambda py=py, inst=inst: [py(p, d) for p, d in inst]})
            t_nb, t_py = t["nb"] / count, t["py"] / count
            results[(name, n)] = {"numba_s": t_nb, "python_s": t_py}
            print(f"    {name:10s} numba {_t(t_nb)}  python {_t(t_py)}  → python/numba {_r(t_py / t_nb):>6s}")
    return results


def bench_descent() -> dict | None:
    from evaluator.stored import read_stored

    path = ROOT / "archive" / "baselines" / "test_n500.json"
    if not path.exists():
        print(f"  skipped: {path} not found (build it with `discover baselines build`)")
        return None
    iset = read_stored(path)[0].subset(range(0, 200, 10))  # one instance of each class
    ns: dict = {}
    exec(compile(DESCENT, "<descent>", "exec"), ns)  # noqa: S102 - our own benchmark program
    H.warm()
    p0, d0 = iset.get(0)
    t0 = time.process_time()
    ns["schedule"](_readonly(p0), _readonly(d0))
    compile_s = time.process_time() - t0
    inst = [(_readonly(p), _readonly(d)) for p, d in (iset.get(k) for k in range(iset.count))]
    orders: list = []
    run_on_set("Aug-MDDC", iset.subset([0]))
    t = side_by_side({"descent": lambda: orders.append([ns["schedule"](p, d) for p, d in inst]),
                      "aug": lambda: run_on_set("Aug-MDDC", iset)}, rounds=3)
    run_s, aug_s = t["descent"] / iset.count, t["aug"] / iset.count
    gap = summarize(tardiness_of_set(iset, np.concatenate(orders[-1])), iset).mean_gap_pct
    aug_gap = summarize(tardiness_of_set(iset, run_on_set("Aug-MDDC", iset)), iset).mean_gap_pct
    print(f"  compiled descent (MDD start, insertion + adjacent + pairwise passes) on test_n500, one instance"
          f" per class: compile {compile_s:.2f} s (first call, CPU)")
    print(f"    descent  gap {gap:.3f} %  {run_s * 1e3:8.2f} ms/instance")
    print(f"    Aug-MDDC gap {aug_gap:.3f} %  {aug_s * 1e3:8.2f} ms/instance"
          f"  → the descent costs {run_s / aug_s:.1f}× Aug-MDDC")
    return {"compile_s": compile_s, "descent": (gap, run_s), "aug_mddc": (aug_gap, aug_s)}


def _r(ratio: float) -> str:
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"


def _t(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:7.1f} µs"
    return f"{seconds * 1e3:7.2f} ms"


def main() -> dict:
    print("== candidate toolkit: numba vs plain Python")
    return {"helpers": bench_helpers(), "references": bench_references(), "descent": bench_descent()}


if __name__ == "__main__":
    main()

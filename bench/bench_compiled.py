"""Compiled candidates in the sandbox: the same heuristics scored as Python and as numba, side by side.

Each program is scored by the real sandbox (one fresh confined process per shard, as a search
scores its candidates) on the stored training set (archive/baselines/train_n25.json) and on 20
instances of the stored n = 500 test set (one per class). Figures per program: CPU seconds per
instance (what ``EvalResult.seconds`` holds: the entry's calls, never compiling), the compile
time (``EvalResult.compile_s``, CPU summed over the processes, each compiling once), and the
wall time of the whole scoring call. The programs are the archive's plain-Python MDD against a
numba MDD, and a plain-Python insertion descent against the same algorithm in numba
(bench/programs/); each pair must give the same tardiness on every instance. Last, an LLM-style
numba program built on the toolkit (bench_helpers.DESCENT: MDD start, insertion + interchange
descent) at n = 500: gap and seconds per instance next to Aug-MDDC's numba kernel.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_helpers import DESCENT  # noqa: E402
from evaluator.heuristics import run_on_set  # noqa: E402
from evaluator.kernels import tardiness_of_set  # noqa: E402
from evaluator.sandbox import Sandbox  # noqa: E402
from evaluator.scoring import summarize  # noqa: E402
from evaluator.stored import read_stored  # noqa: E402

PROGRAMS = ROOT / "bench" / "programs"
PAIRS = {  # name: (plain-Python file, numba file)
    "MDD": (ROOT / "archive" / "references" / "mdd.py", PROGRAMS / "mdd_numba.py"),
    "insertion descent": (PROGRAMS / "insertion_descent.py", PROGRAMS / "insertion_descent_numba.py"),
}
TIMEOUT_S = 3600.0


def _sets() -> dict:
    base = ROOT / "archive" / "baselines"
    out = {}
    for name, pick in (("train_n25", None), ("test_n500", range(0, 200, 10))):
        path = base / f"{name}.json"
        if not path.exists():
            print(f"  skipped {name}: {path} not found (build it with `discover baselines build`)")
            continue
        iset = read_stored(path)[0]
        out[name if pick is None else f"{name}[20]"] = iset if pick is None else iset.subset(pick)
    return out


def _score(sb: Sandbox, code: str, iset, tag: str):
    t0 = time.perf_counter()
    r = sb.evaluate(code + f"\n# {tag}\n", iset, timeout_s=TIMEOUT_S)  # the tag: never a cache hit
    wall = time.perf_counter() - t0
    if not r.ok:
        raise RuntimeError(f"{tag}: {r.status}: {r.error}")
    return r, wall


def bench_pairs(sb: Sandbox, sets: dict) -> dict:
    results = {}
    shards = sb.workers
    for set_name, iset in sets.items():
        print(f"  {set_name} ({iset.count} instances, n={iset.n}), {shards} sandbox processes:")
        print(f"    {'program':18s} {'mode':9s} {'s/instance':>11s} {'compile':>9s} {'scoring wall':>13s}")
        for name, (py_file, nb_file) in PAIRS.items():
            row = {}
            for mode, path in (("python", py_file), ("compiled", nb_file)):
                r, wall = _score(sb, path.read_text(), iset, f"{name} {mode} {set_name}")
                assert r.mode == mode, (name, r.mode, r.compile_error)
                row[mode] = (r, wall)
                print(f"    {name:18s} {mode:9s} {_t(r.mean_seconds)} {r.compile_s:8.2f}s {wall:12.2f}s")
            (py, py_wall), (nb, nb_wall) = row["python"], row["compiled"]
            assert np.array_equal(py.tardiness, nb.tardiness), f"{name}: Python and numba orders differ"
            speed = py.mean_seconds / nb.mean_seconds
            print(f"    {'':18s} → compiled {speed:.0f}× faster per instance, scoring"
                  f" {py_wall / nb_wall:.1f}× faster; compile {nb.compile_s / shards:.2f} s per process,"
                  f" {nb.compile_s:.2f} s per candidate (CPU)")
            results[(name, set_name)] = {"python_s": py.mean_seconds, "compiled_s": nb.mean_seconds,
                                         "speedup": speed, "compile_s": nb.compile_s,
                                         "python_wall_s": py_wall, "compiled_wall_s": nb_wall}
    return results


def bench_llm_style(sb: Sandbox, sets: dict) -> dict | None:
    iset = sets.get("test_n500[20]")
    if iset is None:
        return None
    r, wall = _score(sb, DESCENT, iset, "toolkit descent")
    gap = summarize(r.tardiness, iset).mean_gap_pct
    run_on_set("Aug-MDDC", iset.subset([0]))  # compiled or loaded from the cache first
    t0 = time.process_time()
    orders = run_on_set("Aug-MDDC", iset)
    aug_s = (time.process_time() - t0) / iset.count
    aug_gap = summarize(tardiness_of_set(iset, orders), iset).mean_gap_pct
    print("  LLM-style numba program (toolkit: MDD start, insertion + adjacent + pairwise interchange"
          f" descent) on test_n500, one instance per class, in the sandbox (mode {r.mode}):")
    print(f"    program   gap {gap:6.3f} %  {_t(r.mean_seconds)}/instance  compile {r.compile_s:.2f} s"
          f"  scoring wall {wall:.2f} s")
    print(f"    Aug-MDDC  gap {aug_gap:6.3f} %  {_t(aug_s)}/instance  (numba kernel, in-process)"
          f"  → the program costs {r.mean_seconds / aug_s:.1f}× Aug-MDDC")
    return {"gap": gap, "seconds": r.mean_seconds, "compile_s": r.compile_s, "aug_gap": aug_gap,
            "aug_s": aug_s}


def _t(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:8.2f} ms"


def warm_zygotes(sb: Sandbox, sets: dict) -> float:
    """Score one numba program first: each zygote initialises numba's compiler once, on the first
    candidate that mentions numba (its children inherit it); return the wall seconds that took."""
    iset = next(iter(sets.values()))
    t0 = time.perf_counter()
    _score(sb, PAIRS["MDD"][1].read_text(), iset.subset(range(min(iset.count, 64))), "warm-up")
    wall = time.perf_counter() - t0
    print(f"  the sandbox's zygotes initialise numba once per run (first numba candidate): {wall:.2f} s wall")
    return wall


def main() -> dict:
    print("== compiled candidates in the sandbox: Python vs numba (CPU s per instance, compile apart)")
    sets = _sets()
    if not sets:
        return {}
    with Sandbox(timeout_s=TIMEOUT_S) as sb:
        warm = warm_zygotes(sb, sets)
        return {"zygote_warm_s": warm, "pairs": bench_pairs(sb, sets), "llm_style": bench_llm_style(sb, sets)}


if __name__ == "__main__":
    main()

"""Sandbox: per-candidate overhead of the warm pool vs a fresh process, and plain-Python MDD throughput."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import shared_file  # noqa: E402
from evaluator.instances import generate, load_set  # noqa: E402
from evaluator.sandbox import Sandbox  # noqa: E402
from evaluator.sandbox.pool import default_workers  # noqa: E402

EDD = "import numpy as np\n\ndef schedule(p, d):\n    return np.argsort(d, kind='stable')\n"
# the archive's plain-Python MDD reference entry, as the study writes it
MDD = (Path(__file__).resolve().parents[1] / "archive" / "references" / "mdd.py").read_text()
TRAIN_MDD_MEAN = 4367.3165  # mean total tardiness of MDD on paper_train_n25 (shared README)
STUDY_SECONDS_PER_PROGRAM = 3.0  # the study: about 3 s a program on one core
FRESH_RUNNER = r"""
import json, sys
import numpy as np
req = json.loads(sys.stdin.read())
ns = {}
exec(compile(req["code"], "<candidate>", "exec"), ns)
out = []
for p, d in req["instances"]:
    p, d = np.array(p, dtype=np.int64), np.array(d, dtype=np.int64)
    t = total = 0
    for j in [int(x) for x in ns["schedule"](p, d)]:
        t += int(p[j])
        total += max(0, t - int(d[j]))
    out.append(total)
print(json.dumps(out))
"""


def bench_overhead(warm_rounds: int = 200, fresh_rounds: int = 20) -> dict:
    """Time one trivial candidate on one instance: warm pool vs a fresh ``subprocess.run`` each."""
    iset = generate(25, 1, 1).subset([0])
    with Sandbox(workers=1) as sb:
        sb.evaluate(EDD, iset)  # the set is now loaded in the worker
        warm = []
        for k in range(warm_rounds):  # distinct code each time, so the cache never answers
            t0 = time.perf_counter()
            r = sb.evaluate(EDD + f"\nK = {k}\n", iset)
            warm.append(time.perf_counter() - t0)
            assert r.ok and not r.cached
    p, d = iset.get(0)
    request = json.dumps({"code": EDD, "instances": [[p.tolist(), d.tolist()]]})
    fresh = []
    for _ in range(fresh_rounds):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", FRESH_RUNNER], input=request, capture_output=True,
                             text=True, check=True)
        fresh.append(time.perf_counter() - t0)
    assert json.loads(out.stdout) == r.tardiness.tolist()
    w, f = statistics.median(warm), statistics.median(fresh)
    print(f"  per-candidate overhead (1 instance, n=25): warm pool {w * 1e3:.1f} ms, fresh subprocess.run "
          f"{f * 1e3:.0f} ms → {f / w:.0f}× (medians of {warm_rounds} and {fresh_rounds})")
    return {"warm_ms": w * 1e3, "fresh_ms": f * 1e3, "ratio": f / w}


def bench_throughput() -> dict | None:
    """Score plain-Python MDD on the 10,000-instance training set with all cores, then with one."""
    path = shared_file("paper_train_n25")
    if path is None:
        return None
    iset = load_set(path)
    out = {}
    for workers in sorted({default_workers(), 1}, reverse=True):
        with Sandbox(workers=workers, timeout_s=600) as sb:
            sb.evaluate(MDD + "\nWARM = 1\n", iset.subset(range(workers * 16)))  # load nothing big; warm up
            runs = []
            for k in range(2):  # the first run also ships the set to each worker
                t0 = time.perf_counter()
                r = sb.evaluate(MDD + f"\nRUN = {k}\n", iset)
                runs.append(time.perf_counter() - t0)
                assert r.ok and abs(r.mean_tardiness - TRAIN_MDD_MEAN) < 1e-3, (r.status, r.mean_tardiness)
        best = min(runs)
        out[workers] = best
        print(f"  plain-Python MDD on {iset.name} ({iset.count} × n={iset.n}), {workers} worker(s): "
              f"{best:.2f} s a program ({iset.count / best:,.0f} instances/s, "
              f"{3600 / best:,.0f} programs/hour; first run {runs[0]:.2f} s), "
              f"mean tardiness {r.mean_tardiness:.4f}")
    cores = default_workers()
    print(f"  → {STUDY_SECONDS_PER_PROGRAM / out[cores]:.1f}× the study's ~{STUDY_SECONDS_PER_PROGRAM:.0f} s "
          f"a program on one core; {out[1] / out[cores]:.2f}× speed-up from {cores} workers")
    return {"seconds_per_program": out, "cores": cores}


def main() -> dict:
    print("== sandbox")
    return {"overhead": bench_overhead(), "throughput": bench_throughput()}


if __name__ == "__main__":
    main()

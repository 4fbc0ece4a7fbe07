"""Benchmark the exact solver on the shared Shang et al. sets (n = 100, 200, 500).

Prints, per n, how many instances were solved to optimality, mean and max seconds, and how many
optima agree with the file; for n = 500 also with the column ``opt_as_published``, which settles
which of the two columns is right. Run as ``python bench/bench_exact.py [--limit K]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import shared_file  # noqa: E402
from evaluator.exact import solve  # noqa: E402
from evaluator.instances import InstanceFileError, load_set  # noqa: E402

SIZES = (100, 200, 500)
TIME_LIMIT = 120.0  # the acceptance bound on the slowest n = 500 instance


def bench_set(path: Path, limit: int | None, time_limit: float) -> dict:
    """Solve the first ``limit`` instances of a set file; return the figures."""
    iset = load_set(path)
    count = iset.count if limit is None else min(limit, iset.count)
    published = [ex.get("opt_as_published") for ex in iset.extras] if iset.extras else [None] * iset.count
    wall, cpu, solved, agree, agree_pub, slowest = [], [], 0, 0, 0, (0.0, -1)
    for i in range(count):
        c0 = time.process_time()
        r = solve(*iset.get(i), time_limit=time_limit)
        cpu.append(time.process_time() - c0)
        wall.append(r.seconds)
        solved += r.optimal
        agree += r.optimal and r.value == iset.opt[i]
        agree_pub += r.optimal and r.value == published[i]
        slowest = max(slowest, (r.seconds, i))
    return {
        "instances": count, "solved": solved, "agree_opt": agree,
        "agree_published": agree_pub if any(x is not None for x in published) else None,
        "mean_s": float(np.mean(wall)), "max_s": float(np.max(wall)), "mean_cpu_s": float(np.mean(cpu)),
        "slowest": slowest[1],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per set; return 1 if an optimum disagrees with ``opt``.

    ``argv`` holds the command-line options (none when called from ``run_all``).
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="solve only the first K instances of each set")
    ap.add_argument("--sizes", default="100,200,500", help="comma-separated numbers of jobs")
    ap.add_argument("--time-limit", type=float, default=TIME_LIMIT, help="seconds per instance")
    args = ap.parse_args(argv or [])
    solve([3, 1, 2], [2, 1, 3])  # load the compiled kernels before timing
    status = 0
    print("== exact solver (memoised Lawler decomposition) on the shared Shang et al. sets")
    for n in (int(x) for x in args.sizes.split(",")):
        print(f"shang_n{n} (n = {n}):", flush=True)
        path = shared_file(f"shang_n{n}")
        if path is None:
            continue
        try:
            f = bench_set(path, args.limit, args.time_limit)
        except InstanceFileError as e:
            print(f"  skipped: {e}")
            continue
        line = (f"  solved {f['solved']}/{f['instances']}, mean {f['mean_s']:.3f} s, max {f['max_s']:.3f} s"
                f" (instance {f['slowest']}), mean cpu {f['mean_cpu_s']:.3f} s; optima equal to 'opt': "
                f"{f['agree_opt']}/{f['instances']}")
        if f["agree_published"] is not None:
            line += f", to 'opt_as_published': {f['agree_published']}/{f['instances']}"
        print(line, flush=True)
        if f["agree_opt"] != f["instances"]:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

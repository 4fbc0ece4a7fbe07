"""The weighted exact solvers on OR-Library wt40/wt50 (1||Σw_jT_j): how many instances they prove, how fast.

``--method ti`` (default): Lagrangian bound, arc elimination and the time-indexed MIP
(``evaluator.weighted.ti``); ``--method mip``: the positional MIP. Each instance gets
``--time-limit`` wall seconds (one thread); a proven optimum is compared with the file's ``opt``
where ``proven`` is true, and no found value may lie below a proven opt. Prints one line per
instance (CPU seconds) and a summary with mean and max. Run as
``nice -n 19 python bench/bench_weighted_exact.py [--method ti|mip] [--set orlib_wt50] [--time-limit S]
[--limit K] [--step K]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import shared_file  # noqa: E402
from evaluator.weighted.exact import solve_mip_weighted  # noqa: E402
from evaluator.weighted.instances import load_weighted  # noqa: E402
from evaluator.weighted.ti import solve_ti  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="orlib_wt40")
    ap.add_argument("--method", choices=("ti", "mip"), default="ti")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--limit", type=int, default=None, help="only the first K instances")
    ap.add_argument("--step", type=int, default=1, help="only every STEP-th instance (5: one per class)")
    args = ap.parse_args()
    path = shared_file(args.set)
    if path is None:
        return 0
    wset = load_weighted(path)
    count = wset.count if args.limit is None else min(args.limit, wset.count)
    proved = agree = disagree = below = 0
    cpus = []
    solver = solve_ti if args.method == "ti" else solve_mip_weighted
    solver(*wset.get(0), time_limit=args.time_limit)  # load the numba kernels outside the timings
    picked = range(0, count, max(args.step, 1))
    for i in picked:
        c0 = time.process_time()
        r = solver(*wset.get(i), time_limit=args.time_limit)
        cpu = time.process_time() - c0
        cpus.append(cpu)
        opt, pr = int(wset.opt[i]), bool(wset.proven[i])
        proved += r.optimal
        if r.optimal and pr:
            agree += r.value == opt
            disagree += r.value != opt
        below += pr and r.value < opt
        print(f"{i + 1:3d} {r.status:10s} value {r.value:7d} bound {r.lower_bound:7d} opt {opt:7d} "
              f"{'proven' if pr else 'best-known'} {cpu:6.2f} s cpu, {r.seconds:6.2f} s wall", flush=True)
    print(f"{args.set}: {len(picked)} instances, limit {args.time_limit:g} s each: {args.method} proved "
          f"{proved}; agrees with a proven opt on {agree}, disagrees on {disagree}; values below a proven "
          f"opt: {below}; cpu s per instance mean {sum(cpus) / max(len(cpus), 1):.2f} max "
          f"{max(cpus, default=0.0):.2f}, total {sum(cpus):.0f}")
    return 1 if disagree or below else 0


if __name__ == "__main__":
    raise SystemExit(main())

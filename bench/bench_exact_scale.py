"""Benchmark the exact solver at scale: this checkout against an earlier revision, and n = 1000.

1. ``archive/baselines/test_n500.json`` (200 instances, stored optima): each instance is solved by the
   solver of revision ``--against`` (default ``main``, extracted with ``git archive`` into
   ``bench/results/``) and by this checkout's, interleaved per instance, in CPU seconds; prints mean
   and max of both, their ratio, and whether every optimum equals the stored one.
2. The hardest class of ``test_n1000`` (RDD 0.2, TF 0.6; the first ``--hard`` instances) under a
   CPU limit per instance, with the memo policy of the stored-set build: status, seconds, memo size
   and the gap between the bound and the value of any unproven instance.

Run as ``python bench/bench_exact_scale.py [--limit K] [--against REV] [--hard K] [--hard-limit S]``.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluator.exact import solve  # noqa: E402
from evaluator.stored import generate_spec, read_stored, spec_named  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def solver_of(rev: str):
    """Return ``solve`` of revision ``rev`` (its evaluator/exact as a package of its own), or None."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=10", rev], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        blob = subprocess.run(["git", "archive", sha, "evaluator/exact"], cwd=ROOT, capture_output=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"  skipped: revision {rev!r} is not available ({e})")
        return None
    pkg = f"exact_{sha}"
    dest = RESULTS / "solvers" / pkg
    if not dest.exists():
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            for m in tar.getmembers():
                if m.isfile() and m.name.endswith(".py"):
                    text = tar.extractfile(m).read().decode()
                    text = text.replace("from evaluator.exact import", f"from {pkg} import")
                    text = text.replace("evaluator.exact.", f"{pkg}.")
                    out = dest / Path(m.name).name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(text)
    sys.path.insert(0, str(dest.parent))
    return importlib.import_module(f"{pkg}.bb").solve


def _cpu(fn, *args, **kw):
    c0 = time.process_time()
    r = fn(*args, **kw)
    return r, time.process_time() - c0


def side_by_side(old_solve, limit: int | None) -> None:
    iset, _, _ = read_stored(ROOT / "archive" / "baselines" / "test_n500.json")
    count = iset.count if limit is None else min(limit, iset.count)
    old_solve([3, 1, 2], [2, 1, 3])
    solve([3, 1, 2], [2, 1, 3])
    t_old, t_new, same = [], [], 0
    for i in range(count):
        p, d = iset.get(i)
        r_old, c_old = _cpu(old_solve, p, d)
        r_new, c_new = _cpu(solve, p, d)
        t_old.append(c_old)
        t_new.append(c_new)
        same += r_old.value == r_new.value == iset.opt[i] and r_new.optimal
    a, b = np.array(t_old), np.array(t_new)
    print(f"  test_n500, {count} instances, cpu s: before mean {a.mean():.3f} max {a.max():.2f}; "
          f"now mean {b.mean():.3f} max {b.max():.2f}; mean ratio now/before {b.mean() / a.mean():.2f}; "
          f"optima equal to the stored ones: {same}/{count}", flush=True)


def hard_class(k: int, limit_s: float) -> None:
    spec = spec_named("test_n1000")
    iset = generate_spec(spec)
    idx = [i for i in range(iset.count) if iset.rdd[i] == 0.2 and iset.tf[i] == 0.6][:k]
    for i in idx:
        r = solve(*iset.get(i), time_limit=limit_s, clock="cpu", memo_cap_mb=spec.memo_cap_mb,
                  memo_policy="reset")
        gap = "" if r.optimal else f", bound gap {100 * (r.value - r.lower_bound) / max(1, r.value):.1f}%"
        print(f"  test_n1000 instance {i} (RDD 0.2, TF 0.6): {r.status} in {r.cpu_seconds:.1f} cpu s, "
              f"{r.nodes} nodes, memo {r.memo_mb:.0f} MiB{gap}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="the first K instances of test_n500")
    ap.add_argument("--against", default="100b546",
                    help="the revision whose solver is compared (default: the one before n = 800 and 1000)")
    ap.add_argument("--hard", type=int, default=2, help="instances of the n = 1000 hard class")
    ap.add_argument("--hard-limit", type=float, default=300.0, help="CPU seconds per hard instance")
    args = ap.parse_args(argv or [])
    print(f"== exact solver at scale: this checkout against {args.against}, and n = 1000")
    old = solver_of(args.against)
    if old is not None:
        side_by_side(old, args.limit)
    if args.hard:
        hard_class(args.hard, args.hard_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

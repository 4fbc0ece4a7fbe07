"""Sandbox: per-candidate overhead and the offline loop's throughput, fork-per-candidate vs the old warm pool.

Three ways of running one trivial candidate on one n = 25 instance, timed in one run:

* ``zygote``: today's sandbox, a fresh confined process per candidate forked from a warm zygote;
* ``warm pool``: the sandbox before it (commit ``OLD_COMMIT``, long-lived shared workers), taken
  from the project's own git history into a temporary folder and run there in a subprocess;
* ``fresh interpreter``: a new ``python`` per candidate (``subprocess.run``).

The zygote and the warm pool are timed in alternating blocks, so both see the same load, and their
CPU time per candidate (all processes, from the rusage of a run of R candidates minus one of none)
is given too, a figure the load on a shared machine does not change. Then the
offline discovery loop (``discover run`` with the offline LLM, same seed and samples) runs in
both trees, again alternately, for candidates per minute. Without git or that commit, the old
tree's figures are skipped with a reason.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import shared_file  # noqa: E402
from evaluator.heuristics import mdd  # noqa: E402
from evaluator.instances import generate, load_set  # noqa: E402
from evaluator.kernels import total_tardiness  # noqa: E402
from evaluator.sandbox import Sandbox  # noqa: E402
from evaluator.sandbox.pool import default_workers  # noqa: E402

OLD_COMMIT = "100b546"  # the last commit with the warm worker pool
EDD = "import numpy as np\n\ndef schedule(p, d):\n    return np.argsort(d, kind='stable')\n"
# the archive's plain-Python MDD reference entry, as the study writes it
MDD = (ROOT / "archive" / "references" / "mdd.py").read_text()
TRAIN_MDD_MEAN = 4367.3165  # mean total tardiness of MDD on paper_train_n25 (shared README)
STUDY_SECONDS_PER_PROGRAM = 3.0  # the study: about 3 s a program on one core
TARGET_MS = 10.0
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
# Runs in either tree (the working directory): time `rounds` distinct trivial candidates, print ms each.
OVERHEAD_SCRIPT = r"""
import json, sys, time
from evaluator.instances import generate
from evaluator.sandbox import Sandbox
EDD = "import numpy as np\n\ndef schedule(p, d):\n    return np.argsort(d, kind='stable')\n"
iset = generate(25, 1, 1).subset([0])
rounds, tag = int(sys.argv[1]), sys.argv[2]
with Sandbox(workers=1) as sb:
    sb.evaluate(EDD, iset)
    for k in range(10):
        sb.evaluate(EDD + f"\nWARM = {k}\n", iset)
    out = []
    for k in range(rounds):
        t0 = time.perf_counter()
        r = sb.evaluate(EDD + f"\nK = {k} # {tag}\n", iset)
        out.append((time.perf_counter() - t0) * 1e3)
        assert r.ok and not r.cached
print(json.dumps({"ms": out, "tardiness": r.tardiness.tolist() if out else []}))
"""
# Runs the offline discovery loop in either tree; prints candidates and search seconds.
LOOP_SCRIPT = r"""
import json, sys
from pathlib import Path
from discover.config import load_config
from discover.runner import start_run
out, samples = Path(sys.argv[1]), int(sys.argv[2])
cfg = load_config(None, {"run_dir": str(out / "run"), "stopping.samples": samples, "seed": 1,
                         "evaluation.train_subset": 200, "evaluation.valid_subset": 50,
                         "champion.dir": str(out / "champions"), "champion.promote": False,
                         "champion.top_k": 1})
rep = start_run(cfg)
print(json.dumps({"samples": rep.samples, "search_s": rep.search_s, "valid": rep.valid}))
"""


def _old_tree(folder: Path) -> Path | None:
    """Unpack ``OLD_COMMIT`` of this repository into ``folder``; None (and why) when it cannot be had."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", OLD_COMMIT], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"  the old warm pool is skipped: commit {OLD_COMMIT} cannot be read from git ({e})")
        return None
    return folder


def _in_tree(tree: Path, script: str, *args: str, timeout: float = 1800) -> dict:
    """Run a script in a tree; return its JSON line plus ``cpu_s``, the CPU time of all its processes."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(tree)  # found before the installed (editable) project
    env["NUMBA_CACHE_DIR"] = str(tree / ".numba_cache")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", script, *args], cwd=tree, env=env, capture_output=True,
                         text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # every process below it was reaped: all counted
    if out.returncode != 0:
        raise RuntimeError(f"the script failed in {tree}:\n{out.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "cpu_s": cpu}


def _cpu_ms_per_candidate(tree: Path, rounds: int) -> float:
    """CPU time per candidate of parent, zygote or worker and children together: (R rounds − 0) / R."""
    busy = _in_tree(tree, OVERHEAD_SCRIPT, str(rounds), "cpu")["cpu_s"]
    idle = _in_tree(tree, OVERHEAD_SCRIPT, "0", "cpu0")["cpu_s"]
    return 1e3 * (busy - idle) / rounds


def _fresh_ms(rounds: int, iset) -> tuple[list[float], list[int]]:
    p, d = iset.get(0)
    request = json.dumps({"code": EDD, "instances": [[p.tolist(), d.tolist()]]})
    ms = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", FRESH_RUNNER], input=request, capture_output=True,
                             text=True, check=True)
        ms.append((time.perf_counter() - t0) * 1e3)
    return ms, json.loads(out.stdout)


def bench_overhead(old: Path | None, rounds: int = 150, blocks: int = 2, fresh_rounds: int = 20) -> dict:
    """Median wall time of one trivial candidate on one instance, by way of running it."""
    iset = generate(25, 1, 1).subset([0])
    zygote: list[float] = []
    pool: list[float] = []
    answers = set()
    for b in range(blocks):  # alternate, so that both see the same load on the machine
        r = _in_tree(ROOT, OVERHEAD_SCRIPT, str(rounds), f"new{b}")
        zygote += r["ms"]
        answers.add(tuple(r["tardiness"]))
        if old is not None:
            r = _in_tree(old, OVERHEAD_SCRIPT, str(rounds), f"old{b}")
            pool += r["ms"]
            answers.add(tuple(r["tardiness"]))
    fresh, values = _fresh_ms(fresh_rounds, iset)
    answers.add(tuple(values))
    assert len(answers) == 1, f"the three ways disagree on the score: {answers}"
    z, f = statistics.median(zygote), statistics.median(fresh)
    p90 = statistics.quantiles(zygote, n=10)[-1]
    flag = "ok" if z <= TARGET_MS else f"above the {TARGET_MS:g} ms target"
    line = (f"  per-candidate overhead (1 instance, n=25), medians: zygote fork {z:.1f} ms (p90 {p90:.1f})"
            f" [{flag}]")
    out = {"zygote_ms": z, "zygote_p90_ms": p90, "fresh_ms": f}
    if pool:
        w = statistics.median(pool)
        line += f", old warm pool {w:.1f} ms (zygote/pool {z / w:.2f}×)"
        out["pool_ms"] = w
    print(line + f", fresh interpreter {f:.0f} ms (fresh/zygote {f / z:.0f}×); {len(zygote)}, {len(pool)} and"
          f" {len(fresh)} candidates")
    cpu = {"zygote": _cpu_ms_per_candidate(ROOT, rounds)}
    if old is not None:
        cpu["old warm pool"] = _cpu_ms_per_candidate(old, rounds)
    print("  CPU time per candidate, all processes (does not depend on the load): "
          + ", ".join(f"{k} {v:.1f} ms" for k, v in cpu.items()))
    out["cpu_ms"] = cpu
    return out


def bench_loop(old: Path | None, samples: int = 300) -> dict:
    """Candidates per minute of the offline discovery loop, in today's tree and in the old one."""
    trees = [("zygote", ROOT)] + ([("old warm pool", old)] if old is not None else [])
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench_loop_") as tmp:
        for label, tree in trees:
            r = _in_tree(tree, LOOP_SCRIPT, str(Path(tmp) / label.replace(" ", "_")), str(samples))
            rate = 60 * r["samples"] / r["search_s"]
            out[label] = rate
            print(f"  offline loop, {label}: {r['samples']} candidates in {r['search_s']:.1f} s = {rate:.0f}"
                  f" candidates/min ({r['valid']} valid)")
    if len(out) == 2:
        print(f"  → zygote/old throughput {out['zygote'] / out['old warm pool']:.2f}×")
    return out


def bench_throughput() -> dict | None:
    """Score plain-Python MDD on a large training set with all cores, then with one."""
    path = shared_file("paper_train_n25")
    expected = TRAIN_MDD_MEAN
    if path is None:
        path = ROOT / "archive" / "baselines" / "train_n25.json"
        print(f"  (using {path.name} instead)")
        expected = None
    iset = load_set(path)
    if expected is None:
        expected = float(sum(total_tardiness(*iset.get(i), mdd(*iset.get(i))) for i in range(iset.count))
                         / iset.count)
    out = {}
    for workers in sorted({default_workers(), 1}, reverse=True):
        with Sandbox(workers=workers, timeout_s=600) as sb:
            sb.evaluate(MDD + "\nWARM = 1\n", iset.subset(range(workers * 16)))
            runs = []
            for k in range(2):  # the first run also ships the set to each zygote
                t0 = time.perf_counter()
                r = sb.evaluate(MDD + f"\nRUN = {k}\n", iset)
                runs.append(time.perf_counter() - t0)
                assert r.ok and abs(r.mean_tardiness - expected) < 1e-3, (r.status, r.mean_tardiness)
        best = min(runs)
        out[workers] = best
        print(f"  plain-Python MDD on {iset.name} ({iset.count} × n={iset.n}), {workers} worker(s): "
              f"{best:.2f} s a program ({iset.count / best:,.0f} instances/s, "
              f"{3600 / best:,.0f} programs/hour; first run {runs[0]:.2f} s), "
              f"mean tardiness {r.mean_tardiness:.4f}")
    cores = default_workers()
    print(f"  → {STUDY_SECONDS_PER_PROGRAM / out[cores]:.1f}× the study's ~{STUDY_SECONDS_PER_PROGRAM:.0f} s"
          f" a program on one core; {out[1] / out[cores]:.2f}× speed-up from {cores} workers")
    return {"seconds_per_program": out, "cores": cores}


def main() -> dict:
    print("== sandbox: fork-per-candidate zygote vs the old warm pool vs a fresh interpreter")
    with tempfile.TemporaryDirectory(prefix="bench_sandbox_old_") as tmp:
        old = _old_tree(Path(tmp))
        return {"overhead": bench_overhead(old), "loop": bench_loop(old), "throughput": bench_throughput()}


if __name__ == "__main__":
    main()

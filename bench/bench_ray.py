"""Ray executor: candidates per minute, local pool vs Ray with 1 and 2 nodes, and the Ray path's overhead.

Every figure comes from one run on this machine: a real loopback cluster (``tests.raycluster``), one
CPU a node, started for the bench and torn down after. The candidates are distinct plain-Python MDD
variants (the cache never answers) on the default training subset, as a search scores them.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from discover.config import Config  # noqa: E402
from discover.search.fitness import stratified  # noqa: E402
from evaluator.instances import generate, load_set  # noqa: E402
from evaluator.sandbox import Sandbox  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MDD = (ROOT / "archive" / "references" / "mdd.py").read_text()
EDD = "import numpy as np\n\ndef schedule(p, d):\n    return np.argsort(d, kind='stable')\n"
CANDIDATES = 120
OVERHEAD_ROUNDS = 60


def _train():
    cfg = Config()
    return stratified(load_set(cfg.evaluation.train_set), cfg.evaluation.train_subset)


def _rate(ev, iset, tag: str) -> float:
    """Return candidates per minute: CANDIDATES distinct programs submitted at once, all awaited."""
    ev.evaluate(MDD + f"\nWARM = '{tag}'\n", iset)
    t0 = time.perf_counter()
    futs = [ev.submit(MDD + f"\nK = '{tag}{k}'\n", iset) for k in range(CANDIDATES)]
    results = [f.result() for f in futs]
    dt = time.perf_counter() - t0
    assert all(r.ok and not r.cached for r in results)
    return 60 * CANDIDATES / dt


def _latency(ev, tag: str) -> float:
    """Return the median seconds of one trivial candidate on one instance, waited for one at a time."""
    one = generate(25, 1, 1).subset([0])
    ev.evaluate(EDD + f"\nWARM = '{tag}'\n", one)
    times = []
    for k in range(OVERHEAD_ROUNDS):
        t0 = time.perf_counter()
        r = ev.evaluate(EDD + f"\nK = '{tag}{k}'\n", one)
        times.append(time.perf_counter() - t0)
        assert r.ok and not r.cached
    return statistics.median(times)


def main() -> dict | None:
    print("== ray executor")
    try:
        import ray
    except ImportError:
        print("  skipped: Ray is not installed (pip install 'discover[ray]')")
        return None
    from discover.runner import make_evaluator
    from tests.raycluster import LocalCluster

    iset = _train()
    out: dict = {}
    for workers in (1, 2):
        with Sandbox(workers=workers) as sb:
            out[f"local{workers}"] = _rate(sb, iset, f"l{workers}")
            if workers == 1:
                out["local_latency"] = _latency(sb, "l")
    cluster = LocalCluster(workers=0)
    try:
        ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
        cfg = Config().replace(**{"evaluation.executor": "ray", "evaluation.ray_address": cluster.address})
        for nodes in (1, 2):
            if nodes == 2:
                cluster.add_worker()
            ev = make_evaluator(cfg)
            try:
                assert len(ev.nodes) == nodes, ev.nodes
                out[f"ray{nodes}"] = _rate(ev, iset, f"r{nodes}")
                if nodes == 1:
                    out["ray_latency"] = _latency(ev, "r")
            finally:
                ev.close()
    finally:
        ray.shutdown()
        cluster.close()
    print(f"  candidates/minute ({CANDIDATES} distinct MDD variants, {iset.count} instances × n={iset.n}):"
          f" local pool 1 worker {out['local1']:,.0f}, 2 workers {out['local2']:,.0f};"
          f" Ray 1 node (1 CPU) {out['ray1']:,.0f}, 2 nodes (1 CPU each) {out['ray2']:,.0f}")
    r1, r2 = out["ray1"], out["ray2"]
    print(f"  → Ray 2 nodes / Ray 1 node {r2 / r1:.2f}×; Ray 1 node / local 1 worker"
          f" {r1 / out['local1']:.2f}×; Ray 2 nodes / local 2 workers {r2 / out['local2']:.2f}×"
          " (both nodes share this machine's cores)")
    local, far = out["local_latency"] * 1e3, out["ray_latency"] * 1e3
    print(f"  per-candidate overhead of the Ray path (1 instance, n=25, one at a time): local {local:.1f} ms,"
          f" Ray {far:.1f} ms → +{far - local:.1f} ms (medians of {OVERHEAD_ROUNDS})")
    return out


if __name__ == "__main__":
    main()

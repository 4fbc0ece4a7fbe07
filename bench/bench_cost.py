"""Cost measurement: how stable one program's cost ratio is, and what the scale probe costs the loop.

* spread: the archive's plain-Python MDD timed 5 times against the cost reference (``cost.reference``
  at ``cost.n``, the run defaults) in one sandbox, one after the other; the figure is
  (max - min) / min of the 5 ratios, target under 15 %;
* probe: the offline loop's candidates per minute with the scale probe on and off (the stored
  probe sets ``archive/baselines/probe_n{100,500}.json``, or, when they are absent, 10 generated
  instances of each n solved exactly here), side by side in this run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_controller import _sets  # noqa: E402
from discover.config import CostConfig, load_config  # noqa: E402
from discover.prompts import references_dir  # noqa: E402
from discover.runner import Parts, start_run  # noqa: E402
from discover.search.cost import CostMeter  # noqa: E402
from evaluator.instances import generate, load_set, save_set  # noqa: E402
from evaluator.sandbox import Sandbox  # noqa: E402

TARGET_SPREAD = 0.15
PROBES = [ROOT / "archive" / "baselines" / f"probe_n{n}.json" for n in (100, 500)]


def spread(train: Path) -> None:
    cfg = CostConfig()
    ref = (references_dir() / f"{cfg.reference}.py").read_text()
    mdd = (references_dir() / "mdd.py").read_text()
    with Sandbox(workers=2, timeout_s=120.0) as sb:
        meter = CostMeter(sb, ref, cfg, load_set(train), "schedule", 120.0)
        ratios = [meter.time(mdd, meter.at_n).ratio for _ in range(5)]
    lo, hi = min(ratios), max(ratios)
    flag = "ok" if (hi - lo) / lo < TARGET_SPREAD else f"above the {TARGET_SPREAD:.0%} target"
    print(f"  spread   mdd vs {cfg.reference} at n = {cfg.n} ({cfg.instances} instances, min of {cfg.repeats}"
          f" interleaved runs), 5 measurements: {', '.join(f'{r:.4f}' for r in ratios)};"
          f" spread {(hi - lo) / lo:.1%} [{flag}]")


def _probe_sets(folder: Path) -> list[str]:
    if all(p.exists() for p in PROBES):
        return [str(p) for p in PROBES]
    from evaluator.exact import solve

    out = []
    for n in (100, 500):
        iset = generate(n, 1, 7700 + n, name=f"probe_n{n}")
        iset = iset.subset(list(range(0, iset.count, 2)), name=f"probe_n{n}")
        iset = iset.with_fields(opt=[solve(*iset.get(i)).value for i in range(iset.count)])
        save_set(iset, folder / f"probe_n{n}.json")
        out.append(str(folder / f"probe_n{n}.json"))
    print(f"  ({PROBES[0].name} not found: using generated probe sets of 10 instances at n = 100 and 500)")
    return out


def _loop(label: str, folder: Path, train: Path, valid: Path, probes: list[str], on: bool,
          samples: int) -> float:
    cfg = load_config(None, {
        "run_dir": str(folder / label), "stopping.samples": samples, "evaluation.train_set": str(train),
        "evaluation.valid_set": str(valid), "evaluation.train_subset": 200, "evaluation.valid_subset": 50,
        "champion.dir": str(folder / "champions"), "champion.promote": False, "champion.top_k": 1,
        "cost.probe": on, "cost.probe_sets": probes})
    rep = start_run(cfg, Parts())
    rate = 60 * rep.samples / rep.search_s
    print(f"  {label:9s} {rep.samples} candidates in {rep.search_s:5.1f} s: {rate:6.0f} candidates/min;"
          f" valid {rep.valid}, over budget {rep.statuses.get('over_budget', 0)}")
    return rate


def main() -> None:
    """Print the spread of 5 cost measurements and the loop's rate with the probe on and off."""
    print("== bench_cost: cost measurement stability and the scale probe's share of the loop")
    with tempfile.TemporaryDirectory(prefix="bench_cost_") as tmp:
        folder = Path(tmp)
        train, valid = _sets(folder)
        t0 = time.perf_counter()
        spread(train)
        probes = _probe_sets(folder)
        off = _loop("probe off", folder, train, valid, probes, False, 200)
        on = _loop("probe on", folder, train, valid, probes, True, 200)
        print(f"  probe on / off: {on / off:.2f} of the rate ({time.perf_counter() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()

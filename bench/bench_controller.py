"""The discovery loop's throughput: candidates per minute end to end, and the controller's own cost.

Two runs on the stored training set (or, when ``archive/baselines/train_n25.json`` is absent, a
generated n = 25 set solved exactly), each with its own run directory in a temporary folder:

* ``trivial``: an LLM stand-in answering at once with distinct one-line heuristics (``argsort`` of a
  linear key), so scoring is as cheap as it gets and the figure measures the pipeline itself;
* ``offline``: the offline LLM, whose children are dispatch rules with local-search passes
  (O(n²) and more per instance): the figure a ``make run`` sees.

The controller's cost is the CPU time of the loop's thread per candidate (build the prompt, commit
to the store, update the islands); it excludes the LLM threads and the sandbox workers.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from discover.config import load_config  # noqa: E402
from discover.llm.base import ChatResult  # noqa: E402
from discover.runner import Parts, start_run  # noqa: E402
from evaluator.instances import generate, save_set  # noqa: E402

TARGET_PER_MIN = 1000
TRAIN = ROOT / "archive" / "baselines" / "train_n25.json"
VALID = ROOT / "archive" / "baselines" / "valid_n25.json"


class TrivialLLM:
    """Answers every sample at once with a distinct ``argsort(d + a·p)`` program."""

    def complete(self, request):
        """Return ``request.n`` distinct trivial programs."""
        outs = []
        for j in range(request.n):
            a = int(hashlib.sha256(request.key(j).encode()).hexdigest()[:8], 16) % 100_000 / 10_000
            code = ("import numpy as np\n\n\ndef schedule(p, d):\n"
                    f"    return np.argsort(d + {a} * p, kind='stable')\n")
            outs.append(f"Weight {a}.\n```python\n{code}```\n")
        return ChatResult(tuple(outs), request.model, 100, 40 * request.n)


def _sets(folder: Path) -> tuple[Path, Path]:
    if TRAIN.exists() and VALID.exists():
        return TRAIN, VALID
    from evaluator.exact import solve

    paths = []
    for name, per, seed in (("train", 8, 2501), ("valid", 4, 2502)):
        iset = generate(25, per, seed, tf_grid=(0.2, 0.4, 0.6, 0.8, 1.0), keep_negative=True, name=name)
        iset = iset.with_fields(opt=[solve(*iset.get(i)).value for i in range(iset.count)])
        save_set(iset, folder / f"{name}.json")
        paths.append(folder / f"{name}.json")
    print(f"  ({TRAIN.name} not found: using generated n=25 sets, training 200 and validation 100 instances)")
    return paths[0], paths[1]


def _run(label: str, folder: Path, train: Path, valid: Path, samples: int, llm=None) -> None:
    cfg = load_config(None, {
        "run_dir": str(folder / label), "stopping.samples": samples, "evaluation.train_set": str(train),
        "evaluation.valid_set": str(valid), "evaluation.train_subset": 200, "evaluation.valid_subset": 50,
        "champion.dir": str(folder / "champions"), "champion.promote": False, "champion.top_k": 1})
    t0 = time.perf_counter()
    rep = start_run(cfg, Parts(llm=llm))
    wall = time.perf_counter() - t0
    search = rep.search_s
    rate = 60 * rep.samples / search
    flag = "ok" if rate >= TARGET_PER_MIN else f"below the {TARGET_PER_MIN}/min target"
    print(f"  {label:8s} {rep.samples} candidates in {search:5.1f} s ({wall:.1f} s with start-up and the"
          f" champion step): {rate:6.0f} candidates/min [{flag}]; controller {rep.controller_ms:.2f} ms"
          f" CPU per candidate; valid {rep.valid}, duplicates {rep.statuses.get('duplicate', 0)}")


def main() -> None:
    """Run both benchmarks and print candidates per minute and the controller's cost."""
    print("== bench_controller: discovery loop throughput (2 sandbox workers = all cores here)")
    with tempfile.TemporaryDirectory(prefix="bench_controller_") as tmp:
        folder = Path(tmp)
        train, valid = _sets(folder)
        _run("trivial", folder, train, valid, 1000, TrivialLLM())
        _run("offline", folder, train, valid, 600)


if __name__ == "__main__":
    main()

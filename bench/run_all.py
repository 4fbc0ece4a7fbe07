"""Run every benchmark script (bench_*.py) in one process, side by side; print their figures."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ORDER = ("bench_kernels", "bench_helpers", "bench_compiled", "bench_exact", "bench_exact_scale",
         "bench_sandbox", "bench_controller", "bench_cost", "bench_ray")


def main() -> None:
    for name in ORDER:
        if not (ROOT / "bench" / f"{name}.py").exists():
            print(f"== {name}: not present")
            continue
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main()

"""The numba baselines as sandbox programs: cost references for compiled candidates.

A compiled candidate's cost is its seconds against a reference that runs compiled too (a Python
candidate's is measured against the plain-Python files in ``archive/references``). The program is
written from the kernels' own source (``evaluator.heuristics`` and ``evaluator.improve``), so it
is the same algorithm by construction, not a copy to keep in step: the functions a rule needs, in
order, then ``schedule`` calling it. The sandbox's policy drops ``cache=True`` as for any
candidate, and later processes install the machine code the first one compiled.
"""

from __future__ import annotations

import inspect

from evaluator import heuristics, improve

HEADER = "import math\n\nimport numpy as np\nfrom numba import njit\n"
PROGRAMS = {
    "edd": ((heuristics.edd,), "edd(p, d)"),
    "mdd": ((improve.move_to_end_step, heuristics._mdd), "_mdd(p, d, False)"),
    "aug_mdd": ((improve.move_to_end_step, heuristics._mdd), "_mdd(p, d, True)"),
    "mddc": ((heuristics._lex_order, improve.move_to_end_step, heuristics._mddc), "_mddc(p, d, False)"),
    "aug_mddc": ((heuristics._lex_order, improve.move_to_end_step, heuristics._mddc), "_mddc(p, d, True)"),
}
"""Rule name → (the numba functions it runs, callees first; the call ``schedule`` makes)."""


def compiled_program(name: str, entry: str = "schedule") -> str:
    """Return the source of a sandbox program running rule ``name`` compiled; KeyError if there is none."""
    functions, call = PROGRAMS[name]
    parts = [HEADER] + [inspect.getsource(f.py_func) for f in functions]
    parts.append(f"def {entry}(p, d):\n    return {call}\n")
    return "\n\n".join(parts)

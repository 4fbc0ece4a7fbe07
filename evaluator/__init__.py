"""Scheduling side of discover: instances, numba kernels, heuristics, exact solvers, sandbox, scoring.

This package knows nothing of LLMs; ``discover`` imports it, never the reverse.
"""

EVALUATOR_VERSION = "1"

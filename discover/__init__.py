"""discover: LLM-driven search for single-machine total-tardiness heuristics."""

__version__ = "0.1.0"

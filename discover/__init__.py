"""discover: LLM-driven search for single-machine scheduling heuristics (total tardiness first)."""

__version__ = "0.1.0"

"""The offline stand-in for an LLM: a seeded model that rewrites its parents."""

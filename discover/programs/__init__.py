"""Program text: extraction from LLM replies, normalisation, provenance headers."""

"""Build an LLM backend from its kind and settings: the one place that knows every implementation."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from discover.llm.accounting import Budget, Price
from discover.llm.base import LLM
from discover.llm.recording import RecordingLLM

if TYPE_CHECKING:
    from discover.config import Config


@dataclass(frozen=True)
class Backend:
    """One LLM backend: its ``llm.kind``, what it is (the config's description), how to build it from
    factory settings, and which settings a run's configuration gives it."""

    kind: str
    description: str
    build: Callable[[dict[str, Any]], LLM]
    settings: Callable[[Config], dict[str, Any]]


def _offline(settings: dict[str, Any]) -> LLM:
    from discover.llm.offline.model import OfflineLLM

    return OfflineLLM(**_known(OfflineLLM, "offline", settings))


def _offline_settings(cfg: Config) -> dict[str, Any]:
    return {"seed": cfg.seed}


def _openai(settings: dict[str, Any]) -> LLM:
    from discover.llm.openai_client import OpenAILLM, OpenAISettings

    values = _known(OpenAISettings, "openai", settings)
    if "prices" in values:
        values["prices"] = {model: _price(model, v) for model, v in dict(values["prices"]).items()}
    if isinstance(values.get("budget"), Mapping):
        values["budget"] = Budget(**_known(Budget, "openai budget", values["budget"]))
    return OpenAILLM(OpenAISettings(**values))


def _openai_settings(cfg: Config) -> dict[str, Any]:
    from discover.config import ConfigError

    lc, st = cfg.llm, cfg.stopping
    if not lc.model:
        raise ConfigError("field llm.model = '' must name a model when llm.kind = 'openai'")
    return {
        "base_url": lc.base_url or None, "api_key_env": lc.api_key_env, "timeout_s": lc.request_timeout_s,
        "max_concurrency": lc.concurrency, "max_retries": lc.max_retries,
        "prices": {lc.model: (lc.price_prompt_per_mtok, lc.price_completion_per_mtok)},
        "budget": {"max_tokens": st.tokens or None, "max_usd": st.dollars or None},
    }


def _replay_settings(cfg: Config) -> dict[str, Any]:
    from discover.config import ConfigError

    if not cfg.llm.transcript:
        raise ConfigError("field llm.transcript = '' must name a transcript when llm.kind is replay")
    return {"transcript": cfg.llm.transcript, "strict": True}


def kinds_text(describe: bool = False) -> str:
    """Return the kinds in words, e.g. ``offline, openai or replay`` (each described if asked)."""
    words = [f"{b.kind} ({b.description})" if describe else b.kind for b in BACKENDS.values()]
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]


def make_llm(kind: str = "offline", *, record: str | os.PathLike[str] | None = None, **settings) -> LLM:
    """Return a backend of the given kind, optionally recording every exchange to a transcript.

    Parameters
    ----------
    kind : ``offline`` (settings: seed, broken_rate, think_rate, epilogue_rate), ``openai`` (the
        fields of :class:`OpenAISettings`; ``prices`` maps a model to a Price, a ``{"input": ...,
        "output": ...}`` mapping or an (input, output) pair in dollars per million tokens; ``budget``
        is a Budget or a mapping of max_calls / max_tokens / max_usd) or ``replay`` (transcript: the
        path, required; strict: bool, default True; fallback: the LLM a miss goes to, or a kind name
        with ``fallback_settings``, which makes replay lenient).
    record : a ``transcript.jsonl`` path to append each exchange to.

    Raises
    ------
    ValueError : an unknown kind or setting, or a value out of range (the message names it).
    """
    backend = BACKENDS.get(kind)
    if backend is None:
        raise ValueError(f"unknown LLM kind {kind!r}: choose one of {', '.join(KINDS)}")
    llm = backend.build(dict(settings))
    return RecordingLLM(llm, record) if record is not None else llm


def _known(cls, what: str, settings: Mapping) -> dict:
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ValueError(f"{what} LLM: unknown setting {unknown[0]!r} (allowed: {', '.join(allowed)})")
    return dict(settings)


def _price(model: str, value) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping) and set(value) <= {"input", "output"}:
        return Price(float(value.get("input", 0.0)), float(value.get("output", 0.0)))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return Price(float(value[0]), float(value[1]))
    shape = "{'input': x, 'output': y} in dollars per million tokens"
    raise ValueError(f"openai LLM: price of {model!r} must be {shape}, not {value!r}")


def _replay(settings: dict) -> LLM:
    from discover.llm.replay import ReplayLLM

    allowed = ("transcript", "strict", "fallback", "fallback_settings")
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ValueError(f"replay LLM: unknown setting {unknown[0]!r} (allowed: {', '.join(allowed)})")
    if "transcript" not in settings:
        raise ValueError("replay LLM: setting 'transcript' (the transcript.jsonl to replay) is required")
    fallback = settings.get("fallback")
    if isinstance(fallback, str):
        fallback = make_llm(fallback, **settings.get("fallback_settings", {}))
    strict = settings.get("strict", fallback is None)
    return ReplayLLM(settings["transcript"], strict=strict, fallback=fallback)


BACKENDS: dict[str, Backend] = {b.kind: b for b in (
    Backend("offline", "the built-in stand-in", _offline, _offline_settings),
    Backend("openai", "any OpenAI-compatible endpoint", _openai, _openai_settings),
    Backend("replay", "answers from a transcript", _replay, _replay_settings),
)}
"""Every backend, by kind: a new provider is one entry here (and its module)."""
KINDS = tuple(BACKENDS)

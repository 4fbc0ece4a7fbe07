"""Build an LLM backend from its kind and settings: the one place that knows every implementation."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from discover.llm.accounting import Budget, Price
from discover.llm.base import LLM
from discover.llm.offline import OfflineLLM
from discover.llm.openai_client import OpenAILLM, OpenAISettings
from discover.llm.recording import RecordingLLM
from discover.llm.replay import ReplayLLM

KINDS = ("offline", "openai", "replay")


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
    if kind == "offline":
        llm: LLM = OfflineLLM(**_known(OfflineLLM, "offline", settings))
    elif kind == "openai":
        values = _known(OpenAISettings, "openai", settings)
        if "prices" in values:
            values["prices"] = {model: _price(model, v) for model, v in dict(values["prices"]).items()}
        if isinstance(values.get("budget"), Mapping):
            values["budget"] = Budget(**_known(Budget, "openai budget", values["budget"]))
        llm = OpenAILLM(OpenAISettings(**values))
    elif kind == "replay":
        llm = _replay(dict(settings))
    else:
        raise ValueError(f"unknown LLM kind {kind!r}: choose one of {', '.join(KINDS)}")
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


def _replay(settings: dict) -> ReplayLLM:
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

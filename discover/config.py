"""The run configuration: the one home of every default, loaded from TOML plus command-line overrides.

A bad value fails with one line naming the source (file or command line), the field, the value and
what is allowed, e.g. ``run.toml: field search.islands = 0 is out of range; allowed [1, 1000]``.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from discover.llm.factory import KINDS, kinds_text
from discover.paths import user_archive_dir
from discover.search.operators import NAMES, REGISTRY
from evaluator import tasks

OPERATORS = NAMES
CLI_SOURCE = "command line"


class ConfigError(ValueError):
    """A configuration that cannot be used; the message is one line naming source, field and value."""


def _task_default(key: str) -> Any:
    """Return the default task's value of a field the task decides (see ``Task.config_defaults``)."""
    return tasks.get().config_defaults()[key]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class LLMConfig(_Section):
    """Which model answers, how it is asked, and what it costs."""

    kind: Literal[KINDS] = Field("offline", description=kinds_text(describe=True))  # discover.llm.factory
    model: str = Field("", description="model name; empty = the backend's default")
    base_url: str = Field("", description="OpenAI-compatible endpoint; empty = the SDK default")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    price_prompt_per_mtok: float = Field(
        0.0, ge=0.0, le=10_000.0, description="USD per million prompt tokens")
    price_completion_per_mtok: float = Field(
        0.0, ge=0.0, le=10_000.0, description="USD per million completion tokens")
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="sampling temperature of the LLM")
    samples_per_prompt: int = Field(4, ge=1, le=32, description="completions asked for in each request")
    max_tokens: int = Field(2048, ge=16, le=200_000, description="completion tokens per sample")
    concurrency: int = Field(
        8, ge=1, le=256,
        description="requests in flight; also the determinism window (a prompt sees the population as it"
        " stood `concurrency` prompts earlier)",
    )
    request_timeout_s: float = Field(120.0, gt=0.0, le=3600.0, description="seconds per HTTP request")
    max_retries: int = Field(
        4, ge=0, le=100, description="retries of a failed request (connection error, timeout,"
        " 408/409/429/5xx) with exponential backoff")
    transcript: str = Field("", description="replay: the transcript.jsonl to serve answers from")


class _Weights(_Section):
    @model_validator(mode="after")
    def _some_weight(self) -> _Weights:
        if sum(self.as_tuple()) <= 0:
            raise ValueError("at least one operator weight must be positive")
        return self

    def as_tuple(self) -> tuple[float, ...]:
        """Return the weights in the order of ``OPERATORS``."""
        return tuple(getattr(self, k) for k in OPERATORS)


OperatorWeights = create_model(
    "OperatorWeights", __base__=_Weights, __module__=__name__,
    __doc__="Relative weights of the prompt operators (need not sum to one).",
    **{op.name: (float, Field(op.weight, ge=0.0, le=1000.0, description=op.description)) for op in REGISTRY})
"""One weight per operator of ``discover.search.operators.REGISTRY``, its default the operator's."""


class SearchConfig(_Section):
    """Islands, clusters, parent sampling, resets and migration."""

    islands: int = Field(10, ge=1, le=1000, description="independent sub-populations, each seeded alike")
    temperature_init: float = Field(
        1.0, gt=0.0, le=1000.0, description="softmax temperature over cluster gaps, in gap %-points")
    temperature_period: int = Field(
        1000, ge=1, le=10_000_000, description="programs on an island per cooling cycle")
    reset_period: int = Field(
        400, ge=0, le=10_000_000, description="samples between resets of the weaker half; 0 = never")
    migration_period: int = Field(
        0, ge=0, le=10_000_000, description="samples between ring migrations of island bests; 0 = never")
    objective: Literal["gap", "budget", "pareto"] = Field(
        "budget",
        description="gap: training gap only; budget: training gap, and a program slower than cost.budget at"
        " cost.n is rejected (over_budget); pareto: parents by rank on the (gap, cost) front of each island",
    )
    operators: OperatorWeights = Field(default_factory=OperatorWeights)
    seeds: list[str] = Field(
        default_factory=lambda: _task_default("search.seeds"), min_length=1,
        description="the programs every island starts from: a name of the task's references (NAME.py), or"
        " the path of a .py file defining the entry function (`discover run --seed-program FILE` adds one);"
        " default: the task's seeds")


class EvaluationConfig(_Section):
    """Where candidates are scored and how."""

    train_set: str = Field(default_factory=lambda: _task_default("evaluation.train_set"),
                           description="instance set with optima the search scores on (default: the task's)")
    valid_set: str = Field(default_factory=lambda: _task_default("evaluation.valid_set"),
                           description="instance set with optima the champion step validates on (default:"
                           " the task's)")
    train_subset: int = Field(
        200, ge=0, le=10_000_000, description="instances of the training set used (stratified); 0 = all")
    valid_subset: int = Field(0, ge=0, le=10_000_000, description="0 = the whole validation set")
    timeout_s: float = Field(
        10.0, gt=0.0, le=86_400.0,
        description="CPU-time budget in seconds of one program on the whole training set, shared among the"
        " sandbox's processes in proportion to their part of the work (validation: scaled by the set size)")
    workers: int = Field(0, ge=0, le=1024, description="sandbox worker processes; 0 = all cores")
    memory_mb: int = Field(2048, ge=512, le=1_000_000, description="address-space limit per worker")
    cascade: bool = Field(False, description="score a stratified subset first and stop clearly bad ones")
    cascade_subset: int = Field(50, ge=1, le=1_000_000, description="cascade: instances scored first")
    cascade_threshold: float = Field(
        50.0, ge=0.0, le=1e9, description="cascade: stop when the subset's mean gap % exceeds this")
    entry: str = Field("schedule", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                       description="the function a candidate defines: entry(p, d) -> order (the task's"
                       " inputs: p, w, d for weighted_tardiness)")
    executor: Literal["local", "ray"] = Field(
        "local", description="local (the sandbox on this machine) or ray (a sandbox on each node of a Ray"
        " cluster; needs `pip install 'discover[ray]'`)")
    ray_address: str = Field(
        "", description="ray: the cluster to join, e.g. 10.0.0.5:6379; empty = the one started on this"
        " machine with `ray start --head` (or $RAY_ADDRESS)")
    allow_weak_sandbox: bool = Field(
        False, description="run candidates even where the kernel refuses a sandbox layer (named at start-up)")


class CostConfig(_Section):
    """Cost: seconds per instance measured side by side with a reference program (discover.search.cost)."""

    reference: str = Field(
        default_factory=lambda: _task_default("cost.reference"), pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="<name>.py of the task's references, run in the same sandbox on the same instances"
        " (default: the task's)")
    n: int = Field(50, ge=2, le=5000, description="the size at which cost counts (budget, pareto, champion)")
    instances: int = Field(5, ge=1, le=1000, description="generated instances of size n timed per program")
    train_instances: int = Field(10, ge=1, le=100_000, description="training instances timed per program")
    repeats: int = Field(3, ge=1, le=50, description="interleaved runs of program and reference; min taken")
    budget: float = Field(
        2.0, gt=0.0, le=1e6, description="largest allowed cost: this many times the reference's at n")
    budget_ms: float = Field(
        0.0, ge=0.0, le=1e9, description="if > 0, the budget is this many ms per instance at n instead")
    probe: bool = Field(True, description="score promising programs on the scale-probe sets too")
    probe_sets: list[str] = Field(
        default_factory=lambda: _task_default("cost.probe_sets"),
        description="stored sets with optima; a missing file is skipped (default: the task's)")
    probe_instances: int = Field(10, ge=1, le=100_000, description="instances of each probe set used")
    probe_timeout_s: float = Field(20.0, gt=0.0, le=86_400.0, description="per program on one probe set")

    def budget_text(self) -> str:
        """Return the budget in words, e.g. ``2 × aug_mddc at n = 100``."""
        if self.budget_ms > 0:
            return f"{self.budget_ms:g} ms per instance at n = {self.n}"
        return f"{self.budget:g} × {self.reference} at n = {self.n}"


class StoppingConfig(_Section):
    """Budgets; the first one spent stops the run (0 = no limit)."""

    samples: int = Field(1500, ge=1, le=100_000_000, description="LLM samples (completions)")
    tokens: int = Field(0, ge=0, le=10**13, description="prompt + completion tokens as billed (failed"
                        " attempts included)")
    dollars: float = Field(0.0, ge=0.0, le=1e9, description="USD as billed, from the llm.price_* fields")
    wall_clock_s: float = Field(0.0, ge=0.0, le=1e9, description="seconds of this session")
    no_improvement: int = Field(0, ge=0, le=100_000_000, description="samples without a better program")
    invalid_streak: int = Field(
        200, ge=0, le=100_000_000, description="consecutive samples without a valid program")
    llm_error_streak: int = Field(
        5, ge=0, le=100_000_000,
        description="consecutive LLM requests that failed after their retries (unreachable endpoint, HTTP"
        " errors); the run stops with a non-zero exit")


class ChampionConfig(_Section):
    """The promotion step at the end of a run."""

    top_k: int = Field(5, ge=1, le=1000, description="best training programs re-scored on validation")
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="Wilcoxon significance level")
    dir: str = Field(
        default_factory=lambda: str(user_archive_dir()),
        description="the archive a run promotes into (champions/ inside; `discover run --archive DIR`);"
        " default the user archive, $XDG_DATA_HOME/discover/archive or ~/.local/share/discover/archive."
        " One without references/ is read on top of the shipped archive")
    promote: bool = Field(True, description="write a champion that beats the archive's best")


class Config(_Section):
    """Everything a run needs; ``discover config show`` prints it resolved."""

    task: str = Field(tasks.DEFAULT, description="the problem: total_tardiness (1||ΣT_j) or"
                      " weighted_tardiness (1||Σw_jT_j), or any registered task; its stored sets, seeds and"
                      " cost reference are the defaults of the fields it decides")
    seed: int = Field(1, ge=0, le=2**63 - 1, description="random seed; with the offline or a replayed LLM the"
                      " same seed gives the same run")
    run_dir: str = Field("", description="empty = runs/<date>-<time>-s<seed> (under the current directory)")
    prompts: str = Field(
        "", description="folder of prompt templates (system.txt, parent.txt, one per operator); empty ="
        " $DISCOVER_PROMPTS if set, else the project's prompts/")
    llm: LLMConfig = Field(default_factory=LLMConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    stopping: StoppingConfig = Field(default_factory=StoppingConfig)
    cost: CostConfig = Field(default_factory=CostConfig)
    champion: ChampionConfig = Field(default_factory=ChampionConfig)

    @field_validator("task")
    @classmethod
    def _known_task(cls, v: str) -> str:
        tasks.get(v)  # UnknownTask is a ValueError: reported with the known names
        return v

    @model_validator(mode="before")
    @classmethod
    def _task_fields(cls, tree: Any) -> Any:
        """Fill the fields the task decides, where the tree does not set them, from that task."""
        name = tree.get("task") if isinstance(tree, dict) else None
        if not isinstance(name, str) or name == tasks.DEFAULT:
            return tree
        try:
            defaults = tasks.get(name).config_defaults()
        except tasks.UnknownTask:
            return tree  # the field's validator says so
        tree = _deep_copy(tree)
        for key, value in defaults.items():
            section, name = key.split(".")
            part = tree.setdefault(section, {})
            if isinstance(part, dict):
                part.setdefault(name, value)
        return tree

    def to_toml(self) -> str:
        """Return the config as TOML text (every field, resolved)."""
        return tomli_w.dumps(self.model_dump(mode="json"))

    def describe(self) -> str:
        """Return the config as TOML with each field's description and allowed range as a comment."""
        return _describe(self, "")

    def replace(self, **overrides: Any) -> Config:
        """Return a copy with dotted-key overrides applied and validated (e.g. ``stopping.samples=5``)."""
        return build_config(self.model_dump(mode="json"), overrides, source="")


def _describe(model: BaseModel, prefix: str) -> str:
    """Return ``model``'s fields as commented TOML: plain values first, then one table per section."""
    plain, tables = [], []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            key = f"{prefix}{name}"
            doc = " ".join((type(value).__doc__ or "").split())
            tables.append(f"\n[{key}]\n" + (f"# {doc}\n" if doc else "") + _describe(value, key + "."))
            continue
        notes = [info.description] if info.description else []
        rng = _range_text(info)
        if rng:
            notes.append(f"allowed {rng}")
        comment = f"# {'; '.join(notes)}\n" if notes else ""
        plain.append(comment + tomli_w.dumps({name: value if not isinstance(value, BaseModel) else None}))
    return "".join(plain) + "".join(tables)


# --- loading and error messages -------------------------------------------------------------------

def _field_info(loc: tuple[Any, ...]) -> Any:
    model: Any = Config
    info = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return info
        info = fields[part]
        model = info.annotation
    return info


def _range_text(info: Any) -> str | None:
    lo = hi = None
    lo_open = hi_open = False
    for m in getattr(info, "metadata", ()):
        for attr, is_lo, is_open in (("ge", True, False), ("gt", True, True), ("le", False, False),
                                     ("lt", False, True)):
            v = getattr(m, attr, None)
            if v is not None:
                if is_lo:
                    lo, lo_open = v, is_open
                else:
                    hi, hi_open = v, is_open
    if lo is None and hi is None:
        return None
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    return f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"


def _explain(err: dict[str, Any], raw: dict[str, Any]) -> str:
    loc = tuple(x for x in err["loc"])
    name = ".".join(str(x) for x in loc) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _field_info(loc[:-1]).annotation if len(loc) > 1 else Config
        allowed = ", ".join(getattr(parent, "model_fields", {})) or "none"
        return f"unknown field {name}; allowed fields here: {allowed}"
    value = raw
    for part in loc:
        value = value.get(part, None) if isinstance(value, dict) else None
    info = _field_info(loc)
    shown = f"field {name} = {value!r}"
    if kind == "literal_error":
        return f"{shown} is not allowed; allowed values: {err['ctx']['expected']}"
    rng = _range_text(info) if info is not None else None
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"{shown} is out of range; allowed {rng}"
    if kind == "value_error":
        return f"{name or 'config'}: {err['ctx']['error']}"
    kind_text = err["msg"][0].lower() + err["msg"][1:]
    suffix = f"; allowed {rng}" if rng else ""
    return f"{shown}: {kind_text}{suffix}"


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for p in parts[:-1]:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{CLI_SOURCE}: field {key}: {p} is a value, not a section")
        node = nxt
    node[parts[-1]] = value


def _check_finite(tree: Any, path: str, source: str) -> None:
    if isinstance(tree, dict):
        for k, v in tree.items():
            _check_finite(v, f"{path}.{k}" if path else str(k), source)
    elif isinstance(tree, float) and not math.isfinite(tree):
        raise ConfigError(f"{source}: field {path} = {tree!r} must be a finite number")


def build_config(tree: dict[str, Any], overrides: dict[str, Any] | None = None, source: str = "") -> Config:
    """Validate a config tree with dotted-key overrides; raise ConfigError with one line on bad input."""
    tree = _deep_copy(tree)
    over_keys = set()
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        _set_dotted(tree, key, value)
        over_keys.add(key)
    try:
        _check_finite(tree, "", source or "config")
        return Config.model_validate(tree)
    except ValidationError as e:
        err = e.errors()[0]
        name = ".".join(str(x) for x in err["loc"])
        where = CLI_SOURCE if name in over_keys else (source or "config")
        raise ConfigError(f"{where}: {_explain(err, tree)}") from None


def _deep_copy(tree: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in tree.items()}


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read a TOML config (or start from the defaults) and apply dotted-key overrides.

    Parameters
    ----------
    path
        TOML file; None means the defaults only.
    overrides
        ``{"stopping.samples": 100, ...}``; None values are ignored (an option not given).

    Raises
    ------
    ConfigError
        One line naming the file or the command line, the field, the value and what is allowed.
    """
    tree: dict[str, Any] = {}
    source = ""
    if path is not None:
        path = Path(path)
        source = path.name
        try:
            tree = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: cannot read: {e}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path.name}: invalid TOML: {e}") from None
    return build_config(tree, overrides, source)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` from ``--set``; the value is read as TOML, else taken as a string."""
    if "=" not in text:
        raise ConfigError(f"{CLI_SOURCE}: --set {text!r} must look like section.field=value")
    key, raw = (s.strip() for s in text.split("=", 1))
    if not key:
        raise ConfigError(f"{CLI_SOURCE}: --set {text!r} names no field")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value

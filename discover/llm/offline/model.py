"""A deterministic, seeded stand-in for an LLM: it reads the parents out of the prompt and rewrites them.

Every completion is a pure function of (backend seed, ``request.key(sample_index)``): the same
request gives the same completions in any process, run or machine (hashlib-derived seeds, no
``hash()``, no clock). It is honest search: children come only from the parents in the prompt
and a grammar of priority terms (see :mod:`discover.llm.offline.rewrites`), never from a stored answer.

Prompt convention (prompt templates rely on exactly this)
---------------------------------------------------------
1. Parents: every fenced block opened by a line starting with ```` ```python ```` (or
   ```` ```py ````) and closed by a line starting with ```` ``` ````, in a message whose role is
   ``user``, is one parent program, in order of appearance. Put one program per block. A block that
   does not parse is ignored; a function whose body is only a docstring, ``pass`` or ``...`` is a
   header to complete, not a parent.
2. Entry name ``NAME``: the last ``def NAME(`` written in the user messages outside the fenced
   blocks (e.g. "Write an improved ``def schedule(p, d)``"); if there is none, the name of the last
   top-level ``def`` in the last ```` ```python ```` block (so a FunSearch-style header
   ``def schedule_v2(p, d):`` with a docstring at the end of the last block works); else
   ``schedule``.
3. A parent's own entry: its function named ``NAME``, else its last function whose name starts with
   ``NAME`` minus a ``_vN`` suffix, else its last top-level function (stubs excluded).
4. Parameter names of the answer: those of ``def NAME(a, b`` where the entry was named (prose or
   header); else those of the last parent's entry; else ``p, d``. The first parameter is the
   processing times, the second the due dates; with three (``def NAME(p, w, d)``, a weighted
   task) the second is the weights and the third the due dates, and the grammar adds weight terms.
5. The reply: a sentence of intent, then one ```` ```python ```` block with a full module defining
   ``NAME(a, b)`` that returns a list of job indices; sometimes a ``<think>`` section before it or a
   sentence after it. With probability ``broken_rate`` the reply is broken instead: a syntax error,
   the function under another name, prose only, or a sequence with repeated jobs.

Usage is reported as ``len(text) // 4`` tokens (prompt counted once per request), so token and cost
accounting work end to end; cost is 0. A completion longer than ``max_tokens`` is cut there.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from discover.llm.base import ChatRequest, ChatResult
from discover.llm.offline import rewrites as rw
from evaluator import pyparse

_BLOCK = re.compile(r"^```(?:python|py)[ \t]*\n(.*?)^```", re.S | re.M)
_DEF = re.compile(r"\bdef\s+([A-Za-z_]\w*)\s*\(([^)]*)\)?")
_OPERATORS = {"perturb": 0.35, "fresh": 0.2, "pass": 0.2, "crossover": 0.25}
_BROKEN = ("syntax", "missing", "prose", "duplicates")
_WRONG_NAMES = ("build_sequence", "order_jobs", "dispatch_jobs")


@dataclass(frozen=True)
class Prompt:
    """What the offline model reads from a prompt: the entry, its parameters and the parents."""

    entry: str
    params: tuple[str, ...]  # (p, d), or (p, w, d) for a weighted task
    parents: tuple[rw.DispatchRule, ...]


def read_prompt(messages) -> Prompt:
    """Read the entry name, parameter names and parent programs from chat messages (see module doc)."""
    user = [m.get("content") or "" for m in messages if m.get("role") == "user"]
    text = "\n\n".join(user)
    blocks = [m.group(1) for m in _BLOCK.finditer(text)]
    prose_defs = list(_DEF.finditer(_BLOCK.sub("", text)))
    header = prose_defs[-1] if prose_defs else None
    if header is None and blocks:
        last = [m for m in _DEF.finditer(blocks[-1]) if m.start() == 0 or blocks[-1][m.start() - 1] == "\n"]
        header = last[-1] if last else None
    entry = header.group(1) if header else "schedule"
    parents = []
    for src in blocks:
        try:
            tree = pyparse.parse(src)
        except SyntaxError:
            continue
        prog = rw.read_program(tree, entry)
        if prog is not None:
            parents.append(prog)
    params = _param_names(header.group(2)) if header else None
    if params is None:
        params = parents[-1].params if parents else ("p", "d")
    return Prompt(entry, params, tuple(parents))


def _param_names(text: str) -> tuple[str, ...] | None:
    names = [re.split(r"[:=]", a)[0].strip() for a in text.split(",")]
    names = [n for n in names if n.isidentifier()]
    if len(names) == 3:  # a weighted task's (p, w, d)
        return tuple(names)
    return (names[0], names[1]) if len(names) >= 2 else None


@dataclass(frozen=True)
class OfflineLLM:
    """The seeded stand-in LLM; see the module docstring for what it reads and answers."""

    seed: int = 0
    broken_rate: float = 0.1
    think_rate: float = 0.15
    epilogue_rate: float = 0.3

    def __post_init__(self) -> None:
        for name in ("broken_rate", "think_rate", "epilogue_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"offline LLM: {name} must be between 0 and 1, got {value}")

    def complete(self, request: ChatRequest) -> ChatResult:
        """Return ``request.n`` completions, each a pure function of the seed and the sample's key."""
        prompt = read_prompt(request.messages)
        texts, operators, finish = [], [], []
        for i in range(request.n):
            text, op = self._sample(prompt, request, i)
            cut = len(text) // 4 > request.max_tokens
            texts.append(text[: request.max_tokens * 4] if cut else text)
            operators.append(op)
            finish.append("length" if cut else "stop")
        prompt_tokens = sum(len(m.get("content") or "") for m in request.messages) // 4
        return ChatResult(
            completions=tuple(texts),
            model=request.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=sum(len(t) // 4 for t in texts),
            request_hash=request.key(0),
            meta={"backend": "offline", "operators": operators, "finish_reasons": finish},
        )

    def _sample(self, prompt: Prompt, request: ChatRequest, index: int) -> tuple[str, str]:
        """Return completion ``index`` of a request and the operator that made it."""
        digest = hashlib.sha256(f"discover-offline/{self.seed}/{request.key(index)}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        rewrite = _rewrite(prompt, rng, request.temperature)
        if rng.random() < self.broken_rate:
            kind = rng.choice(_BROKEN)
            return _broken(kind, prompt, rewrite, rng), f"broken:{kind}"
        code = rw.render(rewrite.program, prompt.entry, _docstring(rewrite.program))
        return self._reply(rng, rewrite.intent, code), rewrite.operator

    def _reply(self, rng: random.Random, intent: str, code: str) -> str:
        parts = []
        if rng.random() < self.think_rate:
            parts.append(_thinking(rng))
        parts.append(intent)
        parts.append(f"```python\n{code}```")
        if rng.random() < self.epilogue_rate:
            parts.append(rng.choice(_EPILOGUES))
        return "\n\n".join(parts) + "\n"


def _rewrite(prompt: Prompt, rng: random.Random, temperature: float) -> rw.Rewrite:
    parents = prompt.parents
    ops = {k: w for k, w in _OPERATORS.items() if k != "crossover" or len(parents) > 1}
    op = rng.choices(list(ops), weights=list(ops.values()))[0] if parents else "fresh"
    out = None
    if op == "perturb":
        out = rw.perturb(rng.choice(parents), rng, temperature)
    elif op == "crossover":
        a, b = rng.sample(range(len(parents)), 2)
        out = rw.crossover(parents[a], parents[b], rng)
    if out is None and parents and op != "fresh":
        out = rw.toggle_pass(rng.choice(parents), rng)
    if out is None:
        out = rw.fresh(prompt.params, rng)
    if out.program.params != prompt.params:  # answer with the names the prompt asked for
        out = rw.Rewrite(rw.replace(out.program, params=prompt.params), out.operator, out.intent)
    return out


def _docstring(prog: rw.DispatchRule) -> str:
    text = rw.describe(prog)
    return (text[:1].upper() + text[1:] + ".").replace('"""', "'''").replace("\\", "/")


def _broken(kind: str, prompt: Prompt, rewrite: rw.Rewrite, rng: random.Random) -> str:
    if kind == "prose":
        return (
            f"{rewrite.intent} The idea is to look ahead at the slack of each job and to favour jobs "
            "that would otherwise become tardy; I would implement it as a dispatch loop followed by "
            "a local search over adjacent pairs.\n"
        )
    prog = rewrite.program
    if kind == "duplicates" and prog.terms is None:
        prog = rw.fresh(prompt.params, rng).program
    code = rw.render(prog, prompt.entry, _docstring(prog), duplicates_bug=kind == "duplicates")
    if kind == "syntax":
        code = re.sub(rf"^(def {re.escape(prompt.entry)}\(.*\)):", r"\1", code, count=1, flags=re.M)
    elif kind == "missing":
        stem = re.sub(r"_v\d+$", "", prompt.entry)  # a name extraction would not take for the entry
        wrong = next(n for n in _WRONG_NAMES if not n.startswith(stem))
        code = re.sub(rf"\b{re.escape(prompt.entry)}\b", wrong, code)
    return f"{rewrite.intent}\n\n```python\n{code}```\n"


_THOUGHTS = (
    "The parent is a dispatch rule; tardy jobs near the end dominate the objective.",
    "Jobs with little slack should go first, but long jobs block everything behind them.",
    "Maybe something like sorting by due date?\n```python\ndef draft(p, d):\n"
    "    return sorted(range(len(p)), key=lambda j: d[j])\n```\nNo, that is plain EDD; it ignores the time.",
    "A local search pass is cheap at n = 25 and fixes obvious inversions.",
)
_EPILOGUES = (
    "Everything stays O(n²) per pass, so it is fast for n = 25.",
    "Ties go to the lowest job index, so the result is deterministic.",
    "Let me know if you want me to tune the weights further.",
)


def _thinking(rng: random.Random) -> str:
    picked = rng.sample(range(len(_THOUGHTS)), 2)
    return "<think>\n" + "\n".join(_THOUGHTS[i] for i in sorted(picked)) + "\n</think>"

"""Read the program out of an LLM reply, repair what real models get wrong, validate it with ``ast``.

The steps, in order:

1. Normalise newlines (``\\r\\n``, ``\\r``), drop a BOM; drop ``<think>`` / ``<thinking>`` /
   ``<reasoning>`` sections, everything before a stray closing tag and everything after an unclosed
   opening tag, so code drafted while thinking is never taken.
2. Split the rest into fenced blocks (```` ``` ```` or ``~~~``, info string ``python``, ``py``,
   ``python3`` or none; an unclosed fence runs to the end) and prose. A reply without fences is its
   own candidate from its first code-looking line on.
3. Repair each block: leading tabs expanded, common indentation removed, trailing garbage cut (lines
   removed from the end until ``ast.parse`` succeeds, but never into indented code, so a truncated
   function is rejected rather than silently shortened).
4. Pick the last block defining the entry; else the last defining a renamed entry (``schedule_v2``,
   ``schedule_new``, ``priority``, ...; renamed back to the entry); else a FunSearch-style body
   continuation (no ``def`` line), wrapped in ``def <entry>(<params>):``. Helpers the chosen block
   uses but another block defines are prepended; a missing ``import numpy as np`` (or of another
   allowlisted module) is added.
5. Validate: the entry is a top-level function taking the task's positional arguments (two for
   ΣT_j: p, d), with a body that returns a value. Otherwise ``code`` is None and ``reason`` says
   precisely why.
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass

from evaluator import pyparse
from evaluator.sandbox.policy import ALLOWED_IMPORTS, NUMBERS, module_allowed

_OPEN = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w.+-]*)")
_CLOSE = re.compile(r"^\s*(`{3,}|~{3,})\s*$")
_THINK_BLOCK = re.compile(r"<(think|thinking|reasoning)>.*?</\1\s*>", re.S | re.I)
_THINK_CLOSE = re.compile(r"</(?:think|thinking|reasoning)\s*>", re.I)
_THINK_OPEN = re.compile(r"<(?:think|thinking|reasoning)>", re.I)
_CODE_START = re.compile(r"^(def |async def |class |import |from \S+ import |@)")
_ALIAS_SUFFIX = r"(?:_?v?\d+|_(?:new|improved|updated|final|alt|best|opt|fixed|revised))?"
_GENERIC_ENTRIES = ("priority", "heuristic")
_FILLER = re.compile(r"^(sure|certainly|of course|okay|ok|great|absolutely|alright|done)\b[\s.!,]*$", re.I)
_BUILTINS = frozenset(dir(builtins))
_NAMES_OF = {"collections": ("deque", "defaultdict", "Counter"), "heapq": ("heappush", "heappop", "heapify"),
             "functools": ("lru_cache", "cmp_to_key"), "itertools": ("permutations",)}
_IMPORTS = {  # a name used but never bound -> the import that binds it (the sandbox's allowlist only)
    "np": "import numpy as np",
    **{m: f"import {m}" for m in ALLOWED_IMPORTS if "." not in m and module_allowed(m)},
    **{name: f"from {m} import {name}" for m, names in _NAMES_OF.items() if module_allowed(m)
       for name in names},
}
_DESCRIPTION_MAX = 200


@dataclass(frozen=True)
class Extracted:
    """The code read from a reply (None if rejected), the idea in one line, and why it was rejected."""

    code: str | None
    description: str
    reason: str | None = None
    notes: tuple[str, ...] = ()  # repairs applied, e.g. "renamed schedule_v2 to schedule"

    @property
    def ok(self) -> bool:
        return self.code is not None


@dataclass(frozen=True)
class _Block:
    lang: str
    text: str


@dataclass(frozen=True)
class _Candidate:
    source: str
    tree: ast.Module | None
    error: str | None  # the original syntax error, if the block needed cutting or did not parse
    notes: tuple[str, ...]
    full: str = ""  # the normalised block before any cut

    def defs(self) -> list[str]:
        if self.tree is None:
            return []
        return [s.name for s in self.tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]


def extract_code(reply: str, entry: str = "schedule", params: tuple[str, ...] = ("p", "d"),
                 inputs: str = "the processing times and the due dates") -> Extracted:
    """Return the program defining ``entry`` read from an LLM reply, or the reason there is none.

    Parameters
    ----------
    reply : the raw completion text.
    entry : the function the program must define.
    params : the entry's parameters (the task's fields): their number is checked, and they name a bare
        function body's header.
    inputs : the parameters in words, for the reason given when the entry takes too few.
    """
    text = reply.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    answer = _drop_thinking(text)
    blocks, prose = _split(answer)
    bare = None
    if not blocks:
        bare, prose = _bare_code(answer)
    description = _first_sentence(prose)
    if not answer.strip():
        why = "the reply is only a <think> section" if text.strip() else "empty reply"
        return Extracted(None, description, why)
    if blocks:
        cands = [_prepare(b.text) for b in blocks if b.lang in ("", "ipython") or b.lang.startswith("py")]
        if not cands:
            langs = ", ".join(sorted({b.lang for b in blocks}))
            return Extracted(None, description, f"no python code block (blocks found: {langs})")
    else:
        if bare is None:
            return Extracted(None, description, "no code in the reply (prose only)")
        cands = [_prepare(bare)]
    chosen, reason = _choose(cands, entry, params)
    if chosen is None:
        return Extracted(None, description, reason)
    chosen = _merge_helpers(chosen, cands, entry)
    chosen = _add_imports(chosen)
    reason = _validate(chosen.tree, entry, len(params), inputs)
    if not description:
        description = _docstring_line(chosen.tree, entry)
    if reason:
        return Extracted(None, description, reason, chosen.notes)
    return Extracted(chosen.source.rstrip() + "\n", description, None, chosen.notes)


def _drop_thinking(text: str) -> str:
    text = _THINK_BLOCK.sub("", text)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:  # a stray closing tag: the opening one was eaten by the server template
        text = text[closes[-1].end() :]
    opened = _THINK_OPEN.search(text)
    if opened:  # thinking cut short: nothing after it is an answer
        text = text[: opened.start()]
    return text


def _split(text: str) -> tuple[list[_Block], list[str]]:
    lines = text.split("\n")
    blocks: list[_Block] = []
    prose: list[str] = []
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if not m:
            prose.append(lines[i])
            i += 1
            continue
        fence, body = m.group(1), []
        j = i + 1
        while j < len(lines):
            c = _CLOSE.match(lines[j])
            if c and c.group(1)[0] == fence[0] and len(c.group(1)) >= len(fence):
                break
            if lines[j].rstrip().endswith(fence):  # a fence closed at the end of a code line
                body.append(lines[j].rstrip()[: -len(fence)])
                break
            body.append(lines[j])
            j += 1
        blocks.append(_Block(m.group(2).lower(), "\n".join(body)))
        prose.append("")  # a block ends a paragraph
        i = j + 1
    return blocks, prose


def _bare_code(text: str) -> tuple[str | None, list[str]]:
    """Return the code of a reply without fences (from its first code-looking line) and the prose before."""
    lines = text.split("\n")
    first = next((ln for ln in lines if ln.strip()), "")
    if first[:1].isspace():  # an indented start: a body continuation
        return text, []
    for k, line in enumerate(lines):
        if _CODE_START.match(line):
            return "\n".join(lines[k:]), lines[:k]
    return None, lines


def _normalise(src: str, tab: int) -> str:
    src = src.replace("\u00a0", " ")
    src = "\n".join(re.sub(r"^[ \t]+", lambda m: m.group(0).expandtabs(tab), ln) for ln in src.split("\n"))
    return textwrap.dedent(src).strip("\n")


def _prepare(raw: str) -> _Candidate:
    notes: list[str] = []
    src = _normalise(raw, 4)
    if re.search(r"^[ ]*\t", raw, re.M):
        notes.append("expanded tabs")
        try:
            pyparse.parse(src)
        except SyntaxError:
            alt = _normalise(raw, 8)
            if _parses(alt):
                src = alt
    try:
        return _Candidate(src, pyparse.parse(src), None, tuple(notes), src)
    except SyntaxError as e:
        error = _syntax_reason(e, src)
    lines = src.split("\n")
    for k in range(len(lines) - 1, 0, -1):
        removed = [ln for ln in lines[k:] if ln.strip()]
        if not removed or removed[0][:1].isspace():
            continue  # never cut into indented code: that would silently shorten a function
        head = "\n".join(lines[:k])
        if _parses(head):
            note = f"cut {len(removed)} trailing line{'s' if len(removed) > 1 else ''} that did not parse"
            return _Candidate(head, pyparse.parse(head), error, (*notes, note), src)
    return _Candidate(src, None, error, tuple(notes), src)


def _parses(src: str) -> bool:
    try:
        pyparse.parse(src)
    except SyntaxError:
        return False
    return True


def _syntax_reason(e: SyntaxError, src: str) -> str:
    line = src.split("\n")[e.lineno - 1].strip() if e.lineno and e.lineno <= src.count("\n") + 1 else ""
    where = f"line {e.lineno}" if e.lineno else "unknown line"
    return f"syntax error at {where} of the code: {e.msg}" + (f": `{line[:80]}`" if line else "")


def _choose(cands: list[_Candidate], entry: str, params: tuple[str, ...]) -> tuple[_Candidate | None, str]:
    stem = re.sub(r"_v\d+$", "", entry)
    alias = re.compile(rf"^(?:{re.escape(stem)}{_ALIAS_SUFFIX}|{'|'.join(_GENERIC_ENTRIES)})$")
    for wanted in (lambda n: n == entry, alias.match):
        hits = [c for c in cands if any(wanted(n) for n in c.defs())]
        if hits:
            chosen = hits[-1]
            name = [n for n in chosen.defs() if wanted(n)][-1]
            if name != entry:
                src = _rename(chosen.source, name, entry)
                notes = (*chosen.notes, f"renamed {name} to {entry}")
                chosen = _Candidate(src, pyparse.parse(src), chosen.error, notes)
            return chosen, ""
        broken = [c for c in cands if c.error and _defines_textually(c.full, wanted)]
        if broken:
            return None, broken[-1].error or "syntax error"
    for c in reversed(cands):
        if not c.defs():
            wrapped = _wrap_body(c.source, entry, params)
            if wrapped is not None:
                return wrapped, ""
    failed = [c for c in cands if c.error]
    if failed and len(failed) == len(cands):
        return None, failed[-1].error
    found = sorted({n for c in cands for n in c.defs()})
    listed = f" (functions found: {', '.join(found)})" if found else ""
    return None, f"no function named `{entry}` in the reply{listed}"


def _defines_textually(src: str, wanted) -> bool:
    return any(wanted(m.group(1)) for m in re.finditer(r"^\s*def\s+(\w+)\s*\(", src, re.M))


def _rename(src: str, old: str, new: str) -> str:
    lines = src.split("\n")
    toks = [t for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type == tokenize.NAME]
    for t in reversed([t for t in toks if t.string == old]):
        row, col = t.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[col + len(old) :]
    return "\n".join(lines)


def _wrap_body(src: str, entry: str, params: tuple[str, ...]) -> _Candidate | None:
    """Wrap a FunSearch-style continuation (the body of the entry without its ``def`` line)."""
    lines = src.split("\n")
    if not any(re.match(r"\s*return\b", ln) for ln in lines):
        return None
    # An indented body ends at the first line back at column 0; a dedented one at the first def or
    # class. What follows (helpers, or prose that the trailing-garbage cut removes) is kept after it.
    first = next((ln for ln in lines if ln.strip()), "")
    stop = r"\S" if first[:1].isspace() else r"(def |class |@)"
    end = next((k for k, ln in enumerate(lines) if k and re.match(stop, ln)), len(lines))
    body = textwrap.indent(textwrap.dedent("\n".join(lines[:end])), "    ")
    rest = "\n".join(lines[end:])
    wrapped = f"def {entry}({', '.join(params)}):\n{body}\n" + (f"\n\n{rest}\n" if rest.strip() else "")
    cand = _prepare(wrapped)
    if cand.tree is None or entry not in cand.defs():
        return None
    return _Candidate(cand.source, cand.tree, None, (*cand.notes, "wrapped a bare function body"))


def _bound_names(tree: ast.AST) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _free_names(tree: ast.AST) -> set[str]:
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - _bound_names(tree) - _BUILTINS


def _merge_helpers(chosen: _Candidate, cands: list[_Candidate], entry: str) -> _Candidate:
    """Prepend functions and classes that the chosen block uses and only another block defines."""
    found: dict[str, str] = {}
    missing = _free_names(chosen.tree)
    while True:
        new = {
            s.name: _segment(c.source, s)
            for c in cands if c is not chosen and c.tree is not None
            for s in c.tree.body
            if isinstance(s, (ast.FunctionDef, ast.ClassDef)) and s.name in missing and s.name != entry
        }
        if not new:
            break
        found.update(new)
        used = set().union(*(_free_names(pyparse.parse(src)) for src in new.values()))
        missing = (missing | used) - set(found)
    if not found:
        return chosen
    src = "\n\n\n".join([*found.values(), chosen.source])
    if not _parses(src):
        return chosen
    note = f"took {', '.join(found)} from another block"
    return _Candidate(src, pyparse.parse(src), chosen.error, (*chosen.notes, note))


def _segment(source: str, node: ast.stmt) -> str:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(source.split("\n")[first - 1 : node.end_lineno])


def _add_imports(cand: _Candidate) -> _Candidate:
    lines = [_IMPORTS[name] for name in sorted(_free_names(cand.tree)) if name in _IMPORTS]
    if not lines:
        return cand
    body = cand.tree.body
    at = 0  # after a module docstring and `from __future__` imports
    while at < len(body) and (
        (isinstance(body[at], ast.ImportFrom) and body[at].module == "__future__")
        or (at == 0 and isinstance(body[at], ast.Expr) and isinstance(body[at].value, ast.Constant))
    ):
        at += 1
    src_lines = cand.source.split("\n")
    cut = body[at - 1].end_lineno if at else 0
    src = "\n".join([*src_lines[:cut], *lines, *src_lines[cut:]])
    return _Candidate(src, pyparse.parse(src), cand.error, (*cand.notes, *(f"added `{ln}`" for ln in lines)))


def _validate(tree: ast.Module, entry: str, arity: int = 2,
              inputs: str = "the processing times and the due dates") -> str | None:
    fns = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == entry]
    if not fns:
        return f"`{entry}` must be a plain top-level function"
    fn = fns[-1]
    a = fn.args
    pos = [x.arg for x in (*a.posonlyargs, *a.args)]
    required = len(pos) - len(a.defaults)
    if required > arity or (len(pos) < arity and a.vararg is None) or None in a.kw_defaults:
        count = NUMBERS[arity] if arity < len(NUMBERS) else str(arity)
        return (f"`{entry}` takes parameters ({', '.join(pos)}); it must accept {count} positional arguments:"
                f" {inputs}")
    if is_stub(fn):
        return f"`{entry}` has an empty body"
    if not any(isinstance(n, ast.Return) and n.value is not None for n in _walk_own(fn)):
        return f"`{entry}` never returns a value; it must return the job order"
    return None


def is_stub(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Return True if a function has no body beyond a docstring, ``pass`` or ``...``."""
    for s in fn.body:
        if not (isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))):
            return False
    return True


def _walk_own(fn: ast.FunctionDef):
    """Yield the nodes of a function, not descending into nested functions or classes."""
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def _docstring_line(tree: ast.Module | None, entry: str) -> str:
    if tree is None:
        return ""
    for s in tree.body:
        if isinstance(s, ast.FunctionDef) and s.name == entry:
            doc = ast.get_docstring(s)
            if doc:
                return _clip(" ".join(doc.split("\n\n")[0].split()))
    return ""


def _first_sentence(prose: list[str]) -> str:
    paragraphs = "\n".join(prose).split("\n\n")
    for para in paragraphs:
        clean = " ".join(re.sub(r"^\s*(#+|[-*+]|\d+[.)])\s+", "", ln) for ln in para.split("\n"))
        clean = " ".join(clean.replace("**", "").replace("`", "").split())
        for sentence in re.split(r"(?<=[.!?])\s+", clean):
            sentence = sentence.strip()
            if sentence and not sentence.endswith(":") and not _FILLER.match(sentence):
                return _clip(sentence)
    return ""


def _clip(s: str) -> str:
    return s if len(s) <= _DESCRIPTION_MAX else s[: _DESCRIPTION_MAX - 1].rstrip() + "…"

"""The offline stand-in's rewrites: read any parent program into a small model, rewrite it, render it.

A parent is read into a :class:`DispatchRule` in one of two forms:

* dispatch form: at time t, over the unscheduled jobs, start the job with the smallest key
  ``Σ c_i · term_i`` (terms over ``j, t, p, d, pbar``; for a weighted task, whose parameters are
  ``p, w, d``, also ``w``: the grammar gains weight terms and the passes work on the weighted
  objective), then optional local-improvement passes (:mod:`discover.llm.offline.passes`). A parent is
  read this way when its entry assigns ``key = <expr>`` in a loop, or, in a short function, sorts
  or takes ``min`` with ``key=lambda j: <expr>`` or calls ``np.argsort(d)``, with ``<expr>`` over
  those names only: the EDD, SPT and MDD seeds are;
* foreign form: any other program; its entry is kept verbatim as ``_base_order`` and passes are
  applied to its result.

Operators: perturb numeric constants (AST level, any parent), a fresh rule from the term grammar,
add or drop a pass, crossover of two parents. Rendered programs use only ``math`` and plain Python
lists, and cost O(n²) per instance and pass sweep (0.2 to 1 ms at n = 25).
"""

from __future__ import annotations

import ast
import math
import random
import re
from dataclasses import dataclass, replace

from discover.llm.offline.passes import PASSES, WEIGHTED_PASSES
from discover.programs.extract import is_stub
from evaluator import pyparse

# name -> (expression over j, t, p, d, pbar; K is the ATC look-ahead constant), description, weight
_GRAMMAR = {
    "edd": ("d[j]", "d_j", 2),
    "spt": ("p[j]", "p_j", 1),
    "mdd": ("max(d[j], t + p[j])", "max(d_j, t+p_j)", 3),
    "slack": ("d[j] - t - p[j]", "slack", 2),
    "psk": ("max(p[j], d[j] - t)", "max(p_j, d_j-t)", 1),  # = MDD - t: the same argmin alone
    "ratio": ("pbar * (d[j] - t) / max(p[j], 1)", "(d_j-t)/p_j", 1),
    "atc": ("-pbar * pbar / max(p[j], 1) * math.exp(-max(0, d[j] - t - p[j]) / (K * pbar))", "ATC", 2),
    # the weight terms, drawn only for a weighted task (parameters p, w, d)
    "wspt": ("p[j] / w[j]", "p_j/w_j", 2),
    "wmdd": ("max(p[j], d[j] - t) / w[j]", "max(p_j, d_j-t)/w_j", 3),
    "wslack": ("(d[j] - t - p[j]) / w[j]", "slack/w_j", 1),
    "watc": ("-pbar * w[j] / max(p[j], 1) * math.exp(-max(0, d[j] - t - p[j]) / (K * pbar))", "ATC_w", 2),
}
_WEIGHTED = frozenset({"wspt", "wmdd", "wslack", "watc"})
_KEY_NAMES = frozenset({"j", "t", "p", "d", "pbar", "n", "math", "max", "min", "abs", "float"})
_MAX_TERMS = 4
_FRESH_PASSES = (("move_to_end", 0.1), ("insertion", 0.25), ("interchange", 0.25))
_FRESH_PASSES_W = (("move_to_end_w", 0.1), ("insertion_w", 0.25), ("interchange_w", 0.25))
_ALL_PASSES = {**PASSES, **WEIGHTED_PASSES}
_KEY_CALLS = ("min", "sorted", "np.argsort", "numpy.argsort")
BASE = "_base_order"

_PASS_OF_FUNC = {ps.function: name for name, ps in _ALL_PASSES.items()}
_OURS = frozenset({*_PASS_OF_FUNC, "_total_tardiness_of", "_weighted_tardiness_of"})


@dataclass(frozen=True)
class DispatchRule:
    """A parent or child: the dispatch key (terms) or a foreign base program, then passes."""

    params: tuple[str, ...]  # (p, d), or (p, w, d) for a weighted task
    terms: tuple[tuple[float, str], ...] | None = None  # key = Σ coef · term
    base: str | None = None  # source of a module defining _base_order
    passes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rewrite:
    """A child program, the operator that made it, and the sentence announcing it."""

    program: DispatchRule
    operator: str
    intent: str


def _canon(expr: str) -> str:
    return ast.unparse(pyparse.parse(expr, mode="eval").body)


def _shape(text: str) -> str:
    return re.sub(r"(?<![\w.])\d+(?:\.\d*)?(?:e[-+]?\d+)?", "#", text)


_SHAPES = {_shape(_canon(e.replace("K", "2.0"))): name for name, (e, _, _) in _GRAMMAR.items()}


def term_name(term: str) -> str | None:
    """Return the grammar name of a term (any constants), or None for a term from elsewhere."""
    return _SHAPES.get(_shape(term))


def grammar_term(name: str, rng: random.Random) -> str:
    """Return the expression of a grammar term, drawing its constant if it has one."""
    expr = _GRAMMAR[name][0]
    return _canon(expr.replace("K", repr(round(rng.uniform(0.5, 3.0), 2))))


# -- reading a parent --------------------------------------------------------------------------


def entry_function(tree: ast.Module, entry: str) -> ast.FunctionDef | None:
    """Return a parent's entry: ``entry`` itself, else the last function sharing its stem, else the last."""
    fns = [s for s in tree.body if isinstance(s, ast.FunctionDef) and not is_stub(s)]
    stem = re.sub(r"_v\d+$", "", entry)
    for pick in (lambda f: f.name == entry, lambda f: f.name.startswith(stem), lambda f: True):
        hits = [f for f in fns if pick(f)]
        if hits:
            return hits[-1]
    return None


def weighted(params: tuple[str, ...]) -> bool:
    """Whether a program's parameters are those of a weighted task (p, w, d)."""
    return len(params) == 3


def function_params(fn: ast.FunctionDef) -> tuple[str, ...]:
    """Return the entry's parameter names: its first three required ones when it has three (p, w, d),
    else its first two positional ones (``p``, ``d`` if missing)."""
    names = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
    if len(names) - len(fn.args.defaults) == 3:
        return tuple(names[:3])
    return (names[0], names[1]) if len(names) >= 2 else ("p", "d")


def read_program(tree: ast.Module, entry: str) -> DispatchRule | None:
    """Read a parent module into a DispatchRule, or None if it has no function to start from."""
    fn = entry_function(tree, entry)
    if fn is None:
        return None
    params = function_params(fn)
    calls = sorted(
        (n for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)),
        key=lambda n: (n.lineno, n.col_offset),
    )
    called = [_unversioned(c.func.id) for c in calls]
    passes = tuple(_PASS_OF_FUNC[name] for name in called if name in _PASS_OF_FUNC)
    if BASE in called:
        keep = [s for s in tree.body if s is not fn and _unversioned(getattr(s, "name", "")) not in _OURS]
        rename = _Rename({c.func.id: BASE for c in calls if _unversioned(c.func.id) == BASE})
        base = ast.unparse(ast.Module([rename.visit(s) for s in keep], []))
        return DispatchRule(params, base=base, passes=passes)
    key = _find_key(fn, params)
    if key is not None:
        return DispatchRule(params, terms=_summands(key), passes=passes)
    rename = _Rename({fn.name: BASE})
    keep = [rename.visit(s) for s in tree.body if not (isinstance(s, ast.FunctionDef) and is_stub(s))]
    return DispatchRule(params, base=ast.unparse(ast.Module(keep, [])))


def _unversioned(name: str) -> str:
    """Strip the ``_vN`` suffix that versioned prompts add to every top-level name."""
    return re.sub(r"_v\d+$", "", name)


def _find_key(fn: ast.FunctionDef, params: tuple[str, ...]) -> ast.expr | None:
    """Return the dispatch key of a parent's entry, with its parameters renamed to p, d, or None.

    Recognised: ``key = <expr>`` inside a loop (the rendered form); in a short function (a seed
    written by hand) also ``min``/``sorted`` with ``key=lambda j: <expr>`` and ``np.argsort(d)``.
    """
    short = sum(isinstance(n, ast.stmt) for n in ast.walk(fn)) <= 12
    for node in ast.walk(fn):
        expr, arg = None, "j"
        if isinstance(node, (ast.For, ast.While)):
            assigns = [s for s in ast.walk(node) if isinstance(s, ast.Assign)]
            expr = next((s.value for s in assigns if [ast.unparse(t) for t in s.targets] == ["key"]), None)
        elif short and isinstance(node, ast.Call) and ast.unparse(node.func) in _KEY_CALLS:
            lam = next((k.value for k in node.keywords if k.arg == "key"), None)
            if isinstance(lam, ast.Lambda) and len(lam.args.args) == 1:
                expr, arg = lam.body, lam.args.args[0].arg
            elif "argsort" in ast.unparse(node.func) and node.args and isinstance(node.args[0], ast.Name):
                expr = pyparse.parse(f"{node.args[0].id}[j]", mode="eval").body
        if expr is None:
            continue
        names = dict(zip(params, ("p", "w", "d") if weighted(params) else ("p", "d"), strict=True))
        expr = _Uncast().visit(_Rename({**names, arg: "j"}).visit(_copy(expr)))
        allowed = _KEY_NAMES | {"w"} if weighted(params) else _KEY_NAMES
        if {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)} <= allowed:
            return expr
    return None


def _copy(node: ast.expr) -> ast.expr:
    return pyparse.parse(ast.unparse(node), mode="eval").body


class _Uncast(ast.NodeTransformer):
    """Drop ``int(...)`` and ``float(...)`` around key terms: the rendered loop works on int lists."""

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        cast = isinstance(node.func, ast.Name) and node.func.id in ("int", "float")
        return node.args[0] if cast and len(node.args) == 1 and not node.keywords else node


class _Rename(ast.NodeTransformer):
    """Rename variables and top-level functions by a mapping."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self.names.get(node.id, node.id), node.ctx)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        self.generic_visit(node)
        node.name = self.names.get(node.name, node.name)
        return node


def _summands(node: ast.expr, sign: float = 1.0) -> tuple[tuple[float, str], ...]:
    """Split a key into coefficient · term pairs, never inside a grammar term."""
    text = ast.unparse(node)
    if term_name(text):
        return ((sign, text),)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        right = -sign if isinstance(node.op, ast.Sub) else sign
        return _merge(_summands(node.left, sign) + _summands(node.right, right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _summands(node.operand, -sign)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for c, x in ((node.left, node.right), (node.right, node.left)):
            if _is_number(c):
                return ((sign * c.value, ast.unparse(x)),)
    return ((sign, text),)


def _is_number(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _merge(pairs) -> tuple[tuple[float, str], ...]:
    out: dict[str, float] = {}
    for c, term in pairs:
        out[term] = out.get(term, 0.0) + c
    return tuple((_round(c), term) for term, c in out.items() if c != 0)


def _round(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


# -- rendering ---------------------------------------------------------------------------------


def key_source(terms) -> str:
    """Render Σ coef · term as Python, each coefficient written out so it can be tuned."""
    expr: ast.expr | None = None
    for c, term in terms:
        part = ast.BinOp(ast.Constant(abs(c)), ast.Mult(), pyparse.parse(term, mode="eval").body)
        if expr is None:
            expr = part if c >= 0 else ast.UnaryOp(ast.USub(), part)
        else:
            expr = ast.BinOp(expr, ast.Add() if c >= 0 else ast.Sub(), part)
    return ast.unparse(expr) if expr is not None else "d[j]"


def render(prog: DispatchRule, entry: str, doc: str, duplicates_bug: bool = False) -> str:
    """Render a DispatchRule as a module defining ``entry``; ``duplicates_bug`` forgets to retire jobs."""
    args = ", ".join(prog.params)
    inner = "p, w, d" if weighted(prog.params) else "p, d"
    ints = ", ".join(f"[int(x) for x in {a}]" for a in prog.params)
    helpers = [_ALL_PASSES[name].source.strip("\n") for name in dict.fromkeys(prog.passes)]
    head = [f"def {entry}({args}):", f'    """{doc}"""']
    if prog.terms is not None:
        key = key_source(prog.terms)
        retire = "" if duplicates_bug else "        unscheduled.remove(best)\n"
        body = (
            f"    {inner} = {ints}\n"
            "    n = len(p)\n"
            "    pbar = max(sum(p) / n, 1.0) if n else 1.0\n"
            "    unscheduled = list(range(n))\n"
            "    order = []\n"
            "    t = 0\n"
            "    for _ in range(n):\n"
            "        best, best_key = -1, 0.0\n"
            "        for j in unscheduled:\n"
            f"            key = {key}\n"
            "            if best < 0 or key < best_key:\n"
            "                best, best_key = j, key\n"
            "        order.append(best)\n"
            f"{retire}"
            "        t += p[best]"
        )
        top = ["import math"] if "math." in key else []
    else:
        body = (
            f"    order = [int(j) for j in {BASE}({args})]\n"
            f"    {inner} = {ints}"
        )
        top = [prog.base.strip("\n")]
    calls = [f"    order = {_ALL_PASSES[name].function}(order, {inner})" for name in prog.passes]
    entry_src = "\n".join([*head, body, *calls, "    return order"])
    return "\n\n\n".join([*top, *helpers, entry_src]) + "\n"


# -- operators ---------------------------------------------------------------------------------


def describe(prog: DispatchRule) -> str:
    """Describe a program in a few words."""
    if prog.terms is None:
        rule = "take the parent's order"
    else:
        key = ""
        for c, term in prog.terms:
            name = term_name(term)
            text = _GRAMMAR[name][1] if name else term
            sign = " - " if c < 0 else " + " if key else ""
            key += sign + (text if abs(c) == 1 else f"{abs(c):g}·{text}")
        rule = f"dispatch the job with the smallest {key}"
    if prog.passes:
        rule += ", then apply " + " and ".join(_ALL_PASSES[p].phrase for p in prog.passes)
    return rule


def perturb(parent: DispatchRule, rng: random.Random, temperature: float) -> Rewrite | None:
    """Retune numeric constants of a parent (coefficients, or any constant of a foreign program)."""
    sigma = 0.25 * min(max(temperature, 0.2), 2.0)
    if parent.terms is not None:
        if len(parent.terms) == 1 or rng.random() < 0.3:  # one term: its weight alone changes nothing
            return _reshape_terms(parent, rng)
        tree = pyparse.parse(key_source(parent.terms), mode="eval")
        changes = _perturb_tree(tree, rng, sigma)
        child = replace(parent, terms=_summands(tree.body))
    else:
        tree = pyparse.parse(parent.base)
        changes = _perturb_tree(tree, rng, sigma)
        if not changes:
            return None
        child = replace(parent, base=ast.unparse(tree))
    shown = ", ".join(changes[:4]) + (", ..." if len(changes) > 4 else "")
    return Rewrite(child, "perturb", f"Retune the constants of the parent ({shown}) to shift its balance.")


def _reshape_terms(parent: DispatchRule, rng: random.Random) -> Rewrite:
    terms = list(parent.terms)
    if len(terms) > 1 and (len(terms) >= _MAX_TERMS or rng.random() < 0.4):
        dropped = terms.pop(rng.randrange(len(terms)))
        name = term_name(dropped[1])
        what = _GRAMMAR[name][1] if name else "one term"
        intent = f"Simplify the priority: drop the {what}."
        return Rewrite(replace(parent, terms=tuple(terms)), "perturb", intent)
    name = _draw_term(rng, exclude={term_name(t) for _, t in terms}, weights=weighted(parent.params))
    terms.append((_round(rng.uniform(0.05, 0.6)), grammar_term(name, rng)))
    intent = f"Add a {_GRAMMAR[name][1]} term to the parent's priority with a small weight."
    return Rewrite(replace(parent, terms=_merge(terms)), "perturb", intent)


def _perturb_tree(tree: ast.AST, rng: random.Random, sigma: float) -> list[str]:
    nodes = list(_tunable(tree))
    if not nodes:
        return []
    chosen = [c for c in nodes if rng.random() < max(0.5, 1 / len(nodes))] or [rng.choice(nodes)]
    changes = []
    for c in chosen:
        old = c.value
        if isinstance(old, int):
            new = max(1, round(old * math.exp(rng.gauss(0, sigma))))
            new = new if new != old else old + 1
        else:
            new = _round(old * math.exp(rng.gauss(0, sigma)) * (-1 if rng.random() < 0.05 else 1))
            new = new if new != old else _round(old * 1.1 + 0.01)
        c.value = new
        changes.append(f"{old:g} → {new:g}")
    return changes


def _tunable(tree: ast.AST):
    """Yield the constants worth tuning: floats, and ints ≥ 2 in arithmetic outside indexing and range()."""
    stack = [(tree, False, False)]
    while stack:
        node, arith, structural = stack.pop()
        if _is_number(node) and node.value and not structural:
            if isinstance(node.value, float) or (arith and node.value >= 2):
                yield node
        is_range = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
        for child in ast.iter_child_nodes(node):
            struct = structural or isinstance(node, (ast.Subscript, ast.Slice)) or is_range
            stack.append((child, isinstance(node, ast.BinOp), struct))


def fresh(params: tuple[str, ...], rng: random.Random) -> Rewrite:
    """Draw a new dispatch rule from the term grammar, sometimes with improvement passes (a weighted
    task's: the weight terms too, and the passes on the weighted objective)."""
    count = rng.choices((1, 2, 3), weights=(3, 5, 2))[0]
    names: list[str] = []
    while len(names) < count:
        names.append(_draw_term(rng, exclude=set(names), weights=weighted(params)))
    terms = [(1.0, grammar_term(names[0], rng))]
    for name in names[1:]:
        sign = -1 if rng.random() < 0.15 else 1
        terms.append((sign * _round(rng.uniform(0.05, 0.8)), grammar_term(name, rng)))
    pool = _FRESH_PASSES_W if weighted(params) else _FRESH_PASSES
    passes = [p for p, prob in pool if rng.random() < prob]
    child = DispatchRule(params, terms=_merge(terms), passes=tuple(passes))
    return Rewrite(child, "fresh", f"Try a new rule: {describe(child)}.")


def _draw_term(rng: random.Random, exclude: set, weights: bool = False) -> str:
    grammar = [n for n in _GRAMMAR if weights or n not in _WEIGHTED]
    names = [n for n in grammar if n not in exclude] or grammar
    return rng.choices(names, weights=[_GRAMMAR[n][2] for n in names])[0]


def toggle_pass(parent: DispatchRule, rng: random.Random) -> Rewrite:
    """Add a local-improvement pass the parent lacks (a weighted task's program: a weighted one), or
    drop one it has."""
    missing = [p for p in (WEIGHTED_PASSES if weighted(parent.params) else PASSES) if p not in parent.passes]
    if parent.passes and (not missing or rng.random() < 0.35):
        gone = rng.choice(parent.passes)
        child = replace(parent, passes=tuple(p for p in parent.passes if p != gone))
        intent = f"Drop the {_ALL_PASSES[gone].phrase} to see whether the rest does as well without them."
        return Rewrite(child, "drop_pass", intent)
    new = rng.choice(missing)
    passes = list(parent.passes)
    passes.insert(rng.randrange(len(passes) + 1), new)
    intent = f"Keep the parent's sequence and polish it with {_ALL_PASSES[new].phrase} to fix local mistakes."
    return Rewrite(replace(parent, passes=tuple(passes)), "add_pass", intent)


def crossover(a: DispatchRule, b: DispatchRule, rng: random.Random) -> Rewrite | None:
    """Combine two parents: blend their priority keys, or one's ordering with the other's passes."""
    passes = tuple(dict.fromkeys(a.passes + b.passes))
    if a.terms is not None and b.terms is not None and (a.passes == b.passes or rng.random() < 0.5):
        w = _round(rng.uniform(0.3, 0.7), 2)
        terms = _merge([(w * c, t) for c, t in a.terms] + [((1 - w) * c, t) for c, t in b.terms])
        terms = tuple(sorted(terms, key=lambda ct: -abs(ct[0]))[:_MAX_TERMS])
        child = replace(a, terms=terms, passes=rng.choice((a.passes, b.passes, passes)))
        intent = f"Blend the two parents' priority keys with weights {w:g} / {1 - w:g}."
        return Rewrite(child, "crossover", intent)
    if not b.passes and not a.passes:
        return None
    first, second = (a, b) if b.passes else (b, a)
    child = replace(first, passes=tuple(dict.fromkeys(first.passes + second.passes)))
    if child == first:
        return None
    intent = "Keep one parent's ordering rule and borrow the other's improvement passes."
    return Rewrite(child, "crossover", intent)

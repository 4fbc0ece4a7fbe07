"""The static policy on candidate code: allowlisted imports, a callable entry, no dunder tricks.

This is defence in depth: it turns the common mistakes of LLM-written code into a clear reason
before anything runs. The boundary is the worker process (see ``confine``), not this check.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from types import CodeType

from evaluator import pyparse

ALLOWED_IMPORTS = ("numpy", "numba", "math", "heapq", "itertools", "functools", "collections", "bisect",
                   "operator", "random", "evaluator.helpers")
"""Modules (with their submodules) a candidate may import, in the order the system prompt lists them."""
ALLOWED_MODULES = frozenset(ALLOWED_IMPORTS)
"""The same modules as a set: what the checks read."""

DENIED_MODULES = frozenset({
    "numpy.ctypeslib", "numpy.f2py", "numpy.distutils", "numpy.testing", "numpy.typing",
    "numba.cuda", "numba.pycc", "numba.testing", "numba.tests", "numba.misc", "numba.core", "numba.extending",
    "numba.experimental", "numba.np.unsafe", "numba.cpython.unsafe", "numba.carray", "numba.farray",
    "numba.cfunc", "numba.objmode", "numba.intrinsic", "numba.overload", "numba.generated_jit",
})
"""Submodules (and names) of allowed packages that reach native code, files or the interpreter: for
numba, its compiler's internals, extension API (intrinsics and overloads write LLVM IR), raw
pointers as arrays, C callbacks and object mode."""

NUMBA_DECORATORS = frozenset({"njit", "jit", "vectorize", "guvectorize", "stencil"})
DROPPED_KEYWORDS = frozenset({"cache", "parallel"})
"""Keywords the policy drops from numba decorators: numba cannot cache code that has no file, and a
candidate's process runs one thread (``prange`` then runs as ``range``)."""

FORBIDDEN_NAMES = frozenset({
    "eval", "exec", "compile", "open", "input", "breakpoint", "help", "globals", "locals", "vars",
    "setattr", "delattr", "exit", "quit", "memoryview", "copyright", "credits", "license",
})
"""Builtins that reach the interpreter, files or the console."""

FORBIDDEN_ATTRS = frozenset({
    # frames, code and generator internals: the road back to the worker's globals
    "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "gi_frame", "gi_code", "cr_frame", "cr_code",
    "ag_frame", "ag_code", "tb_frame", "tb_next", "co_code", "mro",
    # native memory and the inputs' write flag
    "ctypes", "ctypeslib", "setflags",
    # processes, environment, modules
    "system", "popen", "environ", "modules",
    # numpy file I/O
    "save", "savez", "savez_compressed", "savetxt", "load", "loadtxt", "genfromtxt", "fromfile", "tofile",
    "memmap", "DataSource",
    # numba's extension API, raw pointers and object mode, however numba is reached
    "carray", "farray", "cfunc", "objmode", "intrinsic", "overload", "overload_method", "overload_attribute",
    "extending", "experimental", "jitclass",
})
"""Attribute names refused wherever they appear."""

ALLOWED_DUNDER_NAMES = frozenset({"__name__"})
ALLOWED_DUNDER_ATTRS = frozenset({"__init__"})
ALLOWED_DUNDER_STRINGS = frozenset({"__main__"})
MAX_CODE_CHARS = 200_000


@dataclass(frozen=True)
class Verdict:
    """The policy's answer: status ``ok``, ``error`` (cannot run as written) or ``refused``."""

    status: str
    reason: str = ""


def check_code(code: str, entry: str = "schedule") -> str | None:
    """Return None if the code passes the policy, else a one-line reason fit for an LLM."""
    verdict = inspect(code, entry)
    return None if verdict.status == "ok" else verdict.reason


def inspect(code: str, entry: str = "schedule", enforce: bool = True,
            fields: tuple[str, ...] = ("p", "d")) -> Verdict:
    """Check code against the policy and say whether it is an error or a refusal.

    ``fields`` are the entry's arguments (the task's inputs).

    With ``enforce=False`` only syntax and the entry are checked (to test the process limits alone).
    """
    tree, err = parse(code)
    if tree is None:
        return Verdict("error", err)
    _, err = _compile(tree)
    if err:
        return Verdict("error", err)
    reason = _forbidden(tree) if enforce else ""
    if reason:
        return Verdict("refused", reason)
    reason = _entry_problem(tree, entry, fields)
    if reason:
        return Verdict("error", reason)
    return Verdict("ok")


def parse(code: str) -> tuple[ast.Module | None, str]:
    """Parse candidate code with the ``__main__`` guard removed; return (tree, "") or (None, reason)."""
    if not isinstance(code, str):
        return None, f"code must be a string, got {type(code).__name__}"
    if len(code) > MAX_CODE_CHARS:
        return None, f"code is {len(code)} characters long; the limit is {MAX_CODE_CHARS}"
    try:
        tree = pyparse.parse(code, filename="<candidate>")
    except SyntaxError as e:
        return None, f"line {e.lineno}: SyntaxError: {e.msg}"
    except (ValueError, RecursionError, MemoryError) as e:
        return None, f"cannot parse the code: {type(e).__name__}: {e}"[:300]
    return strip_numba_cache(strip_main_guard(tree)), ""


def compile_candidate(code: str) -> tuple[CodeType | None, str]:
    """Return the code object a candidate's process executes, or (None, reason) naming the line.

    Compiling catches what parsing does not, e.g. a module-level ``return`` or ``yield``.
    """
    tree, err = parse(code)
    return (None, err) if tree is None else _compile(tree)


def _compile(tree: ast.Module) -> tuple[CodeType | None, str]:
    try:
        return pyparse.compile_tree(tree, "<candidate>"), ""
    except SyntaxError as e:
        return None, f"line {e.lineno}: SyntaxError: {e.msg}"
    except (ValueError, RecursionError, MemoryError) as e:
        return None, f"cannot compile the code: {type(e).__name__}: {e}"[:300]


def strip_main_guard(tree: ast.Module) -> ast.Module:
    """Drop top-level ``if __name__ == "__main__":`` blocks: they never run in the sandbox."""
    tree.body = [s for s in tree.body if not _is_main_guard(s)] or [ast.Pass(lineno=1, col_offset=0)]
    return tree


def strip_numba_cache(tree: ast.Module) -> ast.Module:
    """Drop ``cache=...`` and ``parallel=...`` from numba decorators (``@njit(cache=True)``): the code
    has no file to cache beside (numba would refuse: "no locator available"), and no threads may
    start. Line numbers do not move."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and _callee_name(deco.func) in NUMBA_DECORATORS:
                    deco.keywords = [k for k in deco.keywords if k.arg not in DROPPED_KEYWORDS]
    return tree


def _callee_name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_main_guard(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    t = stmt.test
    sides = [t.left, *t.comparators]
    return (len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)
            and any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def module_denied(name: str) -> bool:
    """Say whether a module (dotted name) is one of, or inside, ``DENIED_MODULES``."""
    return any(name == m or name.startswith(m + ".") for m in DENIED_MODULES)


def module_allowed(name: str) -> bool:
    """Say whether a module (dotted name) may be imported by a candidate."""
    if module_denied(name):
        return False
    return any(name == m or name.startswith(m + ".") for m in ALLOWED_MODULES)


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and len(name) > 4


def _docstring_ids(tree: ast.Module) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            out.add(id(body[0].value))
    return out


def _forbidden(tree: ast.Module) -> str:
    """Return the first policy violation found, or ""."""
    docstrings = _docstring_ids(tree)
    imported: set[str] = set()
    paths = _import_paths(tree)
    for node in ast.walk(tree):
        line = f"line {getattr(node, 'lineno', '?')}: "
        if isinstance(node, ast.Import):
            for a in node.names:
                if not module_allowed(a.name):
                    return line + _import_reason(a.name)
                imported.add((a.asname or a.name).split(".")[0])
        elif isinstance(node, ast.Attribute) and (full := _dotted(node, paths)) and module_denied(full):
            return line + _import_reason(full, "use of ")
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                return line + "relative imports are not allowed"
            for a in node.names:
                full = f"{mod}.{a.name}"
                if not (module_allowed(mod) and not module_denied(full) or module_allowed(full)):
                    named = mod if mod != "evaluator" and not module_denied(full) else full
                    return line + _import_reason(named)
                imported.add(a.asname or a.name)
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_NAMES:
                return line + f"'{node.id}' is not allowed in a heuristic"
            if _dunder(node.id) and node.id not in ALLOWED_DUNDER_NAMES:
                return line + f"the name '{node.id}' is not allowed (no dunder names)"
        elif isinstance(node, ast.Attribute):
            if _dunder(node.attr) and node.attr not in ALLOWED_DUNDER_ATTRS:
                return line + f"the attribute '.{node.attr}' is not allowed (no dunder attributes)"
            if node.attr in FORBIDDEN_ATTRS:
                return line + f"the attribute '.{node.attr}' is not allowed in a heuristic"
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bad = [n for n in node.names if _dunder(n)]
            if bad:
                return line + f"the name '{bad[0]}' is not allowed (no dunder names)"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr",
                                                                                                  "hasattr"):
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)
                    and not name.value.startswith("_") and name.value not in FORBIDDEN_ATTRS):
                return line + f"{node.func.id}() is allowed only with a literal public attribute name"
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value
              and node.value not in ALLOWED_DUNDER_STRINGS and id(node) not in docstrings):
            return line + "strings containing '__' are not allowed (no dunder tricks)"
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            root = node.value
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if isinstance(root, ast.Name) and root.id in imported and (
                    isinstance(node, ast.Attribute) or isinstance(node.value, ast.Attribute)):
                attr = node.attr if isinstance(node, ast.Attribute) else node.value.attr  # type: ignore[attr-defined]
                return (f"line {node.lineno}: assigning into '{root.id}.…{attr}' changes an imported module;"
                        " modules are read-only")
    return ""


def _import_reason(name: str, what: str = "import of ") -> str:
    if module_denied(name):
        why = (" (numba's compiler internals, extension API, raw pointers and object mode are refused;"
               " use @njit functions)" if name.startswith("numba.") else "")
        return f"{what}'{name}' is not allowed{why}"
    allowed = ", ".join(sorted(ALLOWED_MODULES))
    return f"import of '{name}' is not allowed; allowed modules: {allowed}"


def _import_paths(tree: ast.Module) -> dict[str, str]:
    """Return the names the code binds to modules (or their members) by import: name → dotted path."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                root = a.name.split(".")[0]
                out[a.asname or root] = a.name if a.asname else root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _dotted(node: ast.Attribute, paths: dict[str, str]) -> str:
    """Return ``a.b.c`` as the dotted path it reaches when ``a`` is an imported name, else ""."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value  # type: ignore[assignment]
    if not isinstance(node, ast.Name) or node.id not in paths:
        return ""
    return ".".join([paths[node.id], *reversed(parts)])


NUMBERS = ("no", "one", "two", "three", "four", "five", "six")


def _entry_problem(tree: ast.Module, entry: str, fields: tuple[str, ...] = ("p", "d")) -> str:
    """Return why the entry function is missing or has the wrong arity, or ""."""
    found: ast.stmt | None = None
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == entry:
            found = stmt
        elif isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == entry
                                                  for t in stmt.targets):
            found = stmt
    k, sig = len(fields), ", ".join(fields)
    if found is None:
        return (f"no function '{entry}' is defined at module level; define def {entry}({sig}): ..."
                " returning an order")
    if isinstance(found, ast.AsyncFunctionDef):
        return f"'{entry}' must be a plain function, not async"
    if isinstance(found, ast.Assign):
        if not isinstance(found.value, ast.Lambda):
            return f"'{entry}' must be defined with def {entry}({sig}): ..."
        args = found.value.args
    else:
        args = found.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    kw_required = [a.arg for a, dflt in zip(args.kwonlyargs, args.kw_defaults, strict=True) if dflt is None]
    if required > k or (positional < k and args.vararg is None) or kw_required:
        extra = f" and keyword-only {', '.join(kw_required)}" if kw_required else ""
        count = NUMBERS[k] if k < len(NUMBERS) else str(k)
        return (f"'{entry}' must accept exactly {count} positional arguments ({sig}); it takes {required}"
                f" required positional{extra} arguments")
    return ""

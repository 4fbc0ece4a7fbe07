"""Program text utilities: a layout-blind hash, and the renaming behind versioned prompts."""

from __future__ import annotations

import ast
import hashlib
import io
import tokenize

from evaluator import pyparse


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]


def code_hash(code: str) -> str:
    """Return a hash of the program's syntax tree: comments, docstrings and layout do not count."""
    try:
        tree = pyparse.parse(code)
    except (SyntaxError, ValueError):
        return "raw:" + hashlib.sha256(code.encode()).hexdigest()[:40]
    _strip_docstrings(tree)
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()[:40]


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def rename(code: str, mapping: dict[str, str]) -> str:
    """Return the program with the given identifiers renamed (not attributes); comments and layout stay."""
    lines = code.splitlines(keepends=True)
    spots: list[tuple[int, int, str]] = []
    prev: tokenize.TokenInfo | None = None
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.NAME and tok.string in mapping and not (
                prev is not None and prev.type == tokenize.OP and prev.string == "."):
            spots.append((tok.start[0], tok.start[1], tok.string))
        if tok.type not in _LAYOUT:
            prev = tok
    for row, col, old in reversed(spots):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + mapping[old] + line[col + len(old):]
    return "".join(lines)


_LAYOUT = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)


def suffix_top_level(code: str, suffix: str) -> str:
    """Append ``suffix`` to every name the module defines at top level (functions, classes, constants)."""
    tree = pyparse.parse(code)
    return rename(code, {name: name + suffix for name in _top_level_names(tree)})

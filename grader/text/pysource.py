"""Prose in Python source: comments (via ``tokenize``) and docstrings (via ``ast``).

Returns plain ``(line, text)`` pairs so that it depends on nothing else in the package.
When the source does not tokenize, a regex finds ``#`` comments instead; when it does not
parse, there are no docstrings.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

_PRAGMA = re.compile(
    r"^(noqa|type:|fmt:|pragma|pylint:|mypy:|isort:|ruff:|pyright:|-\*-|vim?:|coding[:=])", re.I
)
_CODE_HINT = re.compile(r"[(=]|\bimport\b")
_FALLBACK_COMMENT = re.compile(r"^[^#'\"]*#(.*)$")


def _is_code(body: str) -> bool:
    if not _CODE_HINT.search(body):
        return False
    try:
        ast.parse(body)
    except (SyntaxError, ValueError):
        return False
    return True


def _comment_body(token: str) -> str | None:
    body = token.lstrip("#").strip()
    if not body or _PRAGMA.match(body) or _is_code(body):
        return None
    return body


def _comments(source: str) -> list[tuple[int, str, bool]]:
    """(line, text, whole_line) of each comment; a regex does when tokenize cannot."""
    found: list[tuple[int, str, bool]] = []
    if "#" not in source:
        return found
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                found.append((row, tok.string, not tok.line[:col].strip()))
    except (tokenize.TokenError, SyntaxError):
        found = []
        for row, line in enumerate(source.splitlines(), 1):
            match = _FALLBACK_COMMENT.match(line)
            if match:
                found.append((row, "#" + match.group(1), not line[: match.start(1) - 1].strip()))
    return found


def _without_doctests(doc: str) -> str:
    """A docstring without its doctest examples (``>>>`` lines and their output)."""
    kept, in_example = [], False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.startswith(">>>"):
            in_example = True
        elif not stripped:
            in_example = False
        if not in_example:
            kept.append(line)
    return "\n".join(kept).strip()


_WITH_DOCSTRING = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _statements(tree: ast.Module) -> list[ast.AST]:
    """Every statement-level node (not expressions: they hold no docstrings), fast."""
    found: list[ast.AST] = [tree]
    index = 0
    while index < len(found):
        node = found[index]
        index += 1
        for name in _BLOCKS:
            children = getattr(node, name, None)
            if isinstance(children, list):
                found.extend(children)
    return found


def _docstrings(source: str) -> list[tuple[int, str]]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    found = []
    for node in _statements(tree):
        if isinstance(node, _WITH_DOCSTRING) and node.body:
            doc = ast.get_docstring(node, clean=True)
            if doc:
                text = _without_doctests(doc)
                if text:
                    found.append((node.body[0].lineno, text))
    return found


def python_prose(source: str) -> list[tuple[int, str]]:
    """(line, text) of docstrings and comments, in line order.

    A block of whole-line comments on consecutive lines is one piece. Left out: the
    shebang, pragmas (``# noqa``, ``# type:``, ``# fmt:``, ``# pragma`` and the like) and
    commented-out code (a comment that parses as Python and has ``(``, ``=`` or ``import``).
    """
    passages: list[tuple[int, str]] = []
    block: list[str] = []
    start = last = -2
    for row, token, whole_line in _comments(source):
        if row == 1 and token.startswith("#!"):
            continue
        body = _comment_body(token)
        if body is None:
            continue
        if whole_line and block and row == last + 1:
            block.append(body)
        else:
            if block:
                passages.append((start, "\n".join(block)))
            block, start = [body], row
        last = row if whole_line else -2
    if block:
        passages.append((start, "\n".join(block)))
    passages.extend(_docstrings(source))
    return sorted(passages, key=lambda item: item[0])

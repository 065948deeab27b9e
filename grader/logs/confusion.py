"""A confusion matrix in the committed evaluation output, for the report's picture.

Found in a JSON file (``confusion_matrix`` or ``confusion`` at the top level or under
``test``/``evaluation``, with ``classes``/``labels`` beside it, as scikit-learn's
``confusion_matrix(...).tolist()`` is usually saved) or in a log line that names it
(``Confusion matrix (rows: true cat/dog): [[48, 2], [5, 45]]``, also numpy's multi-line
print). Only a square matrix of non-negative counts (2 to 40 classes) counts: what the
student's code printed is shown as it is, labelled as their claim, never scored.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MAX_CLASSES = 40
MAX_BYTES = 5_000_000
_KEYS = ("confusion_matrix", "confusion", "confusionmatrix", "cm")
_NESTS = ("test", "evaluation", "eval", "test_metrics", "metrics")
_LINE = re.compile(r"confusion[ _-]?matrix", re.I)
_NUMPY_ROW = re.compile(r"\[\s*(\d[\d\s.,]*)\]")
_CLASSES_NOTE = re.compile(r"\(\s*rows?\s*(?:=|:)?\s*(?:true|actual)\s+([^)]*)\)", re.I)


def _matrix(value: Any) -> list[list[float]] | None:
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_CLASSES:
        return None
    rows = []
    for row in value:
        if not isinstance(row, list) or len(row) != len(value):
            return None
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in row):
            return None
        rows.append([float(v) for v in row])
    return rows


def _classes(value: Any, size: int) -> list[str] | None:
    if (
        isinstance(value, list)
        and len(value) == size
        and all(isinstance(v, str | int) for v in value)
    ):
        return [str(v) for v in value]
    return None


def from_json(data: Any) -> dict[str, Any] | None:
    scopes = [data] + [data.get(k) for k in _NESTS] if isinstance(data, dict) else []
    for scope in scopes:
        if not isinstance(scope, dict):
            continue
        for key, value in scope.items():
            if str(key).lower() not in _KEYS:
                continue
            matrix = _matrix(value)
            if matrix is None:
                continue
            names = next((c for k in ("classes", "labels", "class_names", "target_names")
                          for c in [_classes(scope.get(k), len(matrix))] if c), None)  # fmt: skip
            if names is None and scope is not data:
                names = _classes(data.get("classes") or data.get("labels"), len(matrix))
            return {"matrix": matrix, "classes": names}
    return None


def _literal_after(text: str) -> Any:
    start = text.find("[[")
    if start < 0:
        return None
    depth, end = 0, None
    for index in range(start, min(len(text), start + 20_000)):
        depth += {"[": 1, "]": -1}.get(text[index], 0)
        if depth == 0:
            end = index + 1
            break
    if end is None:
        return None
    chunk = text[start:end]
    try:
        return ast.literal_eval(chunk)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        rows = [r.replace(",", " ").split() for r in _NUMPY_ROW.findall(chunk)]  # numpy print
        try:
            return [[float(v) for v in row] for row in rows]
        except ValueError:
            return None


def from_text(text: str) -> tuple[dict[str, Any], int] | None:
    """The last confusion matrix a log names, and its 1-based line."""
    found = None
    for match in _LINE.finditer(text):
        matrix = _matrix(_literal_after(text[match.end() : match.end() + 20_000]))
        if matrix is None:
            continue
        line_start = text.rfind("\n", 0, match.start()) + 1
        line = text[line_start : text.find("\n", match.end())]
        names = None
        note = _CLASSES_NOTE.search(line)
        if note:
            parts = [p.strip() for p in re.split(r"[/,;]", note.group(1)) if p.strip()]
            names = parts if len(parts) == len(matrix) else None
        found = ({"matrix": matrix, "classes": names}, text.count("\n", 0, match.start()) + 1)
    return found


def find_confusion(root: Path, paths: Iterable[str]) -> dict[str, Any] | None:
    """The first confusion matrix among ``paths`` (JSON files first, then logs), with
    ``source`` (the path) and ``line`` where a log printed it."""
    ordered = sorted(paths, key=lambda p: (not p.lower().endswith(".json"), p))
    for rel in ordered:
        try:
            raw = (root / rel).read_bytes()[:MAX_BYTES].decode("utf-8", errors="replace")
        except OSError:
            continue
        if rel.lower().endswith(".json"):
            try:
                found = from_json(json.loads(raw))
            except (ValueError, RecursionError):
                found = None
            if found:
                return {**found, "source": rel, "line": None}
            continue
        if rel.lower().endswith(".ipynb"):
            continue  # outputs are read through the logs' notebook reader elsewhere
        hit = from_text(raw)
        if hit:
            return {**hit[0], "source": rel, "line": hit[1]}
    return None

"""Reading a committed Jupyter notebook as data: cells, sources and stored outputs.

What ``nbformat.reads(text, as_version=4)`` gives the checks, without nbformat's ten
dependencies (a student's install stays light; executing notebooks, an instructor's
feature, still uses nbformat through nbclient): the JSON is parsed, multi-line fields
(sources, stream text, text outputs) are joined into strings, and a format-3 notebook is
converted to the format-4 shape (worksheets -> cells, ``input`` -> ``source``, ``pyout`` ->
``execute_result``, ``pyerr`` -> ``error``, short output keys -> MIME types). The result is
a tree of dicts that also reads as attributes (``nb.cells``, ``cell.cell_type``), as
nbformat's ``NotebookNode`` does. Anything else raises ``NotebookError`` with the reason.
"""

from __future__ import annotations

import json
from typing import Any


class NotebookError(ValueError):
    """Not a readable notebook (invalid JSON, not a notebook, an unsupported format)."""


class Node(dict):
    """A dict whose keys also read as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


_V3_MIME = {
    "text": "text/plain", "html": "text/html", "svg": "image/svg+xml", "png": "image/png",
    "jpeg": "image/jpeg", "latex": "text/latex", "json": "application/json",
    "javascript": "application/javascript", "markdown": "text/markdown",
}  # fmt: skip
_V3_OUTPUT_TYPE = {"pyout": "execute_result", "pyerr": "error"}


def _text(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return value


def _node(value: Any) -> Any:
    if isinstance(value, dict):
        return Node({k: _node(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_node(v) for v in value]
    return value


def _output(raw: dict[str, Any], v3: bool) -> dict[str, Any]:
    output = dict(raw)
    if v3:
        output["output_type"] = _V3_OUTPUT_TYPE.get(
            output.get("output_type"), output.get("output_type")
        )
        if output["output_type"] == "stream":
            output["name"] = output.pop("stream", output.get("name", "stdout"))
        elif output["output_type"] in ("execute_result", "display_data"):
            data = {}
            for key in list(output):
                if key in _V3_MIME:
                    data[_V3_MIME[key]] = output.pop(key)
            output["data"] = data
            if "prompt_number" in output:
                output["execution_count"] = output.pop("prompt_number")
    if "text" in output:
        output["text"] = _text(output["text"])
    if isinstance(output.get("data"), dict):
        output["data"] = {
            mime: value if mime.endswith("json") else _text(value)
            for mime, value in output["data"].items()
        }
    if "traceback" in output and not isinstance(output["traceback"], list):
        output["traceback"] = [str(output["traceback"])]
    return output


def _cell(raw: Any, v3: bool) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise NotebookError(f"a cell is {type(raw).__name__}, not an object")
    cell = dict(raw)
    if v3:
        if cell.get("cell_type") == "code":
            cell["source"] = cell.pop("input", "")
            cell["execution_count"] = cell.pop("prompt_number", None)
        elif cell.get("cell_type") == "heading":
            level = int(cell.pop("level", 1) or 1)
            cell["cell_type"] = "markdown"
            cell["source"] = "#" * level + " " + _text(cell.get("source", ""))
    cell["source"] = _text(cell.get("source", ""))
    if not isinstance(cell["source"], str):
        raise NotebookError("a cell's source is neither text nor a list of lines")
    if cell.get("cell_type") == "code":
        outputs = cell.get("outputs", [])
        if not isinstance(outputs, list):
            raise NotebookError("a code cell's outputs are not a list")
        cell["outputs"] = [_output(o, v3) for o in outputs if isinstance(o, dict)]
    return cell


def read_notebook(text: str | bytes) -> Node:
    """The notebook in format-4 shape; raises NotebookError when it cannot be read."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise NotebookError(f"not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise NotebookError("not a notebook: no 'nbformat' key at the top level")
    version = data.get("nbformat")
    if version == 3:
        worksheets = data.get("worksheets") or [{}]
        raw_cells = [c for ws in worksheets if isinstance(ws, dict) for c in ws.get("cells", [])]
    elif version == 4:
        raw_cells = data.get("cells")
    else:
        raise NotebookError(f"notebook format {version!r} is not supported (3 or 4)")
    if not isinstance(raw_cells, list):
        raise NotebookError("not a notebook: 'cells' is not a list")
    cells = [_cell(c, version == 3) for c in raw_cells]
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return _node(
        {"nbformat": 4, "nbformat_minor": data.get("nbformat_minor", 0) if version == 4 else 0,
         "metadata": metadata, "cells": cells}
    )  # fmt: skip

"""Date ranges a submission's text states about its data ('daily data from 2010-01-01 to
2020-10-20', 'adatok 1901-2020 között'): shown to the human who decides on a table of
numbers that has no date column. Read from READMEs, Markdown files and notebooks
(Markdown cells and code comments)."""

from __future__ import annotations

import json
import re

from grader.checks.base import CheckContext
from grader.dates import find_date_matches

MAX_BYTES = 5_000_000
MAX_FOUND = 5
_YEAR_RANGE = re.compile(
    r"(?<!\d)(?:19|20)\d\d\s*(?:-|–|—|\.\.|to|until|and|és|tól|től)\s*(?:(?:19|20)\d\d)(?!\d)",
    re.IGNORECASE,
)


def _range_in(line: str) -> bool:
    full = [m for m in find_date_matches(line) if m.has_year]
    return len(full) >= 2 or bool(_YEAR_RANGE.search(line))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:159] + "…"


def _notebook_texts(raw: str) -> list[tuple[int, str]]:
    try:
        cells = json.loads(raw).get("cells", [])
    except (ValueError, AttributeError, RecursionError):
        return []
    texts = []
    for number, cell in enumerate(cells if isinstance(cells, list) else [], start=1):
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "code":
            source = "\n".join(ln.split("#", 1)[1] for ln in source.splitlines() if "#" in ln)
        texts.append((number, source))
    return texts


def stated_ranges(ctx: CheckContext) -> list[tuple[str, str]]:
    """(where, the line) for lines that state a range of dates or years, at most 5."""
    found: list[tuple[str, str]] = []
    for path in ctx.glob(["**/readme*", "**/*.md", "**/*.ipynb"]):
        file = ctx.path(path)
        if file.is_symlink() or not file.is_file() or file.stat().st_size > MAX_BYTES:
            continue
        raw = file.read_bytes().decode("utf-8", errors="replace")
        if path.lower().endswith(".ipynb"):
            places = [(f"{path}:cell {n}", text) for n, text in _notebook_texts(raw)]
            lines = [(where, line) for where, text in places for line in text.splitlines()]
        else:
            lines = [(f"{path}:{n}", line) for n, line in enumerate(raw.splitlines(), 1)]
        for where, line in lines:
            if _range_in(line):
                found.append((where, _short(line)))
                if len(found) >= MAX_FOUND:
                    return found
    return found

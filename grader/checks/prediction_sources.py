"""Where students state predictions: lines of text, CSV rows, JSON objects, notebooks, code.

Used by the ``predictions`` check. A value belongs to a date when it is on the same line,
CSV row or JSON object as the date, or on the line right after a line that is only the
date (``Okt. 28`` then ``[13.3697]``), or is the lone value a notebook cell prints when
the cell's code names that date (``# 2020.10.28 is sample 58`` then ``[12.138337]celsius``).
What a number is and is not: ``grader.checks.prediction_values``.

Every value found says where it came from (``kind``) and how much that place counts
(``tier``): statements (prediction files, notebook outputs, READMEs, text and data files,
Markdown cells) outrank comments in code.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from grader.checks.prediction_values import (
    NUMBER,
    Value,
    Wanted,
    decimals_of,
    label_pattern,
    label_values,
    lone_value,
    number_value,
    target_matches,
    values_on_line,
)
from grader.dates import find_date_matches, parse_date
from grader.ipynb import NotebookError, read_notebook

STATED, COMMENT = 0, 1  # tiers: a lower tier outranks a higher one

_PREFERRED_KEY = re.compile(r"pred|forecast|estim|becsl|jósl|előrejel", re.IGNORECASE)
_VALUE_KEY = re.compile(r"temp|celsius|°c|value|mean|avg|érték|hőm", re.IGNORECASE)
_AVOID_KEY = re.compile(
    r"observ|actual|true|real|measur|target|horizon|lead|step|ahead|index|^id$|days?$|mért",
    re.IGNORECASE,
)
# a label next to one of these words states a metric ('MAE 1 day: 1.9'), not a forecast
_METRIC = re.compile(r"mae|mse|error|loss|metric|accuracy|score|baseline|hiba", re.IGNORECASE)
_PROGRESS = re.compile(r"^\s*\d+/\d+\s*(?:\[|━)")  # a Keras progress bar ('1/1 [====] - 0s')
_COMMENT = {".py": "#", ".r": "#", ".sh": "#", ".lua": "--", ".m": "%"}


@dataclass
class Found:
    day: date
    value: float
    path: str
    line: int | None
    where: str
    context: str
    by_label: bool = False
    kind: str = "text"  # prediction file, notebook output, README, Markdown cell, comment, ...
    tier: int = STATED
    decimals: int | None = None

    def __post_init__(self) -> None:
        if self.decimals is None:
            self.decimals = decimals_of(repr(self.value)) if self.value % 1 else 0

    def agrees(self, other: Found) -> bool:
        """The same value, up to the rounding of the less precise of the two."""
        digits = min(self.decimals or 0, other.decimals or 0)
        return abs(self.value - other.value) <= 0.5 * 10**-digits + 1e-9


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 100 else text[:99] + "…"


# ---- text ---------------------------------------------------------------------------------


def from_text(
    path: str, text: str, args: Wanted, kind: str = "text", tier: int = STATED
) -> list[Found]:
    """Lines stating a target date and a value (the value on the same line, or alone on the
    next one); failing that, a label and its value."""
    found = []
    labels = [(label_pattern(args.label(i)), d) for i, d in enumerate(args.dates) if args.labels]
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        pairs: list[tuple[date, Value]] = values_on_line(line, args)
        at, context = number, line
        if not pairs:
            _, dated = target_matches(line, args)
            nxt = _next_line(lines, number)
            if len({m.value for m in dated}) == 1 and nxt is not None:
                value = lone_value(lines[nxt - 1], args)
                if value is not None and not target_matches(lines[nxt - 1], args)[1]:
                    pairs, context = [(dated[0].value, value)], f"{line} {lines[nxt - 1]}"
        by_label = not pairs and bool(labels) and not _METRIC.search(line)
        if by_label:
            pairs = label_values(line, labels, args)
        for day, value in pairs:
            where = f"{path}:{at}"
            found.append(Found(day, value.value, path, at, where, _short(context), by_label,
                               kind, tier, value.decimals))  # fmt: skip
    return found


def _next_line(lines: list[str], number: int) -> int | None:
    """The 1-based number of the next non-blank line after line ``number`` (within 2)."""
    for candidate in range(number + 1, min(number + 3, len(lines) + 1)):
        if lines[candidate - 1].strip():
            return candidate
    return None


def comments_of(text: str, marker: str = "#") -> str:
    """The comments of source code, one per line (code blanked; line numbers kept)."""
    out = []
    for line in text.splitlines():
        index = line.find(marker)
        out.append(line[index + len(marker) :] if index >= 0 else "")
    return "\n".join(out)


def from_code(path: str, text: str, args: Wanted) -> list[Found]:
    """The comments of a script: the lowest tier, outranked by any statement elsewhere."""
    marker = _COMMENT.get(path[path.rfind(".") :].lower(), "#")
    return from_text(path, comments_of(text, marker), args, "comment", COMMENT)


def is_code(path: str) -> bool:
    return path[path.rfind(".") :].lower() in _COMMENT


# ---- CSV ----------------------------------------------------------------------------------


def _cell_score(header: str) -> int:
    """How likely a column holds the prediction: 2 named so, 1 a temperature, -1 never."""
    if _PREFERRED_KEY.search(header):
        return 2
    if _AVOID_KEY.search(header):
        return -1
    return 1 if _VALUE_KEY.search(header) else 0


def _is_number(cell: str) -> bool:
    return NUMBER.fullmatch(cell.strip()) is not None


def _row_dates(cells: list[str], year: int, targets: set[date]) -> dict[int, date]:
    """Cells that are a date; a year-less numeric one ('10.28') only when no cell of the row
    is a date with a year or month name (else it is a number) and it is a target date."""
    whole = {}
    for index, cell in enumerate(cells):
        matches = find_date_matches(cell, year, prefer=targets)
        if len(matches) == 1 and matches[0].span == (0, len(cell)):
            whole[index] = matches[0]
    strong = any(not m.weak for m in whole.values())
    return {i: m.value for i, m in whole.items() if not (m.weak and strong)}


def from_csv(path: str, text: str, args: Wanted, kind: str = "text") -> list[Found]:
    """Rows of a CSV file: a target date in one cell, the value in a numeric cell (a
    column headed like 'prediction' or 'temperature' first; 'observed', 'horizon' never)."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        return from_text(path, text, args, kind)
    targets = set(args.dates)
    found: list[Found] = []
    header: list[str] | None = None
    seen_target = False
    reader = csv.reader(io.StringIO(text), dialect)
    for row in reader:
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        days = _row_dates(cells, args.years[0], targets)
        if header is None and not days and not any(_is_number(c) for c in cells):
            header = cells
            continue
        dated = [(i, d) for i, d in days.items() if d in targets]
        if not dated:
            continue
        seen_target = True
        col, day = dated[0]
        options = []
        for i, cell in enumerate(cells):
            if i in days or not _is_number(cell):
                continue
            score = _cell_score(header[i]) if header and i < len(header) else 0
            num = NUMBER.fullmatch(cell)["num"]
            value = number_value(num)
            if score >= 0 and args.min_celsius <= value <= args.max_celsius:
                decimal = "." in cell or "," in cell
                options.append((-score, not decimal, i < col, i, value, decimals_of(num)))
        if options:
            line = reader.line_num
            context = _short(dialect.delimiter.join(row))
            best = min(options)
            found.append(Found(day, best[4], path, line, f"{path}:{line}", context,
                               kind=kind, decimals=best[5]))  # fmt: skip
    return found if seen_target else from_text(path, text, args, kind)


# ---- JSON ---------------------------------------------------------------------------------


def _json_line(raw: str, needle: str) -> int | None:
    index = raw.find(json.dumps(needle, ensure_ascii=False))
    if index < 0:
        index = raw.find(json.dumps(needle))
    return raw.count("\n", 0, index) + 1 if index >= 0 else None


def from_json(path: str, raw: str, args: Wanted, kind: str = "text") -> list[Found]:
    """Date keys with numeric values, or objects holding a date and a number."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return from_text(path, raw, args, kind)
    targets = set(args.dates)
    found: list[Found] = []

    def numeric(value: Any) -> float | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str) and _is_number(value):
            number = number_value(NUMBER.fullmatch(value.strip())["num"])
        else:
            return None
        return number if args.min_celsius <= number <= args.max_celsius else None

    labels = [(label_pattern(args.label(i)), d) for i, d in enumerate(args.dates) if args.labels]

    def add(day: date, value: float, text: str, by_label: bool = False) -> None:
        line = _json_line(raw, text)
        where = f"{path}:{line}" if line else path
        found.append(Found(day, value, path, line, where, _short(text), by_label, kind))

    def walk(node: Any, context: tuple[date, str] | None, trail: str = "") -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, context, trail)
            return
        if not isinstance(node, dict):
            return
        own = None
        for key, value in node.items():
            key_day = parse_date(str(key), args.years[0])
            if key_day in targets:
                number = numeric(value)
                if number is not None:
                    add(key_day, number, str(key))
                else:
                    walk(value, (key_day, str(key)), f"{trail}/{key}")
            elif isinstance(value, str) and (day := parse_date(value, args.years[0])) in targets:
                own = own or (day, value)
            elif (number := numeric(value)) is not None:  # {"1 day": 9.4}
                for pattern, day in labels:
                    if pattern.fullmatch(str(key).strip()) and not _METRIC.search(trail):
                        add(day, number, str(key), by_label=True)
        context = own or context
        if context is None:
            for key, value in node.items():
                walk(value, None, f"{trail}/{key}")
            return
        options = []
        for index, (key, value) in enumerate(node.items()):
            number = numeric(value)
            score = _cell_score(str(key))
            if number is not None and score >= 0 and parse_date(str(key), args.years[0]) is None:
                options.append((-score, index, number))
        if options:
            add(context[0], min(options)[-1], context[1])
        for key, value in node.items():
            if isinstance(value, dict | list):
                walk(value, context if own is None else None, f"{trail}/{key}")

    with contextlib.suppress(RecursionError):  # pathologically deep: what was found so far
        walk(data, None)
    return found


# ---- notebooks ----------------------------------------------------------------------------


def _outputs(cell: Any) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            texts.append(str(output.get("text", "")))
        elif "text/plain" in output.get("data", {}):
            texts.append(str(output["data"]["text/plain"]))
    return texts


def _attributed(path: str, index: int, source: str, outputs: list[str], args: Wanted) -> list:
    """A cell whose code names target dates (in a comment or a string) and whose outputs
    print as many lone values and no date: the values, in order, for those dates."""
    named: list[date] = []
    for m in target_matches(source, args)[1]:
        if m.value not in named:
            named.append(m.value)
    lines = [line for text in outputs for line in text.splitlines()
             if re.search(r"\d", line) and not _PROGRESS.match(line)]  # fmt: skip
    if not named or any(target_matches(line, args)[1] for line in lines):
        return []
    values = [lone_value(line, args) for line in lines]
    values = [v for v in values if v is not None]
    if len(values) != len(named) or len(lines) != len(values):
        return []
    shown = {d: next(ln for ln in source.splitlines() if any(m.value == d for m in
                     target_matches(ln, args)[1])) for d in named}  # fmt: skip
    return [
        Found(day, value.value, path, None, f"{path}:cell {index}",
              _short(f"{lines[n]}  (its date from the cell's code: {shown[day].strip()})"),
              kind="notebook output", decimals=value.decimals)
        for n, (day, value) in enumerate(zip(named, values, strict=True))
    ]  # fmt: skip


def from_notebook(path: str, raw: str, args: Wanted) -> list[Found]:
    """Stored outputs (stream and text/plain) and Markdown cells of a notebook, and, as the
    lowest tier, the comments of its code cells."""
    try:
        nb = read_notebook(raw)
    except NotebookError:
        return []
    texts: list[tuple[int, str, str, int]] = []
    attributed: list[Found] = []
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "markdown":
            texts.append((index, str(cell.source), "Markdown cell", STATED))
        if cell.cell_type != "code":
            continue
        outputs = _outputs(cell)
        texts += [(index, text, "notebook output", STATED) for text in outputs]
        texts.append((index, comments_of(str(cell.source)), "comment", COMMENT))
        attributed += _attributed(path, index, str(cell.source), outputs, args)
    found = []
    for cell, text, kind, tier in texts:
        for item in from_text(path, text, args, kind, tier):
            snippet = json.dumps(text.splitlines()[item.line - 1], ensure_ascii=False)[1:-1]
            index = raw.find(snippet) if snippet.strip() else -1
            item.line = raw.count("\n", 0, index) + 1 if index >= 0 else None
            item.where = f"{path}:cell {cell}"
            found.append(item)
    return found + attributed

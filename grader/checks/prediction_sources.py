"""Where students state predictions: lines of text, CSV rows, JSON objects, notebooks.

Used by the ``predictions`` check. A value belongs to a date when it is on the same line,
CSV row or JSON object as the date (a number with an optional ``°C``; decimal commas
allowed; a number that is part of the date or of a horizon such as '7 days' never counts).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from grader.dates import find_date_matches, parse_date
from grader.ipynb import NotebookError, read_notebook


@dataclass(frozen=True)
class Wanted:
    """The dates to find, their labels and the plausible range of a value."""

    dates: tuple[date, ...]
    labels: tuple[str, ...] = ()
    min_celsius: float = -30.0
    max_celsius: float = 45.0

    def label(self, index: int) -> str:
        return self.labels[index] if self.labels else self.dates[index].isoformat()

    @property
    def years(self) -> list[int]:
        return sorted({d.year for d in self.dates})


_NUMBER = re.compile(
    r"(?<![\w.])(?P<num>[-+−]?\d{1,3}(?:\.\d+|,\d{1,3}(?![\d,]))?)(?![\d.]*\d)"
    r"(?P<unit>\s*(?:°\s*C|℃|°|celsius|fok|degrees?(?:\s*C)?|C)(?![a-z]))?",
    re.IGNORECASE,
)
_HORIZON = re.compile(
    r"(?:\bt\s*\+\s*)?\b\d+\s*[-‑]?\s*(?:days?|weeks?|months?|napos|nap|hetes|hét|hónapos|hónap|"
    r"d|w)(?![a-záéíóöőúüű])",
    re.IGNORECASE,
)
_PREFERRED_KEY = re.compile(r"pred|forecast|estim|becsl|jósl|előrejel", re.IGNORECASE)
_VALUE_KEY = re.compile(r"temp|celsius|°c|value|mean|avg|érték|hőm", re.IGNORECASE)
_AVOID_KEY = re.compile(
    r"observ|actual|true|real|measur|target|horizon|lead|step|ahead|index|^id$|days?$|mért",
    re.IGNORECASE,
)
# a label next to one of these words states a metric ('MAE 1 day: 1.9'), not a forecast
_METRIC = re.compile(r"mae|mse|error|loss|metric|accuracy|score|baseline|hiba", re.IGNORECASE)


@dataclass
class Found:
    day: date
    value: float
    path: str
    line: int | None
    where: str
    context: str
    by_label: bool = False


# ---- values on a line -----------------------------------------------------------------------


def _number(text: str) -> float:
    return float(text.replace("−", "-").replace(",", "."))


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _numbers(text: str, spans: list[tuple[int, int]], args: Wanted) -> list[tuple]:
    """(start, value, has_unit, has_decimal) for plausible temperatures outside ``spans``."""
    blanked = _blank(text, spans)
    blanked = _HORIZON.sub(lambda m: " " * len(m.group(0)), blanked)
    out = []
    for m in _NUMBER.finditer(blanked):
        value = _number(m["num"])
        if args.min_celsius <= value <= args.max_celsius:
            out.append((m.start(), value, bool(m["unit"]), bool(re.search(r"[.,]", m["num"]))))
    return out


def _pick(numbers: list[tuple], after: int) -> float | None:
    if not numbers:
        return None
    best = min(numbers, key=lambda n: (not n[2], not n[3], n[0] < after, abs(n[0] - after)))
    return best[1]


def values_on_line(text: str, args: Wanted) -> list[tuple[date, float]]:
    """The (target date, value) pairs a line of text states."""
    targets = set(args.dates)
    matches = {}
    for year in args.years:
        for m in find_date_matches(text, year, prefer=targets):
            matches.setdefault(m.span, m)
    all_spans = list(matches)
    dated = sorted((m for m in matches.values() if m.value in targets), key=lambda m: m.span)
    pairs = []
    every = _numbers(text, all_spans, args) if dated else []
    for index, m in enumerate(dated):
        numbers = every
        end = dated[index + 1].span[0] if index + 1 < len(dated) else len(text)
        start = dated[index - 1].span[1] if index else 0
        if len(dated) > 1:  # several dates on a line: a value sits after its date, else before
            following = [n for n in numbers if m.span[1] <= n[0] < end]
            numbers = following or [n for n in numbers if start <= n[0] < m.span[0]]
        value = _pick(numbers, m.span[1])
        if value is not None:
            pairs.append((m.value, value))
    return pairs


def _label_pattern(label: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in re.split(r"[\s_-]+", label.strip()) if w]
    return re.compile(r"(?<!\w)" + r"[\s_-]*".join(words) + r"(?!\w)", re.IGNORECASE)


# ---- sources ------------------------------------------------------------------------------


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 100 else text[:99] + "…"


def _by_label(line: str, labels: list[tuple[re.Pattern[str], date]], args: Wanted) -> list:
    """(date, value) for 'label: value' pairs: the value is the next thing after its label
    (within 40 characters), never a number of some other date or label."""
    tokens: list[tuple[int, int, date | None, float | None]] = []
    spans = [m.span for m in find_date_matches(line, args.years[0], prefer=args.dates)]
    for pattern, day in labels:
        for match in pattern.finditer(line):
            tokens.append((match.start(), match.end(), day, None))
            spans.append(match.span())
    if not tokens:
        return []
    tokens += [(start, start, None, value) for start, value, *_ in _numbers(line, spans, args)]
    tokens.sort(key=lambda t: t[0])
    pairs = []
    for here, after in zip(tokens, tokens[1:], strict=False):
        if here[2] is not None and after[3] is not None and after[0] - here[1] <= 40:
            pairs.append((here[2], after[3]))
    return pairs


def from_text(path: str, text: str, args: Wanted) -> list[Found]:
    """Lines stating a target date and a value; failing that, a label and a value."""
    found = []
    labels = [(_label_pattern(args.label(i)), d) for i, d in enumerate(args.dates) if args.labels]
    for number, line in enumerate(text.splitlines(), start=1):
        pairs = values_on_line(line, args)
        by_label = not pairs and bool(labels) and not _METRIC.search(line)
        if by_label:
            pairs = _by_label(line, labels, args)
        for day, value in pairs:
            where = f"{path}:{number}"
            found.append(Found(day, value, path, number, where, _short(line), by_label))
    return found


def _cell_score(header: str) -> int:
    """How likely a column holds the prediction: 2 named so, 1 a temperature, -1 never."""
    if _PREFERRED_KEY.search(header):
        return 2
    if _AVOID_KEY.search(header):
        return -1
    return 1 if _VALUE_KEY.search(header) else 0


def _is_number(cell: str) -> bool:
    return _NUMBER.fullmatch(cell.strip()) is not None


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


def from_csv(path: str, text: str, args: Wanted) -> list[Found]:
    """Rows of a CSV file: a target date in one cell, the value in a numeric cell (a
    column headed like 'prediction' or 'temperature' first; 'observed', 'horizon' never)."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        return from_text(path, text, args)
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
            value = _number(_NUMBER.fullmatch(cell)["num"])
            if score >= 0 and args.min_celsius <= value <= args.max_celsius:
                decimal = "." in cell or "," in cell
                options.append((-score, not decimal, i < col, i, value))
        if options:
            line = reader.line_num
            context = _short(dialect.delimiter.join(row))
            found.append(Found(day, min(options)[-1], path, line, f"{path}:{line}", context))
    return found if seen_target else from_text(path, text, args)


def _json_line(raw: str, needle: str) -> int | None:
    index = raw.find(json.dumps(needle, ensure_ascii=False))
    if index < 0:
        index = raw.find(json.dumps(needle))
    return raw.count("\n", 0, index) + 1 if index >= 0 else None


def from_json(path: str, raw: str, args: Wanted) -> list[Found]:
    """Date keys with numeric values, or objects holding a date and a number."""
    try:
        data = json.loads(raw)
    except ValueError:
        return from_text(path, raw, args)
    targets = set(args.dates)
    found: list[Found] = []

    def numeric(value: Any) -> float | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str) and _is_number(value):
            number = _number(_NUMBER.fullmatch(value.strip())["num"])
        else:
            return None
        return number if args.min_celsius <= number <= args.max_celsius else None

    labels = [(_label_pattern(args.label(i)), d) for i, d in enumerate(args.dates) if args.labels]

    def add(day: date, value: float, text: str, by_label: bool = False) -> None:
        line = _json_line(raw, text)
        where = f"{path}:{line}" if line else path
        found.append(Found(day, value, path, line, where, _short(text), by_label))

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

    walk(data, None)
    return found


def from_notebook(path: str, raw: str, args: Wanted) -> list[Found]:
    """Stored outputs (stream and text/plain) and Markdown cells of a notebook."""
    try:
        nb = read_notebook(raw)
    except NotebookError:
        return []
    texts: list[tuple[int, str]] = []
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "markdown":
            texts.append((index, str(cell.source)))
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "stream":
                texts.append((index, str(output.get("text", ""))))
            elif "text/plain" in output.get("data", {}):
                texts.append((index, str(output["data"]["text/plain"])))
    found = []
    for cell, text in texts:
        for item in from_text(path, text, args):
            snippet = json.dumps(text.splitlines()[item.line - 1], ensure_ascii=False)[1:-1]
            index = raw.find(snippet) if snippet.strip() else -1
            item.line = raw.count("\n", 0, index) + 1 if index >= 0 else None
            item.where = f"{path}:cell {cell}"
            found.append(item)
    return found

"""Tables of data as students commit them, read as rows of text cells.

``read_rows(path, name)`` reads CSV, TSV and plain text (the delimiter sniffed: ``,``
``;`` tab, else blanks), XLSX (the first sheet with rows; needs ``openpyxl``, an optional
dependency: without it the file is reported as unread, never guessed), JSON (a list of
records, columns as lists, pandas' ``to_json`` shapes, ``{date: value}``) and ``.npy``
arrays (numpy, no pickles). Each row keeps where it came from: a line of a text file, a
row of a sheet, a record of a JSON file, an index of an array.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

MAX_ROWS = 1_000_000
MAX_XLSX_UNPACKED = 200_000_000  # bytes a workbook may unpack to (a zip bomb is refused)
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")
TABLE_SUFFIXES = (*TEXT_SUFFIXES, ".xlsx", ".json", ".npy")


@dataclass
class TableRows:
    """Rows of text cells with their place (``unit`` 'line', 'row', 'record' or 'index'),
    or a ``problem`` saying why the file could not be read."""

    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    unit: str = "line"
    has_header: bool = False  # the first row names the columns (JSON keys, array fields)
    problem: str = ""
    unread: bool = False  # readable in principle, but a library it needs is missing


def read_rows(path: Path, name: str | None = None) -> TableRows:
    """The rows of one data file (by its suffix); never raises for a bad file."""
    suffix = Path(name or path.name).suffix.lower()
    try:
        if suffix == ".xlsx":
            return _xlsx(path)
        if suffix == ".npy":
            return _npy(path)
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        if suffix == ".json":
            return _json(text)
        return text_rows(text)
    except MemoryError:
        return TableRows(problem="not readable: too large to read")
    except Exception as exc:  # an untrusted file: numpy, openpyxl and json raise many types
        return TableRows(problem=f"not readable: {type(exc).__name__}: {str(exc)[:160]}")


# ---- text ---------------------------------------------------------------------------------


def _delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits the first lines into the same number of columns (the most
    columns wins: ``2020;10;21;10,5`` is four columns, not two); None for blanks."""
    sample = lines[:50]
    best, best_width = None, 1
    for delimiter in (",", ";", "\t", "|"):
        widths = [len(next(csv.reader([line], delimiter=delimiter), [])) for line in sample]
        common = max(set(widths), key=widths.count)
        if widths.count(common) >= 0.9 * len(widths) and common > best_width:
            best, best_width = delimiter, common
    if best is None and not any(d in line for line in sample for d in ",;\t|"):
        return None
    return best or max(",;\t", key="\n".join(sample).count)


def text_rows(text: str) -> TableRows:
    """Lines of a CSV/TSV/text file as cells ('#' comment lines and blank lines skipped)."""
    numbered = [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ][:MAX_ROWS]
    if not numbered:
        return TableRows(problem="empty (no data lines)")
    delimiter = _delimiter([line for _, line in numbered])
    if delimiter is None:
        return TableRows([(n, _split_blanks(line)) for n, line in numbered])
    rows = [(n, next(csv.reader([line], delimiter=delimiter), [])) for n, line in numbered]
    return TableRows([(n, [c.strip() for c in cells]) for n, cells in rows])


def _split_blanks(line: str) -> list[str]:
    """Cells separated by blanks; a date and a time ('2020-10-21 00:00:00') stay one cell."""
    cells = line.split()
    joined: list[str] = []
    for cell in cells:
        if joined and re.fullmatch(r"\d{1,2}:\d{2}(?::\d{2})?", cell) and "-" in joined[-1]:
            joined[-1] += " " + cell
        else:
            joined.append(cell)
    return joined


# ---- XLSX ---------------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _xlsx(path: Path) -> TableRows:
    try:
        import openpyxl
    except ImportError:
        return TableRows(problem="an Excel workbook; reading it needs openpyxl (pip install "
                         "openpyxl), which is not installed", unread=True)  # fmt: skip
    with zipfile.ZipFile(path) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_UNPACKED:
            return TableRows(problem="an Excel workbook that unpacks to over 200 MB")
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            rows = []
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = [_cell_text(v).strip() for v in values]
                if any(cells):
                    rows.append((number, cells))
                if len(rows) >= MAX_ROWS:
                    break
            if rows:
                return TableRows(rows, "row")
    finally:
        book.close()
    return TableRows(problem="an Excel workbook without rows")


# ---- JSON ---------------------------------------------------------------------------------


def _records(header: list[str], records: list[dict]) -> TableRows:
    rows = [(0, list(header))]
    rows += [(n, [_cell_text(r.get(k)) for k in header]) for n, r in enumerate(records, 1)]
    return TableRows(rows[: MAX_ROWS + 1], "record", has_header=True)


def _columns(data: dict) -> TableRows | None:
    """{'date': [...], 'temp': [...]} or pandas' {'date': {'0': ...}, 'temp': {'0': ...}}."""
    if not data or not all(isinstance(v, list | dict) for v in data.values()):
        return None
    lists = {k: (list(v.values()) if isinstance(v, dict) else v) for k, v in data.items()}
    length = len(next(iter(lists.values())))
    if length == 0 or any(len(v) != length for v in lists.values()):
        return None
    if any(isinstance(x, dict | list) for v in lists.values() for x in v[:50]):
        return None
    header = list(lists)
    rows = [(0, header)] + [(n + 1, [_cell_text(lists[k][n]) for k in header])
                            for n in range(min(length, MAX_ROWS))]  # fmt: skip
    return TableRows(rows, "record", has_header=True)


def _table_in(data: Any, depth: int = 0) -> TableRows | None:
    if isinstance(data, list) and data:
        if all(isinstance(r, dict) for r in data[:50]):
            header: list[str] = []
            for record in data[:500]:
                header += [str(k) for k in record if str(k) not in header]
            return _records(header, [r for r in data if isinstance(r, dict)])
        if all(isinstance(r, list) for r in data[:50]):
            return TableRows([(n, [_cell_text(c) for c in r]) for n, r in
                              enumerate(data[:MAX_ROWS], 1)], "record")  # fmt: skip
    if not isinstance(data, dict) or not data:
        return None
    if all(not isinstance(v, dict | list) for v in data.values()):  # {date: value}
        pairs = [(n, [str(k), _cell_text(v)]) for n, (k, v) in enumerate(data.items(), 1)]
        return TableRows(pairs[:MAX_ROWS], "record")
    table = _columns(data)
    if table is not None:
        return table
    if depth < 2:  # {"daily": {"time": [...], ...}}, {"data": [...]}: the largest table inside
        inner = [t for v in data.values() if (t := _table_in(v, depth + 1)) is not None]
        if inner:
            return max(inner, key=lambda t: len(t.rows))
    return None


def _json(text: str) -> TableRows:
    data = json.loads(text)
    table = _table_in(data)
    return table if table is not None else TableRows(problem="JSON without a table in it")


# ---- numpy --------------------------------------------------------------------------------


def _npy(path: Path) -> TableRows:
    try:
        import numpy as np
    except ImportError:
        return TableRows(problem="a numpy array; reading it needs numpy", unread=True)
    array = np.load(path, allow_pickle=False, mmap_mode="r")
    if array.ndim == 0 or array.ndim > 2:
        return TableRows(problem=f"a {array.ndim}-dimensional array, not a table")
    rows: list[tuple[int, list[str]]] = []
    if array.dtype.names:  # a structured array: its fields are the columns
        names = list(array.dtype.names)
        rows.append((0, names))
        for index, record in enumerate(array[:MAX_ROWS]):
            rows.append((index, [_npy_cell(record[n]) for n in names]))
        return TableRows(rows, "index", has_header=True)
    for index, item in enumerate(array[:MAX_ROWS]):
        cells = [_npy_cell(x) for x in item] if array.ndim == 2 else [_npy_cell(item)]
        rows.append((index, cells))
    return TableRows(rows, "index")


def _npy_cell(value: Any) -> str:
    text = str(value)
    if "T" in text and re.match(r"\d{4}-\d\d-\d\d", text):  # numpy datetime64
        return text.replace("T", " ")
    return text

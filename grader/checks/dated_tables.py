"""A table read as dated rows: which column holds the dates, which hold numbers.

The date column is found by content, never by its name: the column where most values read
as full dates (``grader.dates.parse_date``: ``2020-10-21``, ``'2019-09-01'``,
``2020.10.21``, ``2020-10-21 00:00:00``, ``21.10.2020``, ``20201021``), else
``year``/``month``/``day`` columns (by their header, or three integer columns that read
as a year, a month and a day), else Unix timestamps (seconds or milliseconds, read in the
assignment's time zone). A header row is optional. Rows may come in any order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from grader.checks.data_tables import TableRows, text_rows
from grader.dates import parse_date

SAMPLE_ROWS = 500
_YMD_NAMES = {
    "year": ("year", "yyyy", "év", "ev"),
    "month": ("month", "mm", "hónap", "honap", "hó"),
    "day": ("day", "dd", "nap"),
}
_SECONDS = (-2_208_988_800, 2_051_222_400)  # 1900-01-01 .. 2035-01-01 as Unix seconds

Reader = Callable[[list[str]], date | None]


@dataclass
class ParsedTable:
    """One table as dated rows: (place, date) per row, the numeric columns, and what did
    not parse; ``problem`` says why it is not a dated table (``numeric_columns`` and
    ``data_rows`` are still filled for a table of numbers without dates)."""

    path: str
    date_column: str | None = None
    rows: list[tuple[int, date]] = field(default_factory=list)
    junk: list[int] = field(default_factory=list)
    problem: str = ""
    numeric_columns: list[str] = field(default_factory=list)
    data_rows: int = 0
    header: list[str] = field(default_factory=list)
    unit: str = "line"
    unread: bool = False

    @property
    def first_date(self) -> date | None:
        return min(d for _, d in self.rows) if self.rows else None

    @property
    def last_date(self) -> date | None:
        return max(d for _, d in self.rows) if self.rows else None


def _float(cell: str) -> float | None:
    text = cell.strip().strip("\"'").replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def _timestamp_scale(cells: list[str]) -> int | None:
    """1 for a column of Unix seconds, 1000 for milliseconds, None for anything else: whole
    numbers between 1900 and 2035 that step by a minute or more (an index steps by 1)."""
    numbers = [n for c in cells if (n := _float(c)) is not None]
    if len(numbers) < 2 or len(numbers) < 0.9 * len(cells) or any(n % 1 for n in numbers):
        return None
    scale = 1000 if max(abs(n) for n in numbers) > 1e11 else 1
    if not all(_SECONDS[0] <= n / scale < _SECONDS[1] for n in numbers):
        return None
    steps = sorted(abs(b - a) for a, b in zip(numbers, numbers[1:], strict=False))
    return scale if steps[len(steps) // 2] >= 60 * scale else None


def _timestamp(cell: str, scale: int, tz: tzinfo | None) -> date | None:
    value = _float(cell)
    if value is None or not _SECONDS[0] <= value / scale < _SECONDS[1]:
        return None
    return datetime.fromtimestamp(value / scale, tz).date()


def _ymd_by_name(header: list[str]) -> tuple[int, int, int] | None:
    names = [h.strip().lower() for h in header]
    found = []
    for part in ("year", "month", "day"):
        index = next((i for i, n in enumerate(names) if n in _YMD_NAMES[part]), None)
        if index is None:
            return None
        found.append(index)
    return found[0], found[1], found[2]


def _ymd(cells: list[str], columns: tuple[int, int, int]) -> date | None:
    try:
        year, month, day = (int(float(cells[i])) for i in columns)
        return date(year, month, day) if 1800 <= year <= 2100 else None
    except (ValueError, IndexError):
        return None


def _ymd_by_content(sample: list[list[str]], width: int) -> tuple[int, int, int] | None:
    for start in range(width - 2):
        columns = (start, start + 1, start + 2)
        if sum(_ymd(cells, columns) is not None for cells in sample) >= 0.9 * len(sample):
            return columns
    return None


def _is_header(cells: list[str]) -> bool:
    """A first row of names: no date in it and mostly not numbers."""
    filled = [c for c in cells if c.strip()]
    if not filled or any(parse_date(c) for c in filled):
        return False
    return sum(_float(c) is not None for c in filled) * 2 < len(filled)


def _name(header: list[str], index: int) -> str:
    named = index < len(header) and header[index].strip()
    return header[index].strip() if named else f"column {index + 1}"


def _date_reader(
    header: list[str], sample: list[list[str]], width: int, tz: tzinfo | None
) -> tuple[Reader, str, set[int]] | None:
    """How to read a row's date, the date column's name and the columns it uses."""
    counts = [sum(1 for c in sample if i < len(c) and parse_date(c[i])) for i in range(width)]
    best = max(range(width), key=lambda i: counts[i])
    if counts[best] and counts[best] * 2 >= len(sample):
        return (lambda cells: parse_date(cells[best]) if best < len(cells) else None,
                _name(header, best), {best})  # fmt: skip
    ymd = _ymd_by_name(header) if header else None
    ymd = ymd or _ymd_by_content(sample, width)
    if ymd is not None:
        return (lambda cells: _ymd(cells, ymd), "+".join(_name(header, i) for i in ymd),
                set(ymd))  # fmt: skip
    for index in range(width):
        scale = _timestamp_scale([c[index] if index < len(c) else "" for c in sample])
        if scale is not None:

            def read(cells: list[str], i: int = index, k: int = scale) -> date | None:
                return _timestamp(cells[i], k, tz) if i < len(cells) else None

            return read, f"{_name(header, index)} (Unix time)", {index}
    return None


def analyse(path: str, table: TableRows, tz: tzinfo | None = None) -> ParsedTable:
    """Read rows of cells as dated rows (see the module's docstring)."""
    parsed = ParsedTable(path, unit=table.unit, unread=table.unread)
    if table.problem:
        parsed.problem = table.problem
        return parsed
    rows = table.rows
    header: list[str] = []
    if rows and (table.has_header or _is_header(rows[0][1])):
        header, rows = rows[0][1], rows[1:]
    parsed.header, parsed.data_rows = header, len(rows)
    if not rows:
        parsed.problem = "no data rows"
        return parsed
    sample = [cells for _, cells in rows[:SAMPLE_ROWS]]
    width = max(len(cells) for cells in sample)
    found = _date_reader(header, sample, width, tz)
    used = found[2] if found else set()
    parsed.numeric_columns = [
        _name(header, i) for i in range(width) if i not in used
        and sum(1 for c in sample if i < len(c) and _float(c[i]) is not None) >= 0.8 * len(sample)
    ]  # fmt: skip
    if found is None:
        parsed.problem = "no column of dates (e.g. 2020-10-27), no year/month/day columns"
        return parsed
    read, parsed.date_column, _ = found
    for number, cells in rows:
        day = read(cells)
        if day is not None:
            parsed.rows.append((number, day))
        else:
            parsed.junk.append(number)
    if not parsed.numeric_columns:
        parsed.problem = f"dates in {parsed.date_column} but no column of numbers"
    return parsed


def parse_table(path: str, text: str, tz: tzinfo | None = None) -> ParsedTable:
    """A CSV/TSV/text file's content read as dated rows."""
    return analyse(path, text_rows(text), tz)

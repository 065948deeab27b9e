"""`training_data`: the training data is committed, dated, and stops before the deadline.

Each candidate CSV is parsed on its own: the delimiter (``,`` ``;`` or tab) is sniffed, a
header is optional, and the date column is the one where most values read as full dates
(``grader.dates.parse_date``: ``2020-10-27``, ``27.10.2020``, ``20201027``, a time after
the date allowed), or ``year``/``month``/``day`` columns. Comment lines (``#``) are
skipped; other lines that do not parse are tolerated and reported.

A date after ``max_date`` (the deadline's local date by default) is future data the
model could not have had: leakage, which fails the check, naming the first such row.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import Field

from grader.checks.base import Args, Check, CheckContext
from grader.dates import parse_date
from grader.results import CheckOutcome, Evidence, Status

MAX_BYTES = 100_000_000
SAMPLE_ROWS = 500
_YMD_NAMES = {
    "year": ("year", "yyyy", "év", "ev"),
    "month": ("month", "mm", "hónap", "honap", "hó"),
    "day": ("day", "dd", "nap"),
}


class TrainingDataArgs(Args):
    files: list[str] = Field(
        default_factory=lambda: [
            "**/*train*.csv",
            "**/*training*.csv",
            "**/data/*.csv",
            "**/*weather*.csv",
            "**/*temperature*.csv",
        ],  # fmt: skip
        description="globs of training data files",
    )
    exclude: list[str] = Field(
        default_factory=lambda: ["**/*prediction*", "**/*forecast*", "**/*observation*"],
        description="globs never read as training data",
    )
    max_date: Literal["deadline"] | date = Field(
        "deadline", description="the last date allowed in the data ('deadline': its local date)"
    )
    min_rows: int = Field(30, ge=1, description="dated rows a file needs to count")


@dataclass
class ParsedTable:
    """One CSV file read as dated rows: (line number, date) per row, and what did not parse."""

    path: str
    date_column: str | None = None
    rows: list[tuple[int, date]] = field(default_factory=list)
    junk: list[int] = field(default_factory=list)
    problem: str = ""

    @property
    def first_date(self) -> date | None:
        return min(d for _, d in self.rows) if self.rows else None

    @property
    def last_date(self) -> date | None:
        return max(d for _, d in self.rows) if self.rows else None


def _delimiter(lines: list[str]) -> str:
    sample = "\n".join(lines[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:  # a single column, or too irregular: the most frequent candidate
        return max(",;\t", key=sample.count)


def _ymd_columns(header: list[str]) -> tuple[int, int, int] | None:
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
        return date(*(int(float(cells[i])) for i in columns))
    except (ValueError, IndexError):
        return None


def parse_table(path: str, text: str) -> ParsedTable:
    """Read a data file as dated rows; ``problem`` says why it could not be."""
    table = ParsedTable(path)
    numbered = [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        table.problem = "empty (no data lines)"
        return table
    delimiter = _delimiter([line for _, line in numbered])
    rows = [(n, next(csv.reader([line], delimiter=delimiter), [])) for n, line in numbered]
    sample = rows[:SAMPLE_ROWS]
    width = max(len(cells) for _, cells in sample)
    counts = [sum(1 for _, c in sample if i < len(c) and parse_date(c[i])) for i in range(width)]
    best = max(range(width), key=lambda i: counts[i])
    header = rows[0][1]
    ymd = _ymd_columns(header)
    if counts[best] * 2 >= len(sample) - 1 and counts[best]:

        def read(cells: list[str]) -> date | None:
            return parse_date(cells[best]) if best < len(cells) else None

        named = best < len(header) and not parse_date(header[best]) and header[best].strip()
        table.date_column = header[best].strip() if named else f"column {best + 1}"
    elif ymd is not None:

        def read(cells: list[str]) -> date | None:
            return _ymd(cells, ymd)

        table.date_column = "+".join(header[i].strip() for i in ymd)
    else:
        table.problem = "no column of dates (e.g. 2020-10-27) and no year/month/day columns"
        return table
    for index, (number, cells) in enumerate(rows):
        day = read(cells)
        if day is not None:
            table.rows.append((number, day))
        elif index > 0:  # the first line without a date is the header
            table.junk.append(number)
    return table


def _max_date(ctx: CheckContext, args: TrainingDataArgs) -> date:
    if args.max_date != "deadline":
        return args.max_date
    spec = ctx.spec
    deadline = spec.milestone_deadline(ctx.check.milestone) if ctx.check.milestone else None
    # the assignment's own deadline, not a personal extension: data about the predicted
    # days is leakage whenever the student submits
    return (deadline or spec.deadline_at).date()


class TrainingDataCheck(Check):
    title = "Training data, without future dates"
    Args = TrainingDataArgs

    def run(self, ctx: CheckContext, args: TrainingDataArgs) -> CheckOutcome:
        paths = ctx.glob(args.files, exclude=args.exclude)
        limit = _max_date(ctx, args)
        base_facts = {"files": [], "leakage": [], "max_date": limit.isoformat()}
        if not paths:
            return CheckOutcome(
                Status.FAIL,
                f"no training data file found (looked for {', '.join(args.files)})",
                facts=base_facts,
            )
        evidence: list[Evidence] = []
        facts_files, leaks, usable = [], [], []
        for path in paths:
            file = ctx.path(path)
            if file.is_symlink() or not file.is_file() or file.stat().st_size > MAX_BYTES:
                evidence.append(Evidence(path, "skipped", "not a regular file, or over 100 MB"))
                continue
            table = parse_table(path, file.read_bytes().decode("utf-8", errors="replace"))
            if table.problem:
                evidence.append(Evidence(path, "not_dated", f"not read as dated rows: {table.problem}"))  # fmt: skip
                continue
            first, last = table.first_date, table.last_date
            facts_files.append(
                {"path": path, "rows": len(table.rows), "date_column": table.date_column,
                 "first_date": first.isoformat() if first else None,
                 "last_date": last.isoformat() if last else None, "junk_lines": len(table.junk)}
            )  # fmt: skip
            junk = ""
            if table.junk:
                shown = ", ".join(str(n) for n in table.junk[:5])
                more = f" (+{len(table.junk) - 5} more)" if len(table.junk) > 5 else ""
                junk = f"; {len(table.junk)} line(s) without a date skipped: {shown}{more}"
            after = [(n, d) for n, d in table.rows if d > limit]
            if after:
                line, day = after[0]
                leaks.append({"path": path, "line": line, "date": day.isoformat(),
                              "rows_after": len(after)})  # fmt: skip
                evidence.append(
                    Evidence(
                        path, "leakage",
                        f"{len(after)} row(s) dated after {limit.isoformat()}, the first at line "
                        f"{line} ({day.isoformat()}); data runs to {last.isoformat()}: future "
                        "data the model could not have had when predicting",
                        line,
                    )
                )  # fmt: skip
                continue
            if len(table.rows) < args.min_rows:
                evidence.append(
                    Evidence(path, "too_few_rows", f"{len(table.rows)} dated row(s), "
                             f"{args.min_rows} needed to count as training data{junk}")
                )  # fmt: skip
                continue
            usable.append(path)
            evidence.append(
                Evidence(
                    path, "training_data",
                    f"{len(table.rows)} rows dated {first.isoformat()} .. {last.isoformat()} "
                    f"(date column: {table.date_column}){junk}",
                )
            )  # fmt: skip
        facts = {**base_facts, "files": facts_files, "leakage": leaks}
        if leaks:
            where = ", ".join(f"{leak['path']}:{leak['line']} ({leak['date']})" for leak in leaks)
            return CheckOutcome(
                Status.FAIL,
                f"training data runs past {limit.isoformat()} (future data): {where}",
                evidence,
                facts,
            )
        if not usable:
            return CheckOutcome(
                Status.FAIL,
                f"no file read as training data with at least {args.min_rows} dated rows "
                f"(looked at {', '.join(paths[:5])})",
                evidence,
                facts,
            )
        return CheckOutcome(
            Status.PASS,
            f"training data in {', '.join(usable)}, nothing after {limit.isoformat()}",
            evidence,
            facts,
        )

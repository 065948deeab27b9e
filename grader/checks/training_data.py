"""`training_data`: the training data is committed, dated, and stops before the deadline.

Training data is found by its content, not its name (real files are called ``data.csv``,
``2019_learn_data.csv``, ``budapest_wheather_data.csv``, ...): every committed table
(CSV, TSV, text, XLSX, JSON, ``.npy``; ``grader.checks.data_tables``) with a date column
and a column of numbers is a candidate (``grader.checks.dated_tables``); the ``files``
globs only put some first. A candidate with at least ``min_rows`` dated rows is training
data; the report gives each file's date range and its verdict against the deadline.

A date after ``max_date`` (the deadline's local date by default) is future data the
model could not have had: leakage, which fails the check, naming the first such row.
A table of numbers without any date column cannot be judged: ``manual``, with its row
count and the date ranges the README or the notebooks state. So is a workbook that
cannot be read without ``openpyxl``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from grader.checks.base import Args, Check, CheckContext
from grader.checks.data_tables import TABLE_SUFFIXES, read_rows
from grader.checks.dated_tables import ParsedTable, analyse
from grader.checks.stated_ranges import stated_ranges
from grader.results import CheckOutcome, Evidence, Status, is_grader_output
from grader.tree import matches

MAX_BYTES = 100_000_000
_DATA_WORDS = re.compile(
    r"train|learn|tanit|tanít|data|adat|weather|wheather|idojaras|időjárás|temp|homerseklet|"
    r"hőmérséklet|tuning|budapest|meteo|history|histor",
    re.IGNORECASE,
)
_NOT_DATA = re.compile(r"\b(?:epoch|loss|val_loss|accuracy)\b", re.IGNORECASE)


class TrainingDataArgs(Args):
    files: list[str] = Field(
        default_factory=lambda: [
            "**/*train*",
            "**/*learn*",
            "**/data/**",
            "**/*data*",
            "**/*weather*",
            "**/*wheather*",
            "**/*temperature*",
        ],  # fmt: skip
        description="globs of likely training data: looked at first (every table counts)",
    )
    exclude: list[str] = Field(
        default_factory=lambda: [
            "**/*prediction*",
            "**/*forecast*",
            "**/*observation*",
            "**/requirements*.txt",
        ],  # fmt: skip
        description="globs never read as training data",
    )
    max_date: Literal["deadline"] | date = Field(
        "deadline", description="the last date allowed in the data ('deadline': its local date)"
    )
    min_rows: int = Field(30, ge=1, description="dated rows a file needs to count")
    max_files: int = Field(60, ge=1, description="tables read at most (the likeliest first)")


def _max_date(ctx: CheckContext, args: TrainingDataArgs) -> date:
    if args.max_date != "deadline":
        return args.max_date
    spec = ctx.spec
    deadline = spec.milestone_deadline(ctx.check.milestone) if ctx.check.milestone else None
    # the assignment's own deadline, not a personal extension: data about the predicted
    # days is leakage whenever the student submits
    return (deadline or spec.deadline_at).date()


def candidates(ctx: CheckContext, args: TrainingDataArgs) -> list[str]:
    """Committed tables, the likeliest first: the ``files`` globs, then data-like names."""
    tables = [p for p in ctx.files() if p.lower().endswith(TABLE_SUFFIXES)]
    tables = [p for p in tables if not matches(p, args.exclude)]

    def rank(path: str) -> tuple[int, int, str]:
        named = matches(path, args.files)
        return (0 if named else 1, 0 if _DATA_WORDS.search(path) else 1, path)

    return sorted(tables, key=rank)[: args.max_files]


def _place(table: ParsedTable, number: int) -> str:
    return f"{table.unit} {number}"


def _junk(table: ParsedTable) -> str:
    if not table.junk:
        return ""
    shown = ", ".join(str(n) for n in table.junk[:5])
    more = f" (+{len(table.junk) - 5} more)" if len(table.junk) > 5 else ""
    return f"; {len(table.junk)} {table.unit}(s) without a date skipped: {shown}{more}"


def _is_own_output(path: str, raw: bytes) -> bool:
    """The grader's own output (any format), whatever the file is called."""
    if path.lower().endswith((".xlsx", ".npy", ".npz")):
        return False
    return is_grader_output(raw.decode("utf-8", errors="replace"))


class TrainingDataCheck(Check):
    title = "Training data, without future dates"
    Args = TrainingDataArgs

    def run(self, ctx: CheckContext, args: TrainingDataArgs) -> CheckOutcome:
        paths = candidates(ctx, args)
        limit = _max_date(ctx, args)
        tz = ZoneInfo(ctx.spec.timezone)
        evidence: list[Evidence] = []
        files, leaks, usable, undated, unread = [], [], [], [], []
        for path in paths:
            file = ctx.path(path)
            if file.is_symlink() or not file.is_file() or file.stat().st_size > MAX_BYTES:
                evidence.append(Evidence(path, "skipped", "not a regular file, or over 100 MB"))
                continue
            if _is_own_output(path, file.read_bytes()):
                continue  # the grader's own result, redirected into the repository
            table = analyse(path, read_rows(file, path), tz)
            if table.unread:
                unread.append(path)
                evidence.append(Evidence(path, "unread", f"not read: {table.problem}"))
                continue
            if table.problem or not table.rows:
                numbers = table.numeric_columns and not _NOT_DATA.search(" ".join(table.header))
                if table.date_column is None and numbers and table.data_rows >= args.min_rows:
                    undated.append(table)
                    evidence.append(
                        Evidence(path, "no_dates", f"{table.data_rows} {table.unit}s of numbers "
                                 f"({', '.join(table.numeric_columns[:4])}) without a date "
                                 "column: its dates cannot be checked")
                    )  # fmt: skip
                continue
            verdict = self._judge(table, limit, args, evidence)
            files.append(
                {"path": path, "rows": len(table.rows), "date_column": table.date_column,
                 "first_date": table.first_date.isoformat(),
                 "last_date": table.last_date.isoformat(), "junk_lines": len(table.junk),
                 "verdict": verdict}
            )  # fmt: skip
            if verdict == "leakage":
                after = [(n, d) for n, d in table.rows if d > limit]
                leaks.append({"path": path, "line": after[0][0], "date": after[0][1].isoformat(),
                              "rows_after": len(after)})  # fmt: skip
            elif verdict == "training data":
                usable.append(path)
        facts = {"files": files, "leakage": leaks, "max_date": limit.isoformat(),
                 "undated": [{"path": t.path, "rows": t.data_rows,
                              "columns": t.numeric_columns[:8]} for t in undated],
                 "unread": unread}  # fmt: skip
        if leaks:
            where = ", ".join(f"{leak['path']}:{leak['line']} ({leak['date']})" for leak in leaks)
            return CheckOutcome(
                Status.FAIL, f"training data runs past {limit.isoformat()} (future data): {where}",
                evidence, facts,
            )  # fmt: skip
        if usable:
            return CheckOutcome(
                Status.PASS, f"training data in {', '.join(usable)}, nothing after "
                f"{limit.isoformat()}", evidence, facts,
            )  # fmt: skip
        if undated or unread or any(f["verdict"] == "after the deadline" for f in files):
            return self._manual(ctx, undated, unread, evidence, facts)
        looked = (
            f"looked at {', '.join(paths[:5])}"
            if paths
            else "no table committed besides predictions and observations"
        )
        return CheckOutcome(
            Status.FAIL,
            f"no training data found: no committed table with a date column, numbers and at "
            f"least {args.min_rows} rows ({looked})",
            evidence, facts,
        )  # fmt: skip

    @staticmethod
    def _judge(
        table: ParsedTable, limit: date, args: TrainingDataArgs, evidence: list[Evidence]
    ) -> str:
        """The verdict on one dated table, with its evidence line."""
        path, first, last = table.path, table.first_date, table.last_date
        span = f"{len(table.rows)} {table.unit}s dated {first.isoformat()} .. {last.isoformat()}"
        if len(table.rows) < args.min_rows:
            evidence.append(Evidence(path, "too_few_rows", f"{span}: {args.min_rows} dated rows "
                                     f"needed to count as training data{_junk(table)}"))  # fmt: skip
            return "too few rows"
        if first > limit:
            evidence.append(Evidence(path, "after_deadline", f"{span}: all after "
                                     f"{limit.isoformat()}, so not the data the model was "
                                     "trained on before the deadline; a human decides"))  # fmt: skip
            return "after the deadline"
        after = [(n, d) for n, d in table.rows if d > limit]
        if after:
            line, day = after[0]
            evidence.append(
                Evidence(path, "leakage",
                         f"{span}: {len(after)} {table.unit}(s) after {limit.isoformat()}, the "
                         f"first at {_place(table, line)} ({day.isoformat()}); future data the "
                         "model could not have had when predicting",
                         line if table.unit in ("line", "row") else None)
            )  # fmt: skip
            return "leakage"
        evidence.append(Evidence(path, "training_data", f"{span} (date column: "
                                 f"{table.date_column}); last date {last.isoformat()}, nothing "
                                 f"after {limit.isoformat()}{_junk(table)}"))  # fmt: skip
        return "training data"

    @staticmethod
    def _manual(
        ctx: CheckContext,
        undated: list[ParsedTable],
        unread: list[str],
        evidence: list[Evidence],
        facts: dict,
    ) -> CheckOutcome:
        ranges = stated_ranges(ctx)
        facts["stated_ranges"] = [{"where": w, "text": t} for w, t in ranges]
        for where, text in ranges:
            evidence.append(Evidence(where, "stated_range", f"the text states: {text}"))
        parts = [f"{t.path} ({t.data_rows} {t.unit}s, no date column)" for t in undated]
        parts += [f"{p} (not read)" for p in unread]
        parts += [f["path"] + " (dated after the deadline only)" for f in facts["files"]
                  if f["verdict"] == "after the deadline"]  # fmt: skip
        stated = (f"; the text states {ranges[0][1]!r} ({ranges[0][0]})" if ranges
                  else "; no date range is stated in the README or the notebooks")  # fmt: skip
        return CheckOutcome(
            Status.MANUAL,
            f"a human decides: data found whose dates the grader cannot check: "
            f"{', '.join(parts[:4])}{stated}",
            evidence, facts,
        )  # fmt: skip

"""`grader gradebook show | history | override | export | sync | verify`."""

from __future__ import annotations

import getpass
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from grader.cli import app
from grader.cli.output import console, err_console, fail, plain
from grader.exports import canvas_csv, grades_csv, gradescope_json, junit_xml, moodle_csv
from grader.exports.common import number
from grader.exports.lms import feedback
from grader.extras import MissingExtra, require
from grader.gradebook import GradebookError, GradeRow
from grader.gradebook.decisions import student_feedback
from grader.gradebook.sync import sync_from_dir, verify_dir

if TYPE_CHECKING:
    from grader.gradebook.store import Gradebook

gradebook_app = typer.Typer(
    name="gradebook",
    help="The class gradebook (SQLite by default; any SQLAlchemy URL).",
    no_args_is_help=True,
)
app.add_typer(gradebook_app, name="gradebook")

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        help="gradebook: a SQLAlchemy URL (sqlite:///gradebook.sqlite, postgresql://...) "
        "or a SQLite file path",
    ),
]
AssignmentOption = Annotated[str, typer.Option("--assignment", help="assignment id")]


class ExportFormat(StrEnum):
    CSV = "csv"
    MOODLE = "moodle"
    CANVAS = "canvas"
    GRADESCOPE = "gradescope"
    JUNIT = "junit"


STATUS_STYLE = {"graded": "green", "error": "magenta", "missing": "dim", "override": "blue"}


def _open(db: str, create: bool = False) -> Gradebook:
    """The gradebook at ``db``; only ``sync`` may create one (reading commands and
    overrides on a mistyped path fail clearly instead of making an empty database)."""
    try:
        require("sqlalchemy", "the gradebook")
    except MissingExtra as exc:
        raise fail(str(exc)) from None
    from grader.gradebook.store import Gradebook  # SQLAlchemy loads only when needed

    try:
        return Gradebook(db, create=create)
    except GradebookError as exc:
        raise fail(str(exc)) from None


def _current(book: Gradebook, assignment: str) -> list[GradeRow]:
    """The effective grades: the latest runs with the reviewers' decisions layered on."""
    from grader.gradebook.decisions import effective_rows

    try:
        return effective_rows(book, assignment)
    except GradebookError as exc:
        raise fail(str(exc)) from None


class ShowFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def row_json(row: GradeRow) -> dict:
    """One student's effective grade as `gradebook show --format json` prints it."""
    over = row.override
    return {
        "student": row.student, "name": row.name, "email": row.email, "team": row.team,
        "status": row.status, "score": row.score, "max_score": row.max_score,
        "graded_score": row.graded_score, "late": row.late, "late_penalty": row.late_penalty,
        "commits_after_deadline": row.commits_after_deadline,
        "override": {"points": over.points, "reason": over.reason, "who": over.who,
                     "at": over.created_at} if over else None,
        "error": row.error, "commit": row.commit, "committed_at": row.committed_at,
        "graded_at": row.graded_at, "runs": row.runs, "checks": dict(row.counts),
        "feedback": feedback(row),
    }  # fmt: skip


@gradebook_app.command("show")
def show(
    db: DbOption,
    assignment: Annotated[
        str | None, typer.Option(help="one assignment's students (default: the assignments)")
    ] = None,
    output_format: Annotated[
        ShowFormat, typer.Option("--format", help="a table, or JSON for scripts")
    ] = ShowFormat.TEXT,
) -> None:
    """The assignments, or every student's effective grade for one assignment."""
    book = _open(db)
    if output_format == ShowFormat.JSON:
        data = book.assignments() if assignment is None else [
            row_json(r) for r in _current(book, assignment)
        ]  # fmt: skip
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    if assignment is None:
        table = Table(title="Assignments", title_justify="left")
        for column in ("Assignment", "Title", "Max (every check applies)", "Students graded"):
            table.add_column(column)
        for item in book.assignments():
            table.add_row(
                Text(item["id"]), Text(item["title"]), number(item["max_points"]),
                str(item["graded"]),
            )  # fmt: skip
        console.print(table)
        return
    rows = _current(book, assignment)
    table = Table(title=f"{assignment}: {len(rows)} students", title_justify="left")
    for column in ("Neptun", "Name", "Team", "Score", "Status", "Late", "Note"):
        table.add_column(column, justify="right" if column == "Score" else "left")
    for row in rows:
        score = "-" if row.score is None else f"{number(row.score)}/{number(row.max_score)}"
        late = f"yes (-{number(row.late_penalty)})" if row.late_penalty else (
            "yes" if row.late else ""
        )  # fmt: skip
        if row.commits_after_deadline and not row.late:
            late = f"{row.commits_after_deadline} later commit(s) ignored"
        table.add_row(
            Text(row.student), Text(row.name), Text(row.team or ""), score,
            Text(row.status, style=STATUS_STYLE[row.status]), late, Text(feedback(row)),
        )  # fmt: skip
    console.print(table)


@gradebook_app.command("history")
def history(
    db: DbOption,
    student: Annotated[str, typer.Option("--student", help="Neptun code")],
    assignment: AssignmentOption,
) -> None:
    """Every grading run and override of one student, oldest first."""
    try:
        entries = _open(db).history(student, assignment)
    except GradebookError as exc:
        raise fail(str(exc)) from None
    table = Table(title=f"{student.upper()} / {assignment}", title_justify="left")
    for column in ("When", "Kind", "Score", "Commit / who", "Note"):
        table.add_column(column)
    for entry in entries:
        if entry.kind == "run":
            note = entry.error or (
                f"late penalty {entry.late_penalty:g}" if entry.late_penalty else ""
            )
            table.add_row(
                entry.at, f"run {entry.run_id}", f"{number(entry.score)}/{number(entry.max_score)}",
                (entry.commit or "")[:12], Text(note),
            )  # fmt: skip
        else:
            table.add_row(
                entry.at, "override", number(entry.score), Text(entry.who), Text(entry.reason)
            )
    console.print(table)


@gradebook_app.command("override")
def override(
    db: DbOption,
    student: Annotated[str, typer.Option("--student", help="Neptun code")],
    assignment: AssignmentOption,
    points: Annotated[float, typer.Option("--points", help="the grade (or the check's points)")],
    reason: Annotated[str, typer.Option("--reason", help="why (shown in the exports)")],
    who: Annotated[str | None, typer.Option("--who", help="default: your user name")] = None,
    check: Annotated[
        str | None, typer.Option("--check", help="set one check's points instead of the grade")
    ] = None,
    comment: Annotated[
        str, typer.Option("--comment", help="with --check: a comment for the student")
    ] = "",
    extra_credit: Annotated[
        bool, typer.Option("--extra-credit", help="allow points above the student's maximum")
    ] = False,
) -> None:
    """Set a student's grade by hand (it replaces the graded score in every export), or
    with --check one check's points (within its maximum), layered over the graded result;
    `grader gradebook undo` reverts a check decision. Points must lie in [0, the maximum]
    unless --extra-credit."""
    book = _open(db)
    if check is not None:
        from grader.cli.review import decide_check

        decide_check(book, student, assignment, check, points, reason, comment, who)
        return
    try:
        info = book.override(
            student, assignment, points, reason, who or getpass.getuser(), extra_credit
        )
    except GradebookError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"[green]ok[/] {escape(student.upper())} / {escape(assignment)}: {number(info.points)} "
        f"points, set by {escape(info.who)} ({escape(info.reason)})"
    )


def _safe_name(student: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", student).strip(".")
    return name or "_"


@gradebook_app.command("export")
def export(
    db: DbOption,
    assignment: AssignmentOption,
    output_format: Annotated[
        ExportFormat,
        typer.Option("--format", help="grades CSV, Moodle or Canvas import, Gradescope, JUnit"),
    ],
    out: Annotated[Path, typer.Option("--out", help="file to write (a folder for gradescope)")],
    item: Annotated[
        str | None, typer.Option(help="Moodle grade item / Canvas assignment name")
    ] = None,
    canvas_id: Annotated[str | None, typer.Option(help="Canvas assignment id")] = None,
    allow_ungraded: Annotated[
        bool,
        typer.Option(
            "--allow-ungraded", help="exit 0 even when some students have no grade to export"
        ),
    ] = False,
) -> None:
    """Export the effective grades: grades CSV, Moodle or Canvas import CSV, Gradescope
    results.json per submission (OUT/<student>/results.json) or JUnit XML. A student
    without a grade (never graded, or not gradable: a missing repository, the environment)
    is left blank or out, never 0; the export then exits 1 unless --allow-ungraded."""
    book = _open(db)
    rows = _current(book, assignment)
    ungraded = [row for row in rows if row.ungraded]
    _export(book, rows, assignment, output_format, out, item, canvas_id)
    for row in ungraded:
        reason = row.error or "never graded for this assignment"
        err_console.print(
            f"[yellow]warning[/] {escape(plain(row.student))} has no grade (left blank or "
            f"out): {escape(plain(reason))}"
        )
    if ungraded and not allow_ungraded:
        raise fail(
            f"{len(ungraded)} student(s) have no grade yet; grade them (run the batch again), "
            "give a grade with `grader gradebook override`, or pass --allow-ungraded",
            code=1,
        )


def _export(
    book: Gradebook, rows: list[GradeRow], assignment: str, output_format: str, out: Path,
    item: str | None, canvas_id: str | None,
) -> None:  # fmt: skip
    info = next(a for a in book.assignments() if a["id"] == assignment)
    if output_format == "gradescope":
        written = 0
        for row in rows:
            result = row.result()
            if result is None or row.ungraded:
                continue
            over = (
                [f"Grade set by {row.override.who}: {row.override.reason}"] if row.override else []
            )
            note = "\n".join(over + student_feedback(row))  # and the reviewers' comments
            target = out / _safe_name(row.student) / "results.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(gradescope_json(result, score=row.score, note=note), encoding="utf-8")
            written += 1
        console.print(f"wrote {written} results.json files under {escape(str(out))}")
        return
    if output_format == "csv":
        text = grades_csv(rows)
    elif output_format == "moodle":
        text = moodle_csv(rows, item or info["title"] or None, _points_possible(rows, "Moodle"))
    elif output_format == "canvas":
        text = canvas_csv(
            rows, item or info["title"] or None, canvas_id, _points_possible(rows, "Canvas")
        )
    else:
        text = junit_xml([r for r in (row.result() for row in rows) if r is not None])
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    console.print(f"wrote {escape(str(out))} ({output_format}, {len(rows)} students)")


def _points_possible(rows: list[GradeRow], lms: str) -> float | None:
    """An LMS column holds one maximum: the one the graded students share; where their
    maxima differ (an optional check applies to some only), the largest, the students
    whose own maximum is lower are scaled to it (the same share of their points), and a
    warning names them (their feedback says it too)."""
    maxima = {row.student: row.max_score for row in rows if not row.ungraded}
    if not maxima:
        return None
    top = max(maxima.values())
    lower = sorted(s for s, m in maxima.items() if m < top)
    if lower:
        err_console.print(
            f"[yellow]warning[/] {lms} holds one maximum ({number(top)}); these students' own "
            "maximum is lower (a check does not apply to them), so their points are scaled "
            f"to {number(top)}: "
            f"{escape(', '.join(f'{s} ({number(maxima[s])})' for s in lower))}"
        )
    return top


@gradebook_app.command("sync")
def sync(
    db: DbOption, out_dir: Annotated[Path, typer.Argument(help="batch output folder")]
) -> None:
    """Import every OUT_DIR/*/result.json (already recorded results are skipped)."""
    try:
        report = sync_from_dir(_open(db, create=True), out_dir)
    except GradebookError as exc:
        raise fail(str(exc)) from None
    for problem in report.problems:
        err_console.print(f"[yellow]skipped[/] {escape(problem)}")
    console.print(f"imported {report.imported}, already there {report.unchanged}")
    raise typer.Exit(1 if report.problems else 0)


@gradebook_app.command("verify")
def verify(
    db: DbOption, out_dir: Annotated[Path, typer.Argument(help="batch output folder")]
) -> None:
    """Check that every OUT_DIR/*/result.json is its student's current run."""
    try:
        problems = verify_dir(_open(db), out_dir)
    except GradebookError as exc:
        raise fail(str(exc)) from None
    for problem in problems:
        err_console.print(f"[red]mismatch[/] {escape(problem)}")
    if not problems:
        console.print("[green]ok[/] the gradebook matches the result files")
    raise typer.Exit(1 if problems else 0)

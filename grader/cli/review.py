"""`grader gradebook undo | decisions` (per-check decisions from the command line) and
`grader serve` (the review desk, a web app over the gradebook)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.text import Text

from grader.cli import app
from grader.cli.gradebook import AssignmentOption, DbOption, _open, gradebook_app
from grader.cli.output import console, fail
from grader.gradebook import GradebookError

if TYPE_CHECKING:
    from grader.gradebook.store import Gradebook


def decide_check(
    book: Gradebook,
    student: str,
    assignment: str,
    check: str,
    points: float,
    reason: str,
    comment: str,
    who: str | None,
) -> None:
    """`grader gradebook override --check`: one check's points, layered over the result."""
    from grader.gradebook.review import ReviewStore

    store = ReviewStore(book)
    try:
        key = store.student_key(student, assignment)
        version = store.state(assignment, "check", key, check).version
        entry = store.decide_check(
            assignment, key, check, points=points, comment=comment, reason=reason,
            who=who or getpass.getuser(), expected_version=version,
        )  # fmt: skip
    except GradebookError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"[green]ok[/] decision #{entry.id}: {escape(key)} / {escape(assignment)} / "
        f"{escape(check)}: {escape(entry.describe())} (undo: grader gradebook undo --db ... "
        f"--decision {entry.id})"
    )


@gradebook_app.command("undo")
def undo(
    db: DbOption,
    decision: Annotated[int, typer.Option("--decision", help="the decision's number")],
    reason: Annotated[str, typer.Option("--reason", help="why")] = "",
    who: Annotated[str | None, typer.Option("--who", help="default: your user name")] = None,
) -> None:
    """Revert one decision (the latest of its check, pair or regrade answer) with a new,
    audited decision."""
    from grader.gradebook.review import ReviewStore

    try:
        entry = ReviewStore(_open(db)).undo(decision, who=who or getpass.getuser(), reason=reason)
    except GradebookError as exc:
        raise fail(str(exc)) from None
    console.print(f"[green]ok[/] decision #{entry.id} reverts #{decision}: {entry.describe()}")


@gradebook_app.command("decisions")
def decisions(
    db: DbOption,
    assignment: AssignmentOption,
    student: Annotated[str | None, typer.Option("--student", help="Neptun code")] = None,
) -> None:
    """The audit log of the reviewers' decisions: who, when, what changed and why."""
    from grader.gradebook.review import ReviewStore

    store = ReviewStore(_open(db))
    try:
        key = store.student_key(student, assignment) if student else None
        entries = store.history(assignment, student=key)
    except GradebookError as exc:
        raise fail(str(exc)) from None
    console.print(f"{escape(assignment)}: {len(entries)} decision(s), oldest first")
    for e in entries:  # one line each, never wrapped: the log stays greppable
        what = f"{e.kind} {e.student + '/' if e.student else ''}{e.target}"
        undo_note = f" (undoes #{e.undoes})" if e.undoes else ""
        line = f"#{e.id} {e.at} {e.who}: {what}: {e.describe()}{undo_note}; why: {e.reason}"
        console.print(Text(line), soft_wrap=True)


@app.command("serve")
def serve(
    out_dirs: Annotated[
        list[Path] | None,
        typer.Argument(help="batch output folders (their gradebook and similarity.json)"),
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="gradebook URL (default: OUT/gradebook.sqlite)")
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    course: Annotated[
        Path | None, typer.Option("--course", help="course file with a staff: section")
    ] = None,
    threads: Annotated[int, typer.Option(help="request threads")] = 8,
    hash_password: Annotated[
        bool, typer.Option("--hash-password", help="print a password_hash for the course file")
    ] = False,
) -> None:
    """The review desk: a web app over the gradebook for manual items, similarity pairs,
    per-check decisions and regrade requests. Reads results only; Ctrl-C stops it."""
    from grader.extras import MissingExtra, require

    try:
        require("flask", "the review desk")
        require("waitress", "the review desk")
        require("sqlalchemy", "the review desk")
    except MissingExtra as exc:
        raise fail(str(exc)) from None
    if hash_password:
        from grader.web.accounts import hash_password as make_hash

        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        typer.echo(make_hash(password))
        return
    from grader.web.server import ServeError, run

    try:
        run(list(out_dirs or []), db=db, host=host, port=port, course=course, threads=threads)
    except (ServeError, GradebookError) as exc:
        raise fail(str(exc)) from None

"""`grader course validate | status | overview | export`: the course file and the course
rules over the gradebook's results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader import pipeline
from grader.cli import app
from grader.cli.output import console, err_console
from grader.course import COURSE_FILE, CourseFile, load_course, spec_problems
from grader.paths import bundled_courses
from grader.spec import SpecError

course_app = typer.Typer(help="The course file and the course rules over the gradebook.")
app.add_typer(course_app, name="course")

CourseOpt = Annotated[
    str | None,
    typer.Option(
        "--course",
        help="course.yaml path or bundled course (folder name); default: the bundled course "
        "whose assignments are in the gradebook",
    ),
]
DbOpt = Annotated[str, typer.Option("--db", help="gradebook URL or SQLite file")]
WORD_STYLE = {"met": "green", "not met": "red", "pending": "yellow"}


def _exit_with(exc: SpecError) -> None:
    for problem in exc.problems:
        err_console.print(f"[red]error[/] {escape(str(problem))}")
    raise typer.Exit(2)


def _load(ref: str) -> CourseFile:
    path = Path(ref)
    if path.is_dir():
        path = path / COURSE_FILE
    if not path.is_file():
        bundled = bundled_courses()
        if ref not in bundled:
            known = ", ".join(bundled) or "none"
            err_console.print(f"[red]error[/] {escape(ref)}: no such course file or bundled "
                              f"course (bundled: {known})")  # fmt: skip
            raise typer.Exit(2)
        path = bundled[ref]
    try:
        return load_course(path)
    except SpecError as exc:
        _exit_with(exc)
        raise  # unreachable


def _specs(course_file: CourseFile, semester: str | None = None) -> dict:
    """The course's specs (those the semester gives dates for, when one is named)."""
    specs, problems = {}, []
    listed = course_file.course.semesters[semester].assignments if semester else None
    for item in course_file.course.assignments:
        if listed is not None and item.id not in listed:
            continue
        path = course_file.spec_path(item.id)
        try:
            specs[item.id] = pipeline.load_assignment(str(path), semester)
        except SpecError as exc:
            problems += exc.problems
    problems += spec_problems(course_file, specs)
    if problems:
        _exit_with(SpecError(problems))
    return specs


@course_app.command("validate")
def validate(
    course: Annotated[str, typer.Argument(help="course.yaml path or bundled course")],
    semester: Annotated[str | None, typer.Option(help="also load the specs for it")] = None,
) -> None:
    """Validate the course file and every spec it lists (each semester's dates applied)."""
    course_file = _load(course)
    semesters = [semester] if semester else list(course_file.course.semesters) or [None]
    for name in semesters:
        if name is not None and name not in course_file.course.semesters:
            known = ", ".join(course_file.course.semesters) or "none"
            err_console.print(f"[red]error[/] --semester: no {escape(name)} ({known})")
            raise typer.Exit(2)
        specs = _specs(course_file, name)
        console.print(f"[green]ok[/] {escape(str(course_file.path))}"
                      + (f" {escape(name)}" if name else "") + ": "
                      + ", ".join(f"{k} ({s.deadline_at:%Y-%m-%d %H:%M})" for k, s in specs.items()))  # fmt: skip


def _gradebook(url: str):  # -> Gradebook
    from grader.gradebook import Gradebook, GradebookError

    try:
        return Gradebook(url)
    except GradebookError as exc:
        err_console.print(f"[red]error[/] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _pick(book, ref: str | None) -> CourseFile:  # noqa: ANN001
    if ref is not None:
        return _load(ref)
    graded = {a["id"] for a in book.assignments()}
    candidates = [
        name for name, path in bundled_courses().items()
        if graded & {a.id for a in load_course(path).course.assignments}
    ]  # fmt: skip
    if len(candidates) != 1:
        err_console.print(
            "[red]error[/] --course: give the course file ("
            + ("several bundled courses match" if candidates else "no bundled course matches")
            + f" the gradebook's assignments: {', '.join(sorted(graded)) or 'none'})"
        )
        raise typer.Exit(2)
    return _load(candidates[0])


def outcomes_from(db: str, course: str | None):  # -> (CourseFile, list[StudentOutcome])
    from grader import rules
    from grader.gradebook.decisions import effective_rows

    book = _gradebook(db)
    course_file = _pick(book, course)
    known = {a["id"] for a in book.assignments()}
    # the layered view: reviewers' decisions and overrides over the latest runs
    rows = {
        a.id: effective_rows(book, a.id) for a in course_file.course.assignments if a.id in known
    }
    students, states, graded = rules.states_from_rows(rows)
    return course_file, rules.evaluate(course_file.course, students, states, graded)


@course_app.command("status")
def status(db: DbOpt, course: CourseOpt = None) -> None:
    """Per student: each assignment's grade, each rule's verdict with its reason, and the
    course outcome."""
    course_file, outcomes = outcomes_from(db, course)
    the_course = course_file.course
    console.print(f"[bold]{escape(the_course.title)}[/]: {len(outcomes)} students")
    for outcome in outcomes:
        percent = "" if outcome.percent is None else f", {outcome.percent:g}%"
        partial = "" if outcome.complete else " (not every assignment graded yet)"
        console.print(
            f"\n[bold]{escape(outcome.student)}[/] {escape(outcome.name)}: "
            f"[bold]{escape(outcome.outcome)}[/]{percent}{partial}",
            soft_wrap=True,
        )
        grades = []
        for item in the_course.assignments:
            state = outcome.assignments.get(item.id)
            if state is None or state.result is None:
                grades.append(f"{item.id}: missing")
                continue
            if state.score is None:  # not graded (its error, or the environment): no number
                grades.append(f"{item.id}: not graded ({state.verdict.replace('_', ' ')})")
                continue
            text = f"{item.id}: {state.score:g}/{state.max_score:g} "
            text += state.verdict.replace("_", " ")
            if state.result.unmet_gates:
                text += f" ({state.result.unmet_gates[0].get('reason', '')})"
            grades.append(text)
        console.print("  " + escape("; ".join(grades)), soft_wrap=True)
        for verdict in outcome.rules:
            style = WORD_STYLE[verdict.word]
            reason = f": {verdict.reason}" if verdict.met is not True and verdict.reason else ""
            console.print(
                f"  {escape(verdict.title)}: [{style}]{verdict.word}[/]{escape(reason)}",
                soft_wrap=True,
            )


@course_app.command("overview")
def overview(
    db: DbOpt,
    out: Annotated[Path, typer.Option(help="the HTML file to write")] = Path("course.html"),
    course: CourseOpt = None,
) -> None:
    """Write the course overview page (sortable, filterable, works offline)."""
    from grader.course_report import render_course

    course_file, outcomes = outcomes_from(db, course)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_course(course_file.course, outcomes), encoding="utf-8")
    console.print(f"course overview: {escape(str(out))}")


@course_app.command("export")
def export(
    db: DbOpt,
    out: Annotated[Path, typer.Option(help="the CSV file to write")],
    output_format: Annotated[
        str, typer.Option("--format", help="csv (everything) or moodle (grade import)")
    ] = "csv",
    item: Annotated[str | None, typer.Option(help="Moodle grade item name")] = None,
    course: CourseOpt = None,
) -> None:
    """Export the course outcome: csv (every assignment, rule and reason) or moodle."""
    from grader.course_report import outcome_csv, outcome_moodle

    if output_format not in ("csv", "moodle"):
        err_console.print("[red]error[/] --format: csv or moodle")
        raise typer.Exit(2)
    course_file, outcomes = outcomes_from(db, course)
    text = (
        outcome_csv(course_file.course, outcomes)
        if output_format == "csv"
        else outcome_moodle(course_file.course, outcomes, item)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8", newline="")
    console.print(f"{output_format}: {escape(str(out))} ({len(outcomes)} students)")

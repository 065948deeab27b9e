"""`grader batch`: grade a whole class from a roster."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from grader.batch import (
    BatchError,
    BatchOptions,
    BatchSummary,
    ExecutorError,
    RichProgress,
    run_batch,
)
from grader.batch.progress import LineProgress
from grader.class_grades import class_grades
from grader.cli import app
from grader.cli.core import SemesterOpt, SpecArg, load_or_exit
from grader.cli.output import console, err_console, plain
from grader.paths import resolve_spec
from grader.roster import RosterError, load_roster
from grader.settings import RerunMode


class SummaryFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@app.command()
def batch(
    spec_ref: SpecArg,
    roster: Annotated[
        Path,
        typer.Option(
            "--roster",
            help="CSV with a header row: neptun and github (a repository URL, a local path or "
            "a GitHub user name for the spec's repo_url_pattern), optional name, email, team "
            "(one shared repository per team) and extension (a student's own deadline, local "
            "time); ',' or ';' separated",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="output folder (resumable)")],
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="parallel local workers")] = 1,
    rerun: Annotated[
        RerunMode, typer.Option(help="rerun student training: smoke (capped), full or none")
    ] = RerunMode.SMOKE,
    executor: Annotated[
        str, typer.Option(help="'local' (a process pool) or 'dask://HOST:PORT'")
    ] = "local",
    force: Annotated[bool, typer.Option("--force", help="regrade even cached results")] = False,
    org: Annotated[
        str | None, typer.Option(help="GitHub organisation for {org} in repo_url_pattern")
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="mirror cache folder")] = None,
    gradebook: Annotated[
        str | None,
        typer.Option(help="gradebook URL (default sqlite:///OUT/gradebook.sqlite)"),
    ] = None,
    progress: Annotated[
        bool,
        typer.Option(help="show progress (bars on a terminal, one line per student elsewhere)"),
    ] = True,
    output_format: Annotated[
        SummaryFormat,
        typer.Option("--format", help="the closing summary: tables, or JSON on stdout"),
    ] = SummaryFormat.TEXT,
    semester: SemesterOpt = None,
    ledger: Annotated[
        Path | None,
        typer.Option(help="deadline snapshot ledger (default OUT/ledger.jsonl when present)"),
    ] = None,
    ids: Annotated[
        Path | None,
        typer.Option(help="CSV identifier,neptun mapping a Classroom roster's identifiers"),
    ] = None,
) -> None:
    """Grade every student of a roster: parallel, resumable after a crash (run the same
    command again), cached (an unchanged class regrades in moments; --force regrades).
    Exit 0 when every unit was graded (whatever the scores), 1 when some could not be."""
    spec = load_or_exit(spec_ref, semester)
    try:
        class_roster = load_roster(roster, spec, org=org, ids=ids)
    except RosterError as exc:
        for problem in exc.problems:
            err_console.print(f"[red]error[/] {escape(str(problem))}")
        raise typer.Exit(2) from None
    options = BatchOptions(
        jobs=jobs, rerun_mode=rerun, executor=executor, force=force, cache_dir=cache,
        gradebook=gradebook, ledger=ledger,
    )  # fmt: skip
    as_json = output_format == SummaryFormat.JSON
    shown = err_console if as_json else console  # JSON keeps stdout to itself
    sink = (RichProgress(shown) if shown.is_terminal else LineProgress(shown)) if progress else None
    try:
        summary = run_batch(spec, resolve_spec(spec_ref), class_roster, out, options, sink)
    except (BatchError, ExecutorError) as exc:
        err_console.print(f"[red]error[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: run the same command again to finish the rest")
        raise typer.Exit(130) from None
    except OSError as exc:
        err_console.print(
            f"[red]error[/] cannot write the results: {escape(str(exc))}; what was finished is "
            "kept: fix the cause and run the same command again"
        )
        raise typer.Exit(2) from None
    columns, grades = class_grades(summary.out, spec)
    if as_json:
        print(json.dumps(summary_json(summary, columns, grades), indent=2, ensure_ascii=False))
    else:
        print_summary(summary)
        print_students(grades)
    raise typer.Exit(1 if summary.outcomes.get("error") else 0)


def summary_json(summary: BatchSummary, columns: list[str], grades: list) -> dict:
    """What `grader batch --format json` prints: the run, then one entry per student."""
    return {
        "run_id": summary.run_id, "students": summary.students, "units": summary.units,
        "graded": summary.graded, "cached": summary.cached, "outcomes": summary.outcomes,
        "seconds": round(summary.seconds, 3), "out": str(summary.out),
        "overview": str(summary.overview) if summary.overview else None,
        "grades_csv": str(summary.grades) if summary.grades else None,
        "errors": [{"unit": u, "message": m} for u, m in summary.errors],
        "warnings": summary.warnings, "checks": columns,
        "results": [g.to_dict() for g in grades],
    }  # fmt: skip


VERDICT_STYLE = {"pass": "green", "fail": "red", "error": "magenta", "environment": "yellow"}


def print_students(grades: list) -> None:
    """The closing per-student table (names and reasons escaped: they are data)."""
    table = Table(title=f"{len(grades)} students", title_justify="left")
    for column in ("Student", "Name", "Verdict", "Score", "%", "Late", "Not graded because"):
        table.add_column(column, justify="right" if column in ("Score", "%") else "left")
    for g in grades:
        score = "-" if g.score is None else f"{g.score:g}/{g.max_score:g}"
        late = f"-{g.late_penalty:g}" if g.late_penalty else (
            f"{g.commits_after_deadline} later commit(s) ignored" if g.commits_after_deadline else ""
        )  # fmt: skip
        table.add_row(
            escape(plain(g.student)), escape(plain(g.name)),
            f"[{VERDICT_STYLE.get(g.verdict, 'white')}]{g.verdict}[/]", score,
            "" if g.percent is None else f"{g.percent:g}", late, escape(plain(g.reason)),
        )  # fmt: skip
    console.print(table)


def print_summary(summary: BatchSummary) -> None:
    table = Table(title=f"Batch {summary.run_id}", title_justify="left", show_header=False)
    table.add_row("students", f"{summary.students} in {summary.units} grading units")
    table.add_row("graded now", str(summary.graded))
    table.add_row("from cache", str(summary.cached))
    o = summary.outcomes
    environment = (
        f"; {summary.environment} of them not graded (environment): fix it and run the same "
        "command again"
        if summary.environment
        else ""
    )
    table.add_row(
        "outcome",
        f"[green]{o.get('pass', 0)} pass[/], [red]{o.get('fail', 0)} fail[/], "
        + (f"[yellow]{o['not_eligible']} not eligible[/], " if o.get("not_eligible") else "")
        + f"[magenta]{o.get('error', 0)} error[/] (students){environment}",
    )
    median = summary.median_unit_seconds
    timing = f"{summary.seconds:.2f} s"
    if median is not None:
        timing += f" (median {median:.3f} s per graded unit)"
    table.add_row("time", timing)
    if summary.executor:
        table.add_row("executor", escape(summary.executor))
    table.add_row("results", escape(str(summary.out)))
    if summary.overview:
        table.add_row("overview", escape(str(summary.overview)))
    if summary.grades:
        table.add_row("grades", escape(str(summary.grades)))
    console.print(table)
    for label, message in summary.errors:
        console.print(f"[magenta]error[/] {escape(plain(label))}: {escape(plain(message))}")
    for warning in summary.warnings:
        err_console.print(f"[yellow]warning[/] {escape(plain(warning))}")

"""`grader batch`: grade a whole class from a roster."""

from __future__ import annotations

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
from grader.cli import app
from grader.cli.core import SpecArg, load_or_exit
from grader.cli.output import console, err_console, plain
from grader.paths import resolve_spec
from grader.roster import RosterError, load_roster
from grader.settings import RerunMode


@app.command()
def batch(
    spec_ref: SpecArg,
    roster: Annotated[Path, typer.Option("--roster", help="roster CSV (see grader.roster)")],
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
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
) -> None:
    """Grade every student of a roster: parallel, resumable after a crash (run the same
    command again), cached (an unchanged class regrades in moments; --force regrades).
    Exit 0 when every unit was graded (whatever the scores), 1 when some could not be."""
    spec = load_or_exit(spec_ref)
    try:
        class_roster = load_roster(roster, spec, org=org)
    except RosterError as exc:
        for problem in exc.problems:
            err_console.print(f"[red]error[/] {escape(str(problem))}")
        raise typer.Exit(2) from None
    options = BatchOptions(
        jobs=jobs, rerun_mode=rerun, executor=executor, force=force, cache_dir=cache,
        gradebook=gradebook,
    )  # fmt: skip
    sink = RichProgress(console) if progress else None
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
    print_summary(summary)
    raise typer.Exit(1 if summary.outcomes.get("error") else 0)


def print_summary(summary: BatchSummary) -> None:
    table = Table(title=f"Batch {summary.run_id}", title_justify="left", show_header=False)
    table.add_row("students", f"{summary.students} in {summary.units} grading units")
    table.add_row("graded now", str(summary.graded))
    table.add_row("from cache", str(summary.cached))
    o = summary.outcomes
    table.add_row(
        "outcome",
        f"[green]{o.get('pass', 0)} pass[/], [red]{o.get('fail', 0)} fail[/], "
        f"[magenta]{o.get('error', 0)} error[/] (students)",
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
    console.print(table)
    for label, message in summary.errors:
        console.print(f"[magenta]error[/] {escape(plain(label))}: {escape(plain(message))}")
    for warning in summary.warnings:
        err_console.print(f"[yellow]warning[/] {escape(plain(warning))}")

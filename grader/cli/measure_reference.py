"""`grader reference`: measure the reference solution the way students are measured."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader.cli import app
from grader.cli.core import RerunOpt, SpecArg, load_or_exit
from grader.cli.output import console, err_console
from grader.paths import instructor_dir
from grader.settings import RerunMode


@app.command()
def reference(
    spec_ref: SpecArg,
    rerun: RerunOpt = RerunMode.SMOKE,
    source: Annotated[
        Path | None, typer.Option(help="the reference solution (default: instructor dir/<id>)")
    ] = None,
    setup: Annotated[
        str | None, typer.Option(help="shell command run in a copy first, e.g. to make data")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="reference.json to write (default: next to the source)")
    ] = None,
) -> None:
    """Rerun the reference solution in the sandbox and run the hidden tests on it; write
    what was measured (metrics, hidden tests, environment, commit, date) to reference.json,
    which the specs' score bands are relative to."""
    from grader.reference import measure_reference, write_reference

    spec = load_or_exit(spec_ref)
    if rerun == RerunMode.NONE:
        err_console.print("[red]error[/] --rerun: smoke or full (the reference must be rerun)")
        raise typer.Exit(2)
    base = instructor_dir()
    folder = source or (base / spec.id if base else None)
    if folder is None or not folder.is_dir():
        err_console.print(
            f"[red]error[/] no reference solution at {escape(str(folder))}: pass --source or "
            "set GRADER_INSTRUCTOR_DIR"
        )
        raise typer.Exit(2)
    try:
        run = measure_reference(spec, folder, rerun, setup)
    except (ValueError, RuntimeError) as exc:
        err_console.print(f"[red]error[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    for check in run.result.checks:
        console.print(f"{check.id}: {check.status.value} - {escape(check.message)}")
    if not run.ok:
        for problem in run.problems:
            err_console.print(f"[red]error[/] {escape(problem)}")
        err_console.print("reference.json not written: the reference must pass its own run")
        raise typer.Exit(1)
    path = write_reference(run, out or folder / "reference.json")
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(run.entry["metrics"].items()))
    console.print(f"{run.mode} run measured: {escape(metrics) or 'no metrics'}")
    console.print(f"wrote {escape(str(path))}")

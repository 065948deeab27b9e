"""`grader overview | similarity`: the class overview page and cross-submission similarity."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from grader.cli import app
from grader.cli.core import load_or_exit
from grader.cli.output import console, err_console
from grader.overview import write_overview
from grader.paths import resolve_spec
from grader.similarity import analyse_out_dir

OutArg = Annotated[
    Path, typer.Argument(help="a batch's output folder (one sub-folder per student)")
]


def _out_dir_or_exit(out_dir: Path) -> Path:
    if not out_dir.is_dir():
        err_console.print(f"[red]error[/] {escape(str(out_dir))}: no such folder")
        raise typer.Exit(2)
    if not any(out_dir.glob("*/result.json")):
        err_console.print(
            f"[red]error[/] {escape(str(out_dir))}: no <student>/result.json inside; "
            "grade the class first (`grader batch` or `grader grade --out`)"
        )
        raise typer.Exit(2)
    return out_dir


@app.command("overview")
def overview(
    out_dir: OutArg,
    spec_ref: Annotated[
        str | None, typer.Option("--spec", help="spec file or bundled id (check titles, order)")
    ] = None,
) -> None:
    """(Re)write OUT_DIR/index.html, the class overview (works offline).

    Every student with score, late status and a check matrix; a score histogram, pass
    rates per check, the prediction leaderboard and the similar pairs."""
    out_dir = _out_dir_or_exit(out_dir)
    spec = load_or_exit(spec_ref) if spec_ref else None
    try:
        path = write_overview(out_dir, spec)
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]error[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    console.print(f"overview: {escape(str(path))}")


@app.command("similarity")
def similarity(
    out_dir: OutArg,
    spec_ref: Annotated[str, typer.Option("--spec", help="spec file or bundled id")],
    threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="list pairs sharing this fraction (spec default)"),
    ] = None,
    boilerplate: Annotated[
        list[Path] | None,
        typer.Option(help="more starter code (folder or file) to discount; repeatable"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="compare again even if nothing changed")
    ] = False,
) -> None:
    """Find similar submissions (code and notebooks) and list them in the overview.

    Compares every OUT_DIR/<student>/checkout with every other (copydetect), discounting
    the spec's boilerplate, writes similarity.json and one side-by-side page per pair, and
    refreshes index.html. Runs even when the spec's `similarity.enabled` is false (that
    only turns off the run after a batch). Never a penalty: the pairs are for a human."""
    out_dir = _out_dir_or_exit(out_dir)
    spec = load_or_exit(spec_ref)
    missing = [p for p in boilerplate or [] if not p.exists()]
    if missing:
        err_console.print(f"[red]error[/] --boilerplate {escape(str(missing[0]))}: not found")
        raise typer.Exit(2)
    spec_dir = resolve_spec(spec_ref).parent
    report = analyse_out_dir(
        out_dir, spec, threshold, list(boilerplate or []), spec_dir, force=force
    )
    if report.reused:
        console.print("nothing changed since the last comparison: reused (--force compares again)")
    for note in report.notes:
        err_console.print(f"[yellow]note[/] {escape(note)}")
    table = Table(
        title=f"{len(report.pairs)} similar pair(s) among {report.submissions} submissions "
        f"(threshold {report.threshold:.0%})",
        title_justify="left",
    )
    for column in ("A", "B", "A in B", "B in A"):
        table.add_column(column, justify="right" if " in " in column else "left")
    for pair in report.pairs:
        table.add_row(
            escape(pair.a), escape(pair.b), f"{pair.similarity_ab:.0%}", f"{pair.similarity_ba:.0%}"
        )
    console.print(table)
    path = write_overview(out_dir, spec)
    console.print(f"similarity: {escape(str(out_dir / 'similarity.json'))}")
    console.print(f"overview: {escape(str(path))}")

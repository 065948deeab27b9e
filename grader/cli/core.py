"""`grader list | validate | grade | check`."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader import pipeline
from grader.cli import app
from grader.cli.output import console, err_console, print_result
from grader.paths import bundled_specs
from grader.spec import AssignmentSpec, SpecError, parse_local_datetime

SpecArg = Annotated[
    str, typer.Argument(help="spec file or bundled assignment id (see `grader list`)")
]


def load_or_exit(ref: str) -> AssignmentSpec:
    try:
        return pipeline.load_assignment(ref)
    except SpecError as exc:
        for problem in exc.problems:
            err_console.print(f"[red]error[/] {escape(str(problem))}")
        raise typer.Exit(2) from None


@app.command("list")
def list_assignments() -> None:
    """List the bundled assignments."""
    for key, path in bundled_specs().items():
        if "/" not in key:
            continue
        try:
            spec = pipeline.load_assignment(str(path))
            console.print(
                f"[bold]{key}[/]  {escape(spec.title)}  (deadline {spec.deadline_at.isoformat()})"
            )
        except SpecError as exc:
            console.print(f"[bold]{key}[/]  [red]invalid: {len(exc.problems)} problem(s)[/]")


@app.command()
def validate(specs: Annotated[list[str], typer.Argument(help="spec files or bundled ids")]) -> None:
    """Validate specs; every problem is reported with file, line and key."""
    failed = 0
    for ref in specs:
        try:
            spec = pipeline.load_assignment(ref)
        except SpecError as exc:
            failed += 1
            for problem in exc.problems:
                err_console.print(f"[red]error[/] {escape(str(problem))}")
            continue
        console.print(
            f"[green]ok[/] {escape(ref)}: {escape(spec.title)}, {len(spec.checks)} checks, "
            f"{spec.max_points:g} points"
        )
    raise typer.Exit(1 if failed else 0)


def _parse_deadline(value: str | None, spec: AssignmentSpec) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_local_datetime(value, spec.timezone)
    except ValueError as exc:
        err_console.print(f"[red]error[/] --deadline: {escape(str(exc))}")
        raise typer.Exit(2) from None


@app.command()
def grade(
    spec_ref: SpecArg,
    repo: Annotated[str, typer.Option("--repo", help="repository URL or local path")],
    student: Annotated[str, typer.Option("--student", help="student id (Neptun code)")],
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("grader-out"),
    deadline: Annotated[
        str | None, typer.Option(help="override the deadline (ISO, local time)")
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="mirror cache folder")] = None,
) -> None:
    """Grade one submission pinned at the deadline (instructor)."""
    spec = load_or_exit(spec_ref)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", student) or student.strip(".") == "":
        err_console.print("[red]error[/] --student: use letters, digits, '_', '-' or '.' only")
        raise typer.Exit(2)
    student = student.upper() if re.fullmatch(r"[A-Za-z0-9]{6}", student) else student
    out_dir = out / student
    result = pipeline.grade(
        spec, repo, student, out_dir, cache_dir=cache, deadline=_parse_deadline(deadline, spec)
    )
    json_path, html_path = pipeline.write_outputs(result, spec, out_dir)
    print_result(result)
    console.print(f"result: {json_path}\nreport: {html_path}")
    raise typer.Exit(1 if result.error else 0)


@app.command()
def check(
    spec_ref: SpecArg,
    path: Annotated[Path, typer.Argument(help="your working tree")] = Path("."),
    out: Annotated[Path | None, typer.Option(help="report folder (default PATH/.grader)")] = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Self-check a working tree (uncommitted work included). Exit 0 only when every
    required check passes."""
    spec = load_or_exit(spec_ref)
    if not path.is_dir():
        err_console.print(f"[red]error[/] {escape(str(path))}: not a folder")
        raise typer.Exit(2)
    result = pipeline.self_check(spec, path)
    out_dir = out or path / ".grader"
    json_path, html_path = pipeline.write_outputs(result, spec, out_dir)
    if output_format == "json":
        print(result.to_json())
    else:
        print_result(result)
        console.print(f"report: {html_path}")
        if not result.required_ok:
            console.print("[red]Some required checks fail; see the report for what to fix.[/]")
    raise typer.Exit(0 if result.required_ok else 1)

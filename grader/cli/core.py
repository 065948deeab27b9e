"""`grader list | validate | grade | check`."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader import pipeline
from grader.cli import app
from grader.cli.output import console, err_console, print_result
from grader.paths import bundled_specs, data_dir
from grader.results import SubmissionResult
from grader.settings import RerunMode, RunSettings
from grader.spec import AssignmentSpec, SpecError, parse_local_datetime

RerunOpt = Annotated[
    RerunMode,
    typer.Option("--rerun", help="rerun student training: none, smoke (capped) or full"),
]
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
    rerun: RerunOpt = RerunMode.NONE,
) -> None:
    """Grade one submission pinned at the deadline (instructor)."""
    spec = load_or_exit(spec_ref)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", student) or student.strip(".") == "":
        err_console.print("[red]error[/] --student: use letters, digits, '_', '-' or '.' only")
        raise typer.Exit(2)
    student = student.upper() if re.fullmatch(r"[A-Za-z0-9]{6}", student) else student
    out_dir = out / student
    result = pipeline.grade(
        spec, repo, student, out_dir, cache_dir=cache,
        deadline=_parse_deadline(deadline, spec), settings=RunSettings(rerun=rerun, hidden=True),
    )  # fmt: skip
    json_path, html_path = pipeline.write_outputs(result, spec, out_dir)
    print_result(result)
    console.print(f"result: {json_path}\nreport: {html_path}")
    raise typer.Exit(0 if result.verdict.graded else 1)  # not graded: its error or environment


FORMATS = ("text", "json", "github", "junit")


def exit_code(result: SubmissionResult, fail_on: str) -> int:
    """required: a required check fails; any: any check fails; never: always 0."""
    if fail_on == "never":
        return 0
    if result.error:
        return 1
    if fail_on == "any":
        return int(any(c.status.blocking for c in result.checks))
    return 0 if result.required_ok else 1


def _append(path: str | None, text: str) -> bool:
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
    return True


def emit_github(result: SubmissionResult, path: Path, report_dir: Path) -> None:
    """Annotations on stdout; summary and outputs into the files GitHub Actions reads."""
    from grader.exports import github

    workspace = os.environ.get("GITHUB_WORKSPACE")
    prefix = ""
    if workspace:
        relative = os.path.relpath(path.resolve(), Path(workspace).resolve())
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
    for line in github.annotations(result, root=path, prefix=prefix):
        print(line)
    summary = github.step_summary(result, str(report_dir))
    if not _append(os.environ.get("GITHUB_STEP_SUMMARY"), summary):
        print(summary)
    outputs = github.step_outputs(result, report_dir)
    _append(os.environ.get("GITHUB_OUTPUT"), "".join(f"{k}={v}\n" for k, v in outputs.items()))


@app.command()
def check(
    spec_ref: SpecArg,
    path: Annotated[Path, typer.Argument(help="your working tree")] = Path("."),
    out: Annotated[Path | None, typer.Option(help="report folder (default PATH/.grader)")] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="text, json, github (summary + annotations) or junit")
    ] = "text",
    fail_on: Annotated[
        str, typer.Option(help="exit 1 when: required (a required check fails), any, never")
    ] = "required",
    rerun: RerunOpt = RerunMode.NONE,
) -> None:
    """Self-check a working tree, uncommitted work included (exit 0: required checks pass)."""
    if output_format not in FORMATS:
        err_console.print(f"[red]error[/] --format: one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    if fail_on not in ("required", "any", "never"):
        err_console.print("[red]error[/] --fail-on: one of required, any, never")
        raise typer.Exit(2)
    spec = load_or_exit(spec_ref)
    if not path.is_dir():
        err_console.print(f"[red]error[/] {escape(str(path))}: not a folder")
        raise typer.Exit(2)
    result = pipeline.self_check(spec, path, rerun=rerun)
    out_dir = out or path / ".grader"
    json_path, html_path = pipeline.write_outputs(result, spec, out_dir)
    if output_format == "json":
        print(result.to_json())
    elif output_format == "github":
        emit_github(result, path, out_dir)
    elif output_format == "junit":
        from grader.exports.junit import junit_xml

        print(junit_xml([result]))
    else:
        print_result(result)
        console.print(f"report: {html_path}")
        if not result.required_ok and not result.error:
            failed = ", ".join(c.title or c.id for c in result.failed_required)
            console.print(
                f"[red]Required checks fail: {escape(failed)}; see the report for what to fix.[/]"
            )
    raise typer.Exit(exit_code(result, fail_on))


@app.command()
def workflow(
    spec_ref: SpecArg,
    action: Annotated[str, typer.Option(help="the course's grader action, OWNER/REPO@REF")] = (
        "COURSE-ORG/grader@v0.1.0"
    ),
) -> None:
    """Print a GitHub Actions workflow that self-checks a student repo on every push."""
    spec = load_or_exit(spec_ref)
    ref = next((k for k, p in bundled_specs().items() if "/" in k and p.stem == spec.id), spec_ref)
    text = (data_dir("templates") / "github" / "grader.yml").read_text(encoding="utf-8")
    text = text.replace("COURSE-ORG/grader@v0.1.0", action)
    text = text.replace("assignment: bme-vitmav45-2020/hw3-temperature", f"assignment: {ref}")
    print(text, end="")

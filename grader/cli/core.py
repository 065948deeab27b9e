"""`grader list | validate | grade | check`."""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader import pipeline
from grader.cli import app
from grader.cli.output import console, err_console, print_next_steps, print_result
from grader.ledger import LEDGER_FILE
from grader.paths import bundled_specs, data_dir
from grader.results import SubmissionResult
from grader.settings import RerunMode, RunSettings
from grader.spec import AssignmentSpec, SpecError, parse_local_datetime
from grader.student_ids import normalize_student_id, student_id_rule
from grader.timefmt import format_moment

RerunOpt = Annotated[
    RerunMode,
    typer.Option("--rerun", help="rerun student training: none, smoke (capped) or full"),
]
SpecArg = Annotated[
    str,
    typer.Argument(metavar="SPEC", help="spec file or bundled assignment id (see `grader list`)"),
]
SemesterOpt = Annotated[
    str | None,
    typer.Option(
        "--semester", help="the course semester whose dates apply (default: the current one)"
    ),
]


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    JUNIT = "junit"


class FailOn(StrEnum):
    REQUIRED = "required"
    ANY = "any"
    NEVER = "never"


def course_of(spec_ref: str) -> object | None:
    """The course (``grader.course``) whose file is beside the spec, when there is one."""
    from grader.course import find_course, load_course
    from grader.paths import resolve_spec

    try:
        path = find_course(resolve_spec(spec_ref))
        return load_course(path).course if path else None
    except (FileNotFoundError, SpecError):  # load_or_exit has reported it already
        return None


def load_or_exit(ref: str, semester: str | None = None) -> AssignmentSpec:
    try:
        return pipeline.load_assignment(ref, semester)
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
                f"[bold]{key}[/]  {escape(spec.title)}  "
                f"(deadline {format_moment(spec.deadline_at)} {spec.timezone})"
            )
        except SpecError as exc:
            console.print(f"[bold]{key}[/]  [red]invalid: {len(exc.problems)} problem(s)[/]")


@app.command()
def validate(
    specs: Annotated[
        list[str], typer.Argument(metavar="SPEC...", help="spec files or bundled ids")
    ],
    semester: SemesterOpt = None,
) -> None:
    """Validate specs; every problem is reported with file, line and key.

    The keys of a spec and every check's arguments, with types, defaults and meaning:
    `grader keys` (one check: `grader keys CHECK`), also docs/spec-reference.md in the
    grader's repository. For editors that complete and check specs as you type:
    `grader schema` (a JSON Schema; the README says how editors use it)."""
    failed = 0
    for ref in specs:
        try:
            spec = pipeline.load_assignment(ref, semester)
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
    student: Annotated[
        str,
        typer.Option(
            "--student",
            help="student id: a Neptun code, or what the course's student_id_pattern allows",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("grader-out"),
    deadline: Annotated[
        str | None, typer.Option(help="override the deadline (ISO, local time)")
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="mirror cache folder")] = None,
    rerun: RerunOpt = RerunMode.NONE,
    semester: SemesterOpt = None,
    ledger: Annotated[
        Path | None,
        typer.Option(help="deadline snapshot ledger (default OUT/ledger.jsonl when present)"),
    ] = None,
) -> None:
    """Grade one submission pinned at the deadline (instructor)."""
    spec = load_or_exit(spec_ref, semester)
    try:
        student = normalize_student_id(student, student_id_rule(course_of(spec_ref)))
    except ValueError as exc:
        err_console.print(f"[red]error[/] --student {escape(str(exc))}")
        raise typer.Exit(2) from None
    out_dir = out / student
    moment = _parse_deadline(deadline, spec)
    if ledger is not None and not ledger.is_file():
        err_console.print(f"[red]error[/] --ledger: {escape(str(ledger))} does not exist")
        raise typer.Exit(2)
    snapshots = ledger_snapshots(ledger or out / LEDGER_FILE, spec, repo, moment, student)
    result = pipeline.grade(
        spec, repo, student, out_dir, cache_dir=cache, deadline=moment,
        settings=RunSettings(rerun=rerun, hidden=True), snapshots=snapshots,
    )  # fmt: skip
    json_path, html_path = pipeline.write_outputs(result, spec, out_dir)
    print_result(result)
    console.print(f"result: {json_path}\nreport: {html_path}")
    raise typer.Exit(0 if result.verdict.graded else 1)  # not graded: its error or environment


def ledger_snapshots(
    path: Path, spec: AssignmentSpec, repo: str, deadline: datetime | None, student: str
) -> dict | None:
    """The ledger entries a grading pins on; exit 2 when the ledger fails verification."""
    if not path.is_file():
        return None
    from grader.ledger import LedgerError, load_ledger
    from grader.snapshot import snapshots_for

    try:
        book = load_ledger(path)
    except LedgerError as exc:
        err_console.print(
            f"[red]error[/] the deadline ledger {escape(str(path))} fails verification:"
        )
        for problem in exc.problems:
            err_console.print(f"  {escape(problem)}")
        raise typer.Exit(2) from None
    return snapshots_for(book, spec, repo, deadline or spec.deadline_for(student))


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


def ignore_itself(folder: Path) -> None:
    """``folder/.gitignore`` with ``*``: git never offers the reports to commit."""
    marker = folder / ".gitignore"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not marker.exists():
            marker.write_text("# the grader's self-check reports; never committed\n*\n")
    except OSError:
        pass  # a read-only tree still gets its report error from write_outputs


def _append(path: str | None, text: str) -> bool:
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
    return True


def emit_github(
    result: SubmissionResult, path: Path, report_dir: Path, spec: AssignmentSpec | None = None
) -> None:
    """Annotations on stdout; summary and outputs into the files GitHub Actions reads."""
    from grader.exports import github

    workspace = os.environ.get("GITHUB_WORKSPACE")
    prefix = ""
    if workspace:
        relative = os.path.relpath(path.resolve(), Path(workspace).resolve())
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
    for line in github.annotations(result, root=path, prefix=prefix):
        print(line)
    deadlines = {m.id: spec.milestone_deadline(m.id) for m in spec.milestones} if spec else None
    summary = github.step_summary(result, str(report_dir), deadlines)
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
        OutputFormat,
        typer.Option("--format", help="text, json, github (summary + annotations) or junit"),
    ] = OutputFormat.TEXT,
    fail_on: Annotated[
        FailOn,
        typer.Option(help="exit 1 when a required check fails, when any check fails, or never"),
    ] = FailOn.REQUIRED,
    rerun: RerunOpt = RerunMode.NONE,
    semester: SemesterOpt = None,
) -> None:
    """Self-check a working tree, uncommitted work included (exit 0: required checks pass)."""
    spec = load_or_exit(spec_ref, semester)
    if not path.is_dir():
        err_console.print(f"[red]error[/] {escape(str(path))}: not a folder")
        raise typer.Exit(2)
    result = pipeline.self_check(spec, path, rerun=rerun)
    out_dir = out or path / ".grader"
    if out is None:
        ignore_itself(out_dir)
    json_path, html_path = pipeline.write_outputs(result, spec, out_dir)
    if output_format == "json":
        print(result.to_json())
    elif output_format == "github":
        emit_github(result, path, out_dir, spec)
    elif output_format == "junit":
        from grader.exports.junit import junit_xml

        print(junit_xml([result]))
    else:
        print_result(result)
        print_next_steps(result, spec)
        console.print(f"report: {escape(str(html_path))}")
        if not result.required_ok and not result.error:
            failed = ", ".join(c.title or c.id for c in result.failed_required)
            console.print(
                f"[red]Required checks fail: {escape(failed)}; see the report for what to fix.[/]"
            )
    raise typer.Exit(exit_code(result, fail_on))


@app.command()
def workflow(
    spec_ref: SpecArg,
    action: Annotated[
        str | None,
        typer.Option(
            metavar="OWNER/REPO@REF",
            help="the course's grader action, as the course publishes it (default: the "
            "repository and ref this grader was pip-installed from)",
        ),
    ] = None,
) -> None:
    """Print a GitHub Actions workflow that self-checks a student repo on every push."""
    from grader.install_source import ACTION_RE, installed_action

    spec = load_or_exit(spec_ref)
    action = action or installed_action()
    if action is None:
        err_console.print(
            "[red]error[/] --action: say which grader action the workflow uses, as "
            "OWNER/REPO@REF: the repository your course publishes the grader from and its "
            "release tag, the same ones as in the course's `pip install "
            "git+https://github.com/OWNER/REPO@REF` line (e.g. --action my-course/grader@v1.2)"
        )
        raise typer.Exit(2)
    if not ACTION_RE.match(action):
        err_console.print(f"[red]error[/] --action {escape(action)!r}: expected OWNER/REPO@REF")
        raise typer.Exit(2)
    ref = next((k for k, p in bundled_specs().items() if "/" in k and p.stem == spec.id), spec_ref)
    text = (data_dir("templates") / "github" / "grader.yml").read_text(encoding="utf-8")
    text = text.replace("COURSE-ORG/grader@v0.1.0", action)
    text = text.replace("assignment: bme-vitmav45-2020/hw3-temperature", f"assignment: {ref}")
    print(text, end="")

"""`grader gradescope`: run as a Gradescope autograder (self-check, write results.json)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader import pipeline
from grader.cli import app
from grader.cli.output import console, fail
from grader.exports import gradescope_json
from grader.spec import SpecError


def _gradescope_student(metadata: Path) -> str:
    try:
        data = json.loads(metadata.read_text(encoding="utf-8"))
        user = (data.get("users") or [{}])[0]
        return str(user.get("sid") or user.get("email") or "gradescope").strip() or "gradescope"
    except (OSError, ValueError, AttributeError, IndexError):
        return "gradescope"


@app.command("gradescope")
def gradescope(
    spec_ref: Annotated[str, typer.Argument(help="spec file or bundled assignment id")],
    submission: Annotated[Path, typer.Option(help="the uploaded submission")] = Path(
        "/autograder/submission"
    ),
    results: Annotated[Path, typer.Option(help="where Gradescope reads results")] = Path(
        "/autograder/results/results.json"
    ),
    metadata: Annotated[Path, typer.Option(help="Gradescope's submission metadata")] = Path(
        "/autograder/submission_metadata.json"
    ),
    visibility: Annotated[str, typer.Option(help="visible, hidden, after_due_date, ...")] = (
        "visible"
    ),
    hidden: Annotated[
        bool | None,
        typer.Option(
            "--hidden/--no-hidden",
            help="run the hidden tests (default: when $GRADER_INSTRUCTOR_DIR is set)",
        ),
    ] = None,
) -> None:
    """Run as a Gradescope autograder: self-check the submission, write results.json.
    Call it from the autograder's run_autograder script. Hidden tests run when the
    autograder image holds an instructor directory ($GRADER_INSTRUCTOR_DIR) or --hidden
    says so; their results carry the spec's hidden visibility (after_published)."""
    started = time.monotonic()
    results.parent.mkdir(parents=True, exist_ok=True)
    try:
        spec = pipeline.load_assignment(spec_ref)
    except SpecError as exc:
        problems = "\n".join(str(p) for p in exc.problems)
        payload = {"score": 0, "output": f"The autograder's spec is invalid:\n{problems}"}
        results.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        raise fail(f"the spec is invalid; wrote {results}") from None
    if not submission.is_dir():
        raise fail(f"{submission}: not a folder (the Gradescope submission)")
    if hidden is None:
        hidden = bool(os.environ.get("GRADER_INSTRUCTOR_DIR"))
    result = pipeline.self_check(spec, submission, _gradescope_student(metadata), hidden=hidden)
    try:
        text = gradescope_json(
            result, visibility=visibility, execution_time=time.monotonic() - started
        )
    except ValueError as exc:
        raise fail(f"--visibility: {exc}") from None
    results.write_text(text, encoding="utf-8")
    console.print(f"score {result.score:g}/{result.max_score:g}; wrote {escape(str(results))}")

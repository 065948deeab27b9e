"""`grader doctor`: check this machine before grading a class."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from grader.cli import app
from grader.cli.core import load_or_exit
from grader.cli.output import console
from grader.sandbox.doctor import Needs, diagnose, exit_code

STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "info": "dim"}


def _needs(spec_ref: str | None, python: str | None) -> Needs:
    if spec_ref is None:
        return Needs(python=python)
    from grader.batch.engine import gpu_need  # the batch machinery only with a spec

    spec = load_or_exit(spec_ref)
    reruns = [c for c in spec.checks if c.check == "rerun"]
    spec_python = next((str(c.args["python"]) for c in reruns if c.args.get("python")), None)
    return Needs(sandbox=bool(reruns), gpu=gpu_need(spec, "full"), python=python or spec_python)


@app.command()
def doctor(
    spec_ref: Annotated[
        str | None, typer.Argument(help="spec whose needs decide the exit status (optional)")
    ] = None,
    python: Annotated[
        str | None,
        typer.Option(
            help="the rerun's interpreter (default: the spec's, else "
            "$GRADER_RERUN_PYTHON, else the grader's)"
        ),
    ] = None,
    self_test: Annotated[
        bool, typer.Option(help="run the CUDA self-test on each free GPU in the sandbox")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the findings as JSON")] = False,
) -> None:
    """Check this machine before grading: sandbox, cgroups, GPUs (MIG included), a CUDA
    self-test per GPU in the sandbox, driver/torch match, locks, disk. Exit 1 when
    something the spec needs is missing."""
    needs = _needs(spec_ref, python)
    findings = diagnose(needs, self_test=self_test)
    code = exit_code(findings)
    if as_json:
        print(
            json.dumps(
                {
                    "needs": needs.__dict__,
                    "exit": code,
                    "findings": [f.to_dict() for f in findings],
                },
                indent=2,
            )
        )
        raise typer.Exit(code)
    for finding in findings:
        mark = finding.status.upper() if finding.status != "ok" else "ok"
        needed = " (needed)" if finding.needed and finding.status == "fail" else ""
        console.print(
            f"[{STYLE[finding.status]}]{mark:<4}[/] {finding.area:<7} "
            f"{escape(finding.message)}{needed}",
            soft_wrap=True,
        )
    verdict = "ready to grade" if code == 0 else "NOT ready: fix the failures marked (needed)"
    console.print(f"[bold]{verdict}[/] (needs: sandbox={needs.sandbox}, gpu={needs.gpu})")
    raise typer.Exit(code)

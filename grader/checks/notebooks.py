"""`notebooks`: every notebook parses, has stored outputs, and no cell ended in an error."""

from __future__ import annotations

from pydantic import Field

from grader.checks.base import Args, Check, CheckContext
from grader.ipynb import NotebookError, read_notebook
from grader.results import CheckOutcome, Evidence, Status


class NotebooksArgs(Args):
    include: list[str] = ["**/*.ipynb"]
    require_outputs: bool = True
    min_output_share: float = Field(0.5, ge=0, le=1, description="code cells with outputs")
    allow_errors: bool = False
    required_mime: list[str] = Field(default_factory=list, description="e.g. ['image/png']")
    min_notebooks: int = Field(1, ge=0)


def inspect_notebook(text: str) -> dict:
    """Cells, outputs and errors of one notebook (raises on malformed JSON/notebook)."""
    nb = read_notebook(text)
    code = [c for c in nb.cells if c.cell_type == "code"]
    with_outputs = [c for c in code if c.get("outputs")]
    errors, mimes = [], set()
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                errors.append(
                    {
                        "cell": index + 1,
                        "ename": output.get("ename", ""),
                        "evalue": str(output.get("evalue", ""))[:200],
                    }
                )
            mimes.update(output.get("data", {}).keys())
            if output.get("output_type") == "stream":
                mimes.add("text/plain")
    return {
        "cells": len(nb.cells),
        "code_cells": len(code),
        "with_outputs": len(with_outputs),
        "error_outputs": errors,
        "mime_types": sorted(mimes),
    }


class NotebooksCheck(Check):
    title = "Notebooks with outputs"
    Args = NotebooksArgs

    def run(self, ctx: CheckContext, args: NotebooksArgs) -> CheckOutcome:
        paths = ctx.glob(args.include)
        if not paths and args.min_notebooks == 0:
            return CheckOutcome(Status.SKIPPED, "no notebooks in the submission (none required)")
        if len(paths) < args.min_notebooks:
            return CheckOutcome(
                Status.FAIL, f"{len(paths)} notebook(s) found, {args.min_notebooks} expected"
            )
        evidence, facts, bad = [], [], 0
        for path in paths:
            raw = ctx.path(path).read_bytes().decode("utf-8", errors="replace")
            try:
                info = inspect_notebook(raw)
            except NotebookError as exc:
                bad += 1
                reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                evidence.append(Evidence(path, "malformed", f"not a readable notebook: {reason}"))
                facts.append({"path": path, "error": reason})
                continue
            facts.append({"path": path, **info})
            problems = []
            share = info["with_outputs"] / info["code_cells"] if info["code_cells"] else 0.0
            if args.require_outputs and share < args.min_output_share:
                problems.append(
                    f"only {info['with_outputs']} of {info['code_cells']} code cells "
                    "have stored outputs (run all cells and save)"
                )
            if info["error_outputs"] and not args.allow_errors:
                cells = ", ".join(
                    f"cell {e['cell']} ({e['ename']})" for e in info["error_outputs"][:5]
                )
                problems.append(f"error outputs in {cells}")
            missing = [m for m in args.required_mime if m not in info["mime_types"]]
            if missing:
                problems.append(f"no output of type {', '.join(missing)}")
            if problems:
                bad += 1
            evidence.append(
                Evidence(
                    path,
                    "problem" if problems else "ok",
                    "; ".join(problems)
                    or f"{info['with_outputs']}/{info['code_cells']} "
                    "code cells with outputs, no errors",
                    line=info["error_outputs"][0]["cell"] if info["error_outputs"] else None,
                )
            )
        good = len(paths) - bad
        facts_out = {"notebooks": facts}
        if bad:
            return CheckOutcome(
                Status.FAIL,
                f"{bad} of {len(paths)} notebook(s) have problems",
                evidence,
                facts_out,
                fraction=good / len(paths) if paths else 0.0,
            )
        return CheckOutcome(
            Status.PASS,
            f"{len(paths)} notebook(s) parse, with outputs, no errors",
            evidence,
            facts_out,
        )

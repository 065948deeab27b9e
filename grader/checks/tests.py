"""`tests`: the instructor's own pytest tests, public and hidden, against the submission.

Public tests ship with the assignment (a folder next to its spec, so in the wheel) and run
in every run: the student's self-check, the GitHub Action, the instructor's grading. Hidden
tests and hidden data live only in the instructor's directory
(``$GRADER_INSTRUCTOR_DIR/<spec id>/``) and run only when ``ctx.settings.hidden`` allows
(``grade``, ``batch``, ``reference``, and ``gradescope --hidden``).

The tests run outside the sandbox; the student's code (its modules, its notebook executed
once, the model its rerun produced) runs inside it and answers with data
(``grader.sandbox.test_session``). Each test is a row: points, status, message, and the
student's file and line where it failed. A test that skips for missing instructor material
(hidden data, reference metrics) is pending: the check is then ``manual``.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from grader.checks.base import Args, Check, CheckContext
from grader.checks.rerun import run_queue
from grader.paths import data_dir, instructor_dir
from grader.results import CheckOutcome, EnvironmentFailure, Evidence, Status
from grader.sandbox import FORCE_ENV
from grader.sandbox.base import Limits, SandboxError
from grader.sandbox.test_session import SessionPlan, SessionRecord, TestFile, run_session

FAILED = ("failed", "error", "not run")


class Leaderboard(Args):
    metric: str = Field(description="a metric the tests record, e.g. hidden_accuracy")
    higher_is_better: bool = True
    title: str = ""


class TestsArgs(Args):
    public: list[str] = Field(
        default_factory=list,
        description="test files or folders shipped with the assignment, relative to the "
        "spec file's folder",
    )
    hidden: list[str] = Field(
        default_factory=list,
        description="test files or folders in the instructor dir's <spec id>/ folder "
        "(e.g. hidden_tests); the instructor's run only",
    )
    hidden_data: str = Field("hidden_data", description="folder in the instructor dir's <id>/")
    notebook: str | None = Field(None, description="glob of the notebook to execute once")
    points: dict[str, float] = Field(
        default_factory=dict,
        description="test -> points, over @pytest.mark.points: the test's name, or "
        "FILE::NAME with FILE relative to its tests folder",
    )
    default_points: float = Field(1.0, ge=0)
    model_from: str | None = Field(
        None, description="id of a rerun check: the files it produced replace committed ones"
    )
    timeout: float = Field(60.0, gt=0, description="seconds per request to the student's code")
    cell_timeout: float = Field(60.0, gt=0)
    budget: float = Field(600.0, gt=0, description="wall seconds for the whole session")
    memory_mb: int = Field(4096, ge=64)
    processes: int = Field(256, ge=8)
    tmp_mb: int = Field(512, ge=16)
    gpu: Literal["optional", "required", "none"] = "optional"
    python: str | None = None
    caches: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    preload: list[str] = Field(
        default_factory=list, description="modules imported before the student's code"
    )
    show_hidden_output: bool = Field(False, description="show hidden tests' messages")
    hidden_visibility: Literal["hidden", "after_due_date", "after_published", "visible"] = (
        "after_published"
    )
    reference: str = Field("reference.json", description="file in the instructor dir's <id>/")
    leaderboard: Leaderboard | None = None


def public_test_files(ctx_spec: Any, args: TestsArgs) -> list[TestFile]:
    """The public tests (and their conftest.py files) next to the spec."""
    base = ctx_spec.source_dir or data_dir("assignments")
    return _collect([base / p for p in args.public], "public")


def _collect(roots: list[Path], visibility: str) -> list[TestFile]:
    found: list[TestFile] = []
    for index, root in enumerate(roots):
        prefix = f"{visibility}{index or ''}"
        if root.is_file():
            found.append(TestFile(root, f"{prefix}/{root.name}", visibility))
        elif root.is_dir():
            for path in sorted(root.rglob("*.py")):
                if "__pycache__" not in path.parts:
                    rel = path.relative_to(root).as_posix()
                    found.append(TestFile(path, f"{prefix}/{rel}", visibility))
    return found


def _reference_metrics(spec_id: str, name: str, mode: str) -> dict[str, float]:
    base = instructor_dir()
    try:
        data = json.loads((base / spec_id / name).read_text(encoding="utf-8")) if base else {}
    except (OSError, ValueError):
        return {}
    runs = data.get("runs", {}) if isinstance(data, dict) else {}
    if not runs:
        chosen = data  # a hand-written reference.json: {"metrics": {...}}
    elif mode == "none":  # a committed model: compared with a full run, else a smoke one
        chosen = runs.get("full") or runs.get("smoke") or {}
    else:
        chosen = runs.get(mode) or {}
    raw = chosen.get("metrics", {}) if isinstance(chosen, dict) else {}
    return {k: float(v) for k, v in raw.items() if isinstance(v, int | float)}


def _is_dir(host: str) -> bool:
    return Path(os.path.expandvars(host)).expanduser().is_dir()


def _produced(ctx: CheckContext, args: TestsArgs) -> tuple[dict[str, Path | None], str]:
    """Files the rerun produced (its new model), and where the tests' model comes from.
    When the rerun ran and wrote no new model, the committed files it should have written
    are taken away (``None``): the tests never grade a model the grader did not train."""
    if not args.model_from:
        return {}, "committed files"
    rerun = ctx.previous_result(args.model_from)
    if rerun is None or rerun.status == Status.SKIPPED:
        return {}, "committed files (no rerun in this run)"
    produced = rerun.facts.get("produced") or []
    folder = Path(rerun.facts.get("artifacts_dir") or ".")
    files: dict[str, Path | None] = {
        rel: folder / rel for rel in produced if (folder / rel).is_file()
    }
    if files:
        return files, "the rerun's new files: " + ", ".join(sorted(files))
    spec = next((c for c in ctx.spec.checks if c.key == args.model_from), None)
    globs = list((spec.args or {}).get("produces") or []) if spec else []
    committed = ctx.glob(globs, exclude=[".grader/**"]) if globs else []
    for rel in committed:
        files[rel] = None
    withheld = f"; the committed {', '.join(committed)} not graded" if committed else ""
    return files, f"none: the rerun produced no new model{withheld} (measured, not printed)"


class TestsCheck(Check):
    title = "Instructor tests"
    Args = TestsArgs
    # the student's code runs in the sandbox under the session's limits; the run queue, the
    # GPU leases and the warm pools live in the grader's process (not the check worker)
    runs_in_sandbox = True
    runs_code = runs_code_always = True

    def run(self, ctx: CheckContext, args: TestsArgs) -> CheckOutcome:
        missing = [m for m in ("pytest", "numpy") if importlib.util.find_spec(m) is None]
        if missing:
            raise EnvironmentFailure(
                f"the instructor's tests need {' and '.join(missing)}, not installed here: "
                "pip install 'grader[tests]'"
            )
        files = public_test_files(ctx.spec, args)
        notes: list[str] = []
        hidden_pending = ""
        base = instructor_dir()
        hidden_root = base / ctx.spec.id if base else None
        if ctx.settings.hidden and args.hidden:
            hidden = (
                _collect([hidden_root / p for p in args.hidden], "hidden") if hidden_root else []
            )
            files += hidden
            if not [f for f in hidden if f.source.name.startswith("test")]:
                hidden_pending = f"hidden tests not found in {hidden_root or 'no instructor dir'}"
        elif args.hidden:
            notes.append("hidden tests run only in the instructor's run")
        if not files:
            if hidden_pending:
                return CheckOutcome(Status.MANUAL, f"pending: {hidden_pending}")
            return CheckOutcome(
                Status.SKIPPED,
                "no tests to run in this run",
                pending="the instructor's run (hidden tests)" if args.hidden else "",
            )
        notebook = None
        if args.notebook:
            matches = ctx.glob(args.notebook, exclude=[".grader/**"])
            if not matches:
                return CheckOutcome(
                    Status.FAIL, f"no notebook matching {args.notebook!r}: the tests cannot run"
                )
            notebook = matches[0]
            if len(matches) > 1:
                notes.append(f"{len(matches)} notebooks match; tested {notebook}")
        overlay, model_source = _produced(ctx, args)
        mode = ctx.settings.rerun.value
        context = {
            "mode": mode, "hidden": ctx.settings.hidden, "notebook": notebook,
            "produced": sorted(k for k, v in overlay.items() if v is not None),
            "model_source": model_source,
            "caches": sorted(v for v, host in args.caches.items() if _is_dir(host)),
            "hidden_data": str(hidden_root / args.hidden_data)
            if ctx.settings.hidden and hidden_root else None,
            "reference": _reference_metrics(ctx.spec.id, args.reference, mode)
            if ctx.settings.hidden else {},
        }  # fmt: skip
        limits = Limits(
            wall_s=args.budget, memory_mb=args.memory_mb, processes=args.processes,
            tmp_mb=args.tmp_mb,
            # the work dir holds the submission (at most the spec's checkout size) and what
            # the student's process writes (tmp_mb)
            work_mb=int(ctx.spec.limits.max_total_mb) + args.tmp_mb,
        )  # fmt: skip
        plan = SessionPlan(
            files=files, limits=limits, notebook=notebook, timeout=args.timeout,
            cell_timeout=args.cell_timeout, python=args.python, env=dict(args.env),
            caches=dict(args.caches), gpu=args.gpu, preload=list(args.preload), overlay=overlay,
            points=dict(args.points), default_points=args.default_points, context=context,
            student_mode=ctx.mode,
            require_isolation=any(f.visibility == "hidden" for f in files)
            and os.environ.get(FORCE_ENV) != "1",
        )  # fmt: skip
        try:
            record = run_session(plan, ctx.workdir, run_queue(ctx))
        except SandboxError as exc:
            raise EnvironmentFailure(f"cannot run the tests: {exc}", "sandbox") from None
        return judge(ctx, args, record, notes, hidden_pending, model_source, notebook)


def _row(test: dict[str, Any], args: TestsArgs, notebook: str | None) -> dict[str, Any]:
    hidden = test.get("visibility") == "hidden"
    where = test.get("where")
    location = None
    if isinstance(where, list) and len(where) == 2:
        name, line = str(where[0]), where[1] if isinstance(where[1], int) else None
        if name.startswith("code cell") and notebook:
            location = {"path": notebook, "line": None, "label": f"{notebook}, {name}, line {line}"}
        elif not name.startswith("code cell"):
            location = {"path": name, "line": line, "label": f"{name}:{line}"}
    secret = hidden and not args.show_hidden_output
    return {
        "name": test.get("name", ""), "nodeid": test.get("nodeid", ""),
        "visibility": "hidden" if hidden else "public", "points": test.get("points", 0.0),
        "earned": test.get("earned", 0.0), "status": test.get("status", "not run"),
        "description": test.get("description", ""),
        "message": "(output hidden)" if secret and test.get("message") else test.get("message", ""),
        "where": None if secret else location, "seconds": test.get("seconds", 0.0),
    }  # fmt: skip


def judge(
    ctx: CheckContext,
    args: TestsArgs,
    record: SessionRecord,
    notes: list[str],
    hidden_pending: str,
    model_source: str,
    notebook: str | None = None,
) -> CheckOutcome:
    """One outcome from the session's per-test outcomes (decided outside the sandbox)."""
    facts: dict[str, Any] = {
        "sandbox": record.sandbox, "isolated": record.isolated, "device": record.device,
        "wall_s": record.wall_s, "waited_s": record.waited_s, "model_source": model_source,
        "hidden_visibility": args.hidden_visibility, "timings": record.timings,
    }  # fmt: skip
    if record.device.get("cpu_reason"):  # the spec wanted a GPU: say why the tests ran on CPU
        facts["cpu_reason"] = record.device["cpu_reason"]
        notes.append(f"ran on CPU because {record.device['cpu_reason']}")
    server = record.server
    facts["instructor_only"] = {
        "student_stdout_tail": server.stdout[-2000:] if server else "",
        "student_stderr_tail": server.stderr[-2000:] if server else "",
    }
    if record.start_problem:  # no test could judge the submission: not the student's doing
        tail = (server.stderr.strip().splitlines() or [""])[-1][:300] if server else ""
        raise EnvironmentFailure(
            f"the sandboxed process for the tests did not start: {record.start_problem}"
            + (f" ({tail})" if tail else ""),
            "sandbox",
        )
    if record.report is None:
        facts["instructor_only"]["runner_log"] = record.log_tail
        return CheckOutcome(Status.ERROR, f"the tests could not run: {record.problem}", facts=facts)
    report = record.report
    if report.get("collect_errors"):
        first = report["collect_errors"][0][:600]
        raise EnvironmentFailure(f"the instructor's tests cannot be collected: {first}", "tests")
    hello = report.get("hello") or {}
    rows = [_row(t, args, notebook) for t in report.get("tests", [])]
    facts["tests"] = rows
    facts["instructor_only"]["tests"] = report.get("tests", [])
    if hello.get("cells") is not None:
        facts["notebook"] = {"path": notebook, "cells": hello["cells"]}
    if report.get("student_problem"):
        ended = f" (the process {server.summary()})" if server else ""
        facts["student_problem"] = report["student_problem"] + ended
        notes.append(facts["student_problem"])
    metrics: dict[str, float] = {}
    for test in report.get("tests", []):
        metrics.update(test.get("metrics") or {})
    facts["metrics"] = metrics
    if args.leaderboard and args.leaderboard.metric in metrics:
        facts["leaderboard"] = {
            "metric": args.leaderboard.metric, "value": metrics[args.leaderboard.metric],
            "higher_is_better": args.leaderboard.higher_is_better,
            "title": args.leaderboard.title or args.leaderboard.metric.replace("_", " "),
        }  # fmt: skip
    return _score(ctx, rows, facts, notes, hidden_pending, record.isolated)


def _score(ctx, rows, facts, notes, hidden_pending, isolated) -> CheckOutcome:
    total = sum(r["points"] for r in rows)
    earned = sum(r["earned"] for r in rows)
    hidden_run = ctx.settings.hidden
    denominator = total if hidden_run else max(total, ctx.check.points)
    if hidden_run and ctx.check.points and abs(total - ctx.check.points) > 1e-9:
        notes.append(
            f"the tests carry {total:g} points and the spec gives the check {ctx.check.points:g}; "
            "scaled"
        )
    fraction = earned / denominator if denominator else (1.0 if rows else 0.0)
    facts.update(points_total=total, earned=round(earned, 4), notes=notes)
    evidence = [_evidence(r) for r in rows]
    failed = [r for r in rows if r["status"] in FAILED]
    pending = [r for r in rows if r["status"] == "pending"]
    counts = f"{sum(r['status'] == 'passed' for r in rows)} of {len(rows)} test(s) passed"
    summary = f"{counts}, {earned:g} of {total:g} test points"
    if not hidden_run and ctx.check.points > total:
        summary += f"; {ctx.check.points - total:g} more points come from hidden tests"
    if notes:
        summary += " (" + "; ".join(notes) + ")"
    if not isolated:
        summary = "NOT ISOLATED (no sandbox): " + summary
    if pending or hidden_pending:
        what = hidden_pending or f"{len(pending)} test(s) wait for instructor material"
        first = f" ({pending[0]['name']}: {pending[0]['message']})" if pending else ""
        return CheckOutcome(Status.MANUAL, f"pending: {what}{first}; {summary}", evidence, facts)
    if failed:
        worst = failed[0]
        first_line = (worst["message"].splitlines() or ["(no message)"])[0]
        detail = f"; first failure {worst['name']}: {first_line[:200]}"
        return CheckOutcome(Status.FAIL, summary + detail, evidence, facts, fraction)
    status = Status.PASS if isolated else Status.WARN
    return CheckOutcome(status, summary, evidence, facts, fraction)


def _evidence(row: dict[str, Any]) -> Evidence:
    where = row.get("where") or {}
    detail = f"{row['name']} ({row['earned']:g}/{row['points']:g} points)"
    if row["visibility"] == "hidden":
        detail += " [hidden test]"
    if where.get("label") and row["status"] in FAILED:
        detail += f" at {where['label']}"
    if row["message"].strip():
        detail += f": {row['message'].strip().splitlines()[0][:300]}"
    return Evidence(where.get("path", ""), row["status"], detail, where.get("line"))

"""`rerun`: rerun what the student says trains and evaluates the model, in the sandbox.

Its args ARE the spec's rerun config. The mode (none | smoke | full) is the run's
``ctx.settings.rerun``, set by the front door (``--rerun``; ``grade`` and ``check`` default to
none, ``batch`` to smoke). Smoke mode adds the spec's ``smoke`` settings (environment and
arguments that cap epochs/steps); full mode runs the commands as submitted. A full run that
requires a GPU falls back to smoke settings on a machine without one, and says so.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from grader.checks.base import Args, Check, CheckContext
from grader.logs import DEFAULT_PATTERNS, combine, find_training_outputs, parse_paths, parse_text
from grader.results import CheckOutcome, EnvironmentFailure, Evidence, Status
from grader.sandbox.base import Limits, SandboxError
from grader.sandbox.queue import RunQueue
from grader.sandbox.session import RerunPlan, RerunRecord, run_plan
from grader.settings import RerunMode

_QUEUE: RunQueue | None = None
PENDING_RERUN = "a run with --rerun smoke or full (the instructor's batch reruns by default)"


class SmokeArgs(Args):
    env: dict[str, str] = Field(default_factory=dict, description="e.g. {EPOCHS: '1'}")
    args: list[str] = Field(
        default_factory=list, description="appended to the first command (the training)"
    )
    commands: list[str] = Field(
        default_factory=list, description="replace the commands in smoke mode"
    )
    timeout: float | None = Field(None, gt=0, description="wall seconds per command in smoke mode")


class RerunArgs(Args):
    commands: list[str] = Field(
        default_factory=list, description="shell commands run in order, e.g. 'python train.py'"
    )
    notebooks: list[str] = Field(default_factory=list, description="globs of notebooks to execute")
    discover: bool = Field(False, description="find train.py/main.py/a Makefile/notebooks")
    timeout: float = Field(1800.0, gt=0, description="wall seconds per command (full mode)")
    gpu: Literal["optional", "required", "none"] = "optional"
    smoke: SmokeArgs = SmokeArgs()
    env: dict[str, str] = Field(default_factory=dict)
    network: bool = Field(False, description="network for the requirements install only")
    requirements: bool = Field(False, description="build a venv from requirements.txt")
    find_links: list[str] = Field(
        default_factory=list, description="local wheel folders for the requirements install"
    )
    python: str | None = Field(None, description="interpreter for student code")
    artifacts: list[str] = Field(
        default_factory=lambda: ["**/*.log", "**/*.csv", "**/*.json", "**/*.txt"],
        description="files collected from the work dir after the run",
    )
    caches: dict[str, str] = Field(
        default_factory=dict, description="env var -> host dir, mounted read-only"
    )
    produces: list[str] = Field(
        default_factory=list,
        description="globs of the model files the run must write (e.g. output/model.pt); "
        "a run that writes none of them earns nothing",
    )
    produces_max_mb: int = Field(2048, ge=1)
    data_dir: str | None = None
    memory_mb: int = Field(8192, ge=64)
    processes: int = Field(512, ge=8)
    file_size_mb: int = Field(2048, ge=1)
    tmp_mb: int = Field(1024, ge=16, description="size of /tmp and of /dev/shm (MiB each)")
    work_mb: int = Field(
        4096, ge=16, description="what the run may write into its work dir (MiB; RAM as root)"
    )
    cell_timeout: float = Field(600.0, gt=0)

    @model_validator(mode="after")
    def _something_to_run(self) -> RerunArgs:
        if not (self.commands or self.notebooks or self.discover):
            raise ValueError("give `commands`, `notebooks`, or `discover: true`")
        return self


def discover(ctx: CheckContext) -> tuple[list[str], list[str]]:
    """Commands and notebooks a submission most likely trains with."""
    files = set(ctx.files())
    for script in ("train.py", "main.py"):
        if script in files:
            commands = [f"python {script}"]
            commands += [f"python {e}" for e in ("evaluate.py", "test.py") if e in files]
            return commands, []
    if "Makefile" in files:
        text = ctx.path("Makefile").read_text(errors="replace")
        if re.search(r"^train\s*:", text, re.MULTILINE):
            return ["make train"], []
    return [], [nb for nb in ctx.glob("**/*.ipynb")]


def run_queue(ctx: CheckContext) -> RunQueue:
    """The run queue for checks that run student code: the context's, else one per process."""
    global _QUEUE
    if ctx.queue is not None:
        return ctx.queue
    if _QUEUE is None:
        slots = os.environ.get("GRADER_RERUN_SLOTS", "")
        _QUEUE = RunQueue(
            slots=int(slots) if slots.isdigit() else max(1, (os.cpu_count() or 2) // 2)
        )
    return _QUEUE


def out_dir_for(ctx: CheckContext) -> Path:
    if ctx.mode == "worktree":
        return ctx.workdir / ".grader" / "rerun" / ctx.check.key
    return ctx.workdir.parent / "rerun" / ctx.check.key


def _tail(text: str, limit: int = 1500) -> str:
    return text[-limit:].strip()


def _self_test_facts(record: RerunRecord) -> dict | None:
    """The CUDA self-test run before the commands (None when no GPU was tried)."""
    if record.self_test is None:
        return None
    return {
        **record.self_test.to_dict(with_output=False),
        "stdout_tail": _tail(record.self_test.stdout, 3000),
        "stderr_tail": _tail(record.self_test.stderr, 1500),
    }


def rerun_history(record: RerunRecord) -> dict:
    """The training history read from the run's output and its collected artifacts."""
    histories = {"rerun output": parse_text(record.output_text(), "rerun output")}
    if record.artifacts_dir is not None:
        found = find_training_outputs(record.artifacts, DEFAULT_PATTERNS)
        histories.update(parse_paths(record.artifacts_dir, found))
    return combine(histories).to_dict()


class RerunCheck(Check):
    title = "Rerun of the training"
    Args = RerunArgs
    runs_in_sandbox = True  # student code runs under the sandbox's limits; queue and GPUs here
    runs_code = True

    def run(self, ctx: CheckContext, args: RerunArgs) -> CheckOutcome:
        mode = ctx.settings.rerun
        if mode == RerunMode.NONE:
            return CheckOutcome(
                Status.SKIPPED,
                "rerun disabled for this run (--rerun none)",
                pending=PENDING_RERUN,
            )
        notes: list[str] = []
        queue = run_queue(ctx)
        if (
            mode == RerunMode.FULL
            and args.gpu == "required"
            and not (queue.gpus or queue.gpu_problem)
        ):
            mode = RerunMode.SMOKE
            notes.append("no GPU on this machine: ran the CPU fallback with smoke settings")
        commands, notebooks = (
            list(args.commands),
            ctx.glob(args.notebooks) if args.notebooks else [],
        )
        if args.discover and not commands and not notebooks:
            commands, notebooks = discover(ctx)
            if commands or notebooks:
                notes.append("discovered: " + ", ".join(commands + notebooks))
        if not commands and not notebooks:
            return CheckOutcome(
                Status.FAIL,
                "nothing to rerun: no command given and no train.py, main.py, Makefile "
                "`train` target or notebook found",
            )
        env = dict(args.env)
        timeout = args.timeout
        if mode == RerunMode.SMOKE:
            env.update(args.smoke.env)
            if args.smoke.commands:
                commands = list(args.smoke.commands)
            elif args.smoke.args and commands:
                commands[0] = f"{commands[0]} {shlex.join(args.smoke.args)}"
            timeout = args.smoke.timeout or args.timeout
        limits = Limits(
            wall_s=timeout, memory_mb=args.memory_mb, processes=args.processes,
            file_size_mb=args.file_size_mb, tmp_mb=args.tmp_mb, work_mb=args.work_mb,
        )  # fmt: skip
        plan = RerunPlan(
            commands=commands, notebooks=notebooks, mode=mode.value, limits=limits, gpu=args.gpu,
            network=args.network, env=env, python=args.python, requirements=args.requirements,
            caches=args.caches, data_dir=args.data_dir, artifacts=args.artifacts,
            cell_timeout=args.cell_timeout, student_mode=ctx.mode, produces=args.produces,
            produces_max_bytes=args.produces_max_mb * 1024 * 1024, find_links=args.find_links,
        )  # fmt: skip
        out_dir = out_dir_for(ctx)
        try:
            record = run_plan(plan, ctx.workdir, out_dir, queue)
        except SandboxError as exc:  # no sandbox, a bad interpreter: never the student's fault
            raise EnvironmentFailure(f"cannot rerun: {exc}", kind="sandbox") from None
        return self._judge(ctx, record, mode, commands, notebooks, notes, out_dir, args.produces)

    def _judge(
        self,
        ctx: CheckContext,
        record: RerunRecord,
        mode: RerunMode,
        commands: list[str],
        notebooks: list[str],
        notes: list[str],
        out_dir: Path,
        produces: list[str] | None = None,
    ) -> CheckOutcome:
        history = rerun_history(record)
        evidence = []
        for run in record.runs:
            detail = run.summary()
            if not run.ok:
                detail += ": " + (_tail(run.stderr) or _tail(run.stdout) or "no output")
            evidence.append(Evidence(" ".join(run.command), "ok" if run.ok else "failed", detail))
        if record.install is not None:
            evidence.insert(
                0,
                Evidence(
                    "pip install -r requirements.txt",
                    "ok" if record.install.ok else "failed",
                    "; ".join([record.install.summary(), *record.install.warnings])
                    + ("" if record.install.ok else ": " + _tail(record.install.stderr)),
                ),
            )
        if record.self_test is not None:
            passed = not record.device.get("cpu_reason")
            detail = str(record.device.get("self_test") or record.self_test.summary())
            evidence.insert(0, Evidence("CUDA self-test", "ok" if passed else "failed", detail))
        executed = [a for a in record.artifacts if a.endswith(".ipynb") and ".grader-run" in a]
        if record.notebooks is not None:
            for failure in record.notebooks.failures:
                evidence.append(Evidence(failure.split(":", 1)[0], "failed", failure))
            if not record.notebooks.failures:
                evidence.append(
                    Evidence(", ".join(notebooks), "ok", "every cell ran without error")
                )
        warnings = sorted({w for run in record.runs for w in run.warnings})
        if record.notebooks is not None:
            warnings = sorted(set(warnings) | set(record.notebooks.output.warnings))
        device = record.device.get("name", "cpu")
        if record.device.get("cpu_reason"):  # the spec wanted a GPU: say why it ran on CPU
            device = f"the CPU (ran on CPU because {record.device['cpu_reason']})"
        warnings = sorted(set(warnings) | set(record.device_warnings))
        facts = {
            "mode": mode.value,
            "device": record.device,
            "sandbox": record.sandbox,
            "isolated": record.isolated,
            "commands": commands,
            "runs": [
                {
                    **r.to_dict(with_output=False),
                    "stdout_tail": _tail(r.stdout, 4000),
                    "stderr_tail": _tail(r.stderr, 4000),
                }
                for r in record.runs
            ],  # fmt: skip
            "notebooks": record.notebooks.to_dict() if record.notebooks else None,
            "artifacts": record.artifacts,
            "artifacts_dir": str(out_dir),
            "executed_notebooks": [str(out_dir / a) for a in executed],
            # the same, relative to the report's folder when it has its default place
            "executed_links": [f"rerun/{ctx.check.key}/{a}" for a in executed],
            "history": history,
            "notes": notes,
            "warnings": warnings,
            "waited_s": record.waited_s,
            "produced": record.produced,
            "identical_to_committed": record.identical,
            "cpu_reason": record.device.get("cpu_reason", ""),
            "self_test": _self_test_facts(record),
        }
        where = f"in {mode.value} mode on {device} ({record.sandbox})"
        if not record.ok:
            failed = next((r for r in record.runs if not r.ok), None)
            if failed is not None:
                message = (
                    f"the rerun {where} failed: `{' '.join(failed.command)}` {failed.summary()}"
                )
            else:
                message = f"the notebooks {where} failed: " + "; ".join(
                    record.notebooks.failures[:3] if record.notebooks else []
                )
            return CheckOutcome(Status.FAIL, message, evidence, facts)
        if produces and not record.produced:
            message = (
                f"the rerun {where} finished but wrote no model file (expected "
                f"{', '.join(produces)}, written during the run): what a script prints earns "
                "nothing, the grader measures the model it trains"
            )
            return CheckOutcome(Status.FAIL, message, evidence, facts)
        wall = sum(r.wall_s for r in record.runs) + (
            record.notebooks.output.wall_s if record.notebooks else 0.0
        )
        epochs = sum(len(p["epochs"]) for p in history["phases"])
        tests = ", ".join(f"test {k} {v:.4g}" for k, v in sorted(history["test_metrics"].items()))
        message = f"reran {where}: finished in {wall:.1f} s; {epochs} epoch(s) parsed"
        if record.produced:
            message += f"; wrote {', '.join(record.produced)}"
        if record.identical:
            notes.append(
                f"{', '.join(record.identical)} came out byte-identical to the committed file "
                "(a deterministic training reproduces it; so would a copy: the score comes "
                "from measuring the model, not from this run)"
            )
        message += f", {tests}" if tests else ""
        if notes:
            message += " (" + "; ".join(notes) + ")"
        status = Status.PASS
        if not record.isolated:
            status = Status.WARN
            message = "NOT ISOLATED: " + message
        return CheckOutcome(status, message, evidence, facts)

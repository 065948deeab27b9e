"""One rerun of a submission: lease a slot (and GPU), copy the submission into a private
work dir, run the commands and notebooks in the sandbox, collect what they produced.

Plain orchestration with no judging: ``grader.checks.rerun`` decides what the run means.
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.sandbox import choose_sandbox
from grader.sandbox.base import Limits, Mount, RunOutput
from grader.sandbox.envs import (
    interpreter_mounts,
    resolve_interpreter,
    submission_venv,
    wheelhouses,
)
from grader.sandbox.notebook import RUN_DIR, NotebookRun, execute_notebooks
from grader.sandbox.queue import RunQueue
from grader.sandbox.rerun_device import choose_device
from grader.sandbox.workspace import (
    collect_artifacts,
    discard_workdir,
    file_states,
    prepare_workdir,
    same_as_committed,
)

CACHE_ROOT = "/cache"
DATA_TARGET = "/data"


@dataclass
class RerunPlan:
    commands: list[str]
    notebooks: list[str]
    mode: str  # "smoke" or "full"
    limits: Limits
    gpu: str = "optional"
    network: bool = False  # only for the install phase (requirements.txt), never the run
    env: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    requirements: bool = False
    caches: dict[str, str] = field(default_factory=dict)  # env var -> host dir (read-only)
    data_dir: str | None = None
    artifacts: list[str] = field(default_factory=list)
    cell_timeout: float = 300.0
    cell_output_limit: int = 200_000
    student_mode: str = "pinned"
    produces: list[str] = field(default_factory=list)  # globs of the model files it must write
    produces_max_bytes: int = 2048 * 1024 * 1024
    find_links: list[str] = field(default_factory=list)  # local wheel folders for installs


@dataclass
class RerunRecord:
    runs: list[RunOutput] = field(default_factory=list)
    notebooks: NotebookRun | None = None
    artifacts: list[str] = field(default_factory=list)
    artifacts_dir: Path | None = None
    device: dict[str, Any] = field(default_factory=dict)
    sandbox: str = ""
    isolated: bool = True
    install: RunOutput | None = None
    waited_s: float = 0.0
    produced: list[str] = field(default_factory=list)  # written by the run, ``produces``
    identical: list[str] = field(default_factory=list)  # of those, byte-equal to committed
    self_test: RunOutput | None = None  # the CUDA self-test run before the commands
    device_warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        runs_ok = all(r.ok for r in self.runs)
        return runs_ok and (self.notebooks is None or self.notebooks.ok)

    def output_text(self) -> str:
        """Every command's stdout and stderr, for the training-log parser."""
        parts = []
        for run in self.runs:
            parts += [run.stdout, run.stderr]
        return "\n".join(p for p in parts if p)


def cache_mounts(
    caches: dict[str, str], data_dir: str | None = None
) -> tuple[tuple[Mount, ...], dict[str, str]]:
    """Read-only mounts (and their variables) for the instructor's caches and data dir."""
    mounts, env = [], {}
    for var, host in sorted(caches.items()):
        path = Path(os.path.expandvars(host)).expanduser()  # "~/.keras/datasets", "$DATA/x"
        if path.is_dir():
            target = f"{CACHE_ROOT}/{var.lower()}"
            mounts.append(Mount(path, target))
            env[var] = target
    if data_dir and Path(data_dir).is_dir():
        mounts.append(Mount(Path(data_dir), DATA_TARGET))
        env["GRADER_DATA_DIR"] = DATA_TARGET
    return tuple(mounts), env


def python_shim(work: Path, python: Path) -> str:
    """A ``bin`` dir inside the work dir where ``python``/``python3`` run the interpreter
    (a script, not a symlink: a venv's python finds its venv from the path it was run as)."""
    bin_dir = work / RUN_DIR / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(str(python))} "$@"\n')
        shim.chmod(0o755)
    if os.geteuid() == 0:
        info = work.stat()
        for path in (work / RUN_DIR, bin_dir, *bin_dir.iterdir()):
            os.chown(path, info.st_uid, info.st_gid)
    return f"/submission/{RUN_DIR}/bin"


def run_plan(
    plan: RerunPlan, source: Path, out_dir: Path, queue: RunQueue | None = None
) -> RerunRecord:
    """Execute a plan on a copy of ``source``; artifacts and executed notebooks go to
    ``out_dir``. Raises SandboxError when no acceptable sandbox exists."""
    queue = queue or RunQueue()
    python = resolve_interpreter(plan.python)
    record = RerunRecord()
    with queue.lease(_gpu_need(plan, queue), wait_for_gpu=_waits_for_gpu(plan)) as lease:
        record.waited_s = round(lease.waited_s, 3)
        sandbox = choose_sandbox(plan.student_mode, uid=lease.uid)
        record.sandbox, record.isolated = sandbox.name, sandbox.isolated
        uid = getattr(sandbox, "uid", None)
        record.device = {"name": "cpu"}  # until the device check below says otherwise
        cache_mounts_, cache_env = cache_mounts(plan.caches, plan.data_dir)
        work = prepare_workdir(source, uid, work_mb=plan.limits.work_mb)
        before = file_states(work)
        base_mounts = interpreter_mounts(python)
        try:
            if plan.requirements and (work / "requirements.txt").is_file():
                cache_root = Path(os.environ.get("GRADER_VENV_CACHE", out_dir.parent / ".venvs"))
                python, record.install = submission_venv(
                    work / "requirements.txt",
                    python,
                    cache_root,
                    sandbox,
                    plan.limits,
                    uid,
                    network=plan.network,
                    private_dir=work.parent / "venv",  # goes with the run dir
                    find_links=wheelhouses(plan.find_links),
                )
            mounts = tuple(
                dict.fromkeys((*base_mounts, *interpreter_mounts(python), *cache_mounts_))
            )
            env = {**cache_env, **plan.env}
            env["PATH"] = python_shim(work, python) + ":/usr/local/bin:/usr/bin:/bin"
            if record.install is None or record.install.ok:
                choice = choose_device(
                    lease, queue, sandbox, python, gpu=plan.gpu, limits=plan.limits,
                    mounts=mounts, env=env,
                )  # fmt: skip
                record.device, record.self_test = choice.device, choice.self_test
                record.device_warnings = choice.warnings
                for command in plan.commands:
                    run = sandbox.run(
                        ["/bin/sh", "-c", command], work, plan.limits, env=env,
                        network=False, mounts=mounts, gpus=choice.gpus,
                    )  # fmt: skip
                    run.command = shlex.split(command) if _splittable(command) else [command]
                    record.runs.append(run)
                    if not run.ok:
                        break
                if plan.notebooks and all(r.ok for r in record.runs):
                    record.notebooks = execute_notebooks(
                        sandbox, work, plan.notebooks, plan.limits, str(python),
                        cell_timeout=plan.cell_timeout, output_limit=plan.cell_output_limit,
                        mounts=mounts, env=env, gpus=choice.gpus,
                    )  # fmt: skip
            patterns = [*plan.artifacts, f"{RUN_DIR}/executed/*.ipynb"]
            if out_dir.exists():
                shutil.rmtree(out_dir)  # a fresh rerun replaces the last one's files
            out_dir.mkdir(parents=True)
            record.artifacts = collect_artifacts(work, patterns, out_dir, before=before)
            record.artifacts_dir = out_dir
            if plan.produces:
                found = collect_artifacts(
                    work, plan.produces, out_dir, plan.produces_max_bytes, before=before
                )
                record.produced = found
                record.identical = same_as_committed(out_dir, found, source)
                record.artifacts = sorted(set(record.artifacts) | set(record.produced))
        finally:
            discard_workdir(work)
            shutil.rmtree(work.parent, ignore_errors=True)
    return record


def _gpu_need(plan: RerunPlan, queue: RunQueue) -> str:
    """What to lease: the plan's GPU wish where the machine has GPUs, or a broken driver
    (so that 'required' fails as the environment's fault instead of running on the CPU)."""
    return plan.gpu if queue.gpus or queue.gpu_problem else "none"


def _waits_for_gpu(plan: RerunPlan) -> bool:
    """A smoke run with an optional GPU takes one only when one is free at once."""
    return plan.mode != "smoke" or plan.gpu == "required"


def _splittable(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:
        return False
    return True

"""One instructor-test session: the student's process in the sandbox, the tests outside it.

    grader (this process)
      |-- thread: Sandbox.run(student_server.py)   untrusted: imports and runs student code,
      |   (grader.sandbox.student_process,         executes the notebook, answers requests
      |    started now or ahead from a warm pool)
      `-- fork: pytest + grader.testkit.plugin     trusted: the instructor's tests, never
                                                   imports student code; decides outcomes

The two talk over a Unix socket in a folder mounted read-only into the sandbox (the forked
test process inherits the connection, and our copy is closed). The tests' outcomes come
back to this process over a pipe that only the forked test process holds:
the sandboxed process inherits no descriptor of ours (every run closes them), lives in
other pid, user and mount namespaces under another uid, and so can neither read the test
process's memory nor write its report. Plain orchestration with no judging:
``grader.checks.tests`` decides what the outcomes mean.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import select
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.sandbox import FORCE_ENV, choose_sandbox
from grader.sandbox.base import Limits, RunOutput, SandboxError
from grader.sandbox.envs import interpreter_mounts, resolve_interpreter
from grader.sandbox.queue import RunQueue
from grader.sandbox.rerun_device import choose_device
from grader.sandbox.student_process import POOL, Profile, StudentProcess, StudentStartError
from grader.sandbox.test_runner import RUNNERS, TestRunner


@dataclass
class TestFile:
    source: Path  # a test file (or a conftest.py) on the grader's side
    target: str  # where it goes in the session's test folder: "public/test_x.py"
    visibility: str  # "public" or "hidden"


@dataclass
class SessionPlan:
    files: list[TestFile]
    limits: Limits
    notebook: str | None = None
    timeout: float = 60.0  # per request
    cell_timeout: float = 60.0
    python: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    caches: dict[str, str] = field(default_factory=dict)
    gpu: str = "optional"
    preload: list[str] = field(default_factory=list)
    # work path -> host file (None: the committed file is taken away)
    overlay: dict[str, Path | None] = field(default_factory=dict)
    points: dict[str, float] = field(default_factory=dict)
    default_points: float = 1.0
    context: dict[str, Any] = field(default_factory=dict)
    student_mode: str = "pinned"
    require_isolation: bool = False  # hidden material: never next to unsandboxed student code


@dataclass
class SessionRecord:
    report: dict[str, Any] | None = None  # the plugin's report: tests, hello, collect errors
    problem: str | None = None  # why there is no report, in words
    # the sandboxed process did not start or say "ready" (before any of the submission's
    # code runs): the grader's machine, never the student's doing
    start_problem: str | None = None
    server: RunOutput | None = None
    sandbox: str = ""
    isolated: bool = True
    device: dict[str, Any] = field(default_factory=dict)
    waited_s: float = 0.0
    wall_s: float = 0.0
    log_tail: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds since start


def _read_all(fd: int, deadline: float) -> bytes | None:
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _profile(plan: SessionPlan, python: Path) -> Profile:
    return Profile(
        str(python), tuple(plan.preload), tuple(sorted(plan.caches.items())),
        tuple(sorted(plan.env.items())), plan.limits,
    )  # fmt: skip


def run_session(plan: SessionPlan, source: Path, queue: RunQueue | None = None) -> SessionRecord:
    """Run the plan's tests against a copy of ``source``. Raises SandboxError when no
    acceptable sandbox exists."""
    queue = queue or RunQueue()
    python = resolve_interpreter(plan.python)
    record = SessionRecord()
    started = time.monotonic()
    profile = _profile(plan, python)
    with queue.lease(plan.gpu if queue.gpus or queue.gpu_problem else "none") as lease:
        record.waited_s = round(lease.waited_s, 3)
        sandbox = choose_sandbox(plan.student_mode, uid=lease.uid)
        if plan.require_isolation and not sandbox.isolated:
            raise SandboxError(
                "hidden tests and hidden data are never used next to unsandboxed student "
                f"code ({getattr(sandbox, 'reason', None) or 'no sandbox'}); install "
                f"bubblewrap, or set {FORCE_ENV}=1 to accept that the student's code can read "
                "them"
            )
        record.sandbox, record.isolated = sandbox.name, sandbox.isolated
        gpus: tuple = ()
        record.device = {"name": "cpu"}
        if lease.gpus or lease.cpu_reason or queue.gpu_problem:  # the GPU proves itself first
            choice = choose_device(
                lease, queue, sandbox, python, gpu=plan.gpu, limits=plan.limits,
                mounts=interpreter_mounts(python), env=dict(plan.env),
            )  # fmt: skip
            gpus, record.device = choice.gpus, choice.device
        pooled = _poolable(plan, sandbox, gpus)
        student = POOL.take(profile) if pooled else None
        record.timings["warm"] = float(student is not None)
        if pooled:  # the next student's process starts while this one's tests run
            POOL.prestart(profile, plan.student_mode)
        if student is None:
            student = StudentProcess(profile, sandbox, getattr(sandbox, "uid", None), gpus)
        try:
            student.fill(source, plan.overlay)
            record.timings["filled"] = round(time.monotonic() - started, 3)
            record = _run(plan, record, student, pooled)
        finally:
            record.timings["tests_done"] = round(time.monotonic() - started, 3)
            if student.stack_owns_uid:  # its own pool lease: it may end after we return
                threading.Thread(target=student.stop, daemon=True).start()
            else:
                record.server = student.stop()
    record.wall_s = round(time.monotonic() - started, 3)
    return record


def _poolable(plan: SessionPlan, sandbox: object, gpus: tuple) -> bool:
    """Whether sessions use (and refill) the warm pool: on the CPU, in the real sandbox, in
    an instructor's run, in a process that grades many submissions (a batch worker);
    ``GRADER_TESTS_POOL`` = 1 always, 0 never."""
    wanted = os.environ.get("GRADER_TESTS_POOL", "")
    if wanted == "0" or plan.student_mode != "pinned":
        return False
    if wanted != "1" and multiprocessing.parent_process() is None:
        return False  # a one-off `grader grade`: a pre-started process would go to waste
    return bool(getattr(sandbox, "isolated", False)) and not gpus


def _static(plan: SessionPlan) -> dict[str, Any]:
    """What the test process needs before it knows the submission (the pool's key)."""
    return {"points": plan.points, "default_points": plan.default_points,
            "timeout": plan.timeout}  # fmt: skip


def _run(
    plan: SessionPlan, record: SessionRecord, student: StudentProcess, pooled: bool
) -> SessionRecord:
    began = time.monotonic()
    problem = ""
    runner = RUNNERS.take(plan.files, _static(plan)) if pooled else None
    record.timings["runner_warm"] = float(runner is not None)
    if runner is None:
        runner = TestRunner(plan.files, _static(plan))  # collects while the student starts
    try:
        student.wait_ready(timeout=min(plan.limits.wall_s, 120.0))
    except StudentStartError as exc:
        problem = record.start_problem = str(exc)
    record.timings["ready"] = round(time.monotonic() - began, 3)
    dynamic = {"notebook": plan.notebook, "cell_timeout": plan.cell_timeout,
               "start_timeout": plan.limits.wall_s, "context": plan.context}  # fmt: skip
    report_r = runner.go(student.conn, problem, dynamic)
    if student.conn is not None:  # the test process has it now; ours would keep it open
        student.conn.close()
        student.conn = None
    raw = _read_all(report_r, time.monotonic() + plan.limits.wall_s + 30)
    record.timings["report"] = round(time.monotonic() - began, 3)
    os.close(report_r)
    record.log_tail = runner.finish(killed=raw is None)
    if pooled:  # the next session's test process forks now and collects meanwhile
        RUNNERS.prefork(plan.files, _static(plan))
    if raw is None:
        record.problem = "the tests did not finish within the session's time limit"
        return record
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    if "crash" in data or not data:
        record.problem = "the test runner failed: " + str(data.get("crash", "no report"))[-1500:]
        return record
    record.report = data
    for name, value in (data.get("timings") or {}).items():
        record.timings[f"test_process_{name}"] = value
    return record

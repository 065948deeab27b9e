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

import contextlib
import ctypes
import gc
import json
import multiprocessing
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.sandbox import FORCE_ENV, choose_sandbox
from grader.sandbox.base import Limits, RunOutput, SandboxError
from grader.sandbox.envs import resolve_interpreter
from grader.sandbox.queue import RunQueue
from grader.sandbox.student_process import POOL, Profile, StudentProcess, StudentStartError
from grader.sandbox.workspace import sandbox_base


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
    overlay: dict[str, Path] = field(default_factory=dict)  # work path -> host file
    points: dict[str, float] = field(default_factory=dict)
    default_points: float = 1.0
    context: dict[str, Any] = field(default_factory=dict)
    student_mode: str = "pinned"
    require_isolation: bool = False  # hidden material: never next to unsandboxed student code


@dataclass
class SessionRecord:
    report: dict[str, Any] | None = None  # the plugin's report: tests, hello, collect errors
    problem: str | None = None  # why there is no report, in words
    server: RunOutput | None = None
    sandbox: str = ""
    isolated: bool = True
    device: dict[str, Any] = field(default_factory=dict)
    waited_s: float = 0.0
    wall_s: float = 0.0
    log_tail: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds since start


# pytest plugins a test process does without (unraisableexception and threadexception
# would run a full garbage collection over the memory forked from the grader)
LEAN = ("cacheprovider", "stepwise", "pastebin", "junitxml", "doctest", "setuponly",
        "setupplan", "faulthandler", "legacypath", "unraisableexception", "threadexception")  # fmt: skip
_WARM: set[str] = set()


def warm_up(files: list[TestFile]) -> None:
    """Import once per process what every test process needs (pytest and its plugins, numpy,
    the testkit; scikit-learn's metrics when a test file uses them), so that each forked test
    process starts with them loaded."""
    import importlib

    wanted = ["pytest", "numpy", "grader.testkit.plugin"]
    wanted += [f"_pytest.{name}" for name in _pytest_plugins() if name not in LEAN]
    uses_sklearn = any(
        word in f.source.read_text(errors="replace")
        for f in files
        for word in ("sklearn", "classification_metrics", "regression_metrics")
    )
    if uses_sklearn:
        wanted.append("sklearn.metrics")
    for name in wanted:
        if name not in _WARM:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
            _WARM.add(name)


def _pytest_plugins() -> tuple[str, ...]:
    from _pytest.config import default_plugins

    return tuple(default_plugins)


def _non_dumpable() -> None:
    """No other process of our uid may read this one's memory or descriptors (prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def _test_process(plan: SessionPlan, run_dir: Path, conn: socket.socket | None, problem: str,
                  report_fd: int, log: Path) -> None:  # fmt: skip
    """The forked, trusted test process: run pytest with the grader's plugin, write the
    report to ``report_fd``, exit without running the parent's exit handlers."""
    code = 1
    try:
        _non_dumpable()
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - process-long
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        os.chdir(run_dir)
        import pytest

        from grader.testkit.plugin import GraderPlugin

        config = {
            "files": {f.target: f.visibility for f in plan.files},
            "points": plan.points, "default_points": plan.default_points,
            "timeout": plan.timeout, "start_timeout": plan.limits.wall_s,
            "notebook": plan.notebook, "cell_timeout": plan.cell_timeout,
            "context": plan.context,
        }  # fmt: skip
        plugin = GraderPlugin(config, conn, problem)
        roots = list(dict.fromkeys(f.target.split("/", 1)[0] for f in plan.files))
        args = [*roots, "-q", "--import-mode=importlib", "-c", str(run_dir / "pytest.ini"),
                "--rootdir", str(run_dir), "-W", "ignore"]  # fmt: skip
        for name in LEAN:
            args += ["-p", f"no:{name}"]
        exit_code = pytest.main(args, plugins=[plugin])
        plugin.close()
        data = plugin.report()
        data["exit_code"] = int(exit_code)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent reads what happened
        data = {"crash": traceback.format_exc()[-4000:]}
    with contextlib.suppress(OSError):
        payload = json.dumps(data, default=str).encode()
        view = memoryview(payload)
        while view:
            view = view[os.write(report_fd, view) :]
    os._exit(code)


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


def _test_dir(plan: SessionPlan, session: Path) -> Path:
    run_dir = session / "tests"
    run_dir.mkdir(mode=0o700)
    (run_dir / "pytest.ini").write_text("[pytest]\n")
    for item in plan.files:
        target = run_dir / item.target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.source, target)
        os.chmod(target, 0o400)  # read-only, and never visible inside the sandbox
    return run_dir


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
    with queue.lease(plan.gpu if queue.gpus else "none") as lease:
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
        record.device = lease.gpus[0].to_dict() if lease.gpus else {"name": "cpu"}
        pooled = _poolable(plan, sandbox, lease)
        student = POOL.take(profile) if pooled else None
        record.timings["warm"] = float(student is not None)
        if pooled:  # the next student's process starts while this one's tests run
            POOL.prestart(profile, plan.student_mode)
        if student is None:
            student = StudentProcess(profile, sandbox, getattr(sandbox, "uid", None), lease.gpus)
        session = Path(tempfile.mkdtemp(prefix="tests-", dir=sandbox_base()))
        try:
            student.fill(source, plan.overlay)
            record.timings["filled"] = round(time.monotonic() - started, 3)
            record = _run(plan, record, student, _test_dir(plan, session), session)
        finally:
            record.timings["tests_done"] = round(time.monotonic() - started, 3)
            if student.stack_owns_uid:  # its own pool lease: it may end after we return
                threading.Thread(target=student.stop, daemon=True).start()
            else:
                record.server = student.stop()
            shutil.rmtree(session, ignore_errors=True)
    record.wall_s = round(time.monotonic() - started, 3)
    return record


def _poolable(plan: SessionPlan, sandbox: object, lease: object) -> bool:
    """Whether sessions use (and refill) the warm pool: on the CPU, in the real sandbox, in
    an instructor's run, in a process that grades many submissions (a batch worker);
    ``GRADER_TESTS_POOL`` = 1 always, 0 never."""
    wanted = os.environ.get("GRADER_TESTS_POOL", "")
    if wanted == "0" or plan.student_mode != "pinned":
        return False
    if wanted != "1" and multiprocessing.parent_process() is None:
        return False  # a one-off `grader grade`: a pre-started process would go to waste
    return bool(getattr(sandbox, "isolated", False)) and not getattr(lease, "gpus", ())


def _run(
    plan: SessionPlan, record: SessionRecord, student: StudentProcess, run_dir: Path,
    session: Path,
) -> SessionRecord:  # fmt: skip
    began = time.monotonic()
    problem = ""
    try:
        student.wait_ready(timeout=min(plan.limits.wall_s, 120.0))
    except StudentStartError as exc:
        problem = str(exc)
    record.timings["ready"] = round(time.monotonic() - began, 3)
    warm_up(plan.files)
    report_r, report_w = os.pipe()
    log = session / "pytest.log"
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()  # the child's collections skip what it inherits (no copy-on-write storm)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends in os._exit
        os.close(report_r)
        _test_process(plan, run_dir, student.conn, problem, report_w, log)
    gc.unfreeze()
    os.close(report_w)
    if student.conn is not None:  # the test process has it now; ours would keep it open
        student.conn.close()
        student.conn = None
    raw = _read_all(report_r, time.monotonic() + plan.limits.wall_s + 30)
    record.timings["report"] = round(time.monotonic() - began, 3)
    os.close(report_r)
    if raw is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _wait_child(pid)
    with contextlib.suppress(OSError):
        record.log_tail = (session / "pytest.log").read_text(errors="replace")[-3000:]
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
    return record


def _wait_child(pid: int) -> None:
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.002)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)

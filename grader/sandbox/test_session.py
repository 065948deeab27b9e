"""One instructor-test session: the student's process in the sandbox, the tests outside it.

    grader (this process)
      |-- thread: Sandbox.run(student_server.py)   untrusted: imports and runs student code,
      |                                            executes the notebook, answers requests
      `-- fork: pytest + grader.testkit.plugin     trusted: the instructor's tests, never
                                                   imports student code; decides outcomes

The two talk over a Unix socket in a folder mounted read-only into the sandbox. The tests'
outcomes come back to this process over a pipe that only the forked test process holds:
the sandboxed process inherits no descriptor of ours (every run closes them), lives in
other pid, user and mount namespaces under another uid, and so can neither read the test
process's memory nor write its report. Plain orchestration with no judging:
``grader.checks.tests`` decides what the outcomes mean.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
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
from grader.sandbox.base import Limits, Mount, RunOutput, SandboxError
from grader.sandbox.envs import interpreter_mounts, resolve_interpreter
from grader.sandbox.process import processes_of_uid
from grader.sandbox.queue import RunQueue
from grader.sandbox.session import cache_mounts, python_shim
from grader.sandbox.workspace import discard_workdir, prepare_workdir, sandbox_base

SERVER = Path(__file__).with_name("student_server.py")
CHANNEL_TARGET = "/grader-channel"


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


def _non_dumpable() -> None:
    """No other process of our uid may read this one's memory or descriptors (prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def _test_process(plan: SessionPlan, run_dir: Path, listener: socket.socket, ended: int,
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
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        os.chdir(run_dir)
        import pytest

        from grader.testkit.plugin import GraderPlugin

        config = {
            "files": {f.target: f.visibility for f in plan.files},
            "points": plan.points, "default_points": plan.default_points,
            "timeout": plan.timeout, "accept_timeout": plan.limits.wall_s,
            "notebook": plan.notebook, "context": plan.context,
        }  # fmt: skip
        plugin = GraderPlugin(config, listener, ended)
        roots = list(dict.fromkeys(f.target.split("/", 1)[0] for f in plan.files))
        args = [
            *roots, "-q", "-p", "no:cacheprovider", "-p", "no:stepwise", "--import-mode=importlib",
            "-c", str(run_dir / "pytest.ini"), "--rootdir", str(run_dir), "-W", "ignore",
        ]  # fmt: skip
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
        import select

        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _stop_student(uid: int | None, isolated: bool, thread: threading.Thread) -> None:
    """End a student process that is still running after the tests: every process of
    its slot's uid (a slot runs one sandbox at a time)."""
    thread.join(timeout=2.0)
    if not thread.is_alive() or uid is None or not isolated or os.geteuid() != 0:
        return
    for pid, _name in processes_of_uid(uid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    thread.join(timeout=5.0)


def _prepare(plan: SessionPlan, session: Path, uid: int | None) -> tuple[Path, Path]:
    channel = session / "channel"
    channel.mkdir(mode=0o755)
    shutil.copyfile(SERVER, channel / "student_server.py")
    os.chmod(channel / "student_server.py", 0o644)
    run_dir = session / "tests"
    run_dir.mkdir(mode=0o700)
    (run_dir / "pytest.ini").write_text("[pytest]\n")
    for item in plan.files:
        target = run_dir / item.target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.source, target)
        os.chmod(target, 0o400)  # read-only, and never visible inside the sandbox
    return channel, run_dir


def run_session(plan: SessionPlan, source: Path, queue: RunQueue | None = None) -> SessionRecord:
    """Run the plan's tests against a copy of ``source``. Raises SandboxError when no
    acceptable sandbox exists."""
    queue = queue or RunQueue()
    python = resolve_interpreter(plan.python)
    record = SessionRecord()
    started = time.monotonic()
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
        uid = getattr(sandbox, "uid", None)
        record.device = lease.gpus[0].to_dict() if lease.gpus else {"name": "cpu"}
        session = Path(tempfile.mkdtemp(prefix="tests-", dir=sandbox_base()))
        os.chmod(session, 0o711)
        work = prepare_workdir(source, uid)
        try:
            _overlay(work, plan.overlay)
            channel, run_dir = _prepare(plan, session, uid)
            record = _run(plan, record, python, sandbox, lease, work, channel, run_dir, session)
        finally:
            discard_workdir(work)
            shutil.rmtree(session, ignore_errors=True)
    record.wall_s = round(time.monotonic() - started, 3)
    return record


def _overlay(work: Path, overlay: dict[str, Path]) -> None:
    """Files a rerun produced replace the committed ones in the tests' copy."""
    info = work.stat()
    for rel, host in overlay.items():
        target = work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(host, target)
        if os.geteuid() == 0:
            os.chown(target, info.st_uid, info.st_gid)


def _run(plan, record, python, sandbox, lease, work, channel, run_dir, session) -> SessionRecord:
    sock_path = channel / "s"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    os.chmod(sock_path, 0o666)
    listener.listen(1)
    ended_r, ended_w = os.pipe()
    report_r, report_w = os.pipe()
    log = session / "pytest.log"
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends in os._exit
        os.close(ended_w)
        os.close(report_r)
        _test_process(plan, run_dir, listener, ended_r, report_w, log)
    os.close(ended_r)
    os.close(report_w)
    caches, cache_env = cache_mounts(plan.caches)
    mounts = tuple(
        dict.fromkeys((*interpreter_mounts(python), *caches, Mount(channel, CHANNEL_TARGET)))
    )
    env = {**cache_env, **plan.env}
    env["PATH"] = python_shim(work, python) + ":/usr/local/bin:/usr/bin:/bin"
    config = {"notebook": plan.notebook, "cell_timeout": plan.cell_timeout,
              "preload": plan.preload}  # fmt: skip
    command = [str(python), f"{CHANNEL_TARGET}/student_server.py", f"{CHANNEL_TARGET}/s",
               json.dumps(config)]  # fmt: skip
    outputs: list[RunOutput] = []

    def serve() -> None:
        try:
            outputs.append(
                sandbox.run(
                    command,
                    work,
                    plan.limits,
                    env=env,
                    network=False,
                    mounts=mounts,
                    gpus=lease.gpus,
                )  # fmt: skip
            )
        finally:
            os.close(ended_w)

    thread = threading.Thread(target=serve, name="student-process", daemon=True)
    thread.start()
    deadline = time.monotonic() + plan.limits.wall_s + 30
    raw = _read_all(report_r, deadline)
    os.close(report_r)
    if raw is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _wait_child(pid)
    listener.close()
    _stop_student(getattr(sandbox, "uid", None), sandbox.isolated, thread)
    thread.join(timeout=plan.limits.wall_s + 10)
    record.server = outputs[0] if outputs else None
    with contextlib.suppress(OSError):
        record.log_tail = log.read_text(errors="replace")[-3000:]
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
    for _ in range(50):
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)

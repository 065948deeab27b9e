"""The trusted test process: pytest with the grader's plugin, forked from the grader.

It never imports student code. It is forked with pytest, numpy and the testkit already
imported, collects the instructor's tests, and then waits for "go": the connection to the
student's process (passed as a descriptor), the report pipe, and what it needs to know of
this submission. In a batch worker the next session's test process is forked ahead (a
warm pool of one per set of test files), so pytest's start and the collection are off the
critical path; each test process serves one submission and exits. It is non-dumpable and
dies with the grader (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.sandbox.workspace import owner_tag, sandbox_base

if TYPE_CHECKING:
    from grader.sandbox.test_session import TestFile

# pytest plugins a test process does without (unraisableexception and threadexception
# would run a full garbage collection over the memory forked from the grader)
LEAN = ("cacheprovider", "stepwise", "pastebin", "junitxml", "doctest", "setuponly",
        "setupplan", "faulthandler", "legacypath", "unraisableexception", "threadexception")  # fmt: skip
IDLE_S = 120.0
_WARM: set[str] = set()


def warm_up(files: list[TestFile]) -> None:
    """Import once per process what every test process needs (pytest and its plugins, numpy,
    the testkit; scikit-learn's metrics when a test file uses them), so that each forked test
    process starts with them loaded."""
    import importlib

    from _pytest.config import default_plugins

    wanted = ["pytest", "numpy", "grader.testkit.plugin"]
    wanted += [f"_pytest.{name}" for name in default_plugins if name not in LEAN]
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


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _test_dir(files: list[TestFile], session: Path) -> Path:
    run_dir = session / "tests"
    run_dir.mkdir(mode=0o700)
    (run_dir / "pytest.ini").write_text("[pytest]\n")
    for item in files:
        target = run_dir / item.target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.source, target)
        os.chmod(target, 0o400)  # read-only, and never visible inside the sandbox
    return run_dir


def runner_key(files: list[TestFile], static: dict[str, Any]) -> str:
    stamp = [(f.target, f.visibility, str(f.source), f.source.stat().st_mtime_ns) for f in files]
    return json.dumps([stamp, static], sort_keys=True, default=str)


class TestRunner:
    """One forked test process, from its fork to its report."""

    __test__ = False  # not a pytest test class

    def __init__(self, files: list[TestFile], static: dict[str, Any]):
        self.key = runner_key(files, static)
        self.started = time.monotonic()
        self.session = Path(  # "stage-<owner>-": cleaned after a killed grader
            tempfile.mkdtemp(prefix=f"stage-{owner_tag()}-tests-", dir=sandbox_base())
        )
        run_dir = _test_dir(files, self.session)
        self.log = self.session / "pytest.log"
        warm_up(files)
        self.control, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # the child's collections skip what it inherits (no copy-on-write storm)
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child ends in os._exit
            self.control.close()
            _child_main(files, static, run_dir, child, self.log)
        gc.unfreeze()
        child.close()

    def go(self, conn: socket.socket | None, problem: str, dynamic: dict[str, Any]) -> int:
        """Start the tests; returns the read end of the report pipe."""
        report_r, report_w = os.pipe()
        message = json.dumps({"problem": problem, **dynamic}).encode()
        fds = [report_w] + ([conn.fileno()] if conn is not None else [])
        try:
            socket.send_fds(self.control, [message], fds)
        finally:
            os.close(report_w)
        return report_r

    def finish(self, killed: bool = False) -> str:
        """Wait for the process (kill it when ``killed``), clean up; the log's tail."""
        if killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                break
            time.sleep(0.002)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        self.control.close()
        tail = ""
        with contextlib.suppress(OSError):
            tail = self.log.read_text(errors="replace")[-3000:]
        shutil.rmtree(self.session, ignore_errors=True)
        return tail


def _child_main(files: list[TestFile], static: dict[str, Any], run_dir: Path,
                control: socket.socket, log: Path) -> None:  # fmt: skip
    """The forked test process: collect, wait for "go", run, report, exit without running
    the parent's exit handlers."""
    code = 1
    received: dict[str, Any] = {}
    try:
        _prctl(4, 0)  # PR_SET_DUMPABLE 0: no process of our uid reads our memory or fds
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the grader
        _close_other_fds({0, 1, 2, control.fileno()})
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

        config = {"files": {f.target: f.visibility for f in files}, **static}
        plugin = GraderPlugin(config, None)

        def wait_for_go() -> None:
            ready, _, _ = select.select([control], [], [], IDLE_S + 60)
            message, fds, _flags, _address = (
                socket.recv_fds(control, 1 << 20, 2) if ready else (b"", [], 0, None)
            )
            if not message:  # never used: the grader let it go
                os._exit(0)
            data = json.loads(message)
            received["report_fd"] = fds[0]
            plugin.config.update(data)
            plugin.conn = socket.socket(fileno=fds[1]) if len(fds) > 1 else None
            plugin._student_problem = data.get("problem") or None
            plugin.restart_clock()

        plugin.before_tests = wait_for_go
        roots = list(dict.fromkeys(f.target.split("/", 1)[0] for f in files))
        args = [*roots, "-q", "--import-mode=importlib", "-c", str(run_dir / "pytest.ini"),
                "--rootdir", str(run_dir), "-W", "ignore"]  # fmt: skip
        for name in LEAN:
            args += ["-p", f"no:{name}"]
        exit_code = pytest.main(args, plugins=[plugin])
        if "report_fd" not in received:  # nothing collected: the loop never started
            wait_for_go()
        plugin.close()
        data = plugin.report()
        data["exit_code"] = int(exit_code)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent reads what happened
        data = {"crash": traceback.format_exc()[-4000:]}
    report_fd = received.get("report_fd")
    if report_fd is not None:
        with contextlib.suppress(OSError):
            payload = memoryview(json.dumps(data, default=str).encode())
            while payload:
                payload = payload[os.write(report_fd, payload) :]
    os._exit(code)


def _close_other_fds(keep: set[int]) -> None:
    """A forked copy holds every descriptor of the grader (pipes that signal the end of
    other processes, a batch worker's channels): close all but ``keep``."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


class RunnerPool:
    """At most one forked, collected, waiting test process per set of test files."""

    def __init__(self) -> None:
        self.idle: dict[str, TestRunner] = {}

    def take(self, files: list[TestFile], static: dict[str, Any]) -> TestRunner | None:
        runner = self.idle.pop(runner_key(files, static), None)
        if runner is None:
            return None
        alive = os.waitpid(runner.pid, os.WNOHANG)[0] == 0
        if alive and time.monotonic() - runner.started < IDLE_S - 10:
            return runner
        runner.finish(killed=True)
        return None

    def prefork(self, files: list[TestFile], static: dict[str, Any]) -> None:
        """Fork the next session's test process now (it collects while the batch goes on)."""
        key = runner_key(files, static)
        for other in [k for k in self.idle if k != key]:
            self.idle.pop(other).finish(killed=True)
        if key not in self.idle:
            self.idle[key] = TestRunner(files, static)


RUNNERS = RunnerPool()

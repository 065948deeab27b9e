"""The grader's pytest plugin: fixtures, the ``points`` marker, one outcome per test.

It runs in the trusted test process, outside the sandbox, which never imports student
code. Each test's pass, failure, points and partial credit are decided here, from what the
test did with the student's answers; nothing the student's process prints or writes can
reach this record.
"""

from __future__ import annotations

import math
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from grader import testkit
from grader.testkit.channel import Channel, ChannelError
from grader.testkit.client import Student, StudentError

MESSAGE_LIMIT = 1500


class _NoStudent(Exception):
    pass


class GraderPlugin:
    """``config``: files (run-dir path -> public|hidden), points (test name or node id ->
    points), default_points, timeout, accept_timeout, notebook, context (mode, produced
    files, hidden_data, reference metrics)."""

    def __init__(self, config: dict[str, Any], conn: socket.socket | None, problem: str = ""):
        self.config = config
        self.conn = conn  # connected to the student's process, which said "ready"
        self.results: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.collect_errors: list[str] = []
        self.hello: dict[str, Any] | None = None
        self._student: Student | None = None
        self._student_problem: str | None = problem or None
        self.timings: dict[str, float] = {}
        self._t0 = time.monotonic()
        self.before_tests: Any = None  # called once collection is done (waits for "go")

    def restart_clock(self) -> None:
        self._t0 = time.monotonic()

    # ---- the student's process ----------------------------------------------------------
    def _connect(self) -> Student:
        if self._student is not None:
            return self._student
        if self._student_problem:
            raise _NoStudent(self._student_problem)
        try:
            self._student = self._begin()
        except _NoStudent as exc:
            self._student_problem = str(exc)
            raise
        return self._student

    def _begin(self) -> Student:
        """Start the submission (execute its notebook) and wait for its hello."""
        if self.conn is None:
            raise _NoStudent("no student process in this session")
        self.timings["pytest_started"] = round(time.monotonic() - self._t0, 3)
        channel = Channel(self.conn)
        begin = {"id": 0, "op": "begin", "notebook": self.config.get("notebook"),
                 "cell_timeout": self.config.get("cell_timeout", 60)}  # fmt: skip
        try:
            channel.send(begin)
            message = channel.receive(timeout=float(self.config.get("start_timeout", 600)))
        except TimeoutError:
            limit = float(self.config.get("start_timeout", 600))
            raise _NoStudent(
                f"the submission's code did not finish loading within {limit:g} s (its "
                "notebook or imports ran on: an endless loop?)"
            ) from None
        except ChannelError as exc:
            raise _NoStudent(
                "the submission's process ended before the tests could start (it exited, "
                f"crashed or hit a limit while loading: {exc})"
            ) from None
        hello = message.get("hello")
        if not isinstance(hello, dict):
            raise _NoStudent("the submission's process did not say hello")
        self.hello = hello
        self.timings["notebook_loaded"] = round(time.monotonic() - self._t0, 3)
        return Student(channel, hello, float(self.config.get("timeout", 60)))

    @pytest.fixture(scope="session")
    def student(self) -> Student:
        try:
            return self._connect()
        except _NoStudent as exc:
            raise ChannelError(str(exc)) from None

    @pytest.fixture(scope="session")
    def nb(self, student: Student) -> Student:
        if not self.config.get("notebook"):
            raise ChannelError("this assignment's tests have no notebook (use `student`)")
        return student

    @pytest.fixture(scope="session")
    def submission(self) -> dict[str, Any]:
        return dict(self.config.get("context", {}))

    @pytest.fixture(scope="session")
    def hidden_data(self) -> Path:
        folder = self.config.get("context", {}).get("hidden_data")
        if not folder or not Path(folder).is_dir():
            pytest.skip("the instructor's hidden data is not available in this run")
        return Path(folder)

    @pytest.fixture(scope="session")
    def reference(self) -> dict[str, float]:
        """The reference solution's metrics measured in this rerun mode (``grader
        reference``); empty while pending: a test that needs one skips (pending)."""
        return dict(self.config.get("context", {}).get("reference") or {})

    # ---- collecting outcomes -------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "points(n): the points this test is worth")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self.before_tests is not None:
            waiting, self.before_tests = self.before_tests, None
            waiting()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {_text(report.longrepr)[-2000:]}")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.order.append(item.nodeid)
            self.results[item.nodeid] = self._entry(item)

    def _entry(self, item: pytest.Item) -> dict[str, Any]:
        path = Path(str(item.path)).relative_to(Path.cwd()).as_posix()
        name = getattr(item, "originalname", None) or item.name
        mapping = self.config.get("points", {})
        marker = item.get_closest_marker("points")
        # the spec names a test as NAME, as FILE::NAME (FILE relative to its tests folder) or
        # by the node id (the file under public/ or hidden/)
        relative = item.nodeid.split("/", 1)[-1]
        if item.nodeid in mapping:
            points = mapping[item.nodeid]
        elif relative in mapping:
            points = mapping[relative]
        elif name in mapping:
            points = mapping[name]
        elif marker is not None and marker.args:
            points = marker.args[0]
        else:
            points = self.config.get("default_points", 1.0)
        try:
            points = float(points)
        except (TypeError, ValueError):
            points = 0.0
        visibility = self.config.get("files", {}).get(path, "public")
        doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip()
        return {
            "nodeid": item.nodeid, "name": item.name, "file": path, "visibility": visibility,
            "points": points if math.isfinite(points) and points >= 0 else 0.0,
            "description": doc.splitlines()[0][:200] if doc else "",
            "status": "not run", "earned": 0.0, "message": "", "where": None,
            "metrics": {}, "seconds": 0.0,
        }  # fmt: skip

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        testkit._reset()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        entry = self.results.get(item.nodeid)
        if entry is None:
            return
        entry["seconds"] = round(entry["seconds"] + call.duration, 4)
        record = testkit.current()
        entry["metrics"].update(record.metrics)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._judge(entry, report, call, record)
        elif report.when == "teardown" and report.failed and entry["status"] == "passed":
            entry.update(status="error", earned=0.0, message=_clip(_text(report.longrepr)))

    def _judge(self, entry: dict, report: Any, call: pytest.CallInfo, record: Any) -> None:
        exc = call.excinfo.value if call.excinfo is not None else None
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
            entry.update(status="pending", message=str(reason).removeprefix("Skipped: "))
            return
        where = record.touched[-1] if record.touched else None
        if report.passed:
            status, message, where = "passed", record.reason, None
        elif isinstance(exc, ChannelError):
            status, message = "error", str(exc)
        elif report.when == "setup":
            status, message = "error", f"could not set up the test: {_short(exc, report)}"
        elif isinstance(exc, StudentError):
            status = "failed"
            message = str(exc) + (f"\n{exc.student_traceback}" if exc.student_traceback else "")
            where = exc.where or where
        else:
            status, message = "failed", _short(exc, report)
        fraction = record.fraction if record.fraction is not None else float(status == "passed")
        if status == "error" and record.fraction is None:
            fraction = 0.0
        entry.update(
            status=status, message=_clip(message), earned=round(entry["points"] * fraction, 4),
            where=list(where) if where else None, fraction=fraction,
        )  # fmt: skip

    def report(self) -> dict[str, Any]:
        return {
            "tests": [self.results[n] for n in self.order],
            "collect_errors": self.collect_errors,
            "hello": self.hello,
            "student_problem": self._student_problem,
            "timings": {**self.timings, "done": round(time.monotonic() - self._t0, 3)},
        }

    def close(self) -> None:
        if self._student is not None:
            self._student._channel.close()


def _text(longrepr: Any) -> str:
    return "" if longrepr is None else str(longrepr)


def _short(exc: BaseException | None, report: Any) -> str:
    if exc is None:
        return _text(report.longrepr)
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else f"{type(exc).__name__}: {exc}"
    return text


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."

"""Running a piece of work (one check on one submission) under a time and memory budget
enforced from outside it.

A check that parses untrusted input (a PDF whose page tree names one page 90,000 times, a
notebook nested a thousand deep, a regular expression that backtracks on a student's file)
cannot bound itself. ``run_bounded(function, *args, budget=...)`` runs ``function(*args)``
in a worker process forked from the grader, and waits for its answer at most the time
budget; the worker sets an address-space limit of its current size plus the memory budget
before each work. A work over its budget gets an ``OverBudget`` answer, the worker is
killed (with everything it started) and the next work gets a fresh one.

The worker lives on between works: a fork costs tens of milliseconds on some machines and
a new child pays again for every page of the grader it touches (copy-on-write), which
would double the time of static grading; a long-lived worker pays once. Requests travel
as pickles (the grader's own objects, from the grader to its own child); answers come back
as JSON (the worker has read student files).

Without ``os.fork`` (or with ``GRADER_CHECKS_IN_PROCESS=1``, e.g. to debug a check) the
work runs in the calling process, unbounded.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import json
import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MiB = 1 << 20
MAX_FRAME = 256 * MiB
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
WORKER_NAME = b"grader-checks"


@dataclass(frozen=True)
class Budget:
    seconds: float
    memory_mb: int


class OverBudget(Exception):
    """The work was stopped at its budget: ``kind`` is "time" or "memory"."""

    def __init__(self, kind: str, budget: Budget, detail: str = ""):
        self.kind, self.budget, self.detail = kind, budget, detail
        self.amount = f"{budget.seconds:g} s" if kind == "time" else f"{budget.memory_mb} MiB"
        super().__init__(f"{kind} budget of {self.amount}{': ' + detail if detail else ''}")


def can_fork() -> bool:
    return hasattr(os, "fork") and os.environ.get("GRADER_CHECKS_IN_PROCESS") != "1"


def _vm_bytes(field: str) -> int:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _send(fd: int, data: bytes) -> None:
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[os.write(fd, view) :]


class _Frames:
    """Length-framed messages read from a pipe, each within a deadline."""

    def __init__(self, fd: int):
        self.fd, self.buffer = fd, bytearray()

    def next(self, deadline: float | None) -> bytes | str:
        """The next message; "time" past the deadline, "eof" when the writer is gone."""
        while True:
            if len(self.buffer) >= 8:
                size = int.from_bytes(self.buffer[:8], "big")
                if size > MAX_FRAME:
                    return "eof"
                if len(self.buffer) >= size + 8:
                    frame = bytes(self.buffer[8 : size + 8])
                    del self.buffer[: size + 8]
                    return frame
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return "time"
            ready, _, _ = select.select([self.fd], [], [], 1.0 if left is None else min(left, 1))
            if ready:
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    return "eof"
                self.buffer += chunk


def _answer(function: Callable[..., Any], args: tuple, budget: Budget) -> bytes:
    """In the worker: one work under its memory budget, as a JSON answer."""
    size = _vm_bytes("VmSize")
    limit = size + budget.memory_mb * MiB if size else 0
    if limit:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    peak = _vm_bytes("VmPeak")
    try:
        try:
            answer: dict[str, Any] = {"value": function(*args)}
        except MemoryError:
            answer = {"over": "memory"}
        else:  # the work may have caught a MemoryError itself: its peak says so
            now = _vm_bytes("VmPeak")
            if limit and now > peak and now >= limit - 32 * MiB:
                answer = {"over": "memory", "detail": "it came within 32 MiB of it"}
        return json.dumps(answer, default=str).encode()
    except MemoryError:
        return b'{"over": "memory"}'
    except BaseException as exc:  # noqa: BLE001 - reported to the grader, never raised here
        return json.dumps({"crash": f"{type(exc).__name__}: {exc}"}).encode()
    finally:
        with contextlib.suppress(ValueError, OSError):  # no limit between works
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)


def _serve(requests: int, answers: int) -> None:
    """The worker's loop: a request in, an answer out, until the grader is gone. After an
    answer that is not a value its memory is suspect: it exits. Never returns."""
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            libc.prctl(_PR_SET_NAME, WORKER_NAME, 0, 0, 0)  # a subreaper reaps it by this name
        frames = _Frames(requests)
        while True:
            frame = frames.next(None)
            if not isinstance(frame, bytes):
                break
            function, args, budget = pickle.loads(frame)
            data = _answer(function, args, budget)
            _send(answers, data)
            if not data.startswith(b'{"value"'):
                break
    finally:
        os._exit(0)


class Worker:
    """The forked worker of this grader process (started on first use)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.owner = -1  # the process that forked it (a fork of the grader has none)
        self.requests = -1
        self.answers: _Frames | None = None

    def alive(self) -> bool:
        if self.pid is None or self.owner != os.getpid():
            self.pid = None  # not ours (we are a fork of its owner): leave it alone
            return False
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            done = self.pid
        if done:  # it ended between works (its parent thread exited...): start another
            self.pid = None
            os.close(self.requests)
            if self.answers is not None:
                os.close(self.answers.fd)
        return self.pid is not None

    def start(self) -> None:
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        gc.freeze()  # the worker's collections never walk (and so copy) the grader's objects
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the worker's coverage is not collected
            # nothing of the grader's open files (a lock, a socket, a database) stays held
            low, high = sorted((req_r, ans_w))
            os.closerange(3, low)
            os.closerange(low + 1, high)
            most = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            os.closerange(high + 1, most if 0 < most < 1 << 20 else 1 << 20)
            _serve(req_r, ans_w)
        gc.unfreeze()
        os.close(req_r)
        os.close(ans_w)
        with contextlib.suppress(OSError):  # also here: no kill may race the worker's own
            os.setpgid(pid, pid)
        self.pid, self.owner, self.requests, self.answers = pid, os.getpid(), req_w, _Frames(ans_r)
        if not _AT_EXIT:  # a normal exit reaps it (else it dies with us: PDEATHSIG, EOF)
            _AT_EXIT.append(atexit.register(stop_worker))

    def stop(self) -> int:
        """Kill the worker and everything it started; its wait status (0 if none)."""
        if self.pid is None or self.owner != os.getpid():
            self.pid = None
            return 0
        pid, self.pid = self.pid, None
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGKILL)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped already (by a subreaper's sweep)
            status = 0
        os.close(self.requests)
        if self.answers is not None:
            os.close(self.answers.fd)
        return status

    def call(self, request: bytes, budget: Budget) -> Any:
        if not self.alive():
            self.start()
        assert self.answers is not None
        try:
            _send(self.requests, request)
            frame = self.answers.next(time.monotonic() + budget.seconds)
        except BaseException:  # Ctrl-C, a broken pipe: the worker's state is unknown
            self.stop()
            raise
        if frame == "time":
            self.stop()
            raise OverBudget("time", budget)
        if frame == "eof":
            status = self.stop()
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
                raise OverBudget("memory", budget, "the system killed it (out of memory?)")
            raise RuntimeError(f"the check's process died without an answer (status {status})")
        answer = json.loads(frame)
        if "value" in answer:
            return answer["value"]
        self.stop()  # it exits anyway after such an answer
        if "over" in answer:
            raise OverBudget(answer["over"], budget, answer.get("detail", ""))
        raise RuntimeError(answer.get("crash", "no answer"))


_WORKER = Worker()
_AT_EXIT: list = []


def run_bounded(function: Callable[..., Any], *args: Any, budget: Budget) -> Any:
    """``function(*args)`` (a module-level function; its value JSON-able) under ``budget``,
    in this process's worker. Raises OverBudget, or RuntimeError when the worker died."""
    request = None
    if can_fork():
        with contextlib.suppress(pickle.PicklingError, TypeError, AttributeError):
            request = pickle.dumps((function, args, budget))
    if request is None:  # no fork here, or something in args that does not travel
        return json.loads(json.dumps(function(*args), default=str))
    return _WORKER.call(request, budget)


def stop_worker() -> None:
    """End this process's worker (the next work forks a fresh one from the grader as it is
    now: tests that patch the grader call this)."""
    _WORKER.stop()

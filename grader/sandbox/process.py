"""Run one process tree under a wall-time bound, with size-capped output.

Shared by the bubblewrap sandbox and the plain fallback: it starts the argv in its own
session, drains stdout/stderr without ever holding more than a bounded amount, and kills
the whole tree (process group plus an optional extra killer, e.g. a cgroup) at the limit.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.sandbox.base import Limits, RunOutput
from grader.sandbox.gpu_errors import gpu_memory_exhausted


class CappedBuffer:
    """Keeps the first and the last ``keep // 2`` bytes of a stream, counts the rest."""

    def __init__(self, keep: int):
        self.head_limit = keep - keep // 2
        self.tail_limit = keep // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data and self.tail_limit:
            self.tail += data
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    def text(self) -> str:
        kept = len(self.head) + len(self.tail)
        if self.total <= kept:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", errors="replace")
        skipped = self.total - kept
        return (
            bytes(self.head).decode("utf-8", errors="replace")
            + f"\n[... {skipped} bytes left out by the grader ...]\n"
            + bytes(self.tail).decode("utf-8", errors="replace")
        )


@dataclass
class Supervised:
    returncode: int | None
    stdout: CappedBuffer
    stderr: CappedBuffer
    wall_s: float
    killed_for: str | None  # "wall_time" or "output" when we killed it


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def supervise(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path | None,
    limits: Limits,
    pass_fds: tuple[int, ...] = (),
    stdin: bytes | None = None,
    extra_kill: Callable[[], None] | None = None,
    grace_s: float = 0.5,
    user: tuple[int, int] | None = None,
    watch: Callable[[], str | None] | None = None,
) -> Supervised:
    """Start ``argv`` in a new session and watch it until it ends or a limit is hit.
    ``user`` is (uid, gid) to drop to in the child before exec, with no supplementary
    groups (needs root). ``watch`` is called about once a second; a limit name it returns
    (e.g. "disk") stops the run there."""
    drop = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        pass_fds=pass_fds,
        start_new_session=True,
        close_fds=True,
        **drop,
    )
    for fd in pass_fds:  # the child has its copies; ours would only keep pipes open
        os.close(fd)
    if stdin is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except BrokenPipeError:
            pass
    out, err = CappedBuffer(limits.output_kept), CappedBuffer(limits.output_kept)
    buffers = {proc.stdout: out, proc.stderr: err}
    selector = selectors.DefaultSelector()
    for stream in buffers:
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
        selector.register(stream, selectors.EVENT_READ)
    deadline = start + limits.wall_s
    exited_at: float | None = None
    killed_for: str | None = None
    next_watch = start + 1.0

    def kill() -> None:
        kill_group(proc.pid)
        if extra_kill is not None:
            extra_kill()

    try:
        while selector.get_map():
            now = time.monotonic()
            if killed_for is None and now >= deadline:
                killed_for = "wall_time"
                kill()
            if watch is not None and killed_for is None and now >= next_watch:
                next_watch = now + 1.0
                killed_for = watch()
                if killed_for:
                    kill()
            if proc.poll() is not None:
                exited_at = exited_at or now
                if now - exited_at > grace_s:  # a detached child still holds the pipes
                    kill()
                    break
            timeout = max(0.0, min(deadline - now, 0.1))
            for key, _ in selector.select(timeout):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buf = buffers[key.fileobj]  # type: ignore[index]
                buf.feed(chunk)
                if killed_for is None and buf.total > limits.output_max:
                    killed_for = "output"
                    kill()
            if killed_for and proc.poll() is None and time.monotonic() - deadline > 5:
                break  # unkillable (should not happen); do not hang the grader
    finally:
        selector.close()
        for stream in buffers:
            assert stream is not None
            stream.close()
        try:
            returncode = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            kill()
            returncode = proc.wait(timeout=5)
        kill_group(proc.pid)  # anything left in the group after the leader ended
        if extra_kill is not None:
            extra_kill()
    return Supervised(returncode, out, err, time.monotonic() - start, killed_for)


_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux prctl).

    bwrap leaves a helper process behind when it exits; without a subreaper it goes to the
    machine's pid 1, which in many containers never reaps it, and its zombie counts
    against the sandbox uid's process limit until a long batch can no longer fork."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _status(pid: str) -> dict[str, str]:
    try:
        text = Path("/proc", pid, "status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _children() -> list[str]:
    """Our direct children, from each thread's /proc children list (cheap, no full scan)."""
    found: list[str] = []
    for task in os.scandir("/proc/self/task"):
        with contextlib.suppress(OSError):
            found += Path(task.path, "children").read_text().split()
    return found


STRAYS = ("grader-checks",)  # a check worker whose grader died (grader.budget): a zombie


def reap_orphans(uid: int, wait_s: float = 1.0) -> int:
    """Reap the processes of ``uid`` that were reparented to us (a slot's uid runs one
    sandbox at a time, so none of them is a child some other code still waits for), and
    the zombies of check workers whose own grader died (``STRAYS``). Waits up to
    ``wait_s`` for those still exiting. Returns how many were reaped."""
    reaped = 0
    deadline = time.monotonic() + wait_s
    while True:
        pending = 0
        for pid in _children():
            fields = _status(pid)
            stray = fields.get("Name", "").strip() in STRAYS
            if stray and fields.get("State", "").startswith("Z"):
                with contextlib.suppress(ChildProcessError):
                    reaped += bool(os.waitpid(int(pid), os.WNOHANG)[0])
                continue
            if fields.get("Uid", "").split("\t")[0] != str(uid):
                continue
            if not fields.get("State", "").startswith("Z"):
                pending += 1
                continue
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(int(pid), os.WNOHANG)[0]:
                    reaped += 1
        if not pending or time.monotonic() > deadline:
            return reaped
        time.sleep(0.002)


def processes_of_uid(uid: int, zombies: bool = False) -> list[tuple[int, str]]:
    """(pid, command name) of every live process owned by ``uid`` (zombies too, or only
    them, with ``zombies=True``)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        zombie = fields.get("State", "").startswith("Z")
        if fields.get("Uid", "").split("\t")[0] == str(uid) and zombie == zombies:
            found.append((int(entry.name), fields.get("Name", "?").strip()))
    return found


def limit_reason(
    returncode: int | None, stderr: str, killed_for: str | None, oom: bool
) -> str | None:
    """Which limit stopped a run (a key of ``LIMIT_WORDS``), from what we know of its end:
    our own kill, a cgroup OOM kill, the signal, or the words the runtime printed."""
    if killed_for:
        return killed_for
    if returncode in (0, None):
        return None
    if oom:
        return "memory"
    code = returncode - 128 if returncode > 128 else -returncode
    if code == signal.SIGXCPU:
        return "cpu_time"
    if code == signal.SIGXFSZ or "File too large" in stderr:
        return "file_size"
    if "No space left on device" in stderr or "Disk quota exceeded" in stderr:
        return "disk"
    if gpu_memory_exhausted(stderr):  # the device's own memory, not the grader's limit
        return "gpu_memory"
    if re.search(r"MemoryError|Cannot allocate memory|std::bad_alloc|out of memory", stderr):
        return "memory"
    if re.search(r"Resource temporarily unavailable|fork: retry|BlockingIOError", stderr):
        return "processes"
    return None


def run_output(
    command: list[str],
    done: Supervised,
    *,
    oom: bool,
    sandbox: str,
    isolated: bool,
    network: bool,
    uid: int | None,
    gpus: list[dict[str, Any]],
    warnings: list[str],
    memory_bound: str,
) -> RunOutput:
    """The plain-data record of one supervised run (what every sandbox returns)."""
    stderr = done.stderr.text()
    return RunOutput(
        command=list(command), returncode=done.returncode, stdout=done.stdout.text(),
        stderr=stderr, wall_s=round(done.wall_s, 3), stdout_bytes=done.stdout.total,
        stderr_bytes=done.stderr.total,
        limit_hit=limit_reason(done.returncode, stderr, done.killed_for, oom),
        sandbox=sandbox, isolated=isolated, network=network, uid=uid, gpus=gpus,
        warnings=warnings, memory_bound=memory_bound,
    )  # fmt: skip

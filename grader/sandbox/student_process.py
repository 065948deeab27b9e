"""The student's side of a test session: a sandboxed ``student_server.py`` that is started
(now, or ahead of time from a warm pool), then given exactly one submission.

A started process has imported the spec's ``preload`` modules and connected to its own
socket ("ready"); it then waits, with an idle limit, for its submission's files to appear
in its work dir and for "begin". Each process serves one submission and is discarded:
nothing is shared between students (their own work dir, /tmp, uid and namespaces). The
warm pool keeps at most one started process per profile for the next session of this
grading process, under uids of its own (``POOL_UID_OFFSET`` above the rerun slots), so a
pre-started process never holds a rerun slot that another check waits for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import shutil
import signal
import socket
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.sandbox.base import SOCKET_PATH_MAX, Limits, Mount, RunOutput, Sandbox, SandboxError
from grader.sandbox.envs import interpreter_mounts
from grader.sandbox.process import processes_of_uid
from grader.sandbox.session import cache_mounts, python_shim
from grader.sandbox.workspace import discard_workdir, owner_tag, prepare_workdir, sandbox_base
from grader.tree import NEVER_COPIED, copy_tree

# what the channel adds to GRADER_SANDBOX_DIR: /stage-<pid>-<start>-student-XXXXXXXX/channel/s
CHANNEL_SUFFIX = len("/stage-4194304-18446744073-student-XXXXXXXX/channel/s")


def channel_fits(base: Path) -> bool:
    """Whether the tests' channel socket fits in a Unix socket path under ``base``."""
    return len(os.fsencode(str(base))) + CHANNEL_SUFFIX <= SOCKET_PATH_MAX


SERVER = Path(__file__).with_name("student_server.py")
CHANNEL_TARGET = "/grader-channel"
POOL_UID_OFFSET = 500
IDLE_S = 120.0  # a pre-started process not used within this ends itself


class StudentStartError(Exception):
    """The student's process did not get ready (it crashed while preloading, or hung)."""


@dataclass(frozen=True)
class Profile:
    """What a started process is good for: the same interpreter, preloads, caches, env and
    limits."""

    python: str
    preload: tuple[str, ...]
    caches: tuple[tuple[str, str], ...]
    env: tuple[tuple[str, str], ...]
    limits: Limits


class StudentProcess:
    """One sandboxed student process, from its start to its end."""

    def __init__(self, profile: Profile, sandbox: Sandbox, uid: int | None, gpus: tuple = ()):
        self.profile, self.sandbox, self.uid = profile, sandbox, uid
        self.started = time.monotonic()
        self.stack = ExitStack()  # a pool lease, when the pool started it
        self.pooled = False
        if not channel_fits(sandbox_base()):  # the grader's set-up, never the student's doing
            raise SandboxError(
                f"the sandbox folder {sandbox_base()} is too long for the tests' socket (a "
                f"Unix socket path has at most {SOCKET_PATH_MAX} bytes); set "
                "GRADER_SANDBOX_DIR to a shorter folder"
            )
        # "stage-<owner>-": a leftover of a killed grader is removed by the next one
        self.session = Path(
            tempfile.mkdtemp(prefix=f"stage-{owner_tag()}-student-", dir=sandbox_base())
        )
        os.chmod(self.session, 0o711)
        self.work = prepare_workdir(None, uid, work_mb=profile.limits.work_mb)
        channel = self.session / "channel"
        channel.mkdir(mode=0o755)
        shutil.copyfile(SERVER, channel / "student_server.py")
        os.chmod(channel / "student_server.py", 0o644)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(channel / "s"))
        os.chmod(channel / "s", 0o666)
        self.listener.listen(1)
        self.conn: socket.socket | None = None
        self.ready: dict[str, Any] | None = None
        self.output: RunOutput | None = None
        self.ended_r, ended_w = os.pipe()
        python = Path(profile.python)
        caches, cache_env = cache_mounts(dict(profile.caches))
        mounts = tuple(
            dict.fromkeys((*interpreter_mounts(python), *caches, Mount(channel, CHANNEL_TARGET)))
        )
        env = {**cache_env, **dict(profile.env)}
        env["PATH"] = "/submission/.grader-run/bin:/usr/local/bin:/usr/bin:/bin"
        config = {"preload": list(profile.preload), "idle_s": IDLE_S}
        command = [str(python), f"{CHANNEL_TARGET}/student_server.py", f"{CHANNEL_TARGET}/s",
                   json.dumps(config)]  # fmt: skip
        # a margin over the session's budget: the tests' own deadlines (measured from
        # "begin") end a session first, then ``stop`` ends the process
        limits = dataclasses.replace(profile.limits, wall_s=profile.limits.wall_s + 20)

        def serve() -> None:
            try:
                self.output = sandbox.run(
                    command, self.work, limits, env=env, network=False, mounts=mounts, gpus=gpus
                )
            finally:
                os.close(ended_w)

        self.thread = threading.Thread(target=serve, name="student-process", daemon=True)
        self.thread.start()

    @property
    def stack_owns_uid(self) -> bool:
        """Started by the pool: it holds a pool lease of its own for its uid."""
        return self.pooled

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def wait_ready(self, timeout: float) -> None:
        """Accept the process's connection and its "ready"; StudentStartError otherwise."""
        if self.conn is not None:
            return
        from grader.testkit.channel import Channel, ChannelError

        ready, _, _ = select.select([self.listener, self.ended_r], [], [], timeout)
        if self.listener not in ready:
            why = "ended" if self.ended_r in ready else f"was not ready within {timeout:g} s"
            raise StudentStartError(f"the submission's process {why} before the tests began")
        conn, _ = self.listener.accept()
        try:
            message = Channel(conn).receive(timeout=max(1.0, timeout))
        except (ChannelError, TimeoutError) as exc:
            conn.close()
            raise StudentStartError(f"the submission's process did not start ({exc})") from None
        if not isinstance(message.get("ready"), dict):
            conn.close()
            raise StudentStartError("the submission's process did not start")
        self.conn, self.ready = conn, message["ready"]

    def fill(self, source: Path, overlay: dict[str, Path | None]) -> None:
        """The submission's files (and the rerun's products over them; None takes a
        committed file away) into the work dir."""
        copy_tree(source, self.work, skip=NEVER_COPIED)
        for rel, host in overlay.items():
            target = self.work / rel
            if host is None:
                if target.is_file() or target.is_symlink():
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(host, target)
        if self.uid is not None and os.geteuid() == 0:
            for dirpath, dirnames, filenames in os.walk(self.work):
                for name in [*dirnames, *filenames, "."]:
                    os.chown(os.path.join(dirpath, name), self.uid, self.uid,
                             follow_symlinks=False)  # fmt: skip
        python_shim(self.work, Path(self.profile.python))

    def stop(self) -> RunOutput | None:
        """End the process (it ends by itself once its connection closes), clean up."""
        with contextlib.suppress(OSError):
            if self.conn is not None:
                self.conn.close()
        with contextlib.suppress(OSError):
            self.listener.close()
        self.thread.join(timeout=2.0)
        stuck = self.thread.is_alive() and self.uid is not None and self.sandbox.isolated
        if stuck and os.geteuid() == 0:  # a slot's uid runs one sandbox at a time
            for pid, _name in processes_of_uid(self.uid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        self.thread.join(timeout=self.profile.limits.wall_s + 10)
        with contextlib.suppress(OSError):
            os.close(self.ended_r)
        discard_workdir(self.work)
        shutil.rmtree(self.session, ignore_errors=True)
        self.stack.close()
        return self.output


class WarmPool:
    """At most one started, unused process per profile (and two in all)."""

    def __init__(self, limit: int = 2):
        self.limit = limit
        self.idle: dict[Profile, StudentProcess] = {}
        self.lock = threading.Lock()
        self.starting: dict[Profile, threading.Event] = {}

    def take(self, profile: Profile, wait_s: float = 30.0) -> StudentProcess | None:
        """A ready process for ``profile`` (waiting for one being started), or None."""
        with self.lock:
            starting = self.starting.get(profile)
        if starting is not None:
            starting.wait(wait_s)
        with self.lock:
            process = self.idle.pop(profile, None)
        if process is None:
            return None
        fresh = time.monotonic() - process.started < IDLE_S - 10
        if process.alive and fresh and process.conn is not None:
            return process
        threading.Thread(target=process.stop, daemon=True).start()
        return None

    def prestart(self, profile: Profile, mode: str) -> None:
        """Start a process for the next session, in the background."""
        with self.lock:
            if profile in self.idle or profile in self.starting:
                return
            self.starting[profile] = threading.Event()
        threading.Thread(target=self._start, args=(profile, mode), daemon=True).start()

    def _start(self, profile: Profile, mode: str) -> None:
        from grader.sandbox import choose_sandbox
        from grader.sandbox.bwrap import DEFAULT_UID
        from grader.sandbox.queue import RunQueue

        process = None
        try:
            queue = RunQueue(gpus=[], slots=self.limit + 2, base_uid=DEFAULT_UID + POOL_UID_OFFSET,
                             lock_dir=sandbox_base() / "locks-pool")  # fmt: skip
            stack = ExitStack()
            lease = stack.enter_context(queue.lease("none", timeout=5))
            sandbox = choose_sandbox(mode, uid=lease.uid)
            if not sandbox.isolated:
                stack.close()
                return
            limits = profile.limits
            pooled = dataclasses.replace(
                profile, limits=dataclasses.replace(limits, wall_s=limits.wall_s + IDLE_S)
            )
            process = StudentProcess(pooled, sandbox, lease.uid)
            process.profile = profile
            process.stack = stack
            process.pooled = True
            process.wait_ready(timeout=60)
        except Exception:  # noqa: BLE001 - a pool that cannot start simply stays cold
            if process is not None:
                process.stop()
            process = None
        finally:
            with self.lock:
                self.starting.pop(profile).set()
                if process is not None:
                    self.idle[profile] = process
                    while len(self.idle) > self.limit:
                        oldest = min(self.idle, key=lambda p: self.idle[p].started)
                        threading.Thread(target=self.idle.pop(oldest).stop, daemon=True).start()


POOL = WarmPool()

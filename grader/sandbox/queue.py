"""Slots for concurrent reruns: a distinct uid per slot, and at most one rerun per GPU.

Both are held with ``flock`` on small lock files in one machine-wide folder (``/run/lock/
grader``; ``GRADER_LOCK_DIR`` overrides), so the bound holds across threads, across the
processes of a parallel batch, and across grader runs with different ``TMPDIR`` or
``GRADER_SANDBOX_DIR`` (a private ``/tmp`` must not let two jobs share a GPU). The folder is
sticky and world-writable and lock files are world-readable (``flock`` needs only a read
descriptor), so root and non-root graders share them.

A GPU is checked when it is taken: a busy (another job's process on it), Prohibited or
faulty GPU is held off for a while (for every process, through a marker file) and another
one is tried. When none is left, an optional-GPU rerun runs on the CPU and says why; a
required one fails as the environment's fault, at once when no GPU is merely busy, else
after waiting at most ``GRADER_GPU_WAIT_S`` (600 s) for one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.results import EnvironmentFailure
from grader.sandbox.base import SandboxError
from grader.sandbox.bwrap import DEFAULT_UID
from grader.sandbox.gpu import GpuDevice, gpu_inventory
from grader.sandbox.gpu_state import device_state, transient
from grader.sandbox.workspace import sandbox_base

SYSTEM_LOCK_DIRS = ("/run/lock", "/var/lock", "/dev/shm")
OPEN_FLAGS = os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class NoGpuError(EnvironmentFailure):
    """The spec requires a GPU and this machine has none that works."""

    def __init__(self, message: str):
        super().__init__(message, kind="gpu")


def _usable_dir(path: Path) -> bool:
    if path.exists():
        return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
    return os.access(path.parent, os.W_OK | os.X_OK)


def default_lock_dir() -> Path:
    """$GRADER_LOCK_DIR, else ``grader`` in the first machine-wide lock folder that can be
    used, else (with a warning from ``grader doctor``) under the sandbox folder."""
    if os.environ.get("GRADER_LOCK_DIR"):
        return Path(os.environ["GRADER_LOCK_DIR"])
    for base in SYSTEM_LOCK_DIRS:
        if os.path.isdir(base) and _usable_dir(Path(base) / "grader"):
            return Path(base) / "grader"
    return sandbox_base() / "locks"


def prepare_lock_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if path.stat().st_uid == os.geteuid():
        os.chmod(path, 0o1777)  # shared by every user's grader, like /tmp
    return path


def _open_lock(path: Path) -> int:
    try:
        fd = os.open(path, OPEN_FLAGS, 0o644)
    except OSError as exc:
        raise SandboxError(
            f"cannot open the lock file {path} ({exc.strerror}); remove it or set "
            "GRADER_LOCK_DIR to a folder every grader user can write"
        ) from None
    with contextlib.suppress(OSError):
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o644)
    return fd


def _try_lock(path: Path) -> int | None:
    fd = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _release(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@dataclass
class Lease:
    slot: int
    uid: int
    gpus: tuple[GpuDevice, ...] = ()
    waited_s: float = 0.0
    cpu_reason: str = ""  # why an optional-GPU lease holds no GPU, in words
    _handles: list[int] = field(default_factory=list, repr=False)
    _gpu_fd: int | None = field(default=None, repr=False)


def _lock_name(device: GpuDevice) -> str:
    return f"gpu-{device.uuid or device.index}"


class RunQueue:
    """Hands out (uid slot, GPU) leases. ``slots`` bounds concurrent CPU runs; ``health``
    says why a GPU cannot take a rerun now (None: it can)."""

    def __init__(
        self,
        gpus: list[GpuDevice] | None = None,
        slots: int = 4,
        base_uid: int = DEFAULT_UID,
        lock_dir: Path | None = None,
        poll_s: float = 0.05,
        health: Callable[[GpuDevice], str | None] | None = None,
        hold_off_s: float = 60.0,
        gpu_wait_s: float | None = None,
    ):
        self.gpu_problem: str | None = None
        self.restriction = ""
        if gpus is None:
            inventory = gpu_inventory()
            gpus, self.gpu_problem = inventory.devices, inventory.problem
            self.restriction = inventory.restriction
            health = health or device_state
        self.gpus = list(gpus)
        self.health = health or (lambda device: None)
        self.slots = max(1, slots)
        self.base_uid = base_uid
        self.lock_dir = prepare_lock_dir(lock_dir or default_lock_dir())
        self.poll_s = poll_s
        self.hold_off_s = hold_off_s
        wait = os.environ.get("GRADER_GPU_WAIT_S", "")
        self.gpu_wait_s = gpu_wait_s if gpu_wait_s is not None else float(wait or 600)
        self._held: dict[str, tuple[str, float]] = {}  # uuid -> (reason, until)

    # ---- devices that cannot take a rerun now -------------------------------------------
    def hold_off(self, device: GpuDevice, reason: str) -> None:
        """Skip ``device`` for ``hold_off_s`` seconds, in this process and (through a
        marker file) in every other grader process on the machine."""
        until = time.time() + self.hold_off_s
        self._held[device.uuid] = (reason, until)
        marker = self.lock_dir / (_lock_name(device) + ".unusable")
        temporary = marker.with_suffix(f".{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            temporary.write_text(json.dumps({"reason": reason, "until": until}))
            os.chmod(temporary, 0o644)
            os.replace(temporary, marker)
        with contextlib.suppress(OSError):
            temporary.unlink()

    def held_off(self, device: GpuDevice) -> str | None:
        """Why ``device`` is skipped now, or None."""
        reason, until = self._held.get(device.uuid, ("", 0.0))
        if until > time.time():
            return reason
        marker = self.lock_dir / (_lock_name(device) + ".unusable")
        try:
            data = json.loads(marker.read_text())
            if float(data["until"]) > time.time():
                return str(data["reason"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def _unusable(self) -> dict[str, str]:
        return {d.label: r for d in self.gpus if (r := self.held_off(d)) is not None}

    # ---- taking locks -------------------------------------------------------------------
    def _grab(self, names: list[str]) -> tuple[int, int] | None:
        for index, name in enumerate(names):
            fd = _try_lock(self.lock_dir / name)
            if fd is not None:
                return index, fd
        return None

    def _take_gpu(self, lease: Lease) -> None:
        for device in self.gpus:
            if self.held_off(device) is not None:
                continue
            fd = _try_lock(self.lock_dir / (_lock_name(device) + ".lock"))
            if fd is None:
                continue
            reason = self.health(device)
            if reason:
                _release(fd)
                self.hold_off(device, reason)
                continue
            lease.gpus, lease._gpu_fd = (device,), fd
            return

    @contextlib.contextmanager
    def holding(self, device: GpuDevice) -> Iterator[bool]:
        """Hold ``device``'s lock if it is free (True) without waiting; False when a rerun
        has it (``grader doctor`` tests only free GPUs)."""
        fd = _try_lock(self.lock_dir / (_lock_name(device) + ".lock"))
        try:
            yield fd is not None
        finally:
            if fd is not None:
                _release(fd)

    def release_gpu(self, lease: Lease) -> None:
        """Give the lease's GPU back early (its rerun goes on on the CPU)."""
        if lease._gpu_fd is not None:
            _release(lease._gpu_fd)
        lease.gpus, lease._gpu_fd = (), None

    @contextlib.contextmanager
    def lease(
        self, gpu: str = "none", timeout: float | None = None, wait_for_gpu: bool = True
    ) -> Iterator[Lease]:
        """Wait for a free slot (and a free, usable GPU when ``gpu`` is 'required' or
        'optional' and the machine has one). 'required' without any GPU raises NoGpuError;
        'optional' runs on the CPU, with ``lease.cpu_reason``, when every GPU is unusable
        or (``wait_for_gpu=False``: smoke runs) none is free at once."""
        if gpu == "required" and not self.gpus:
            raise NoGpuError(
                self.gpu_problem or "this rerun requires an NVIDIA GPU and none was detected"
            )
        want_gpu = gpu in ("required", "optional") and bool(self.gpus)
        start = time.monotonic()
        lease = Lease(-1, -1)
        unusable_since: float | None = None
        try:
            while True:
                if want_gpu and not lease.gpus:
                    self._take_gpu(lease)
                if want_gpu and not lease.gpus:
                    unusable = self._unusable()
                    all_bad = len(unusable) == len(self.gpus)
                    reasons = "; ".join(f"{k}: {v}" for k, v in unusable.items())
                    if gpu == "optional" and (all_bad or not wait_for_gpu):
                        want_gpu = False
                        lease.cpu_reason = (
                            f"no GPU can take it ({reasons})"
                            if all_bad
                            else "every GPU is taken by another rerun, and a smoke run "
                            "does not wait for one"
                        )
                    unusable_since = (unusable_since or time.monotonic()) if all_bad else None
                    waited = time.monotonic() - (unusable_since or time.monotonic())
                    if want_gpu and all_bad and not any(map(transient, unusable.values())):
                        raise EnvironmentFailure(f"no GPU can be used: {reasons}", kind="gpu")
                    if want_gpu and unusable_since is not None and waited > self.gpu_wait_s:
                        raise EnvironmentFailure(
                            f"no usable GPU within {self.gpu_wait_s:g} s: {reasons}", kind="gpu"
                        )
                if lease.slot < 0 and (lease.gpus or not want_gpu):
                    got = self._grab([f"slot-{self.base_uid + i}.lock" for i in range(self.slots)])
                    if got is not None:
                        lease._handles.append(got[1])
                        lease.slot, lease.uid = got[0], self.base_uid + got[0]
                if lease.slot >= 0 and (lease.gpus or not want_gpu):
                    break
                if timeout is not None and time.monotonic() - start > timeout:
                    raise TimeoutError(f"no free rerun slot within {timeout:g} s")
                time.sleep(self.poll_s)
            lease.waited_s = time.monotonic() - start
            yield lease
        finally:
            self.release_gpu(lease)
            for fd in lease._handles:
                _release(fd)

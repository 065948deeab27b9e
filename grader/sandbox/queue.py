"""Slots for concurrent reruns: a distinct uid per slot, and at most one rerun per GPU.

Both are held with ``flock`` on small lock files under the sandbox base, so the bound holds
across threads *and* across the processes of a parallel batch.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.bwrap import DEFAULT_UID
from grader.sandbox.gpu import GpuDevice, detect_gpus
from grader.sandbox.workspace import sandbox_base


class NoGpuError(Exception):
    """The spec requires a GPU and this machine has none."""


@dataclass
class Lease:
    slot: int
    uid: int
    gpus: tuple[GpuDevice, ...] = ()
    waited_s: float = 0.0
    _handles: list[int] = field(default_factory=list, repr=False)


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
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


class RunQueue:
    """Hands out (uid slot, GPU) leases. ``slots`` bounds concurrent CPU runs."""

    def __init__(
        self,
        gpus: list[GpuDevice] | None = None,
        slots: int = 4,
        base_uid: int = DEFAULT_UID,
        lock_dir: Path | None = None,
        poll_s: float = 0.05,
    ):
        self.gpus = detect_gpus() if gpus is None else list(gpus)
        self.slots = max(1, slots)
        self.base_uid = base_uid
        self.lock_dir = lock_dir or sandbox_base() / "locks"
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        self.poll_s = poll_s

    def _grab(self, names: list[str]) -> tuple[int, int] | None:
        for index, name in enumerate(names):
            fd = _try_lock(self.lock_dir / name)
            if fd is not None:
                return index, fd
        return None

    @contextlib.contextmanager
    def lease(self, gpu: str = "none", timeout: float | None = None) -> Iterator[Lease]:
        """Wait for a free slot (and a free GPU when ``gpu`` is 'required' or 'optional'
        and the machine has one). 'required' without any GPU raises NoGpuError."""
        if gpu == "required" and not self.gpus:
            raise NoGpuError("this rerun requires an NVIDIA GPU and none was detected")
        want_gpu = gpu in ("required", "optional") and bool(self.gpus)
        start = time.monotonic()
        handles: list[int] = []
        try:
            slot = None
            device: tuple[GpuDevice, ...] = ()
            while True:
                if want_gpu and not device:
                    got = self._grab([f"gpu-{d.uuid or d.index}.lock" for d in self.gpus])
                    if got is not None:
                        handles.append(got[1])
                        device = (self.gpus[got[0]],)
                if slot is None and (device or not want_gpu):
                    got = self._grab([f"slot-{self.base_uid + i}.lock" for i in range(self.slots)])
                    if got is not None:
                        handles.append(got[1])
                        slot = got[0]
                if slot is not None and (device or not want_gpu):
                    break
                if timeout is not None and time.monotonic() - start > timeout:
                    raise TimeoutError(f"no free rerun slot within {timeout:g} s")
                time.sleep(self.poll_s)
            lease = Lease(slot, self.base_uid + slot, device, time.monotonic() - start, handles)
            yield lease
        finally:
            for fd in handles:
                _release(fd)

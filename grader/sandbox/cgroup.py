"""An optional cgroup per run: a memory bound that works for CUDA jobs, a pids bound, and a
reliable way to kill every process of the run.

RLIMIT_AS cannot bound a CUDA job: the driver reserves tens of GiB of virtual address
space at start-up, so the job dies before it trains. A cgroup memory limit counts resident
memory instead. It needs a writable cgroup tree (root on a host, or a delegated subtree);
where there is none the sandbox says so in ``RunOutput.memory_bound``.

Supports cgroup v2 (``/sys/fs/cgroup/cgroup.controllers`` with ``memory`` delegated to the
root's children) and the v1 ``memory`` and ``pids`` hierarchies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

ROOT = Path(os.environ.get("GRADER_CGROUP_ROOT", "/sys/fs/cgroup"))
NAME = "grader-sandbox"


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def _v2_base() -> Path | None:
    controllers = ROOT / "cgroup.controllers"
    if not controllers.is_file():
        return None
    try:
        delegated = (ROOT / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    if "memory" not in delegated or not _writable_dir(ROOT):
        return None
    return ROOT


class Cgroup:
    """One run's cgroup(s). Create with ``Cgroup.create``; ``None`` when not available."""

    def __init__(self, dirs: dict[str, Path], version: int):
        self.dirs = dirs  # controller ("memory", "pids", "unified") -> cgroup dir
        self.version = version

    @classmethod
    def create(cls, memory_bytes: int | None, pids: int | None) -> Cgroup | None:
        if os.environ.get("GRADER_NO_CGROUP"):
            return None
        tag = f"run-{uuid.uuid4().hex[:12]}"
        try:
            v2 = _v2_base()
            if v2 is not None:
                parent = v2 / NAME
                parent.mkdir(exist_ok=True)
                with contextlib.suppress(OSError):
                    (parent / "cgroup.subtree_control").write_text("+memory +pids")
                path = parent / tag
                path.mkdir()
                group = cls({"unified": path}, 2)
                if memory_bytes:
                    (path / "memory.max").write_text(str(memory_bytes))
                    with contextlib.suppress(OSError):
                        (path / "memory.swap.max").write_text("0")
                if pids:
                    with contextlib.suppress(OSError):
                        (path / "pids.max").write_text(str(pids))
                return group
            dirs = {}
            for controller in ("memory", "pids"):
                base = ROOT / controller
                if _writable_dir(base):
                    parent = base / NAME
                    parent.mkdir(exist_ok=True)
                    path = parent / tag
                    path.mkdir()
                    dirs[controller] = path
            if "memory" not in dirs:
                for path in dirs.values():
                    path.rmdir()
                return None
            group = cls(dirs, 1)
            if memory_bytes:
                (dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
                with contextlib.suppress(OSError):
                    (dirs["memory"] / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            if pids and "pids" in dirs:
                (dirs["pids"] / "pids.max").write_text(str(pids))
            return group
        except OSError:
            return None

    @property
    def procs_files(self) -> list[Path]:
        return [path / "cgroup.procs" for path in self.dirs.values()]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for file in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in file.read_text().split())
        return sorted(found)

    def kill(self) -> None:
        """SIGKILL every process in the group, until none is left (or 2 s passed)."""
        kill_file = self.dirs.get("unified", Path("/nonexistent")) / "cgroup.kill"
        if kill_file.exists():
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.001)

    def oom_killed(self) -> bool:
        """Whether the kernel killed something of this run for exceeding the memory limit."""
        try:
            if self.version == 2:
                events = (self.dirs["unified"] / "memory.events").read_text()
                counts = dict(line.split() for line in events.splitlines() if line.strip())
                return int(counts.get("oom_kill", 0)) > 0
            control = (self.dirs["memory"] / "memory.oom_control").read_text()
            counts = dict(line.split() for line in control.splitlines() if line.strip())
            if int(counts.get("oom_kill", 0)) > 0:
                return True
            return int((self.dirs["memory"] / "memory.failcnt").read_text().strip() or 0) > 0
        except (OSError, ValueError, KeyError):
            return False

    def remove(self) -> None:
        self.kill()
        for path in self.dirs.values():
            for _ in range(500):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.002)

    def join_prefix(self) -> list[str]:
        """An argv prefix that moves itself into the group, then execs the rest."""
        writes = " && ".join(f"echo $$ > '{file}'" for file in self.procs_files)
        return ["/bin/sh", "-c", f'{writes} && exec "$@"', "sh"]

    def describe(self, memory_bytes: int | None) -> str:
        if not memory_bytes:
            return f"cgroup v{self.version}, no memory limit"
        return f"cgroup v{self.version} memory limit {memory_bytes // (1024 * 1024)} MiB"

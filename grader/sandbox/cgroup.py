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
SELF_CGROUP = Path("/proc/self/cgroup")
NAME = "grader-sandbox"


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def _delegated(path: Path) -> set[str]:
    try:
        return {c.lstrip("+") for c in (path / "cgroup.subtree_control").read_text().split()}
    except OSError:
        return set()


def _v2_base() -> Path | None:
    """The writable cgroup v2 root whose children get the memory controller; when the
    host has not delegated it yet, root enables it (``+memory +pids``)."""
    controllers = ROOT / "cgroup.controllers"
    if not controllers.is_file() or not _writable_dir(ROOT):
        return None
    if "memory" not in _delegated(ROOT):
        with contextlib.suppress(OSError):  # EBUSY in a container's own root: stays None
            (ROOT / "cgroup.subtree_control").write_text("+memory +pids")
    return ROOT if "memory" in _delegated(ROOT) else None


def _own_paths() -> dict[str, str]:
    """This process's cgroup per hierarchy ("unified" for v2) from /proc/self/cgroup."""
    found = {}
    try:
        lines = SELF_CGROUP.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") or [""]:
                found[controller or "unified"] = parts[2]
    return found


def enclosing_limit() -> int | None:
    """The tightest memory limit of the cgroups this grader itself runs in (a container's
    or a Slurm job's), in bytes; None when there is none. It bounds all reruns together."""
    own = _own_paths()
    candidates = []
    if "unified" in own:
        candidates.append((ROOT / own["unified"].lstrip("/"), "memory.max"))
    if "memory" in own:
        candidates.append((ROOT / "memory" / own["memory"].lstrip("/"), "memory.limit_in_bytes"))
    limits = []
    for start, name in candidates:
        for folder in (start, *start.parents):
            if not str(folder).startswith(str(ROOT)):
                break
            with contextlib.suppress(OSError, ValueError):
                value = int((folder / name).read_text().strip())
                if value < 1 << 60:  # v1 writes "unlimited" as a huge number
                    limits.append(value)
    return min(limits) if limits else None


def unbounded_gpu_words() -> str:
    """How memory is bounded for a GPU run without a cgroup of its own, in words."""
    words = (
        "no per-run bound: CUDA reserves huge virtual memory, so RLIMIT_AS cannot apply, and "
        "no writable cgroup is available (root on a cgroup v2 host gives one; see `grader "
        "doctor`)"
    )
    outer = enclosing_limit()
    if outer:
        words += f"; the grader's own cgroup caps all its runs together at {outer >> 20} MiB"
    return words


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

"""The sandbox contract: ``Sandbox.run(command, workdir, limits) -> RunOutput``.

Plain data only; the bubblewrap implementation lives in ``bwrap.py``, the unisolated
fallback in ``plain.py``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

MiB = 1024 * 1024
TASKS_PER_PROCESS = 16  # threads per allowed process (torch's pools, data loaders)
# bytes of a Unix socket's path: sun_path holds 108 on Linux and 104 on macOS, NUL included
SOCKET_PATH_MAX = 103


class SandboxError(Exception):
    """The sandbox cannot run at all (missing tool, unreadable path, bad config)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. ``None`` means "no limit of that kind"."""

    wall_s: float = 600.0  # the real bound: the whole process tree dies at it
    cpu_s: int | None = None  # RLIMIT_CPU per process; default: wall time x CPU cores
    memory_mb: int | None = 4096  # RLIMIT_AS for CPU jobs; a cgroup limit when available
    processes: int | None = 256  # processes the run may have (see ``effective_tasks``)
    file_size_mb: int | None = 1024  # RLIMIT_FSIZE: the largest single file written
    open_files: int | None = 1024  # RLIMIT_NOFILE
    tmp_mb: int = 512  # size of the private /tmp and of the private /dev/shm (tmpfs each)
    work_mb: int | None = None  # what a run may write into its work dir (sandbox.workspace)
    output_kept: int = 256 * 1024  # bytes kept per stream (head and tail halves)
    output_max: int = 64 * MiB  # bytes per stream after which the run is killed
    # a cgroup bounds the memory of the whole tree (and works for CUDA, where RLIMIT_AS
    # cannot); joining one costs several ms, so "auto" uses it for GPU runs and for runs
    # longer than a minute, and plain rlimits for short ones
    cgroup: Literal["auto", "always", "never"] = "auto"

    def wants_cgroup(self, gpu: bool) -> bool:
        if self.cgroup == "auto":
            return gpu or self.wall_s > 60
        return self.cgroup == "always"

    def effective_tasks(self) -> int | None:
        """The kernel's bound for ``processes``: RLIMIT_NPROC and the pids cgroup count
        threads too (one torch process runs dozens), so each process may have 16."""
        return None if self.processes is None else self.processes * TASKS_PER_PROCESS

    def effective_cpu_s(self) -> int:
        if self.cpu_s is not None:
            return self.cpu_s
        return max(1, int(self.wall_s * (os.cpu_count() or 1)) + 1)

    def prlimit_flags(self, address_space: bool, processes: bool) -> list[str]:
        """``prlimit`` flags for these limits. ``address_space``: bound memory with RLIMIT_AS
        (not for CUDA, which reserves huge virtual memory, nor under a memory cgroup);
        ``processes``: RLIMIT_NPROC (only where the run has a uid of its own)."""
        flags = [f"--cpu={self.effective_cpu_s()}"]
        if self.memory_mb and address_space:
            flags.append(f"--as={self.memory_mb * MiB}")
        if self.processes and processes:
            flags.append(f"--nproc={self.effective_tasks()}")
        if self.file_size_mb:
            flags.append(f"--fsize={self.file_size_mb * MiB}")
        if self.open_files:
            flags.append(f"--nofile={self.open_files}")
        return flags


@dataclass(frozen=True)
class Mount:
    """A host path shown inside the sandbox (read-only unless ``writable``)."""

    source: Path
    target: str
    writable: bool = False
    device: bool = False


@dataclass
class RunOutput:
    """What one sandboxed run did. Serialisable to JSON with ``to_dict``."""

    command: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float
    stdout_bytes: int = 0  # total produced, kept or not
    stderr_bytes: int = 0
    limit_hit: str | None = None  # wall_time, cpu_time, memory, output, file_size, processes
    sandbox: str = "none"  # "bubblewrap 0.8.0" or "none"
    isolated: bool = False
    network: bool = False
    uid: int | None = None
    gpus: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    memory_bound: str = ""  # how memory was bounded, in words

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.limit_hit is None

    def summary(self) -> str:
        """One sentence a student or instructor reads."""
        if self.limit_hit:
            words = LIMIT_WORDS.get(self.limit_hit, self.limit_hit)
            return f"stopped at the {words} after {self.wall_s:.1f} s"
        if self.returncode == 0:
            return f"finished in {self.wall_s:.1f} s"
        return f"exited with status {self.returncode} after {self.wall_s:.1f} s"

    def to_dict(self, with_output: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not with_output:
            data.pop("stdout")
            data.pop("stderr")
        data["ok"] = self.ok
        data["summary"] = self.summary()
        return data


LIMIT_WORDS = {
    "wall_time": "wall-time limit",
    "cpu_time": "CPU-time limit",
    "memory": "memory limit",
    "output": "output-size limit",
    "file_size": "file-size limit",
    "processes": "process limit",
    "disk": "disk limit (what a run may write)",
    "gpu_memory": "GPU's memory (the device's own, not a grader limit)",
}


@runtime_checkable
class Sandbox(Protocol):
    """Runs one command in a work dir under limits; never raises for what the command does."""

    name: str
    isolated: bool

    def run(
        self,
        command: list[str],
        workdir: Path,
        limits: Limits,
        *,
        env: dict[str, str] | None = None,
        network: bool = False,
        mounts: tuple[Mount, ...] = (),
        gpus: tuple[Any, ...] = (),
        stdin: bytes | None = None,
    ) -> RunOutput: ...


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The scrubbed environment every sandboxed command starts from (no grader secrets)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "TMPDIR": "/tmp",
        "XDG_CACHE_HOME": "/tmp/.cache",
        "MPLCONFIGDIR": "/tmp/.matplotlib",
        "OMP_NUM_THREADS": "2",
    }
    env.update(extra or {})
    return env

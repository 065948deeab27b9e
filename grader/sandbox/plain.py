"""The unisolated fallback: a plain subprocess with limits, for a student's own machine.

It is NOT a sandbox: the code sees the whole file system and the network, as the student
running their own code would. It still bounds wall time, CPU, memory, file size and output,
and kills the process group at the limit. Instructor grading refuses it unless forced.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from grader.sandbox.base import Limits, Mount, RunOutput, SandboxError, base_env
from grader.sandbox.gpu import GpuDevice, gpu_env
from grader.sandbox.identity import identity_env
from grader.sandbox.process import run_output, supervise
from grader.sandbox.workspace import watcher

GPU_ADVISORY = (
    "GPU isolation is advisory only here: CUDA_VISIBLE_DEVICES names the assigned GPU, but "
    "unsandboxed code can still open every GPU of the machine"
)
WARNING = (
    "NOT ISOLATED: this code ran as a plain subprocess with your permissions, file system "
    "and network (the Debian package `bubblewrap`, where it can run, sandboxes it)"
)


class PlainSandbox:
    """Runs commands unisolated, with a loud warning in every result."""

    isolated = False
    name = "none (plain subprocess)"

    def __init__(self, reason: str | None = None):
        self.reason = reason  # why bubblewrap was not used, for the warning

    def run(
        self,
        command: list[str],
        workdir: Path,
        limits: Limits,
        *,
        env: dict[str, str] | None = None,
        network: bool = False,
        mounts: tuple[Mount, ...] = (),
        gpus: tuple[GpuDevice, ...] = (),
        stdin: bytes | None = None,
    ) -> RunOutput:
        workdir = Path(workdir).resolve()
        if not workdir.is_dir():
            raise SandboxError(f"work dir {workdir} does not exist")
        extra = {**identity_env(os.getuid()), **(env or {})}
        extra["PATH"] = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        full_env = base_env(extra)
        full_env.update(gpu_env(gpus) if gpus else {"CUDA_VISIBLE_DEVICES": ""})
        full_env["HOME"] = os.environ.get("HOME", "/tmp")
        full_env["TMPDIR"] = os.environ.get("TMPDIR", "/tmp")
        for key in ("XDG_CACHE_HOME", "MPLCONFIGDIR"):
            full_env.pop(key, None)
        argv = list(command)
        warnings = [WARNING + (f"; {self.reason}" if self.reason else "")]
        if gpus:
            warnings.append(GPU_ADVISORY)
        launch = argv
        if shutil.which("prlimit"):  # rlimits without a preexec hook (thread-safe)
            flags = limits.prlimit_flags(address_space=not gpus, processes=False)
            launch = ["prlimit", *flags, "--", *argv]
        else:
            warnings.append("prlimit (util-linux) is missing: only the wall time is bounded")
        writable = [workdir, *(m.source for m in mounts if m.writable)]
        done = supervise(
            launch, env=full_env, cwd=workdir, limits=limits, stdin=stdin,
            watch=watcher(writable),
        )  # fmt: skip
        bounded = limits.memory_mb and not gpus
        return run_output(
            argv, done, oom=False, sandbox=self.name, isolated=False, network=True,
            uid=os.getuid(), gpus=[d.to_dict() for d in gpus], warnings=warnings,
            memory_bound=f"address-space limit {limits.memory_mb} MiB (RLIMIT_AS)"
            if bounded else "none",
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {"sandbox": self.name, "uid": os.getuid(), "root": os.geteuid() == 0}

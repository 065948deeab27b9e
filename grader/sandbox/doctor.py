"""``grader doctor``: can this machine grade, before a class is graded?

Each finding is one line a person acts on: the sandbox with the real launch argv, the
per-run cgroup, the GPUs (MIG instances included) and their state, a CUDA self-test per
free GPU inside the sandbox with the rerun's own Python, its torch/driver CUDA match, the
lock folder and the free disk space. A finding the spec needs that fails makes the
doctor exit non-zero (``exit_code``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from grader.sandbox.base import SOCKET_PATH_MAX, Limits, Sandbox, SandboxError
from grader.sandbox.bwrap import DEFAULT_UID, BubblewrapSandbox, bwrap_problem, bwrap_version
from grader.sandbox.cgroup import Cgroup, unbounded_gpu_words
from grader.sandbox.cuda import driver_library_dirs
from grader.sandbox.envs import interpreter_mounts, resolve_interpreter
from grader.sandbox.gpu import GpuInventory, gpu_inventory
from grader.sandbox.gpu_state import device_state
from grader.sandbox.plain import PlainSandbox
from grader.sandbox.queue import SYSTEM_LOCK_DIRS, RunQueue, default_lock_dir
from grader.sandbox.rerun_device import check_device
from grader.sandbox.student_process import CHANNEL_SUFFIX, channel_fits
from grader.sandbox.workspace import sandbox_base

GiB = 1024**3
DOCTOR_LIMITS = Limits(wall_s=180, memory_mb=8192, processes=512)


@dataclass
class Finding:
    area: str  # sandbox, cgroup, gpu, cuda, locks, disk
    status: str  # ok, warn, fail, info
    message: str
    needed: bool = False  # what is graded needs it: a failure makes the doctor exit 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Needs:
    """What the grading to come needs (from the spec, when one is given)."""

    sandbox: bool = True  # instructor grading runs student code only in bubblewrap
    gpu: str = "none"  # "required", "optional" or "none"
    python: str | None = None  # the rerun's interpreter (spec, $GRADER_RERUN_PYTHON)


def exit_code(findings: list[Finding]) -> int:
    return 1 if any(f.status == "fail" and f.needed for f in findings) else 0


def check_sandbox(needs: Needs) -> list[Finding]:
    exe = shutil.which("bwrap")
    version = bwrap_version()
    problem = bwrap_problem()
    if problem:
        return [Finding("sandbox", "fail", problem, needed=needs.sandbox)]
    sandbox = BubblewrapSandbox(uid=DEFAULT_UID)
    found = [
        Finding(
            "sandbox", "ok",
            f"bubblewrap {'.'.join(map(str, version or ()))} at {exe}: a launch with the real "
            f"argv works (/proc and /dev layout: {sandbox.layout})",
        )
    ]  # fmt: skip
    found += [Finding("sandbox", "warn", w) for w in sandbox.layout_warnings]
    if os.geteuid() != 0:
        found.append(
            Finding(
                "sandbox", "warn",
                "not root: reruns run as your own uid (no per-slot uid, no cgroup); grade as "
                "root for isolation between concurrent reruns",
            )
        )  # fmt: skip
    return found


def check_cgroup(needs: Needs) -> list[Finding]:
    group = Cgroup.create(64 * 1024 * 1024, 64) if os.geteuid() == 0 else None
    if group is not None:
        group.remove()
        return [
            Finding(
                "cgroup", "ok",
                f"a cgroup v{group.version} per run bounds memory (GPU runs included) and "
                "processes",
            )
        ]  # fmt: skip
    status = "warn" if needs.gpu != "none" else "info"
    return [Finding("cgroup", status, f"GPU runs: {unbounded_gpu_words()}")]


def check_gpus(needs: Needs, inventory: GpuInventory) -> list[Finding]:
    found = []
    severe = "fail" if needs.gpu == "required" else "warn"
    if inventory.restriction:
        found.append(Finding("gpu", "info", inventory.restriction))
    for problem in inventory.problems:
        found.append(Finding("gpu", severe, problem, needed=needs.gpu == "required"))
    if not inventory.devices and not inventory.problems:
        status = "fail" if needs.gpu == "required" else "info"
        words = "no NVIDIA GPU" + ("" if inventory.driver_present else " (no NVIDIA driver)")
        found.append(Finding("gpu", status, words, needed=needs.gpu == "required"))
    for device in inventory.devices:
        kind = "MIG instance" if device.is_mig else "GPU"
        found.append(
            Finding(
                "gpu", "ok",
                f"{device.label}: {kind} {device.uuid}, {device.memory_mb} MiB, driver "
                f"{device.driver}, compute mode {device.compute_mode or 'unknown'}",
            )
        )  # fmt: skip
        state = device_state(device)
        if state:
            found.append(Finding("gpu", "warn", f"{device.label}: {state}"))
    dirs = driver_library_dirs()
    if dirs and inventory.devices:
        shown = ", ".join(map(str, dirs))
        found.append(Finding("gpu", "info", f"driver libraries outside /usr, bound: {shown}"))
    return found


def _self_test_sandbox(needs: Needs) -> Sandbox:
    if bwrap_problem() is None:
        return BubblewrapSandbox(uid=DEFAULT_UID)
    return PlainSandbox(reason=bwrap_problem())


def check_cuda(needs: Needs, inventory: GpuInventory, lock_dir: Path) -> list[Finding]:
    if not inventory.devices:
        return []
    try:
        python = resolve_interpreter(needs.python)
    except SandboxError as exc:
        return [Finding("cuda", "fail", str(exc), needed=needs.gpu != "none")]
    sandbox = _self_test_sandbox(needs)
    queue = RunQueue(gpus=inventory.devices, lock_dir=lock_dir)
    needed = needs.gpu == "required"
    found = []
    where = "in the sandbox" if sandbox.isolated else "UNSANDBOXED (no usable bubblewrap)"
    for device in inventory.devices:
        with queue.holding(device) as free:
            if not free:
                found.append(Finding("cuda", "info", f"{device.label}: a rerun holds it now"))
                continue
            problem, verdict = check_device(
                sandbox, python, device, DOCTOR_LIMITS, interpreter_mounts(python),
                {"PATH": "/usr/local/bin:/usr/bin:/bin"},
            )  # fmt: skip
        if problem is not None:
            message = f"{device.label}: CUDA self-test {where} with {python} failed: {problem}"
            found.append(Finding("cuda", "fail", message, needed=needed))
            continue
        assert verdict is not None
        used = verdict.device
        torch = (
            f"torch {used['torch']} (CUDA {used['torch_cuda']})" if used["torch"] else "no torch"
        )
        found.append(
            Finding(
                "cuda", "ok",
                f"{device.label}: CUDA self-test {where} with {python}: {verdict.summary()}; "
                f"driver CUDA {used['driver_cuda']}, {torch}",
            )
        )  # fmt: skip
        found += [Finding("cuda", "warn", f"{device.label}: {w}") for w in verdict.warnings]
    return found


def check_locks(lock_dir: Path) -> list[Finding]:
    shared = any(str(lock_dir).startswith(base + "/") for base in SYSTEM_LOCK_DIRS)
    if os.environ.get("GRADER_LOCK_DIR"):
        where = "set by GRADER_LOCK_DIR (every grader on this machine must use the same)"
    elif shared:
        where = "machine-wide"
    else:
        where = (
            "NOT machine-wide: graders with another TMPDIR or GRADER_SANDBOX_DIR could share a GPU"
        )
    try:
        RunQueue(gpus=[], lock_dir=lock_dir)
        probe = lock_dir / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
    except (OSError, SandboxError) as exc:
        return [Finding("locks", "fail", f"lock folder {lock_dir} is not usable: {exc}", True)]
    status = "ok" if shared or os.environ.get("GRADER_LOCK_DIR") else "warn"
    return [Finding("locks", status, f"rerun locks in {lock_dir} ({where})")]


def check_socket_paths() -> list[Finding]:
    """The tests check talks to the student's process over a Unix socket under the sandbox
    folder (107 bytes at most); the batch's fork server uses one under TMPDIR."""
    base = sandbox_base()
    if not channel_fits(base):
        return [Finding(
            "sandbox", "warn",
            f"the sandbox folder {base} is too long for the tests' socket ({len(str(base))} "
            f"characters, at most {SOCKET_PATH_MAX - CHANNEL_SUFFIX}): instructor tests would "
            "be 'not graded (environment)'; set GRADER_SANDBOX_DIR to a shorter folder",
        )]  # fmt: skip
    return [Finding("sandbox", "ok", f"sandbox folder {base} fits the tests' socket path")]


def check_disk() -> list[Finding]:
    found = []
    for label, path in (("sandbox work dirs", sandbox_base()), ("temporary files", Path("/tmp"))):
        try:
            free = shutil.disk_usage(path).free
        except OSError as exc:
            found.append(Finding("disk", "fail", f"{label} ({path}): {exc}", needed=True))
            continue
        status = "fail" if free < GiB else "warn" if free < 5 * GiB else "ok"
        message = f"{label} ({path}): {free / GiB:.1f} GiB free"
        found.append(Finding("disk", status, message, needed=status == "fail"))
    return found


def diagnose(needs: Needs, self_test: bool = True) -> list[Finding]:
    """Every finding, in the order a person fixes them."""
    lock_dir = default_lock_dir()
    inventory = gpu_inventory()
    findings = check_sandbox(needs) + check_cgroup(needs) + check_gpus(needs, inventory)
    if self_test:
        findings += check_cuda(needs, inventory, lock_dir)
    return findings + check_locks(lock_dir) + check_socket_paths() + check_disk()

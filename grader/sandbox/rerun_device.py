"""Which device a rerun really uses: the leased GPU only once it has proved itself.

Before the student's first command, the leased GPU's device nodes are made to exist
(``gpu_state.ensure_device_nodes``) and the CUDA self-test runs in the sandbox with the
rerun's own Python (``cuda.run_self_test``). Then:

- it passes: the rerun gets the GPU, and the result records the device CUDA reported;
- it fails and the spec says ``gpu: required``: ``EnvironmentFailure`` (kind "gpu"), i.e.
  "not graded (environment)", never a student's failure;
- it fails and the GPU is optional: the rerun runs on the CPU and the result says why.

A device at fault (not the Python's torch build) is held off for a while, so the next
rerun tries another GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.results import EnvironmentFailure
from grader.sandbox.base import Limits, Mount, RunOutput, Sandbox
from grader.sandbox.cuda import SelfTest, run_self_test
from grader.sandbox.gpu import GpuDevice
from grader.sandbox.gpu_state import ensure_device_nodes
from grader.sandbox.queue import Lease, RunQueue
from grader.sandbox.workspace import discard_workdir, prepare_workdir


@dataclass
class DeviceChoice:
    gpus: tuple[GpuDevice, ...]  # what the rerun's commands get
    device: dict[str, Any]  # what the result records ("name", and "cpu_reason" on the CPU)
    self_test: RunOutput | None = None
    warnings: list[str] = field(default_factory=list)


def _cpu(reason: str, verdict: SelfTest | None = None) -> DeviceChoice:
    device: dict[str, Any] = {"name": "cpu"}
    if reason:
        device["cpu_reason"] = reason
    if verdict is not None:
        device["self_test"] = verdict.summary()
    return DeviceChoice((), device, verdict.output if verdict else None)


def check_device(
    sandbox: Sandbox, python: Path | str, device: GpuDevice, limits: Limits,
    mounts: tuple[Mount, ...] = (), env: dict[str, str] | None = None,
) -> tuple[str | None, SelfTest | None]:  # fmt: skip
    """(why ``device`` cannot be used, the self-test's verdict); (None, verdict) when it
    works. The self-test runs in an empty work dir of its own."""
    problem = ensure_device_nodes(device)
    if problem is not None:
        return problem, None
    work = prepare_workdir(None, getattr(sandbox, "uid", None))
    try:
        verdict = run_self_test(sandbox, python, device, work, limits, mounts=mounts, env=env)
    finally:
        discard_workdir(work)
    return (None if verdict.ok else verdict.reason), verdict


def choose_device(
    lease: Lease,
    queue: RunQueue,
    sandbox: Sandbox,
    python: Path | str,
    *,
    gpu: str,
    limits: Limits,
    mounts: tuple[Mount, ...] = (),
    env: dict[str, str] | None = None,
) -> DeviceChoice:
    """The device the rerun's commands run on, proved by the self-test (see the module)."""
    if gpu == "none":
        return _cpu("")
    if not lease.gpus:
        if lease.cpu_reason or queue.gpu_problem:
            return _cpu(lease.cpu_reason or str(queue.gpu_problem))
        return _cpu("")  # no GPU hardware at all: nothing to explain
    device = lease.gpus[0]
    problem, verdict = check_device(sandbox, python, device, limits, mounts, env)
    if problem is None and verdict is not None:
        return DeviceChoice(lease.gpus, verdict.device, verdict.output, verdict.warnings)
    if verdict is None or verdict.device_fault:
        queue.hold_off(device, str(problem))
    message = f"{device.label}: {problem}"
    if gpu == "required":
        raise EnvironmentFailure(f"the GPU cannot be used: {message}", kind="gpu")
    queue.release_gpu(lease)
    return _cpu(f"the GPU failed its check ({message})", verdict)

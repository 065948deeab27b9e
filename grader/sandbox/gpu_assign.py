"""Which GPUs this grader process was given: an inherited ``CUDA_VISIBLE_DEVICES`` (a Dask
worker started per GPU, a CI runner, a scheduler) or a Slurm ``--gres`` assignment.

``nvidia-smi`` ignores both and lists every GPU of the machine; scheduling reruns on the
GPUs of another job would break its isolation and ours. So the inventory keeps only the
assigned devices.

- ``CUDA_VISIBLE_DEVICES``: UUIDs (``GPU-...``, ``MIG-...``, unique prefixes allowed) or
  indices (nvidia-smi's, i.e. PCI bus order); empty, ``-1`` or ``NoDevFiles`` hides every
  GPU.
- Slurm without ``CUDA_VISIBLE_DEVICES``: ``SLURM_STEP_GPUS``/``SLURM_JOB_GPUS`` name device
  minors (``/dev/nvidia<N>``); where the job's cgroup shows only its own GPUs, nvidia-smi
  lists exactly those and they are all kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from grader.sandbox.nvidia import GpuDevice

HIDDEN = {"", "-1", "none", "nodevfiles", "void"}


def _match(token: str, devices: list[GpuDevice]) -> list[GpuDevice]:
    token = token.strip()
    if token.isdigit():
        return [d for d in devices if d.index == int(token)]
    lowered = token.lower()
    return [
        d
        for d in devices
        if d.uuid.lower().startswith(lowered)
        or (d.parent_uuid and d.parent_uuid.lower().startswith(lowered))
    ]


def restrict_to_assigned(
    devices: list[GpuDevice], environ: Mapping[str, str]
) -> tuple[list[GpuDevice], str]:
    """The devices this process may use, and how they were narrowed, in words ("" when
    nothing restricts them)."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        if visible.strip().lower() in HIDDEN:
            return [], f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU from this grader"
        kept: list[GpuDevice] = []
        for token in visible.split(","):
            kept += [d for d in _match(token, devices) if d not in kept]
        return kept, f"only the GPUs in CUDA_VISIBLE_DEVICES={visible} (inherited)"
    for var in ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS"):
        value = environ.get(var, "").strip()
        if not value:
            continue
        minors = {int(t) for t in value.split(",") if t.strip().isdigit()}
        kept = [d for d in devices if d.minor in minors]
        if not kept and len({d.minor for d in devices}) == len(minors):
            kept = list(devices)  # the job's cgroup already shows only its own GPUs
        return kept, f"only the GPUs Slurm assigned to this job ({var}={value})"
    return list(devices), ""

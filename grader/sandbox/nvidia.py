"""The NVIDIA basics every GPU module shares: the device record, where the driver's files
are (overridable for tests), and running ``nvidia-smi`` with a timeout.

Tests point ``GRADER_GPU_DEV_ROOT`` at fake device nodes and ``GRADER_GPU_PROC_ROOT`` at a
fake ``/proc/driver/nvidia``, and put a fake ``nvidia-smi`` on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class GpuDevice:
    """One schedulable device: a whole GPU, or one MIG instance of a GPU."""

    index: int  # nvidia-smi's index of the (parent) GPU
    name: str
    driver: str
    memory_mb: int
    uuid: str  # GPU-... or, for a MIG instance, MIG-...
    pci_bus_id: str = ""
    minor: int | None = None  # /dev/nvidia<minor>; the index when the driver does not say
    compute_mode: str = ""
    parent_uuid: str = ""  # MIG only: the GPU the instance lives on
    gpu_instance: int | None = None  # MIG only: GPU instance id
    compute_instance: int | None = None  # MIG only: compute instance id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def is_mig(self) -> bool:
        return self.gpu_instance is not None

    @property
    def visible_id(self) -> str:
        """What CUDA_VISIBLE_DEVICES names this device by (its UUID is stable; CUDA selects
        MIG instances only by their MIG-<uuid>)."""
        return self.uuid or str(self.index)

    @property
    def label(self) -> str:
        """A short name for messages: "GPU 1 (NVIDIA H100 80GB HBM3)"."""
        kind = f"GPU {self.index}"
        if self.is_mig:
            kind += f" MIG {self.gpu_instance}/{self.compute_instance}"
        return f"{kind} ({self.name})"


def dev_root() -> Path:
    return Path(os.environ.get("GRADER_GPU_DEV_ROOT", "/dev"))


def proc_root() -> Path:
    """The driver's ``/proc/driver/nvidia``."""
    return Path(os.environ.get("GRADER_GPU_PROC_ROOT", "/proc/driver/nvidia"))


def smi(args: list[str], timeout: float = 20.0) -> tuple[int | None, str, str]:
    """Run nvidia-smi: (exit status, stdout, stderr); status None when it cannot run."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None, "", "nvidia-smi is not on PATH"
    try:
        done = subprocess.run(
            [exe, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return None, "", f"nvidia-smi did not answer within {timeout:g} s"
    except OSError as exc:
        return None, "", f"nvidia-smi does not run: {exc}"
    return done.returncode, done.stdout, done.stderr

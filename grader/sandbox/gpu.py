"""NVIDIA GPU detection through ``nvidia-smi`` (no torch import, no NVML binding needed).

Tests simulate devices with a fake ``nvidia-smi`` on PATH and a fake device root
(``GRADER_GPU_DEV_ROOT``); the sandbox then passes only the assigned device nodes.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

QUERY = "index,name,driver_version,memory.total,uuid,pci.bus_id"
# nodes every CUDA process needs besides its own /dev/nvidiaN
SHARED_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")


@dataclass(frozen=True)
class GpuDevice:
    index: int
    name: str
    driver: str
    memory_mb: int
    uuid: str
    pci_bus_id: str = ""
    minor: int | None = None  # /dev/nvidia<minor>; the index when the driver does not say

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def visible_id(self) -> str:
        """What CUDA_VISIBLE_DEVICES names this device by (its UUID is stable)."""
        return self.uuid or str(self.index)


def dev_root() -> Path:
    return Path(os.environ.get("GRADER_GPU_DEV_ROOT", "/dev"))


def _minor_for(bus_id: str) -> int | None:
    """The device minor from /proc/driver/nvidia (CUDA order and minors can differ)."""
    if not bus_id:
        return None
    base = Path(os.environ.get("GRADER_GPU_PROC_ROOT", "/proc/driver/nvidia")) / "gpus"
    for candidate in (bus_id.lower(), bus_id.lower()[4:]):  # 00000000:17:00.0 or 0000:17:00.0
        info = base / candidate / "information"
        try:
            text = info.read_text()
        except OSError:
            continue
        match = re.search(r"Device Minor:\s*(\d+)", text)
        if match:
            return int(match.group(1))
    return None


def parse_query(text: str) -> list[GpuDevice]:
    """Parse ``nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits`` output."""
    devices = []
    for row in csv.reader(line for line in text.splitlines() if line.strip()):
        cells = [cell.strip() for cell in row]
        if len(cells) < 5 or not cells[0].isdigit():
            continue
        try:
            memory = int(float(cells[3]))
        except ValueError:
            memory = 0
        bus = cells[5] if len(cells) > 5 else ""
        minor = _minor_for(bus)
        devices.append(
            GpuDevice(
                index=int(cells[0]),
                name=cells[1],
                driver=cells[2],
                memory_mb=memory,
                uuid=cells[4],
                pci_bus_id=bus,
                minor=int(cells[0]) if minor is None else minor,
            )
        )
    return devices


def detect_gpus(timeout: float = 10.0) -> list[GpuDevice]:
    """Every NVIDIA GPU ``nvidia-smi`` reports; an empty list when there is none (or no
    driver). ``GRADER_NO_GPU=1`` hides them all (e.g. to force the CPU fallback)."""
    if os.environ.get("GRADER_NO_GPU"):
        return []
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        done = subprocess.run(
            [exe, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return parse_query(done.stdout)


def device_nodes(device: GpuDevice) -> list[Path]:
    """The device nodes one GPU needs inside the sandbox (only those that exist)."""
    root = dev_root()
    names = [f"nvidia{device.minor if device.minor is not None else device.index}"]
    names += list(SHARED_NODES)
    nodes = [root / name for name in names if (root / name).exists()]
    caps = root / "nvidia-caps"
    if caps.is_dir():
        nodes.append(caps)
    return nodes


def gpu_env(devices: list[GpuDevice] | tuple[GpuDevice, ...]) -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES naming exactly the assigned devices ("" hides every GPU)."""
    return {
        "CUDA_VISIBLE_DEVICES": ",".join(d.visible_id for d in devices),
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
    }

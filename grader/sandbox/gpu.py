"""NVIDIA GPU detection through ``nvidia-smi`` (no torch import, no NVML binding needed).

``gpu_inventory()`` says what this grader process may schedule on: every GPU (or, with MIG
enabled, every MIG instance) that ``nvidia-smi`` reports, restricted to an inherited
``CUDA_VISIBLE_DEVICES`` or Slurm assignment, plus every problem found on the way (a
failing ``nvidia-smi``, a faulty GPU). A driver that is present but broken is a problem,
never "no GPU": a GPU rerun must not silently become a CPU run.

Tests simulate devices with a fake ``nvidia-smi`` on PATH and a fake device root
(``GRADER_GPU_DEV_ROOT``, ``GRADER_GPU_PROC_ROOT``); the sandbox then passes only the
assigned device nodes.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.cuda import driver_library_dirs
from grader.sandbox.gpu_assign import restrict_to_assigned
from grader.sandbox.mig import capability_nodes, expand_mig
from grader.sandbox.nvidia import GpuDevice, dev_root, proc_root, smi

__all__ = ["GpuDevice", "GpuInventory", "detect_gpus", "device_nodes", "gpu_env", "gpu_inventory"]

QUERY = "index,name,driver_version,memory.total,uuid,pci.bus_id,mig.mode.current,compute_mode"
BASIC_QUERY = "index,name,driver_version,memory.total,uuid,pci.bus_id"  # pre-R450 drivers
# nodes every CUDA process needs besides its own /dev/nvidiaN (nvidia-modeset is for
# display clients, not CUDA, and is not passed)
SHARED_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools")
FAULT_MARKERS = ("Unknown Error", "GPU requires reset", "GPU is lost", "ERR!")


@dataclass
class GpuInventory:
    devices: list[GpuDevice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # each in words, for a person
    driver_present: bool = False  # an NVIDIA driver is installed, working or not
    restriction: str = ""  # how an inherited assignment narrowed the list, in words

    @property
    def problem(self) -> str | None:
        return "; ".join(self.problems) or None


def _minor_for(bus_id: str) -> int | None:
    """The device minor from /proc/driver/nvidia (CUDA order and minors can differ)."""
    if not bus_id:
        return None
    base = proc_root() / "gpus"
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


def _faulty(cells: list[str]) -> str | None:
    for cell in cells:
        for marker in FAULT_MARKERS:
            if marker.lower() in cell.lower():
                return cell.strip("[] ")
    return None


def parse_rows(text: str) -> tuple[list[GpuDevice], list[str], list[str]]:
    """Parse ``nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits`` output into
    (healthy devices, problems, uuids of GPUs with MIG enabled)."""
    devices, problems, mig = [], [], []
    for row in csv.reader(line for line in text.splitlines() if line.strip()):
        cells = [cell.strip() for cell in row]
        if len(cells) < 5 or not cells[0].isdigit():
            continue
        fault = _faulty(cells)
        if fault:
            problems.append(f"GPU {cells[0]} ({cells[1]}) is faulty: nvidia-smi reads {fault!r}")
            continue
        try:
            memory = int(float(cells[3]))
        except ValueError:
            memory = 0
        bus = cells[5] if len(cells) > 5 else ""
        minor = _minor_for(bus)
        device = GpuDevice(
            index=int(cells[0]),
            name=cells[1],
            driver=cells[2],
            memory_mb=memory,
            uuid=cells[4],
            pci_bus_id=bus,
            minor=minor,  # None: /proc/driver/nvidia does not say (see _assign_minors)
            compute_mode=cells[7] if len(cells) > 7 else "",
        )
        if len(cells) > 6 and cells[6].lower() == "enabled":
            mig.append(device.uuid)
        devices.append(device)
    return devices, problems, mig


def parse_query(text: str) -> list[GpuDevice]:
    """The healthy devices of a ``--query-gpu`` listing (see ``parse_rows``)."""
    return _assign_minors(parse_rows(text)[0])


def _assign_minors(devices: list[GpuDevice]) -> list[GpuDevice]:
    """Device minors /proc/driver/nvidia did not give: the index, as on most hosts; but a
    container that shows GPU 3 of its host as nvidia-smi's GPU 0 has only /dev/nvidia3, so
    when the index nodes do not exist and there are exactly as many nodes as GPUs, they are
    paired in order."""
    unknown = [d for d in devices if d.minor is None]
    if not unknown:
        return devices
    root = dev_root()
    nodes = sorted(int(p.name[6:]) for p in root.glob("nvidia[0-9]*") if p.name[6:].isdigit())
    paired = dict(zip(sorted(d.index for d in devices), nodes, strict=False))
    by_index = all((root / f"nvidia{d.index}").exists() for d in unknown)
    use_pairs = not by_index and len(nodes) == len(devices)
    return [
        d
        if d.minor is not None
        else dataclasses.replace(d, minor=paired[d.index] if use_pairs else d.index)
        for d in devices
    ]


def driver_traces() -> list[str]:
    """Signs that an NVIDIA driver is installed here even when nvidia-smi says nothing."""
    found = [str(p) for p in (proc_root(), dev_root() / "nvidiactl") if p.exists()]
    found += [str(p) for p in sorted(dev_root().glob("nvidia[0-9]*"))[:1]]
    return found


def _smi_failure(status: int | None, out: str, err: str) -> str:
    text = " ".join((err.strip() or out.strip()).split())[:300]
    if status is None:
        return text
    return f"nvidia-smi exited with status {status}" + (f": {text}" if text else "")


def gpu_inventory(timeout: float = 20.0) -> GpuInventory:
    """Every device this process may schedule on, and what went wrong finding them."""
    if os.environ.get("GRADER_NO_GPU"):
        return GpuInventory(restriction="GRADER_NO_GPU is set: GPUs are not used")
    inventory = GpuInventory()
    fmt = "--format=csv,noheader,nounits"
    status, out, err = smi([f"--query-gpu={QUERY}", fmt], timeout)
    if status not in (0, None) and "field" in (out + err).lower():
        status, out, err = smi([f"--query-gpu={BASIC_QUERY}", fmt], timeout)
    traces = driver_traces()
    if status is None and shutil.which("nvidia-smi") is None:
        if traces:
            inventory.driver_present = True
            inventory.problems.append(
                f"an NVIDIA driver is present ({traces[0]}) but nvidia-smi is not on PATH, "
                "so no GPU can be scheduled"
            )
        return inventory
    inventory.driver_present = True
    devices, problems, mig = parse_rows(out) if status is not None else ([], [], [])
    devices = _assign_minors(devices)
    inventory.problems += problems
    if status != 0:
        inventory.problems.append(_smi_failure(status, out, err))
    if mig:
        devices, mig_problems = expand_mig(devices, set(mig), timeout)
        inventory.problems += mig_problems
    inventory.devices, inventory.restriction = restrict_to_assigned(devices, os.environ)
    return inventory


def detect_gpus(timeout: float = 20.0) -> list[GpuDevice]:
    """The devices of ``gpu_inventory()``; an empty list when there is none (or no driver).
    ``GRADER_NO_GPU=1`` hides them all (e.g. to force the CPU fallback)."""
    return gpu_inventory(timeout).devices


def device_nodes(device: GpuDevice) -> list[Path]:
    """The device nodes one device needs inside the sandbox (only those that exist): its
    GPU's node, the shared control nodes and, for a MIG instance, only that instance's
    capabilities (never the whole /dev/nvidia-caps, which would grant every instance)."""
    root = dev_root()
    names = [f"nvidia{device.minor if device.minor is not None else device.index}"]
    names += list(SHARED_NODES)
    nodes = [root / name for name in names if (root / name).exists()]
    if device.is_mig:
        nodes += [node for node in capability_nodes(device) if node.exists()]
    return nodes


def gpu_env(devices: list[GpuDevice] | tuple[GpuDevice, ...]) -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES naming exactly the assigned devices ("" hides every GPU), and
    where the driver's libraries are when they live outside the system paths."""
    env = {
        "CUDA_VISIBLE_DEVICES": ",".join(d.visible_id for d in devices),
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
    }
    if devices:
        dirs = driver_library_dirs()
        if dirs:
            env["LD_LIBRARY_PATH"] = ":".join(str(d) for d in dirs)
    return env

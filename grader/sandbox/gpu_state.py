"""Whether one device can take a rerun right now: its device nodes exist (created when
they do not), and it is not busy with another job, forbidden to compute, or faulty.

``/dev/nvidia-uvm`` is created by the kernel module only when something asks: a udev rule
or ``nvidia-modprobe``. ``nvidia-smi`` does not create it, and inside the sandbox nothing
can, so without it CUDA fails to start and torch quietly falls back to the CPU. The same
holds for a MIG instance's capability nodes. ``ensure_device_nodes`` creates them on the
host (``nvidia-modprobe -u -c=N``, ``nvidia-modprobe -f CAP``) before they are bound.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.sandbox.mig import capability_files, capability_nodes
from grader.sandbox.nvidia import GpuDevice, dev_root, smi

FAULT_TAGS = {
    "pending_retirement", "pending_blacklist", "remapped_row_pending", "remapped_row_failure",
}  # fmt: skip
FAULT_TEXT = ("GPU requires reset", "GPU is lost")  # anywhere: definitive
KEY_TAGS = {"product_name", "uuid", "total"}  # "Unknown Error" here: the GPU is unreadable
FOREIGN_MEMORY_SHARE = 0.25  # used memory with no visible process: another container's job
BUSY = "it is busy"  # the one reason that passes by itself: waiting for the GPU helps


def transient(reason: str) -> bool:
    """Whether a GPU held off for ``reason`` may come back by itself (busy, not broken)."""
    return reason.startswith(BUSY)


def required_nodes(device: GpuDevice) -> list[Path]:
    root = dev_root()
    nodes = [root / f"nvidia{device.minor if device.minor is not None else device.index}"]
    nodes += [root / "nvidiactl", root / "nvidia-uvm"]
    if device.is_mig:
        nodes += capability_nodes(device)
    return nodes


def _missing(device: GpuDevice) -> list[str]:
    missing = [str(node) for node in required_nodes(device) if not node.exists()]
    if device.is_mig and len(capability_nodes(device)) < 2:
        missing.append(f"the MIG capability numbers of {device.label} (/proc/driver/nvidia)")
    return missing


def ensure_device_nodes(device: GpuDevice, timeout: float = 20.0) -> str | None:
    """Create the device's missing nodes with nvidia-modprobe; what is still missing, in
    words, or None when every node exists."""
    missing = _missing(device)
    if not missing:
        return None
    exe = shutil.which("nvidia-modprobe")
    if exe is not None:
        minor = device.minor if device.minor is not None else device.index
        calls = [[exe, f"-c={minor}"], [exe, "-u", f"-c={minor}"]]
        calls += [[exe, "-f", str(access)] for access, _ in capability_files(device)]
        for argv in calls if device.is_mig else calls[:2]:
            try:
                subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
            except (OSError, subprocess.TimeoutExpired):
                continue
        missing = _missing(device)
        if not missing:
            return None
    how = "nvidia-modprobe could not create them" if exe else "nvidia-modprobe is not installed"
    return (
        f"{', '.join(missing)} missing and {how}: CUDA cannot start without them; as root run "
        f"`nvidia-modprobe -u -c=0` (or install NVIDIA's udev rules) before grading"
    )


def _mib(text: str | None) -> int | None:
    match = re.match(r"\s*(\d+)", text or "")
    return int(match.group(1)) if match else None


def parse_state(xml_text: str, device: GpuDevice) -> str | None:
    """Why ``device`` cannot take a rerun now, from ``nvidia-smi -q -x -i GPU``; None when
    it can."""
    try:
        gpu = ET.fromstring(xml_text).find("gpu")
    except ET.ParseError:
        return None  # nothing definite: the CUDA self-test decides
    if gpu is None:
        return None
    mode = (gpu.findtext("compute_mode") or "").strip()
    if mode.lower() == "prohibited":
        return "its compute mode is Prohibited: no CUDA context may be created on it"
    for element in gpu.iter():
        text = (element.text or "").strip()
        if element.tag in FAULT_TAGS and text.lower() == "yes":
            return f"it needs a reset ({element.tag.replace('_', ' ')}: Yes)"
        broken = element.tag in KEY_TAGS and "unknown error" in text.lower()
        if broken or any(marker.lower() in text.lower() for marker in FAULT_TEXT):
            return f"it is faulty ({element.tag}: {text})"
    apps = []
    for proc in gpu.iter("process_info"):
        if "C" not in (proc.findtext("type") or "C"):
            continue  # a graphics-only client (Xorg) does not compete for compute
        if device.is_mig and (
            _mib(proc.findtext("gpu_instance_id")) != device.gpu_instance
            or _mib(proc.findtext("compute_instance_id")) != device.compute_instance
        ):
            continue
        apps.append(f"pid {proc.findtext('pid', '?')} using {proc.findtext('used_memory', '?')}")
    if apps:
        exclusive = " (exclusive-process mode)" if "exclusive" in mode.lower() else ""
        return f"{BUSY}{exclusive}: another compute process runs on it ({'; '.join(apps)})"
    used, total = (
        _mib(gpu.findtext("fb_memory_usage/used")),
        _mib(gpu.findtext("fb_memory_usage/total")),
    )
    if not device.is_mig and used and total and used > FOREIGN_MEMORY_SHARE * total:
        return (
            f"{BUSY}: {used} of {total} MiB of its memory are in use by processes this "
            "grader cannot see (another container or user?)"
        )
    return None


def device_state(device: GpuDevice, timeout: float = 20.0) -> str | None:
    """Why ``device`` cannot take a rerun now (busy, Prohibited, needing a reset), or None.
    Asks nvidia-smi about that one GPU. Where nvidia-smi cannot say (missing, failing, a
    runtime that does not implement the query), nothing definite is known and the CUDA
    self-test decides: None."""
    status, out, _ = smi(["-q", "-x", "-i", device.parent_uuid or device.uuid], timeout)
    return parse_state(out, device) if status == 0 else None

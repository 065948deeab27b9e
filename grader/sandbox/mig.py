"""MIG (Multi-Instance GPU): each MIG instance is a schedulable device of its own.

With MIG enabled, ``nvidia-smi --query-gpu`` lists only the parent GPU, and CUDA cannot use
the parent at all: it selects an instance by its ``MIG-<uuid>``. The UUIDs come from
``nvidia-smi -L``; the GPU-instance and compute-instance ids, which name the instance's
capability device nodes, from ``nvidia-smi -q -x``. The sandbox then binds only that
instance's ``/dev/nvidia-caps/nvidia-cap<N>`` nodes, so a rerun can open no other
instance (NVIDIA's MIG user guide, "Device Nodes and Capabilities").
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.sandbox.nvidia import GpuDevice, dev_root, proc_root, smi

GPU_LINE = re.compile(r"^GPU (\d+): (.*?) \(UUID: (GPU-[^)]+)\)")
MIG_LINE = re.compile(r"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[^)]+)\)")
LEGACY_UUID = re.compile(r"^MIG-(GPU-[^/]+)/(\d+)/(\d+)$")  # drivers before R470


def parse_listing(text: str) -> dict[str, list[tuple[int, str, str]]]:
    """``nvidia-smi -L`` -> {parent GPU uuid: [(MIG device index, profile, MIG uuid)]}."""
    found: dict[str, list[tuple[int, str, str]]] = {}
    parent = None
    for line in text.splitlines():
        gpu = GPU_LINE.match(line)
        if gpu:
            parent = gpu.group(3)
            found.setdefault(parent, [])
            continue
        mig = MIG_LINE.match(line)
        if mig and parent is not None:
            found[parent].append((int(mig.group(2)), mig.group(1), mig.group(3)))
    return found


def _int(node: ET.Element | None, default: int | None = None) -> int | None:
    text = (node.text or "").strip() if node is not None else ""
    match = re.match(r"\d+", text)
    return int(match.group()) if match else default


def parse_instances(xml_text: str) -> dict[str, list[tuple[int, int, int, int]]]:
    """``nvidia-smi -q -x`` -> {parent GPU uuid: [(MIG device index, GPU instance id,
    compute instance id, memory MiB)]}."""
    found: dict[str, list[tuple[int, int, int, int]]] = {}
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return found
    for gpu in root.iter("gpu"):
        uuid = (gpu.findtext("uuid") or "").strip()
        rows = found.setdefault(uuid, [])
        for mig in gpu.iter("mig_device"):
            index = _int(mig.find("index"))
            gi = _int(mig.find("gpu_instance_id"))
            ci = _int(mig.find("compute_instance_id"))
            memory = _int(mig.find("fb_memory_usage/total"), 0) or 0
            if index is not None and gi is not None and ci is not None:
                rows.append((index, gi, ci, memory))
    return found


def expand_mig(
    devices: list[GpuDevice], mig_enabled: set[str], timeout: float = 20.0
) -> tuple[list[GpuDevice], list[str]]:
    """Replace every GPU with MIG enabled by its MIG instances. A MIG-enabled GPU without
    instances, or whose instances cannot be read, is left out with a problem."""
    status, listing, err = smi(["-L"], timeout)
    xml_status, xml_text, xml_err = smi(["-q", "-x"], timeout)
    by_parent = parse_listing(listing if status is not None else "")
    ids = parse_instances(xml_text if xml_status is not None else "")
    expanded: list[GpuDevice] = []
    problems: list[str] = []
    for device in devices:
        if device.uuid not in mig_enabled:
            expanded.append(device)
            continue
        instances = by_parent.get(device.uuid, [])
        if not instances:
            problems.append(
                f"{device.label} has MIG enabled but no MIG instance"
                + (f" (nvidia-smi -L: {err.strip()[:200]})" if status != 0 else "")
                + "; create instances (`nvidia-smi mig -cgi PROFILE -C`) or disable MIG"
            )
            continue
        known = {row[0]: row for row in ids.get(device.uuid, [])}
        for index, profile, uuid in instances:
            legacy = LEGACY_UUID.match(uuid)
            if index in known:
                _, gi, ci, memory = known[index]
            elif legacy:
                gi, ci, memory = int(legacy.group(2)), int(legacy.group(3)), 0
            else:
                problems.append(
                    f"{device.label} MIG device {index} ({uuid}): its GPU/compute instance "
                    f"ids are not in `nvidia-smi -q -x` ({xml_err.strip()[:120] or 'absent'})"
                )
                continue
            expanded.append(
                dataclasses.replace(
                    device,
                    name=f"{device.name} MIG {profile}",
                    memory_mb=memory or device.memory_mb,
                    uuid=uuid,
                    parent_uuid=device.uuid,
                    gpu_instance=gi,
                    compute_instance=ci,
                )
            )
    return expanded, problems


def capability_files(device: GpuDevice) -> list[tuple[Path, str]]:
    """The driver's capability files of a MIG instance (GPU instance, then compute
    instance), each with its key in ``/proc/driver/nvidia-caps/mig-minors``."""
    gi, ci = f"gi{device.gpu_instance}", f"ci{device.compute_instance}"
    base = proc_root() / "capabilities" / f"gpu{device.minor}" / "mig" / gi
    key = f"gpu{device.minor}/{gi}"
    return [(base / "access", f"{key}/access"), (base / ci / "access", f"{key}/{ci}/access")]


def _minor_of(access: Path, key: str) -> int | None:
    try:
        match = re.search(r"DeviceFileMinor:\s*(\d+)", access.read_text())
    except OSError:
        match = None
    if match:
        return int(match.group(1))
    try:  # lines such as "gpu0/gi1/ci0/access 22"
        table = (proc_root().parent / "nvidia-caps" / "mig-minors").read_text()
    except OSError:
        return None
    for line in table.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
            return int(parts[1])
    return None


def capability_nodes(device: GpuDevice) -> list[Path]:
    """``/dev/nvidia-caps/nvidia-cap<N>`` of the instance's GPU and compute instance (they
    may not exist yet: ``nvidia-modprobe -f FILE`` creates them)."""
    nodes = []
    for access, key in capability_files(device):
        minor = _minor_of(access, key)
        if minor is not None:
            nodes.append(dev_root() / "nvidia-caps" / f"nvidia-cap{minor}")
    return nodes

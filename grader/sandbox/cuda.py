"""CUDA inside the sandbox: where the driver's libraries are, and the self-test that proves
a GPU works before the student's code runs.

The driver's user-space libraries (``libcuda.so.1``) live in ``/usr`` on most hosts, but a
GPU container or the GPU operator puts them in ``/usr/local/nvidia/lib64`` or under
``/run/nvidia/driver``; the sandbox shows only ``/usr``. ``driver_library_dirs`` finds them
(``ldconfig -p``, ``LD_LIBRARY_PATH``, the known places) so the sandbox binds those folders
read-only and names them in ``LD_LIBRARY_PATH``.

``run_self_test`` runs ``cuda_selftest.py`` with the rerun's own Python in the sandbox on
the assigned device; ``judge`` turns its facts into a verdict: the device CUDA actually
used (what the result records), or why the GPU cannot be used, in words.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.sandbox.base import Limits, Mount, RunOutput, Sandbox
from grader.sandbox.nvidia import GpuDevice

SELFTEST = Path(__file__).with_name("cuda_selftest.py")
MARKER = "GRADER-CUDA-SELFTEST "
DRIVER_LIBS = ("libcuda.so.1", "libnvidia-ml.so.1", "libnvidia-ptxjitcompiler.so.1")
KNOWN_DIRS = (
    "/usr/local/nvidia/lib64",
    "/usr/local/nvidia/lib",
    "/run/nvidia/driver/usr/lib/x86_64-linux-gnu",
    "/run/nvidia/driver/usr/lib64",
    "/usr/lib/wsl/lib",
)
SYSTEM_PREFIXES = ("/usr/", "/lib/", "/lib64/", "/lib32/", "/bin/", "/sbin/")
SELFTEST_WALL_S = 180.0


def _ldconfig_paths() -> list[Path]:
    exe = shutil.which("ldconfig") or next(
        (p for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig") if os.path.exists(p)), None
    )
    if exe is None:
        return []
    try:
        done = subprocess.run([exe, "-p"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in done.stdout.splitlines():
        match = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if match and match.group(1) in DRIVER_LIBS and "64" in match.group(2):
            found.append(Path(match.group(3)))
    return found


def driver_library_paths() -> list[Path]:
    """Every copy of the driver's libraries this host's loader or environment can find."""
    found = _ldconfig_paths()
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    for folder in (*dirs, *KNOWN_DIRS):
        found += [Path(folder, lib) for lib in DRIVER_LIBS if Path(folder, lib).exists()]
    return found


def driver_library_dirs() -> list[Path]:
    """Folders outside the system paths that hold the driver's libraries (or the files
    their links point to): the sandbox binds each read-only at the same path."""
    dirs: list[Path] = []
    for path in driver_library_paths():
        for candidate in (path.parent, Path(os.path.realpath(path)).parent):
            system = (str(candidate) + "/").startswith(SYSTEM_PREFIXES)
            if not system and candidate.is_dir() and candidate not in dirs:
                dirs.append(candidate)
    return dirs


def driver_mounts() -> tuple[Mount, ...]:
    return tuple(Mount(folder, str(folder)) for folder in driver_library_dirs())


@dataclass
class SelfTest:
    """The verdict on one device: ``ok``, what CUDA used, or why not (``reason``)."""

    ok: bool
    reason: str = ""
    device: dict[str, Any] = field(default_factory=dict)
    device_fault: bool = False  # the GPU (not the Python) is at fault: hold it off
    warnings: list[str] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)
    output: RunOutput | None = None

    def summary(self) -> str:
        if not self.ok:
            return f"failed: {self.reason}"
        seconds = self.payload.get("seconds")
        timing = f" in {seconds:.1f} s" if isinstance(seconds, int | float) else ""
        return f"passed{timing} on {self.device.get('name', '?')}"


def cuda_version(code: int | None) -> str:
    """The driver's version integer (12080) as CUDA writes it ("12.8")."""
    if not code:
        return ""
    return f"{code // 1000}.{(code % 1000) // 10}"


def _hex(uuid: str) -> str:
    return re.sub(r"[^0-9a-f]", "", re.sub(r"^(GPU|MIG)-", "", uuid.strip(), flags=re.I).lower())


def torch_problem(torch: dict[str, Any], driver_cuda: str) -> str:
    """Why this torch cannot use the GPU, in words ("" when it can)."""
    if not torch.get("present") or torch.get("available"):
        return ""
    version = torch.get("version", "?")
    build = torch.get("cuda")
    if "version" not in torch:
        return str(torch.get("error", "torch does not import"))
    if not build:
        return f"torch {version} is a CPU-only build (no CUDA): install a CUDA build of torch"
    if driver_cuda and _numbers(build) > _numbers(driver_cuda):
        major_too_new = _numbers(build)[0] > _numbers(driver_cuda)[0]
        if major_too_new or "too old" in str(torch.get("error", "")):
            return (
                f"torch {version} is built for CUDA {build} but the driver supports CUDA "
                f"{driver_cuda} at most: update the driver or install a torch built for "
                f"CUDA <= {driver_cuda}"
            )
    detail = torch.get("error") or "torch.cuda.is_available() is False"
    return f"torch {version} (CUDA {build}) cannot use the GPU: {detail}"


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2]) or (0,)


def judge(
    payload: dict[str, Any] | None, device: GpuDevice, output: RunOutput | None = None
) -> SelfTest:
    """What a self-test's facts mean for ``device`` (pure: tested on payloads)."""
    if payload is None:
        detail = output.summary() if output is not None else "it did not run"
        tail = " | ".join((output.stderr if output else "").strip().splitlines()[-3:])
        return SelfTest(
            False, f"the CUDA self-test gave no result ({detail}){': ' + tail if tail else ''}",
            device_fault=bool(output and output.limit_hit == "wall_time"), output=output,
        )  # fmt: skip
    driver, torch = payload.get("driver", {}), payload.get("torch", {})
    driver_cuda = cuda_version(driver.get("version"))
    nodes = payload.get("dev_nodes", [])
    if not driver.get("ok"):
        reason = driver.get("error") or "the CUDA driver test failed"
        if "nvidia-uvm" not in nodes:
            reason += " (/dev/nvidia-uvm is missing in the sandbox)"
        fault = driver.get("loaded", False)  # a library that does not load is setup
        return SelfTest(False, f"CUDA driver: {reason}", device_fault=fault, payload=payload)
    problem = torch_problem(torch, driver_cuda)
    if problem:
        return SelfTest(False, problem, payload=payload)
    if torch.get("present") and not torch.get("matmul_ok"):
        reason = f"a CUDA matmul in torch failed: {torch.get('error') or 'wrong results'}"
        return SelfTest(False, reason, device_fault=True, payload=payload)
    kernel = driver.get("kernel", "")
    if not torch.get("present") and kernel != "ok":
        return SelfTest(False, f"a CUDA kernel launch {kernel}", device_fault=True, payload=payload)
    used = {
        "name": torch.get("name") or driver.get("name", device.name),
        "uuid": driver.get("uuid", ""),
        "memory_mb": torch.get("memory_mb") or driver.get("memory_mb", device.memory_mb),
        "capability": torch.get("capability", ""),
        "driver": device.driver,
        "driver_cuda": driver_cuda,
        "torch": torch.get("version", ""),
        "torch_cuda": torch.get("cuda", ""),
        "leased": device.to_dict(),
        "self_test": "passed",
    }
    warnings = []
    ids = {_hex(device.uuid), _hex(device.parent_uuid)} - {""}
    seen = {_hex(str(driver.get("uuid", ""))), _hex(str(torch.get("uuid", "")))} - {""}
    if ids and seen and not ids & seen:
        warnings.append(
            f"CUDA reports device {driver.get('uuid')} while {device.uuid} was assigned"
        )
    build = str(torch.get("cuda") or "")
    if build and driver_cuda and _numbers(build) > _numbers(driver_cuda):
        warnings.append(
            f"torch is built for CUDA {build}, newer than the driver's {driver_cuda}: it "
            "runs through CUDA minor-version compatibility (PTX JIT may be unavailable)"
        )
    return SelfTest(True, device=used, warnings=warnings, payload=payload)


def parse_payload(stdout: str) -> dict[str, Any] | None:
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        return None
    try:
        data = json.loads(lines[-1][len(MARKER) :])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def run_self_test(
    sandbox: Sandbox,
    python: Path | str,
    device: GpuDevice,
    workdir: Path,
    limits: Limits,
    *,
    mounts: tuple[Mount, ...] = (),
    env: dict[str, str] | None = None,
) -> SelfTest:
    """Run the self-test in ``sandbox`` on ``device`` (``workdir``: an empty run dir).
    ``-I``: the work dir, PYTHONPATH and user site stay out of the test's imports."""
    test_limits = replace(limits, wall_s=min(limits.wall_s, SELFTEST_WALL_S))
    output = sandbox.run(
        [str(python), "-I", "-c", SELFTEST.read_text()], workdir, test_limits,
        env=env, mounts=mounts, gpus=(device,),
    )  # fmt: skip
    output.command = [str(python), "-I", "cuda_selftest.py"]
    verdict = judge(parse_payload(output.stdout), device, output)
    verdict.output = output
    if verdict.ok and "self_test" in verdict.device:
        verdict.device["self_test"] = verdict.summary()
    return verdict

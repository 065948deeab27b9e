"""A simulated NVIDIA host for the GPU tests: fake ``nvidia-smi``, ``nvidia-modprobe`` and
``ldconfig`` on PATH, fake device nodes and ``/proc/driver/nvidia``, and a fake
``libcuda.so.1`` compiled from ``fake_libcuda.c`` (its devices are what the bound
``/dev/nvidiaN`` files say, so the sandbox decides what CUDA sees, as on real hardware).

Everything is driven by one JSON state file that the fakes read on each call, so a test
changes the machine (a busy GPU, a failing nvidia-smi, MIG) by editing ``sim.state``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
H100 = "NVIDIA H100 80GB HBM3"

FAKE_SMI = r"""
import json, os, sys
state = json.load(open(os.environ["FAKE_NVIDIA_STATE"]))
args = sys.argv[1:]
fail = state.get("fail")
if fail:
    sys.stdout.write(fail.get("stdout", "")); sys.stderr.write(fail.get("stderr", ""))
    sys.exit(fail["rc"])
gpus = state["gpus"]
pick = args[args.index("-i") + 1] if "-i" in args else None
if pick is not None:
    gpus = [g for g in gpus if pick in (str(g["index"]), g["uuid"])]
    if not gpus:
        sys.stderr.write("No devices were found\n"); sys.exit(6)
FIELDS = {
    "index": "index", "name": "name", "driver_version": "driver", "memory.total": "memory",
    "uuid": "uuid", "pci.bus_id": "bus", "mig.mode.current": "mig", "compute_mode": "mode",
}
query = next((a.split("=", 1)[1] for a in args if a.startswith("--query-gpu=")), None)
if query:
    for g in gpus:
        if g.get("lost"):
            continue
        cells = [str(g.get(FIELDS[f], "[N/A]")) for f in query.split(",")]
        if g.get("faulty"):
            cells[3] = "[GPU requires reset]"
        print(", ".join(cells))
    for g in state["gpus"]:
        if g.get("lost"):
            sys.stderr.write(f"Unable to determine the device handle for GPU{g['bus']}: "
                             "Unknown Error\n")
    sys.exit(15 if any(g.get("lost") for g in state["gpus"]) else 0)
if args == ["-L"]:
    for g in gpus:
        print(f"GPU {g['index']}: {g['name']} (UUID: {g['uuid']})")
        for m in g.get("mig_devices", []):
            print(f"  MIG {m['profile']:<12}Device {m['index']:>2}: (UUID: {m['uuid']})")
    sys.exit(0)
if "-q" in args and "-x" in args:
    out = ['<?xml version="1.0" ?>', "<nvidia_smi_log>"]
    for g in gpus:
        migs = "".join(
            f"<mig_device><index>{m['index']}</index><gpu_instance_id>{m['gi']}</gpu_instance_id>"
            f"<compute_instance_id>{m['ci']}</compute_instance_id><device_attributes/>"
            f"<fb_memory_usage><total>{m['memory']} MiB</total></fb_memory_usage></mig_device>"
            for m in g.get("mig_devices", []))
        procs = "".join(
            f"<process_info><gpu_instance_id>{p.get('gi', 'N/A')}</gpu_instance_id>"
            f"<compute_instance_id>{p.get('ci', 'N/A')}</compute_instance_id><pid>{p['pid']}</pid>"
            f"<type>{p.get('type', 'C')}</type><process_name>python</process_name>"
            f"<used_memory>{p['used']} MiB</used_memory></process_info>"
            for p in g.get("processes", []))
        out.append(
            f'<gpu id="{g["bus"]}"><product_name>{g["name"]}</product_name>'
            f"<uuid>{g['uuid']}</uuid><minor_number>{g['index']}</minor_number>"
            f"<mig_mode><current_mig>{g.get('mig', 'N/A')}</current_mig></mig_mode>"
            f"<mig_devices>{migs or 'None'}</mig_devices>"
            f"<compute_mode>{g.get('mode', 'Default')}</compute_mode>"
            f"<fb_memory_usage><total>{g['memory']} MiB</total><used>{g.get('used', 0)} MiB</used>"
            f"</fb_memory_usage><retired_pages><pending_retirement>"
            f"{'Yes' if g.get('pending') else 'No'}</pending_retirement></retired_pages>"
            f"<processes>{procs}</processes></gpu>")
    out.append("</nvidia_smi_log>")
    print("\n".join(out)); sys.exit(0)
sys.exit(2)
"""

FAKE_MODPROBE = r"""
import json, os, re, sys
state = json.load(open(os.environ["FAKE_NVIDIA_STATE"]))
if not state.get("modprobe_works", True):
    sys.exit(1)
dev = os.environ["GRADER_GPU_DEV_ROOT"]
def node(name, text):
    path = os.path.join(dev, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        open(path, "w").write(text)
args = sys.argv[1:]
for arg in args:
    if arg.startswith("-c="):
        minor = arg[3:]
        if "-u" in args:
            node("nvidia-uvm", "uvm"); node("nvidia-uvm-tools", "uvm-tools")
        else:
            node("nvidiactl", "ctl")
if "-f" in args:
    text = open(args[args.index("-f") + 1]).read()
    minor = re.search(r"DeviceFileMinor:\s*(\d+)", text).group(1)
    node(f"nvidia-caps/nvidia-cap{minor}", "cap")
"""


class NvidiaSim:
    """One simulated host. ``sim.state`` is the machine; ``sim.save()`` applies edits."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        self.bin = root / "bin"
        self.dev = root / "dev"
        self.proc = root / "proc" / "driver" / "nvidia"
        self.lib = root / "nvidia" / "lib64"  # a driver outside /usr, as in GPU containers
        for folder in (self.bin, self.dev, self.proc, self.lib):
            folder.mkdir(parents=True, exist_ok=True)
        self.state_file = root / "state.json"
        self.state: dict[str, Any] = {"gpus": [], "modprobe_works": True}
        self._script("nvidia-smi", FAKE_SMI)
        self._script("nvidia-modprobe", FAKE_MODPROBE)
        monkeypatch.setenv("FAKE_NVIDIA_STATE", str(self.state_file))
        monkeypatch.setenv("PATH", f"{self.bin}:{os.environ['PATH']}")
        monkeypatch.setenv("GRADER_GPU_DEV_ROOT", str(self.dev))
        monkeypatch.setenv("GRADER_GPU_PROC_ROOT", str(self.proc))
        for var in ("GRADER_NO_GPU", "CUDA_VISIBLE_DEVICES", "SLURM_JOB_GPUS", "SLURM_STEP_GPUS"):
            monkeypatch.delenv(var, raising=False)
        self.monkeypatch = monkeypatch
        self.save()

    def _script(self, name: str, source: str) -> None:
        path = self.bin / name
        path.write_text(f"#!{sys.executable}\n{source}")
        path.chmod(0o755)

    def save(self) -> None:
        self.state_file.write_text(json.dumps(self.state))

    def add_gpu(
        self, index: int, uuid: str, name: str = H100, *, uvm: bool = True, **extra: Any
    ) -> dict[str, Any]:
        """A GPU: its nvidia-smi row, /dev/nvidia<index> (whose text is what the fake CUDA
        reports: name|uuid hex|MiB), the shared nodes, and its /proc information file."""
        bus = f"00000000:{0x17 + 0x13 * index:02X}:00.0"
        gpu = {"index": index, "name": name, "driver": "550.54.15", "memory": 81559,
               "uuid": uuid, "bus": bus, "mig": "Disabled", "mode": "Default", **extra}  # fmt: skip
        self.state["gpus"].append(gpu)
        hexed = uuid.split("-", 1)[1].replace("-", "")
        (self.dev / f"nvidia{index}").write_text(f"{name}|{hexed}|81559\n")
        (self.dev / "nvidiactl").write_text("ctl")
        if uvm:
            (self.dev / "nvidia-uvm").write_text("uvm")
        info = self.proc / "gpus" / bus.lower()
        info.mkdir(parents=True, exist_ok=True)
        (info / "information").write_text(f"Model: {name}\nDevice Minor: \t {index}\n")
        self.save()
        return gpu

    def add_mig(self, gpu: dict[str, Any], index: int, gi: int, ci: int, uuid: str,
                caps: tuple[int, int], profile: str = "1g.10gb") -> None:  # fmt: skip
        """A MIG instance of ``gpu`` with its capability files (and device nodes)."""
        gpu["mig"] = "Enabled"
        gpu.setdefault("mig_devices", []).append(
            {"index": index, "gi": gi, "ci": ci, "uuid": uuid, "profile": profile, "memory": 9856}
        )
        base = self.proc / "capabilities" / f"gpu{gpu['index']}" / "mig" / f"gi{gi}"
        (base / f"ci{ci}").mkdir(parents=True, exist_ok=True)
        (base / "access").write_text(f"DeviceFileMinor: {caps[0]}\nDeviceFileMode: 292\n")
        (base / f"ci{ci}" / "access").write_text(f"DeviceFileMinor: {caps[1]}\n")
        (self.dev / "nvidia-caps").mkdir(exist_ok=True)
        for minor in caps:
            (self.dev / "nvidia-caps" / f"nvidia-cap{minor}").write_text("cap")
        self.save()

    def install_libcuda(self) -> Path:
        """Compile the fake driver into ``self.lib`` and make the host find it only through
        LD_LIBRARY_PATH, as in a GPU container (skips the test without a C compiler)."""
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            pytest.skip("no C compiler to build the fake libcuda.so.1")
        target = self.lib / "libcuda.so.1"
        subprocess.run(
            [compiler, "-shared", "-fPIC", "-O1", "-o", str(target), str(HERE / "fake_libcuda.c")],
            check=True, capture_output=True,
        )  # fmt: skip
        for folder in (self.root / "nvidia", self.lib):
            os.chmod(folder, 0o755)
        self.monkeypatch.setenv("LD_LIBRARY_PATH", str(self.lib))
        return target


def bare_python(folder: Path) -> Path:
    """A venv without torch (and without the grader): the CUDA self-test then proves the
    GPU with the driver alone, fast."""
    if not (folder / "bin" / "python").exists():
        subprocess.run(
            [sys._base_executable, "-m", "venv", "--without-pip", str(folder)],  # type: ignore[attr-defined]
            check=True, capture_output=True,
        )  # fmt: skip
    return folder / "bin" / "python"


SIM_UUID0 = "GPU-aaaaaaaa-0000-0000-0000-000000000000"


def one_gpu_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NvidiaSim:
    """A simulated host with one H100 and a fake libcuda, its own GPU locks and a fresh
    run queue (what the rerun and tests checks lease from)."""
    from grader.checks import rerun as rerun_check

    sim = NvidiaSim(tmp_path / "host", monkeypatch)
    sim.add_gpu(0, SIM_UUID0)
    sim.install_libcuda()
    monkeypatch.setenv("GRADER_LOCK_DIR", str(tmp_path / "locks"))  # GPU locks of this host
    monkeypatch.setattr(rerun_check, "_QUEUE", None)  # the queue of this simulated host
    return sim

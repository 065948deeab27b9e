"""GPU detection, MIG, inherited assignments and device passing, on a simulated host
(tests/gpu_sim.py: fake nvidia-smi, nvidia-modprobe, device nodes, /proc/driver/nvidia)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from grader.sandbox import BubblewrapSandbox, Limits
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.sandbox.envs import interpreter_mounts, resolve_interpreter
from grader.sandbox.gpu import detect_gpus, device_nodes, gpu_env, gpu_inventory, parse_query
from grader.sandbox.gpu_assign import restrict_to_assigned
from grader.sandbox.gpu_state import ensure_device_nodes
from grader.sandbox.mig import parse_instances, parse_listing
from grader.sandbox.workspace import discard_workdir, prepare_workdir
from tests.gpu_sim import H100, NvidiaSim

UUID0 = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
UUID1 = "GPU-bbbbbbbb-1111-1111-1111-111111111111"
MIG_A = "MIG-cccccccc-2222-2222-2222-222222222222"
MIG_B = "MIG-dddddddd-3333-3333-3333-333333333333"


@pytest.fixture
def sim(tmp_path, monkeypatch) -> NvidiaSim:
    machine = NvidiaSim(tmp_path / "host", monkeypatch)
    machine.add_gpu(0, UUID0)
    machine.add_gpu(1, UUID1)
    return machine


def test_detects_devices_from_nvidia_smi(sim):
    gpus = detect_gpus()
    assert [g.index for g in gpus] == [0, 1]
    assert gpus[1].name == H100
    assert gpus[1].driver == "550.54.15" and gpus[1].memory_mb == 81559
    assert gpus[1].minor == 1 and gpus[1].uuid == UUID1
    assert gpus[1].compute_mode == "Default"
    assert gpu_env(gpus[1:]) == {"CUDA_VISIBLE_DEVICES": UUID1, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


def test_no_driver_means_no_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("GRADER_GPU_DEV_ROOT", str(tmp_path / "dev"))
    monkeypatch.setenv("GRADER_GPU_PROC_ROOT", str(tmp_path / "proc"))
    inventory = gpu_inventory()
    assert inventory.devices == [] and inventory.problem is None
    assert not inventory.driver_present
    assert parse_query("NVIDIA-SMI has failed because it couldn't communicate\n") == []


def test_forced_off(sim, monkeypatch):
    monkeypatch.setenv("GRADER_NO_GPU", "1")
    assert detect_gpus() == []


def test_a_failing_nvidia_smi_is_a_problem_not_no_gpu(sim):
    """Any non-zero exit used to drop every GPU silently: GPU reruns became CPU runs."""
    sim.state["fail"] = {
        "rc": 9,
        "stdout": "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
        "driver. Make sure that the latest NVIDIA driver is installed and running.\n",
    }
    sim.save()
    inventory = gpu_inventory()
    assert inventory.devices == [] and inventory.driver_present
    assert "exited with status 9" in inventory.problem
    assert "couldn't communicate with the NVIDIA driver" in inventory.problem


def test_one_lost_gpu_keeps_the_others_and_says_so(sim):
    sim.state["gpus"][0]["lost"] = True  # nvidia-smi exits 15, still lists GPU 1
    sim.save()
    inventory = gpu_inventory()
    assert [d.uuid for d in inventory.devices] == [UUID1]
    assert "status 15" in inventory.problem and "Unable to determine" in inventory.problem


def test_a_faulty_gpu_is_left_out(sim):
    sim.state["gpus"][1]["faulty"] = True
    sim.save()
    inventory = gpu_inventory()
    assert [d.uuid for d in inventory.devices] == [UUID0]
    assert "GPU 1" in inventory.problem and "requires reset" in inventory.problem


def test_nvidia_smi_present_without_working_driver_vs_nodes_without_nvidia_smi(
    tmp_path, monkeypatch
):
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "nvidiactl").write_text("ctl")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("GRADER_GPU_DEV_ROOT", str(dev))
    monkeypatch.setenv("GRADER_GPU_PROC_ROOT", str(tmp_path / "no-proc"))
    inventory = gpu_inventory()
    assert inventory.devices == [] and inventory.driver_present
    assert "nvidia-smi is not on PATH" in inventory.problem


# ---- MIG --------------------------------------------------------------------------------
LISTING = f"""GPU 0: NVIDIA A100-SXM4-40GB (UUID: {UUID0})
  MIG 1g.5gb      Device  0: (UUID: {MIG_A})
  MIG 3g.20gb     Device  1: (UUID: {MIG_B})
GPU 1: NVIDIA A100-SXM4-40GB (UUID: {UUID1})
"""


def test_mig_listing_and_instances_parse():
    assert parse_listing(LISTING) == {
        UUID0: [(0, "1g.5gb", MIG_A), (1, "3g.20gb", MIG_B)],
        UUID1: [],
    }
    xml = (
        f"<nvidia_smi_log><gpu><uuid>{UUID0}</uuid><mig_devices><mig_device><index>1</index>"
        "<gpu_instance_id>2</gpu_instance_id><compute_instance_id>0</compute_instance_id>"
        "<fb_memory_usage><total>19968 MiB</total></fb_memory_usage></mig_device>"
        "</mig_devices></gpu></nvidia_smi_log>"
    )
    assert parse_instances(xml) == {UUID0: [(1, 2, 0, 19968)]}


def test_mig_instances_are_the_schedulable_devices(sim):
    """--query-gpu lists only the parent, which CUDA cannot use with MIG enabled; and the
    whole /dev/nvidia-caps used to be bound, granting every instance."""
    gpu0 = sim.state["gpus"][0]
    sim.add_mig(gpu0, 0, gi=7, ci=0, uuid=MIG_A, caps=(66, 67))
    sim.add_mig(gpu0, 1, gi=1, ci=0, uuid=MIG_B, caps=(12, 13), profile="3g.40gb")
    devices = detect_gpus()
    assert [d.uuid for d in devices] == [MIG_A, MIG_B, UUID1]
    first = devices[0]
    assert first.is_mig and first.parent_uuid == UUID0
    assert (first.gpu_instance, first.compute_instance, first.memory_mb) == (7, 0, 9856)
    assert first.name == f"{H100} MIG 1g.10gb"
    assert gpu_env([first])["CUDA_VISIBLE_DEVICES"] == MIG_A  # CUDA selects MIG by UUID
    names = [str(p.relative_to(sim.dev)) for p in device_nodes(first)]
    assert names == [
        "nvidia0", "nvidiactl", "nvidia-uvm", "nvidia-caps/nvidia-cap66",
        "nvidia-caps/nvidia-cap67",
    ]  # fmt: skip
    assert "nvidia-caps" not in names  # never the whole folder
    assert [p.name for p in device_nodes(devices[2])] == ["nvidia1", "nvidiactl", "nvidia-uvm"]


def test_mig_enabled_without_instances_is_a_problem(sim):
    sim.state["gpus"][0]["mig"] = "Enabled"
    sim.save()
    inventory = gpu_inventory()
    assert [d.uuid for d in inventory.devices] == [UUID1]
    assert "MIG enabled but no MIG instance" in inventory.problem


def test_mig_capability_minors_from_the_mig_minors_table(sim):
    gpu0 = sim.state["gpus"][0]
    sim.add_mig(gpu0, 0, gi=7, ci=0, uuid=MIG_A, caps=(66, 67))
    for access in (sim.proc / "capabilities").rglob("access"):
        access.write_text("")  # an older driver: only /proc/driver/nvidia-caps/mig-minors
    table = sim.proc.parent / "nvidia-caps"
    table.mkdir()
    (table / "mig-minors").write_text(
        "config 1\nmonitor 2\ngpu0/gi7/access 66\ngpu0/gi7/ci0/access 67\n"
    )
    first = detect_gpus()[0]
    assert [p.name for p in device_nodes(first)][-2:] == ["nvidia-cap66", "nvidia-cap67"]


def test_missing_mig_capability_nodes_are_created(sim):
    gpu0 = sim.state["gpus"][0]
    sim.add_mig(gpu0, 0, gi=7, ci=0, uuid=MIG_A, caps=(66, 67))
    for node in (sim.dev / "nvidia-caps").iterdir():
        node.unlink()
    first = detect_gpus()[0]
    assert ensure_device_nodes(first) is None  # nvidia-modprobe -f CAP made them
    assert (sim.dev / "nvidia-caps" / "nvidia-cap67").exists()


# ---- inherited assignments -------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "kept"),
    [
        ({"CUDA_VISIBLE_DEVICES": UUID1}, [UUID1]),
        ({"CUDA_VISIBLE_DEVICES": "GPU-bbbb"}, [UUID1]),  # a unique prefix
        ({"CUDA_VISIBLE_DEVICES": "1"}, [UUID1]),
        ({"CUDA_VISIBLE_DEVICES": "1,0"}, [UUID1, UUID0]),
        ({"CUDA_VISIBLE_DEVICES": ""}, []),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, []),
        ({"SLURM_JOB_GPUS": "1"}, [UUID1]),
        ({}, [UUID0, UUID1]),
    ],
)
def test_an_inherited_assignment_narrows_the_gpus(sim, monkeypatch, env, kept):
    """A Dask worker started per GPU, a Slurm --gres job: nvidia-smi lists every GPU of
    the machine, and reruns used to go to GPUs given to other jobs."""
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    inventory = gpu_inventory()
    assert [d.uuid for d in inventory.devices] == kept
    assert bool(inventory.restriction) == bool(env)


def test_slurm_with_constrained_devices_keeps_what_the_job_sees(sim):
    one = detect_gpus()[:1]
    kept, why = restrict_to_assigned(one, {"SLURM_STEP_GPUS": "3"})  # renumbered in the cgroup
    assert kept == one and "Slurm" in why


# ---- device nodes -------------------------------------------------------------------------
def test_a_container_showing_a_later_gpu_as_gpu_0(tmp_path, monkeypatch):
    """No /proc/driver/nvidia/gpus inside the container and only /dev/nvidia3: the minor
    is not the index."""
    machine = NvidiaSim(tmp_path / "host", monkeypatch)
    machine.add_gpu(0, UUID0)
    (machine.dev / "nvidia0").rename(machine.dev / "nvidia3")
    shutil.rmtree(machine.proc / "gpus")
    device = detect_gpus()[0]
    assert device.minor == 3
    assert [p.name for p in device_nodes(device)][0] == "nvidia3"


def test_device_nodes_are_only_the_assigned_ones_and_no_modeset(sim):
    (sim.dev / "nvidia-modeset").write_text("display only")
    names = [p.name for p in device_nodes(detect_gpus()[1])]
    assert names == ["nvidia1", "nvidiactl", "nvidia-uvm"]


def test_a_host_without_nvidia_uvm_gets_it_created(sim):
    """nvidia-smi does not create /dev/nvidia-uvm and nothing can inside the sandbox:
    without it CUDA does not start and torch silently trains on the CPU."""
    (sim.dev / "nvidia-uvm").unlink()
    device = detect_gpus()[0]
    assert "nvidia-uvm" not in [p.name for p in device_nodes(device)]
    assert ensure_device_nodes(device) is None
    assert (sim.dev / "nvidia-uvm").exists() and (sim.dev / "nvidia-uvm-tools").exists()
    assert "nvidia-uvm" in [p.name for p in device_nodes(device)]


def test_a_host_without_nvidia_uvm_and_no_way_to_create_it_says_so(sim):
    (sim.dev / "nvidia-uvm").unlink()
    sim.state["modprobe_works"] = False
    sim.save()
    problem = ensure_device_nodes(detect_gpus()[0])
    assert problem and "nvidia-uvm missing" in problem and "nvidia-modprobe -u -c=0" in problem


@pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))
def test_sandbox_sees_only_its_gpu(sim):
    second = detect_gpus()[1]
    sandbox = BubblewrapSandbox(uid=61020)
    stage = Path(tempfile.mkdtemp())
    argv, _ = sandbox.build(["true"], Path("/tmp"), Limits(), gpus=(second,), stage_dir=stage)
    binds = [argv[i + 2] for i, a in enumerate(argv) if a == "--dev-bind"]
    assert [b for b in binds if "nvidia" in b] == [
        "/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm",
    ]  # fmt: skip
    staged = " ".join(argv[: argv.index("prlimit")])  # bound in a private namespace
    assert str(sim.dev / "nvidia1") in staged and str(sim.dev / "nvidia0") not in staged
    assert not any(a.startswith("--as=") for a in argv)  # CUDA reserves huge address space
    work = prepare_workdir(None, sandbox.uid)
    py = resolve_interpreter(sys.executable)
    code = (
        "import os; print(sorted(n for n in os.listdir('/dev') if 'nvidia' in n)); "
        "print(os.environ['CUDA_VISIBLE_DEVICES'])"
    )
    out = sandbox.run(
        [str(py), "-c", code], work, Limits(wall_s=20), gpus=(second,),
        mounts=interpreter_mounts(py),
    )  # fmt: skip
    discard_workdir(work)
    assert out.ok, out.stderr
    assert out.stdout.splitlines() == ["['nvidia-uvm', 'nvidia1', 'nvidiactl']", UUID1]
    assert out.gpus[0]["name"] == H100
    assert out.memory_bound  # says how (or that nothing) bounds memory

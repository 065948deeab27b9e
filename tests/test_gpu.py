"""GPU detection, device passing and the one-rerun-per-GPU queue, with simulated devices."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader.sandbox import BubblewrapSandbox, Limits
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.sandbox.envs import interpreter_mounts, resolve_interpreter
from grader.sandbox.gpu import GpuDevice, detect_gpus, device_nodes, gpu_env, parse_query
from grader.sandbox.queue import NoGpuError, RunQueue
from grader.sandbox.workspace import discard_workdir, prepare_workdir

CSV = (
    "0, NVIDIA H100 80GB HBM3, 550.54.15, 81559, GPU-aaaa-0000, 00000000:17:00.0\n"
    "1, NVIDIA H100 80GB HBM3, 550.54.15, 81559, GPU-bbbb-1111, 00000000:2A:00.0\n"
)


@pytest.fixture
def fake_gpus(tmp_path, monkeypatch) -> Path:
    """A fake nvidia-smi on PATH and fake /dev/nvidia* nodes (plain files)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\ncat <<'EOF'\n{CSV}EOF\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (dev / name).write_text(name)
    os.chmod(tmp_path, 0o755)
    monkeypatch.setenv("GRADER_GPU_DEV_ROOT", str(dev))
    proc = tmp_path / "proc" / "gpus"
    for bus, minor in (("00000000:17:00.0", 0), ("00000000:2a:00.0", 1)):
        (proc / bus).mkdir(parents=True)
        (proc / bus / "information").write_text(f"Model: H100\nDevice Minor: \t {minor}\n")
    monkeypatch.setenv("GRADER_GPU_PROC_ROOT", str(tmp_path / "proc"))
    monkeypatch.delenv("GRADER_NO_GPU", raising=False)
    return dev


def test_detects_devices_from_nvidia_smi(fake_gpus):
    gpus = detect_gpus()
    assert [g.index for g in gpus] == [0, 1]
    assert gpus[1].name == "NVIDIA H100 80GB HBM3"
    assert gpus[1].driver == "550.54.15" and gpus[1].memory_mb == 81559
    assert gpus[1].minor == 1 and gpus[1].uuid == "GPU-bbbb-1111"
    assert gpu_env(gpus[1:]) == {
        "CUDA_VISIBLE_DEVICES": "GPU-bbbb-1111",
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
    }


def test_no_driver_means_no_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert detect_gpus() == []
    assert parse_query("NVIDIA-SMI has failed because it couldn't communicate\n") == []


def test_forced_off(fake_gpus, monkeypatch):
    monkeypatch.setenv("GRADER_NO_GPU", "1")
    assert detect_gpus() == []


def test_device_nodes_are_only_the_assigned_ones(fake_gpus):
    second = detect_gpus()[1]
    names = [p.name for p in device_nodes(second)]
    assert names == ["nvidia1", "nvidiactl", "nvidia-uvm"]


@pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))
def test_sandbox_sees_only_its_gpu(fake_gpus):
    second = detect_gpus()[1]
    sandbox = BubblewrapSandbox(uid=61020)
    stage = Path(tempfile.mkdtemp())
    argv, _ = sandbox.build(["true"], Path("/tmp"), Limits(), gpus=(second,), stage_dir=stage)
    binds = [argv[i + 2] for i, a in enumerate(argv) if a == "--dev-bind"]
    assert binds == ["/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"]
    mounts = " ".join(argv[: argv.index("prlimit")])  # staged: bound in a private namespace
    assert str(fake_gpus / "nvidia1") in mounts and str(fake_gpus / "nvidia0") not in mounts
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
    assert out.stdout.splitlines() == ["['nvidia-uvm', 'nvidia1', 'nvidiactl']", "GPU-bbbb-1111"]
    assert out.gpus[0]["name"] == "NVIDIA H100 80GB HBM3"
    assert out.memory_bound  # says how (or that nothing) bounds memory


def test_queue_runs_at_most_one_rerun_per_gpu(tmp_path):
    gpus = [GpuDevice(i, "Fake GPU", "1.0", 1024, f"GPU-{i}") for i in range(2)]
    queue = RunQueue(gpus=gpus, slots=6, lock_dir=tmp_path / "locks", poll_s=0.01)
    spans: list[tuple[str, float, float]] = []
    lock = threading.Lock()

    def job() -> None:
        with queue.lease("required") as lease:
            start = time.monotonic()
            time.sleep(0.15)
            with lock:
                spans.append((lease.gpus[0].uuid, start, time.monotonic()))

    threads = [threading.Thread(target=job) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(spans) == 6
    for uuid in ("GPU-0", "GPU-1"):
        mine = sorted((s, e) for u, s, e in spans if u == uuid)
        assert mine, "both GPUs are used"
        for (_, end), (start, _) in zip(mine, mine[1:], strict=False):
            assert start >= end - 0.005  # never two at once on one GPU
    overlap = any(
        a[0] != b[0] and a[1] < b[2] and b[1] < a[2] for a in spans for b in spans if a is not b
    )
    assert overlap  # but the two GPUs do work in parallel


def test_queue_slots_have_distinct_uids(tmp_path):
    queue = RunQueue(gpus=[], slots=2, base_uid=62000, lock_dir=tmp_path / "l", poll_s=0.01)
    with queue.lease() as first, queue.lease() as second:
        assert {first.uid, second.uid} == {62000, 62001}
        with pytest.raises(TimeoutError), queue.lease(timeout=0.1):
            pass
    with pytest.raises(NoGpuError), queue.lease("required"):
        pass
    with queue.lease("optional") as lease:  # no GPU: runs on the CPU
        assert lease.gpus == ()

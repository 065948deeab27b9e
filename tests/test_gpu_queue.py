"""The rerun queue: one rerun per GPU, machine-wide locks, busy/Prohibited/faulty GPUs
held off, smoke runs that do not wait for a GPU, Dask GPU workers counted when used."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader.results import EnvironmentFailure
from grader.sandbox import queue as queue_module
from grader.sandbox.base import Limits
from grader.sandbox.gpu import GpuDevice, detect_gpus
from grader.sandbox.gpu_state import device_state, parse_state
from grader.sandbox.queue import NoGpuError, RunQueue
from grader.sandbox.session import RerunPlan, _waits_for_gpu
from tests.gpu_sim import NvidiaSim

UUID0 = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
UUID1 = "GPU-bbbbbbbb-1111-1111-1111-111111111111"


def fake(n: int) -> list[GpuDevice]:
    return [GpuDevice(i, "Fake GPU", "1.0", 1024, f"GPU-{i}") for i in range(n)]


def test_queue_runs_at_most_one_rerun_per_gpu(tmp_path):
    queue = RunQueue(gpus=fake(2), slots=6, lock_dir=tmp_path / "locks", poll_s=0.01)
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
    with pytest.raises(NoGpuError) as raised, queue.lease("required"):
        pass
    assert raised.value.kind == "gpu"  # "not graded (environment)"
    with queue.lease("optional") as lease:  # no GPU: runs on the CPU
        assert lease.gpus == ()


def test_locks_are_machine_wide_whatever_tmp_or_sandbox_dir(tmp_path, monkeypatch):
    """Locks under TMPDIR or GRADER_SANDBOX_DIR let two graders with a private /tmp (or
    another sandbox dir) put two reruns on one GPU."""
    system = tmp_path / "run-lock"
    system.mkdir()
    monkeypatch.setattr(queue_module, "SYSTEM_LOCK_DIRS", (str(system),))
    monkeypatch.delenv("GRADER_LOCK_DIR", raising=False)
    queues = []
    for name in ("a", "b"):
        monkeypatch.setenv("TMPDIR", str(tmp_path / name))
        monkeypatch.setenv("GRADER_SANDBOX_DIR", str(tmp_path / name / "sandbox"))
        (tmp_path / name).mkdir()
        queues.append(RunQueue(gpus=fake(1), slots=2, poll_s=0.01))
    assert queues[0].lock_dir == queues[1].lock_dir == system / "grader"
    assert (system / "grader").stat().st_mode & 0o1777 == 0o1777  # every user's grader
    with (
        queues[0].lease("required"),
        pytest.raises(TimeoutError),
        queues[1].lease("required", timeout=0.2),
    ):
        pass


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_lock_files_work_for_a_non_root_grader():
    """Root-owned 0600 lock files locked every non-root grader out (PermissionError)."""
    base = Path(tempfile.mkdtemp(dir="/tmp"))  # reachable by another user
    os.chmod(base, 0o755)
    locks = base / "locks"
    queue = RunQueue(gpus=fake(1), lock_dir=locks)
    with queue.lease("required"):
        done = subprocess.run(
            ["flock", "--nonblock", "--conflict-exit-code", "3", str(locks / "gpu-GPU-0.lock"),
             "true"],
            capture_output=True, text=True, user=61097, group=61097, extra_groups=[],
        )  # fmt: skip
    shutil.rmtree(base)
    assert done.returncode == 3, done.stderr  # it could open the file and saw our lock


def test_a_busy_gpu_is_not_handed_out(tmp_path, monkeypatch):
    sim = NvidiaSim(tmp_path / "host", monkeypatch)
    sim.add_gpu(0, UUID0, processes=[{"pid": 4242, "used": 30000}])
    sim.add_gpu(1, UUID1)
    queue = RunQueue(slots=2, lock_dir=tmp_path / "locks", poll_s=0.01)
    with queue.lease("required") as lease:
        assert lease.gpus[0].uuid == UUID1
    assert "busy" in queue.held_off(queue.gpus[0]) and "pid 4242" in queue.held_off(queue.gpus[0])
    other = RunQueue(slots=2, lock_dir=tmp_path / "locks")  # another grader process
    assert other.held_off(other.gpus[0])  # learns it from the marker file


def test_every_gpu_unusable_optional_runs_on_cpu_required_fails(tmp_path, monkeypatch):
    sim = NvidiaSim(tmp_path / "host", monkeypatch)
    sim.add_gpu(0, UUID0, mode="Prohibited")
    sim.add_gpu(1, UUID1, used=70000)  # memory taken by a process we cannot see
    queue = RunQueue(slots=2, lock_dir=tmp_path / "locks", poll_s=0.01, gpu_wait_s=0.2)
    with queue.lease("optional") as lease:
        assert lease.gpus == ()
        assert "Prohibited" in lease.cpu_reason and "70000 of 81559 MiB" in lease.cpu_reason
    with (
        pytest.raises(EnvironmentFailure, match="no usable GPU within 0.2 s") as raised,
        queue.lease("required"),
    ):
        pass
    assert raised.value.kind == "gpu"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"pending": True}, "needs a reset"),
        ({"mode": "Exclusive_Process", "processes": [{"pid": 7, "used": 500}]}, "exclusive"),
        ({"processes": [{"pid": 7, "used": 500, "type": "G"}]}, None),  # Xorg: not compute
        ({}, None),
    ],
)
def test_gpu_state(tmp_path, monkeypatch, extra, words):
    sim = NvidiaSim(tmp_path / "host", monkeypatch)
    sim.add_gpu(0, UUID0, **extra)
    state = device_state(detect_gpus()[0])
    assert (state is None) if words is None else (words in state)


def test_what_nvidia_smi_cannot_say_is_left_to_the_self_test(tmp_path, monkeypatch):
    device = GpuDevice(0, "X", "1", 1, UUID0)
    assert parse_state("<nvidia_smi_log", device) is None  # e.g. a runtime without -q -x
    assert "faulty" in parse_state(
        "<nvidia_smi_log><gpu><fb_memory_usage><total>[Unknown Error]</total>"
        "</fb_memory_usage></gpu></nvidia_smi_log>",
        device,
    )
    sim = NvidiaSim(tmp_path / "host", monkeypatch)
    sim.add_gpu(0, UUID0)
    sim.state["fail"] = {"rc": 2, "stderr": "Invalid combination of input arguments"}
    sim.save()
    assert device_state(device) is None


def test_broken_gpus_fail_a_required_rerun_at_once(tmp_path, monkeypatch):
    """Waiting helps a busy GPU, not a broken one: no 10-minute wait per submission."""
    sim = NvidiaSim(tmp_path / "host", monkeypatch)
    sim.add_gpu(0, UUID0, mode="Prohibited")
    sim.add_gpu(1, UUID1, pending=True)
    queue = RunQueue(slots=2, lock_dir=tmp_path / "locks", poll_s=0.01, gpu_wait_s=600)
    with (
        pytest.raises(EnvironmentFailure, match="no GPU can be used: GPU 0") as raised,
        queue.lease("required"),
    ):
        pass
    assert "Prohibited" in str(raised.value) and "needs a reset" in str(raised.value)


def test_a_smoke_run_does_not_wait_for_a_gpu(tmp_path):
    """Smoke reruns queued for a GPU lease with no timeout while CPU slots sat idle."""
    queue = RunQueue(gpus=fake(1), slots=3, lock_dir=tmp_path / "locks", poll_s=0.01)
    with queue.lease("optional") as busy:
        assert busy.gpus
        with queue.lease("optional", wait_for_gpu=False) as smoke:
            assert smoke.gpus == () and "does not wait" in smoke.cpu_reason
        with pytest.raises(TimeoutError), queue.lease("optional", timeout=0.2):
            pass  # a full run does wait for the GPU
    plan = RerunPlan(commands=["x"], notebooks=[], mode="smoke", limits=Limits())
    assert not _waits_for_gpu(plan)
    plan.gpu = "required"
    assert _waits_for_gpu(plan)  # code that needs a GPU waits for one, smoke or not


class FakeClient:
    """Enough of dask.distributed.Client for the executor's GPU bookkeeping."""

    def __init__(self, workers: dict):
        self.workers = workers
        self.submitted: list[dict] = []

    def scheduler_info(self) -> dict:
        return {"workers": self.workers}

    def submit(self, fn, payload, **kwargs):
        self.submitted.append(kwargs)
        return object()


def test_dask_gpu_workers_are_counted_when_jobs_are_submitted():
    """GPU workers were counted once at connect: workers that joined later never got GPU
    reruns, and optional reruns went to CPU workers."""
    from grader.batch.executors import DaskExecutor

    executor = DaskExecutor.__new__(DaskExecutor)
    client = FakeClient({"w1": {"resources": {}}})
    executor.client, executor.requested, executor._futures = client, "optional", {}
    executor._completed = type("C", (), {"add": lambda self, f: None})()
    executor._counted_at, executor.gpu_workers, executor.count_interval_s = 0.0, 0, 0.0
    executor.submit({"unit": {"id": "A"}, "attempt_id": 1})
    client.workers["w2"] = {"resources": {"GPU": 1}}  # a GPU worker joins later
    executor.submit({"unit": {"id": "B"}, "attempt_id": 1})
    assert [k.get("resources") for k in client.submitted] == [None, {"GPU": 1}]
    assert executor.gpu_workers == 1

"""The CUDA self-test in the sandbox, driver libraries outside /usr, and what a broken GPU
does to a grade: "not graded (environment)" for `gpu: required`, a CPU run that says why
for `gpu: optional`. The host is simulated (tests/gpu_sim.py) and CUDA is a fake
libcuda.so.1 that answers from the device files the sandbox binds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.results import read_result
from grader.sandbox import BubblewrapSandbox, Limits
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.sandbox.cuda import driver_library_dirs, judge, torch_problem
from grader.sandbox.gpu import GpuDevice, detect_gpus
from grader.sandbox.workspace import discard_workdir, prepare_workdir
from grader.testing import git_save, make_bare
from tests.gpu_sim import H100, SIM_UUID0, NvidiaSim, bare_python, one_gpu_host

needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))
UUID0 = SIM_UUID0
DEVICE = GpuDevice(0, H100, "550.54.15", 81559, UUID0)
GOOD_DRIVER = {
    "loaded": True, "ok": True, "version": 12040, "name": H100, "uuid": UUID0,
    "memory_mb": 81559, "memory_round_trip": True, "kernel": "ok",
}  # fmt: skip


# ---- judging the self-test's facts ------------------------------------------------------
def test_a_passing_self_test_records_what_cuda_reported():
    torch = {"present": True, "version": "2.11.0+cu128", "cuda": "12.8", "available": True,
             "name": H100, "memory_mb": 81000, "capability": "9.0", "matmul_ok": True,
             "uuid": "aaaaaaaa-0000-0000-0000-000000000000"}  # fmt: skip
    verdict = judge({"driver": {**GOOD_DRIVER, "version": 12080}, "torch": torch}, DEVICE)
    assert verdict.ok and not verdict.warnings
    assert verdict.device["name"] == H100 and verdict.device["capability"] == "9.0"
    assert verdict.device["driver_cuda"] == "12.8" and verdict.device["torch_cuda"] == "12.8"
    assert verdict.device["leased"]["uuid"] == UUID0


def test_cuda_reporting_another_device_is_a_warning():
    other = {**GOOD_DRIVER, "uuid": "GPU-bbbbbbbb-1111-1111-1111-111111111111"}
    verdict = judge({"driver": other, "torch": {"present": False}}, DEVICE)
    assert verdict.ok and "was assigned" in verdict.warnings[0]


@pytest.mark.parametrize(
    ("torch", "words"),
    [
        ({"present": True, "version": "2.14.1+cpu", "cuda": None, "available": False},
         "CPU-only build"),
        ({"present": True, "version": "2.11.0+cu130", "cuda": "13.0", "available": False},
         "built for CUDA 13.0 but the driver supports CUDA 12.4 at most"),
        ({"present": True, "version": "2.11.0+cu128", "cuda": "12.8", "available": False,
          "error": "RuntimeError: The NVIDIA driver on your system is too old"},
         "supports CUDA 12.4 at most"),
        ({"present": True, "error": "torch does not import: OSError: libcudnn.so.9"},
         "libcudnn"),
    ],
)  # fmt: skip
def test_a_torch_that_cannot_use_the_driver_is_named(torch, words):
    verdict = judge({"driver": GOOD_DRIVER, "torch": torch}, DEVICE)
    assert not verdict.ok and words in verdict.reason
    assert not verdict.device_fault  # the interpreter's fault: the GPU stays in service
    assert torch_problem({"present": False}, "12.4") == ""


def test_a_failing_driver_or_no_answer_is_the_devices_fault():
    failed = judge(
        {"driver": {"loaded": True, "ok": False, "error": "cuInit failed: CUDA_ERROR_UNKNOWN"},
         "torch": {"present": False}, "dev_nodes": ["nvidia0", "nvidiactl"]},
        DEVICE,
    )  # fmt: skip
    assert not failed.ok and failed.device_fault
    assert "CUDA_ERROR_UNKNOWN" in failed.reason and "/dev/nvidia-uvm is missing" in failed.reason
    silent = judge(None, DEVICE)
    assert not silent.ok and "gave no result" in silent.reason


# ---- driver libraries outside /usr ------------------------------------------------------
def test_driver_libraries_outside_usr_are_found(tmp_path, monkeypatch):
    sim = NvidiaSim(tmp_path / "host", monkeypatch)
    elsewhere = tmp_path / "host" / "run" / "nvidia" / "driver" / "lib"
    elsewhere.mkdir(parents=True)
    (elsewhere / "libnvidia-ml.so.1").write_text("")
    ldconfig = sim.bin / "ldconfig"
    ldconfig.write_text(
        "#!/bin/sh\necho '3 libs found in cache'\n"
        f"echo '\tlibnvidia-ml.so.1 (libc6,x86-64) => {elsewhere}/libnvidia-ml.so.1'\n"
        "echo '\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6'\n"
    )
    ldconfig.chmod(0o755)
    sim.install_libcuda()  # found through LD_LIBRARY_PATH only
    assert driver_library_dirs() == [elsewhere, sim.lib]


@needs_bwrap
def test_the_sandbox_sees_a_driver_outside_usr(tmp_path, monkeypatch):
    """base_env dropped LD_LIBRARY_PATH and only /usr was bound: CUDA could not load."""
    sim = NvidiaSim(tmp_path / "host", monkeypatch)
    sim.add_gpu(0, UUID0)
    sim.install_libcuda()
    sandbox = BubblewrapSandbox(uid=61021)
    work = prepare_workdir(None, sandbox.uid)
    try:
        out = sandbox.run(
            ["/bin/sh", "-c", 'ls "$LD_LIBRARY_PATH/libcuda.so.1"'], work, Limits(wall_s=20),
            gpus=tuple(detect_gpus()),
        )  # fmt: skip
    finally:
        discard_workdir(work)
    assert out.ok, out.stderr
    assert out.stdout.strip() == f"{sim.lib}/libcuda.so.1"


# ---- through the CLI, on a real repository ----------------------------------------------
TRAIN = """# tanítás: egy epoch, a GPU-n ha van
import os
print("CUDA_VISIBLE_DEVICES =", os.environ.get("CUDA_VISIBLE_DEVICES"))
print("Epoch 1/1 - loss: 0.4210 - accuracy: 0.8125")
"""
SPEC = """
id: gpu-hf
title: GPU rerun
course: test
deadline: "2020-11-10 23:59"
checks:
  - check: rerun
    id: rerun
    points: 2
    args:
      commands: ["python tanítás.py"]
      gpu: {gpu}
      python: {python}
      timeout: 120
      memory_mb: 2048
      env: {{FAKE_CUDA: "{fake}"}}
"""


def _grade(tmp_path: Path, gpu: str, python: Path, fake: str = "ok") -> tuple[dict, str]:
    student = tmp_path / "diák repo"
    git_save(student, "első beadás", date="2020-11-09T21:15:00+01:00", files={
        "tanítás.py": TRAIN, "README.md": "# Házi feladat\n",
    })  # fmt: skip
    spec = tmp_path / "gpu-hf.yaml"
    spec.write_text(SPEC.format(gpu=gpu, python=python, fake=fake))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["grade", str(spec), "--repo", str(make_bare(student)), "--student", "abc123",
         "--out", str(out), "--rerun", "full"],
    )  # fmt: skip
    data = read_result(out / "ABC123" / "result.json")
    # `grader grade` exits 1 when the submission is not graded (the environment included)
    assert result.exit_code == (0 if data.verdict.graded else 1), result.output
    return {c.id: c for c in data.checks}, data.verdict.value


@pytest.fixture
def gpu_host(tmp_path, monkeypatch) -> NvidiaSim:
    sim = one_gpu_host(tmp_path, monkeypatch)
    return sim


@needs_bwrap
def test_a_working_gpu_is_proved_and_recorded(tmp_path, gpu_host):
    checks, _ = _grade(tmp_path, "required", bare_python(tmp_path / "py"))
    rerun = checks["rerun"]
    assert rerun.status == "pass", rerun.message
    assert f"on {H100}" in rerun.message
    device = rerun.facts["device"]
    assert device["uuid"] == UUID0  # what CUDA reported inside the sandbox
    assert device["self_test"].startswith("passed in") and device["driver_cuda"] == "12.4"
    assert rerun.evidence[0].path == "CUDA self-test" and rerun.evidence[0].verdict == "ok"
    assert f"CUDA_VISIBLE_DEVICES = {UUID0}" in rerun.facts["runs"][0]["stdout_tail"]
    assert rerun.facts["self_test"]["ok"] is True


@needs_bwrap
def test_a_host_without_nvidia_uvm_is_not_graded_not_failed(tmp_path, gpu_host):
    """Before: the student's command ran with a GPU that CUDA could not open, and the CPU
    run that followed timed out as the student's failure."""
    (gpu_host.dev / "nvidia-uvm").unlink()
    gpu_host.state["modprobe_works"] = False
    gpu_host.save()
    checks, verdict = _grade(tmp_path, "required", bare_python(tmp_path / "py"))
    rerun = checks["rerun"]
    assert rerun.status == "environment", rerun.message
    assert rerun.message.startswith("not graded (environment): the GPU cannot be used")
    assert "nvidia-uvm" in rerun.message and rerun.points == 0
    assert verdict == "environment"


@needs_bwrap
def test_an_optional_gpu_that_fails_its_check_runs_on_cpu_and_says_why(tmp_path, gpu_host):
    (gpu_host.dev / "nvidia-uvm").unlink()
    gpu_host.state["modprobe_works"] = False
    gpu_host.save()
    checks, verdict = _grade(tmp_path, "optional", bare_python(tmp_path / "py"))
    rerun = checks["rerun"]
    assert rerun.status == "pass", rerun.message
    assert "ran on CPU because" in rerun.message and "nvidia-uvm" in rerun.message
    assert rerun.facts["cpu_reason"] and rerun.facts["device"]["name"] == "cpu"
    assert "CUDA_VISIBLE_DEVICES = \n" in rerun.facts["runs"][0]["stdout_tail"] + "\n"
    assert verdict == "pass"


@needs_bwrap
def test_a_failing_cuda_init_is_caught_before_the_students_code(tmp_path, gpu_host):
    checks, verdict = _grade(tmp_path, "required", bare_python(tmp_path / "py"), "init-error")
    rerun = checks["rerun"]
    assert rerun.status == "environment", rerun.message
    assert "cuInit failed: CUDA_ERROR_UNKNOWN" in rerun.message
    assert rerun.facts == {"environment": "gpu"} and verdict == "environment"


@needs_bwrap
def test_a_failing_nvidia_smi_with_gpu_required_is_the_environment(tmp_path, gpu_host):
    """Before: no GPU detected, so a full rerun quietly became a CPU smoke run."""
    gpu_host.state["fail"] = {"rc": 9, "stdout": "NVIDIA-SMI has failed because it couldn't "
                              "communicate with the NVIDIA driver.\n"}  # fmt: skip
    gpu_host.save()
    checks, verdict = _grade(tmp_path, "required", bare_python(tmp_path / "py"))
    rerun = checks["rerun"]
    assert rerun.status == "environment", rerun.message
    assert "couldn't communicate with the NVIDIA driver" in rerun.message
    assert verdict == "environment"


@needs_bwrap
@pytest.mark.slow
def test_a_cpu_only_torch_with_gpu_required_is_the_environment(tmp_path, gpu_host):
    """The rerun's own Python decides: the grader's venv has a CPU-only torch build."""
    checks, _ = _grade(tmp_path, "required", Path(sys.executable))
    rerun = checks["rerun"]
    assert rerun.status == "environment", rerun.message
    words = ("CPU-only build", "but the driver supports CUDA 12.4 at most")  # +cpu or +cu13x
    assert any(w in rerun.message for w in words), rerun.message

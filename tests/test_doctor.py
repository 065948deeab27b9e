"""`grader doctor` on simulated hosts: what it reports and when it exits non-zero."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.sandbox import doctor as doctor_module
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.sandbox.doctor import Finding, exit_code
from grader.sandbox.queue import RunQueue
from tests.gpu_sim import H100, NvidiaSim, bare_python

needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))
UUID0 = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
MIG_A = "MIG-cccccccc-2222-2222-2222-222222222222"
SPEC = """
id: gpu-hf
title: GPU homework
course: test
deadline: "2020-11-10 23:59"
checks:
  - check: rerun
    args: {{commands: ["python tanitas.py"], gpu: {gpu}, python: {python}}}
"""


def doctor(*args: str):
    return CliRunner().invoke(app, ["doctor", *args], catch_exceptions=False)


@pytest.fixture
def host(tmp_path, monkeypatch) -> NvidiaSim:
    sim = NvidiaSim(tmp_path / "host", monkeypatch)
    sim.add_gpu(0, UUID0)
    sim.install_libcuda()
    monkeypatch.setenv("GRADER_LOCK_DIR", str(tmp_path / "locks"))
    return sim


def spec(tmp_path: Path, gpu: str) -> str:
    path = tmp_path / f"spec-{gpu}.yaml"
    path.write_text(SPEC.format(gpu=gpu, python=bare_python(tmp_path / "py")))
    return str(path)


def test_exit_code_counts_only_needed_failures():
    assert exit_code([Finding("gpu", "fail", "x"), Finding("disk", "warn", "y")]) == 0
    assert exit_code([Finding("gpu", "fail", "x", needed=True)]) == 1


@needs_bwrap
def test_a_healthy_gpu_host(tmp_path, host):
    result = doctor(spec(tmp_path, "required"))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "a launch with the real argv works" in text
    assert f"GPU 0 ({H100}): GPU {UUID0}, 81559 MiB, driver 550.54.15" in text
    assert "CUDA self-test in the sandbox" in text and "passed in" in text
    assert "driver CUDA 12.4, no torch" in text
    assert f"driver libraries outside /usr, bound: {host.lib}" in text
    assert "ready to grade (needs: sandbox=True, gpu=required)" in text


@needs_bwrap
def test_a_broken_gpu_fails_the_doctor_only_when_the_spec_needs_it(tmp_path, host):
    (host.dev / "nvidia-uvm").unlink()
    host.state["modprobe_works"] = False
    host.save()
    needed = doctor(spec(tmp_path, "required"))
    assert needed.exit_code == 1, needed.output
    text = " ".join(needed.output.split())
    assert "FAIL cuda" in text and "nvidia-uvm missing" in text and "(needed)" in text
    assert "NOT ready" in text
    optional = doctor(spec(tmp_path, "optional"))
    assert optional.exit_code == 0, optional.output
    assert "FAIL cuda" in optional.output and "(needed)" not in optional.output


@needs_bwrap
@pytest.mark.slow
def test_a_torch_that_does_not_match_the_driver_is_reported(tmp_path, host):
    """The real torch of the grader's venv against the simulated 12.4 driver."""
    result = doctor("--python", sys.executable, "--json")
    data = json.loads(result.output)
    cuda = [f for f in data["findings"] if f["area"] == "cuda"]
    assert cuda and cuda[0]["status"] == "fail"
    assert "torch" in cuda[0]["message"]
    assert data["exit"] == 0  # no spec: the GPU is not needed


def test_mig_instances_busy_gpus_and_held_gpus_are_listed(tmp_path, host):
    gpu0 = host.state["gpus"][0]
    host.add_mig(gpu0, 0, gi=7, ci=0, uuid=MIG_A, caps=(66, 67))
    gpu0["processes"] = [{"pid": 999, "used": 4000, "gi": 7, "ci": 0}]
    host.save()
    queue = RunQueue(lock_dir=Path(tmp_path / "locks"))
    with queue.holding(queue.gpus[0]):
        result = doctor("--json")
    data = json.loads(result.output)
    messages = [f["message"] for f in data["findings"]]
    assert any(f"MIG instance {MIG_A}" in m for m in messages)
    assert any("busy" in m and "pid 999" in m for m in messages)
    assert any("a rerun holds it now" in m for m in messages)


def test_no_sandbox_fails_an_instructor_spec(tmp_path, host, monkeypatch):
    monkeypatch.setattr(doctor_module, "bwrap_problem", lambda: "bubblewrap is not installed")
    result = doctor(spec(tmp_path, "none"), "--no-self-test")
    assert result.exit_code == 1
    assert "FAIL sandbox bubblewrap is not installed (needed)" in " ".join(result.output.split())


def test_a_sandbox_folder_too_long_for_the_tests_socket_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SANDBOX_DIR", str(tmp_path / ("sandbox-" + "x" * 60)))
    (finding,) = doctor_module.check_socket_paths()
    assert finding.status == "warn" and "set GRADER_SANDBOX_DIR to a shorter folder" in (
        finding.message
    )
    monkeypatch.setenv("GRADER_SANDBOX_DIR", "/tmp/gs")
    (finding,) = doctor_module.check_socket_paths()
    assert finding.status == "ok"

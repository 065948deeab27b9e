"""The `tests` check with a GPU, through the CLI on a real repository and a simulated NVIDIA
host (tests/gpu_sim.py, the fake libcuda.so.1): the leased GPU proves itself with the CUDA
self-test before the student's process gets it; a broken GPU is "not graded (environment)"
with `gpu: required`, and a CPU run that says why with `gpu: optional`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.results import read_result
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.testing import build_file_tree, git_save, make_bare
from tests.gpu_sim import H100, SIM_UUID0, NvidiaSim, bare_python, one_gpu_host

pytestmark = pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))
UUID0 = SIM_UUID0

SPEC = """
id: gpu-tesztek
title: GPU tests
course: test
deadline: "2020-11-10 23:59"
checks:
  - check: tests
    id: tesztek
    points: 3
    args:
      public: [gpu_tests]
      gpu: {gpu}
      python: {python}
      timeout: 30
      budget: 120
      memory_mb: 2048
      env: {{FAKE_CUDA: "{fake}"}}
"""

# the instructor's public tests: what the student's process sees, and the student's own
# count of CUDA devices (through the driver, as torch.cuda.device_count() would)
PUBLIC = '''
import pytest
from grader.testkit import record_metrics


@pytest.mark.points(2)
def test_the_driver_agrees_with_the_visible_devices(student):
    """eszköz.cuda_eszközök() counts the devices CUDA_VISIBLE_DEVICES makes visible."""
    visible = student.value("__import__('os').environ.get('CUDA_VISIBLE_DEVICES')")
    count = student.module("eszköz").cuda_eszközök()
    record_metrics({"cuda_devices": count, "gpu_visible": int(bool(visible))})
    assert count == (1 if visible else 0), f"CUDA_VISIBLE_DEVICES={visible!r}: {count} device(s)"


@pytest.mark.points(1)
def test_the_module_imports(student):
    assert student.value("1 + 1") == 2
'''

ESZKOZ = """# melyik eszközön fut a modell
import ctypes
import os

print("CUDA_VISIBLE_DEVICES =", os.environ.get("CUDA_VISIBLE_DEVICES"))


def cuda_eszközök():
    if not os.environ.get("CUDA_VISIBLE_DEVICES"):
        return 0
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    if cuda.cuInit(0) != 0:
        return 0
    darab = ctypes.c_int(0)
    cuda.cuDeviceGetCount(ctypes.byref(darab))
    return darab.value
"""


@pytest.fixture
def gpu_host(tmp_path, monkeypatch) -> NvidiaSim:
    sim = one_gpu_host(tmp_path, monkeypatch)
    monkeypatch.setenv("GRADER_TESTS_POOL", "0")  # a fresh student process for each test
    return sim


def _grade(tmp_path: Path, gpu: str, fake: str = "ok") -> tuple[dict, str, int]:
    """(the tests check's result, the verdict, `grader grade`'s exit code)."""
    python = bare_python(tmp_path / "py")
    build_file_tree(
        tmp_path / "spec",
        {"gpu.yaml": SPEC.format(gpu=gpu, python=python, fake=fake),
         "gpu_tests/test_eszkoz.py": PUBLIC},
    )  # fmt: skip
    student = tmp_path / "diák repo"
    git_save(student, "első beadás", date="2020-11-09T21:15:00+01:00", files={
        "eszköz.py": ESZKOZ, "README.md": "# Házi feladat\n",
    })  # fmt: skip
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app,
        ["grade", str(tmp_path / "spec" / "gpu.yaml"), "--repo", str(make_bare(student)),
         "--student", "abc123", "--out", str(out)],
    )  # fmt: skip
    data = read_result(out / "ABC123" / "result.json")
    check = next(c for c in data.checks if c.id == "tesztek")
    return check, data.verdict.value, done.exit_code


def test_a_working_gpu_is_proved_then_given_to_the_students_process(tmp_path, gpu_host):
    check, verdict, code = _grade(tmp_path, "required")
    assert check.status == "pass", check.message
    assert check.points == 3 and verdict == "pass" and code == 0
    device = check.facts["device"]
    assert device["uuid"] == UUID0 and device["name"] == H100  # what CUDA reported
    assert device["self_test"].startswith("passed in")
    # the student's process has the leased device, and its driver opens it
    assert check.facts["metrics"] == {"cuda_devices": 1, "gpu_visible": 1}
    stdout = check.facts["instructor_only"]["student_stdout_tail"]
    assert f"CUDA_VISIBLE_DEVICES = {UUID0}" in stdout


def _break(sim: NvidiaSim, how: str) -> str:
    """Breaks the simulated host's GPU; the FAKE_CUDA mode for the fake driver."""
    if how == "nvidia-smi":  # the driver does not answer: no GPU can be leased
        sim.state["fail"] = {"rc": 9, "stdout": "NVIDIA-SMI has failed because it couldn't "
                             "communicate with the NVIDIA driver.\n"}  # fmt: skip
    elif how == "no-uvm":  # /dev/nvidia-uvm is missing and cannot be made
        (sim.dev / "nvidia-uvm").unlink()
        sim.state["modprobe_works"] = False
    sim.save()
    return "init-error" if how == "init-error" else "ok"  # cuInit fails in the self-test


BROKEN = [
    ("init-error", "cuInit failed: CUDA_ERROR_UNKNOWN"),
    ("nvidia-smi", "couldn't communicate with the NVIDIA driver"),
    ("no-uvm", "nvidia-uvm"),
]


@pytest.mark.parametrize(("broken", "words"), BROKEN)
def test_a_broken_required_gpu_is_not_graded_never_a_zero(tmp_path, gpu_host, broken, words):
    check, verdict, code = _grade(tmp_path, "required", _break(gpu_host, broken))
    assert check.status == "environment", check.message
    assert check.message.startswith("not graded (environment)")
    assert words in check.message, check.message
    assert check.points == 0 and verdict == "environment"
    assert code == 1  # `grader grade`: not graded
    assert "tests" not in check.facts  # no test ran against the student's code


@pytest.mark.parametrize(("broken", "words"), BROKEN)
def test_a_broken_optional_gpu_runs_the_tests_on_the_cpu_and_says_why(
    tmp_path, gpu_host, broken, words
):
    check, verdict, code = _grade(tmp_path, "optional", _break(gpu_host, broken))
    assert check.status == "pass", check.message
    assert check.points == 3 and verdict == "pass" and code == 0
    assert check.facts["device"]["name"] == "cpu"
    reason = check.facts["cpu_reason"]
    assert reason == check.facts["device"]["cpu_reason"] and words in reason
    assert f"ran on CPU because {reason}" in check.message, check.message
    assert check.facts["metrics"] == {"cuda_devices": 0, "gpu_visible": 0}

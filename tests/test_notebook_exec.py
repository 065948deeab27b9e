"""Notebooks executed with nbclient inside the sandbox: timeouts, errors, dead kernels."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.results import Status, read_result
from grader.sandbox import BubblewrapSandbox, Limits
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.sandbox.envs import interpreter_mounts, resolve_interpreter
from grader.sandbox.notebook import execute_notebooks
from grader.sandbox.workspace import discard_workdir, prepare_workdir
from grader.testing import build_file_tree, git_save

pytestmark = pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))
ROOT = Path(__file__).resolve().parent.parent
COLAB = ROOT / "reference_solutions" / "colab-hello"
PY = resolve_interpreter(sys.executable)


def notebook(*sources: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    return nbformat.writes(nb)


def execute(tmp_path: Path, files: dict[str, str], names: list[str], **kwargs):
    sandbox = BubblewrapSandbox(uid=61030)
    work = prepare_workdir(build_file_tree(tmp_path / "src", files), sandbox.uid)
    try:
        run = execute_notebooks(
            sandbox, work, names, Limits(wall_s=60), str(PY), mounts=interpreter_mounts(PY),
            **kwargs,
        )  # fmt: skip
        executed = {
            p.name: nbformat.read(p, 4) for p in (work / ".grader-run" / "executed").glob("*")
        }
    finally:
        discard_workdir(work)
    return run, executed


@pytest.mark.slow
def test_timeout_interrupts_and_goes_on_errors_and_output_caps_are_visible(tmp_path):
    nb = notebook(
        "x = 6 * 7\nprint(x)",
        "import time\ntime.sleep(60)",
        "1 / 0",
        "print('y' * 300_000)",
        "print('still running', x)",
    )
    run, executed = execute(tmp_path, {"work/a.ipynb": nb}, ["work/a.ipynb"], cell_timeout=2)
    assert not run.ok
    cells = run.notebooks[0]["cells"]
    assert [c["status"] for c in cells] == ["ok", "timeout", "error", "ok", "ok"]
    assert cells[3]["output_capped"] is True
    assert any("interrupted at the time limit" in f for f in run.failures)
    assert any("ZeroDivisionError" in f for f in run.failures)
    outputs = executed["work__a.ipynb"].cells[4].outputs
    assert outputs[0]["text"].strip() == "still running 42"  # the kernel state survived
    assert run.output.wall_s < 30


@pytest.mark.slow
def test_dead_kernel_is_a_failure(tmp_path):
    nb = notebook("print('before')", "import os\nos._exit(1)", "print('after')")
    run, _ = execute(tmp_path, {"b.ipynb": nb}, ["b.ipynb"], cell_timeout=20)
    assert not run.ok
    assert run.notebooks[0]["dead_kernel"] is True
    assert any("kernel died" in f for f in run.failures)


def test_forged_result_line_is_ignored(tmp_path):
    nb = notebook("print('GRADER-NB-0000 {\"notebooks\": []}')")
    run, executed = execute(tmp_path, {"c.ipynb": nb}, ["c.ipynb"], cell_timeout=20)
    assert run.ok, run.failures
    assert len(run.notebooks) == 1 and run.notebooks[0]["cells"][0]["status"] == "ok"


def _cifar_cache(tmp_path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("build_outputs", COLAB / "build_outputs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_cache(tmp_path / "cifar", per_batch=10)


COLAB_SPEC = """
id: colab-hello
title: Colab warm-up, executed
course: test
deadline: "2020-09-20 23:59"
checks:
  - check: rerun
    points: 3
    args:
      notebooks: ["**/*.ipynb"]
      caches: {{CIFAR10_DIR: "{cache}"}}
      cell_timeout: 120
      timeout: 300
"""


@pytest.mark.slow
@pytest.mark.skipif(not (COLAB / "colab_hello.ipynb").is_file(), reason="no colab-hello")
def test_colab_hello_is_graded_by_really_executing_it(tmp_path):
    cache = _cifar_cache(tmp_path)
    student = tmp_path / "student"
    student.mkdir()
    shutil.copyfile(COLAB / "colab_hello.ipynb", student / "colab_hello.ipynb")
    git_save(student, "warm-up", date="2020-09-18T10:00:00+02:00")
    spec = tmp_path / "colab.yaml"
    spec.write_text(COLAB_SPEC.format(cache=cache))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["check", str(spec), str(student), "--out", str(out), "--rerun", "smoke"]
    )
    assert result.exit_code == 0, result.output
    rerun = read_result(out / "result.json").checks[0]
    assert rerun.status == Status.PASS, rerun.message
    executed = [Path(p) for p in rerun.facts["executed_notebooks"]]
    assert len(executed) == 1 and executed[0].is_file()
    nb = nbformat.read(executed[0], 4)
    mimes = {key for cell in nb.cells for o in cell.get("outputs", []) for key in o.get("data", {})}
    assert "image/png" in mimes
    assert "read CIFAR-10 from the local copy" in nbformat.writes(nb)

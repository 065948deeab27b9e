"""Measured, not printed; one process per student; a looping notebook is one student's error.

Through the CLI on real git repositories: a print-only train.py earns no rerun points; the
nbgrader/Otter-style example assignment; the warm pool never shares a process between
students; a batch with a looping notebook grades everybody else normally."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.testing import build_file_tree, git_save, make_bare
from tests.conftest import REPO_ROOT
from tests.forgery_helpers import notebook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem())),
]

RERUN_SPEC = """
id: measured
title: Measured, not printed
course: test
deadline: "2020-11-10 23:59"
checks:
  - check: rerun
    points: 2
    args: {commands: ["python train.py"], produces: ["output/model.npy"], timeout: 60}
  - check: compare
    points: 2
    args: {metric: test_accuracy, tolerance: 0.01}
"""
LOG = "Epoch 1/2 - loss: 0.6000 - accuracy: 0.7000\nEpoch 2/2 - loss: 0.4000 - accuracy: 0.8000\nTest accuracy: 0.8100\n"  # fmt: skip
PRINT_ONLY = "print(open('logs/train.log').read())\n"
TRAINS = (
    "import os\nimport numpy as np\n"
    "print(open('logs/train.log').read())\n"
    "os.makedirs('output', exist_ok=True)\n"
    "np.save('output/model.npy', np.random.default_rng().normal(size=8))\n"
)
COPIES = "import shutil\nprint(open('logs/train.log').read())\nshutil.copy('model.npy', 'output/model.npy')\n"  # fmt: skip


def rerun_checks(tmp_path: Path, train: str, extra: dict | None = None) -> dict:
    files = {"train.py": train, "logs/train.log": LOG, "output/.keep": "", **(extra or {})}
    root = build_file_tree(tmp_path / "repo", files)
    git_save(root, "homework", date="2020-11-09T12:00:00+01:00")
    (tmp_path / "spec.yaml").write_text(RERUN_SPEC)
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app,
        ["grade", str(tmp_path / "spec.yaml"), "--repo", str(make_bare(root)), "--student",
         "ABC123", "--out", str(out), "--rerun", "full"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return {c["id"]: c for c in json.loads((out / "ABC123" / "result.json").read_text())["checks"]}


def test_a_print_only_train_py_earns_no_rerun_points(tmp_path):
    checks = rerun_checks(tmp_path, PRINT_ONLY)
    assert checks["rerun"]["status"] == "fail" and checks["rerun"]["points"] == 0
    assert "wrote no model file" in checks["rerun"]["message"]
    assert checks["compare"]["points"] == 0 and checks["compare"]["status"] == "manual"


def test_a_model_identical_to_the_committed_one_is_said_so(tmp_path):
    """A deterministic training and a copy give the same bytes: the run is not failed for
    it (an honest, reproducible training must not lose points), the report says so, and the
    score still comes from measuring the model."""
    import numpy as np

    buffer = tmp_path / "committed.npy"
    np.save(buffer, np.ones(8))
    checks = rerun_checks(tmp_path, COPIES, {"model.npy": buffer.read_bytes().decode("latin-1")})
    rerun = checks["rerun"]
    assert rerun["status"] == "pass", rerun["message"]
    assert rerun["facts"]["identical_to_committed"] == ["output/model.npy"]
    assert "byte-identical to the committed file" in rerun["message"]


def test_a_run_that_trains_writes_a_new_model_and_earns_the_rerun(tmp_path):
    checks = rerun_checks(tmp_path, TRAINS)
    assert checks["rerun"]["status"] == "pass", checks["rerun"]["message"]
    assert checks["rerun"]["facts"]["produced"] == ["output/model.npy"]
    compare = checks["compare"]
    assert compare["status"] == "pass" and compare["facts"]["measured"] is None
    assert "printed numbers never score" in compare["message"]


EXAMPLE = REPO_ROOT / "examples" / "notebook_assignment"


def test_the_notebook_assignment_example(tmp_path, monkeypatch):
    spec = str(EXAMPLE / "notebook-demo.yaml")
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(EXAMPLE / "instructor"))
    scores = {}
    for who in ("solution", "student"):
        root = tmp_path / who
        shutil.copytree(EXAMPLE / who, root)
        git_save(root, "homework", date="2020-10-20T12:00:00+02:00")
        out = tmp_path / f"out-{who}"
        done = CliRunner().invoke(
            app, ["grade", spec, "--repo", str(make_bare(root)), "--student", "ABC123",
                  "--out", str(out)],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        check = json.loads((out / "ABC123" / "result.json").read_text())["checks"][1]
        scores[who] = (check["points"], len(check["facts"]["tests"]))
    assert scores == {"solution": (5.0, 4), "student": (0.0, 4)}


POOL_SPEC = """
id: pool
title: One process per student
course: test
deadline: "2020-10-27 23:59"
checks:
  - check: tests
    points: 1
    args: {public: [pool_tests], notebook: "*.ipynb", preload: [numpy], timeout: 10, budget: 60}
"""
POOL_TEST = '''
def test_nothing_left_by_another_student(nb):
    """What an earlier student left in its process, its /tmp or its files is not here."""
    assert nb.value("__import__('os').path.exists('/tmp/left_behind')") is False
    assert nb.value("__import__('sys').modules.get('left_behind') is None")
    assert nb.value("__import__('os').path.exists('left.txt')") is False
    nb.exec("import sys, types; sys.modules['left_behind'] = types.ModuleType('left_behind')")
    nb.exec("open('/tmp/left_behind', 'w').write('x'); open('left.txt', 'w').write('x')")
'''


def test_the_warm_pool_never_shares_a_process_between_students(tmp_path, monkeypatch):
    from grader import pipeline
    from grader.settings import RunSettings

    monkeypatch.setenv("GRADER_TESTS_POOL", "1")
    build_file_tree(
        tmp_path / "spec", {"pool.yaml": POOL_SPEC, "pool_tests/test_pool.py": POOL_TEST}
    )
    spec = pipeline.load_assignment(tmp_path / "spec" / "pool.yaml")
    warm = []
    for index in range(3):
        root = build_file_tree(tmp_path / f"s{index}", {"nb.ipynb": notebook("x = 1")})
        git_save(root, "hw", date="2020-10-20T12:00:00+02:00")
        result = pipeline.grade(spec, str(root), f"STU{index:03d}", tmp_path / f"o{index}",
                                settings=RunSettings(hidden=True))  # fmt: skip
        check = result.checks[0]
        assert check.status.value == "pass", check.message
        warm.append(check.facts["timings"]["warm"])
    assert warm[1:] == [1.0, 1.0]  # the second and third students got pre-started processes


BATCH_SPEC = """
id: loops
title: A looping notebook
course: test
deadline: "2020-10-27 23:59"
checks:
  - check: tests
    points: 2
    args: {public: [loop_tests], notebook: "*.ipynb", cell_timeout: 2, timeout: 5, budget: 20}
"""
LOOP_TESTS = """
import pytest

@pytest.mark.points(2)
def test_double(nb):
    assert nb.ref("double")(21) == 42
"""
GOOD = "def double(x):\n    return 2 * x"
# catches the cell-timeout interrupt and goes on: only the session's time limit ends it
STUBBORN = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"


def test_a_looping_notebook_is_an_error_for_its_tests_and_the_class_is_graded(tmp_path):
    build_file_tree(
        tmp_path / "spec", {"loops.yaml": BATCH_SPEC, "loop_tests/test_loops.py": LOOP_TESTS}
    )
    rows = []
    for neptun, cells in (("AAA111", [GOOD]), ("BBB222", [GOOD, STUBBORN]), ("CCC333", [GOOD])):
        root = build_file_tree(tmp_path / "repos" / neptun, {"hf.ipynb": notebook(*cells)})
        git_save(root, "hw", date="2020-10-20T12:00:00+02:00")
        rows.append((neptun, str(make_bare(root))))
    with (tmp_path / "roster.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("neptun", "github"), *rows])
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app, ["batch", str(tmp_path / "spec" / "loops.yaml"), "--roster", str(tmp_path / "roster.csv"),
              "--out", str(out), "--rerun", "none", "--no-progress"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    checks = {n: json.loads((out / n / "result.json").read_text())["checks"][0] for n, _ in rows}
    assert checks["AAA111"]["points"] == checks["CCC333"]["points"] == 2
    looping = checks["BBB222"]
    assert looping["status"] == "fail" and looping["points"] == 0
    assert looping["facts"]["tests"][0]["status"] == "error"
    assert "did not finish loading within 20 s" in looping["facts"]["tests"][0]["message"]

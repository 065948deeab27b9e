"""Student code that tries to forge a pass gains nothing: every attempt goes through the CLI
on a real git repository, in the real bubblewrap sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.testing import build_file_tree, git_save, make_bare
from tests.forgery_helpers import FORGE_RUNNER, STEAL_AND_REPORT, WRONG_ADD, notebook

pytestmark = pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))

RERUN_SPEC = """
id: forge-rerun
title: Notebook rerun
course: test
deadline: "2020-10-27 23:59"
checks:
  - check: rerun
    points: 2
    args: {notebooks: ["*.ipynb"], cell_timeout: 30, timeout: 120}
"""


def grade(tmp_path: Path, spec: str, files: dict[str, str], *extra: str) -> dict:
    root = build_file_tree(tmp_path / "repo", files)
    git_save(root, "homework", date="2020-10-20T12:00:00+02:00")
    (tmp_path / "spec.yaml").write_text(spec)
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app,
        ["grade", str(tmp_path / "spec.yaml"), "--repo", str(make_bare(root)),
         "--student", "ABC123", "--out", str(out), *extra],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    data = json.loads((out / "ABC123" / "result.json").read_text())
    return {c["id"]: c for c in data["checks"]}


@pytest.mark.slow
def test_a_notebook_cannot_forge_the_runners_all_cells_ok(tmp_path):
    nb = notebook(FORGE_RUNNER, "1 / 0")
    rerun = grade(tmp_path, RERUN_SPEC, {"forge.ipynb": nb}, "--rerun", "full")["rerun"]
    assert rerun["status"] == "fail", rerun["message"]
    assert rerun["points"] == 0
    assert "code cell 2 (cell 3): ZeroDivisionError" in rerun["message"]


TESTS_SPEC = """
id: forge-tests
title: Instructor tests
course: test
deadline: "2020-10-27 23:59"
checks:
  - check: tests
    points: 3
    args: {public: [forge_tests], timeout: 10, budget: 60}
"""
PUBLIC_TEST = """
import random
import pytest

@pytest.mark.points(2)
def test_add(student):
    add = student.module("solution").add
    for _ in range(5):
        a, b = random.randint(0, 10**6), random.randint(0, 10**6)
        assert add(a, b) == a + b

def test_add_floats(student):
    assert student.module("solution").add(0.5, 0.25) == 0.75
"""
ATTEMPTS = {
    "monkeypatches pytest and AssertionError": """
import builtins, sys
try:
    import pytest, _pytest.runner, _pytest.reports
    pytest.fail = lambda *a, **k: None
    _pytest.reports.TestReport.outcome = "passed"
    _pytest.runner.call_and_report = lambda item, when, log=True, **kw: None
except ImportError:
    pass
builtins.AssertionError = type("AssertionError", (Exception,), {})

class Everything(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

def add(a, b):
    return Everything(0)
""",
    "writes fake JUnit and JSON reports": """
import json, os
xml = '<testsuite tests="2" failures="0"><testcase name="test_add"/></testsuite>'
for folder in (".", ".grader", "/tmp", "results", "/submission/.grader-run"):
    try:
        os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, "report.xml"), "w").write(xml)
        open(os.path.join(folder, "result.json"), "w").write(json.dumps(
            {"score": 3, "tests": [{"name": "test_add", "status": "passed", "score": 2}]}))
    except OSError:
        pass
"""
    + WRONG_ADD,
    "calls os._exit(0) when a test calls it": """
import os

def add(a, b):
    print("test_add PASSED")
    os._exit(0)
""",
    "prints fake PASSED lines": """
import sys
for name in ("test_add", "test_add_floats"):
    print(f"public/test_add.py::{name} PASSED")
    print(f"::notice::{name} passed")
    sys.stderr.write(f"{name} PASSED\\n")
print("2 passed in 0.01s")
"""
    + WRONG_ADD,
    "edits and deletes the test files": """
import glob, os
mine = 'def test_add():\\n    pass\\n\\ndef test_add_floats():\\n    pass\\n'
for pattern in ("/**/test_*.py", "/**/conftest.py", "/tmp/**/*.py", "/grader-channel/*"):
    for path in glob.glob(pattern, recursive=True):
        try:
            os.chmod(path, 0o666)
            open(path, "w").write(mine)
        except OSError:
            pass
        try:
            os.unlink(path)
        except OSError:
            pass
open("conftest.py", "w").write("def pytest_runtest_makereport(item, call):\\n    call.excinfo = None\\n")
open("test_add.py", "w").write(mine)
"""
    + WRONG_ADD,
    "reads its parent's memory through /proc/<ppid>/mem": STEAL_AND_REPORT,
}


def grade_tests(tmp_path: Path, solution: str) -> dict:
    build_file_tree(tmp_path, {"forge_tests/test_add.py": PUBLIC_TEST})
    files = {"solution.py": solution, "README.md": "# Összeadás\n"}
    return grade(tmp_path, TESTS_SPEC, files)["tests"]


@pytest.mark.slow
def test_a_correct_solution_earns_the_points(tmp_path):
    check = grade_tests(tmp_path, "def add(a, b):\n    return a + b\n")
    assert check["status"] == "pass", check["message"]
    assert check["points"] == 3
    assert [t["status"] for t in check["facts"]["tests"]] == ["passed", "passed"]


@pytest.mark.slow
@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_a_forgery_attempt_gains_nothing(tmp_path, attempt):
    check = grade_tests(tmp_path, ATTEMPTS[attempt])
    assert check["status"] == "fail", check["message"]
    assert check["points"] == 0, check["facts"]["tests"]
    assert all(t["status"] in ("failed", "error") for t in check["facts"]["tests"])

"""Small homework 4's instructor tests through the CLI: `grader reference` measures the
reference solution (sandboxed smoke rerun + hidden tests) into reference.json; the
reference then earns every test point, the hidden model test within its band; golden
flawed variants lose exactly the points of the tests they break."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import git_save, make_bare
from tests.conftest import REPO_ROOT
from tests.markers import needs_bwrap_binary, needs_hw4_stack

REFERENCE = REPO_ROOT / "reference_solutions" / "hw4-transfer"
SOURCES = ["download.py", "split.py", "make_shapes.py", "train.py", "README.md", "requirements.txt"]
SHAPES = ["make_shapes.py", "--out", "data", "--train", "24", "--val", "8", "--test", "8",
          "--size", "32"]  # fmt: skip
pytestmark = [pytest.mark.slow, needs_hw4_stack, needs_bwrap_binary]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The instructor's hw4 folder with a measured reference.json, and a student tree: the
    reference with small generated data and its own committed smoke-trained model."""
    base = tmp_path_factory.mktemp("hw4-tests")
    instructor = base / "instructor"
    shutil.copytree(REFERENCE, instructor / "hw4-transfer",
                    ignore=shutil.ignore_patterns("__pycache__", "example_output"))  # fmt: skip
    env = {**os.environ, "GRADER_INSTRUCTOR_DIR": str(instructor)}
    done = subprocess.run(
        [sys.executable, "-m", "grader", "reference", "hw4-transfer", "--rerun", "smoke",
         "--setup", " ".join(["python", *SHAPES])],
        env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    student = base / "student"
    student.mkdir()
    for name in SOURCES:
        shutil.copy(REFERENCE / name, student / name)
    run = {"cwd": student, "check": True, "capture_output": True, "timeout": 600}
    subprocess.run([sys.executable, *SHAPES], **run)
    smoke = {**os.environ, "SMOKE": "1", "EPOCHS": "1", "TORCH_HOME": str(student / ".none")}
    subprocess.run([sys.executable, "train.py", "--out", "output"], env=smoke, **run)
    git_save(student, "homework 4", date="2020-11-09T18:00:00+01:00")
    return {"instructor": instructor, "student": student}


def graded_tests(course: dict[str, Path], tree: Path, tmp_path: Path, monkeypatch) -> dict:
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(course["instructor"]))
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app,
        ["grade", "hw4-transfer", "--repo", str(make_bare(tree)), "--student", "ABC123",
         "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    checks = json.loads((out / "ABC123" / "result.json").read_text())["checks"]
    return next(c for c in checks if c["id"] == "tests")


def test_reference_json_holds_the_measured_smoke_run(course):
    data = json.loads((course["instructor"] / "hw4-transfer" / "reference.json").read_text())
    smoke = data["runs"]["smoke"]
    assert 0.0 <= smoke["metrics"]["hidden_accuracy"] <= 1.0
    assert smoke["metrics"]["hidden_n"] == 40
    assert {t["name"] for t in smoke["tests"]} >= {"test_model_on_hidden_images"}
    assert smoke["environment"]["sandbox"].startswith("bubblewrap")
    assert smoke["date"] and smoke["checks"]["rerun"]["status"] == "pass"


def test_the_reference_earns_every_test_point(course, tmp_path, monkeypatch):
    check = graded_tests(course, course["student"], tmp_path, monkeypatch)
    assert check["status"] == "pass", check["message"]
    assert check["points"] == check["max_points"] == 4
    assert check["facts"]["metrics"]["hidden_n"] == 40
    assert check["facts"]["leaderboard"]["metric"] == "hidden_accuracy"


def flawed(course: dict[str, Path], tmp_path: Path, file: str, old: str, new: str) -> Path:
    tree = tmp_path / "flawed"
    shutil.copytree(course["student"], tree, ignore=shutil.ignore_patterns(".git"))
    text = (tree / file).read_text()
    assert old in text
    (tree / file).write_text(text.replace(old, new))
    git_save(tree, "a mistake", date="2020-11-10T12:00:00+01:00")
    return tree


def test_a_head_with_1000_outputs_loses_the_shape_and_the_hidden_points(
    course, tmp_path, monkeypatch
):
    tree = flawed(course, tmp_path, "train.py", "nn.Linear(model.fc.in_features, num_classes)",
                  "nn.Linear(model.fc.in_features, 1000)")  # fmt: skip
    check = graded_tests(course, tree, tmp_path, monkeypatch)
    lost = {t["name"] for t in check["facts"]["tests"] if t["status"] != "passed"}
    assert lost == {"test_model_maps_images_to_two_logits", "test_model_on_hidden_images"}
    assert check["points"] == 1


def test_an_overlapping_split_loses_the_split_point(course, tmp_path, monkeypatch):
    tree = flawed(course, tmp_path, "split.py", "out[split] = ordered[start : start + count]",
                  "out[split] = ordered[max(0, start - 50) : start - 50 + count]")  # fmt: skip
    check = graded_tests(course, tree, tmp_path, monkeypatch)
    lost = {t["name"] for t in check["facts"]["tests"] if t["status"] != "passed"}
    assert lost == {"test_split_gives_400_100_100_per_category"}
    assert check["points"] == 3

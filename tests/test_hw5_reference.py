"""Small homework 5 (a generative model for one CIFAR-10 class) through the CLI: the hidden
tests sample from the reference VAE (shape, value range, diversity, the instructor's
classifier stand-in) and it earns every point; golden flawed generators lose exactly the
points of the tests they break."""

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
from tests.markers import needs_bwrap_binary, needs_torch

REFERENCE = REPO_ROOT / "reference_solutions" / "hw5-generative"
pytestmark = [pytest.mark.slow, needs_torch, needs_bwrap_binary]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference with its generator trained (8 epochs on synthetic horses)."""
    tree = tmp_path_factory.mktemp("hw5") / "student"
    shutil.copytree(REFERENCE, tree, ignore=shutil.ignore_patterns("hidden_tests", "__pycache__"))
    run = {"cwd": tree, "check": True, "capture_output": True, "timeout": 900}
    make = [sys.executable, "make_class_images.py", "--cls", "horse", "--n", "600"]
    subprocess.run([*make, "--out", "data/horse.npy"], **run)
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    subprocess.run([sys.executable, "train.py", "--epochs", "8"], env=env, **run)
    shutil.rmtree(tree / "data")  # the training images are not part of the submission
    git_save(tree, "homework 5", date="2018-12-05T20:00:00+01:00")
    return tree


def graded(tree: Path, tmp_path: Path, monkeypatch) -> dict:
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(REPO_ROOT / "reference_solutions"))
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app,
        ["grade", "hw5-generative", "--repo", str(make_bare(tree)), "--student", "ABC123",
         "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return {c["id"]: c for c in json.loads((out / "ABC123" / "result.json").read_text())["checks"]}


def test_the_reference_generator_earns_every_point(trained, tmp_path, monkeypatch):
    checks = graded(trained, tmp_path, monkeypatch)
    tests = checks["tests"]
    assert tests["status"] == "pass", tests["message"]
    assert tests["points"] == 6
    assert tests["facts"]["metrics"]["recognised_share"] >= 0.6
    assert checks["training_log"]["status"] == "pass", checks["training_log"]["message"]


FLAWS = {
    # every sample the same image: only diversity fails
    "collapsed": ("return model.decode(z).numpy()", "return model.decode(z[:1].repeat(n, 1)).numpy()",
                  {"test_samples_are_diverse_not_collapsed"}),
    # floats from 0 to 255: out of range, and (clipped to [0, 1]) all white, alike and
    # unrecognisable
    "times 255": ("return model.decode(z).numpy()", "return 255 * model.decode(z).numpy()",
                  {"test_samples_have_the_value_range_of_images",
                   "test_samples_are_diverse_not_collapsed",
                   "test_the_classifier_stand_in_recognises_the_class"}),
}  # fmt: skip


@pytest.mark.parametrize("flaw", sorted(FLAWS))
def test_a_flawed_generator_loses_exactly_its_points(trained, tmp_path, monkeypatch, flaw):
    old, new, broken = FLAWS[flaw]
    tree = tmp_path / "flawed"
    shutil.copytree(trained, tree, ignore=shutil.ignore_patterns(".git"))
    source = (tree / "generate.py").read_text()
    assert old in source
    (tree / "generate.py").write_text(source.replace(old, new))
    git_save(tree, "a change", date="2018-12-06T12:00:00+01:00")
    tests = graded(tree, tmp_path, monkeypatch)["tests"]
    rows = tests["facts"]["tests"]
    assert {t["name"] for t in rows if t["status"] != "passed"} == broken
    assert tests["points"] == 6 - sum(t["points"] for t in rows if t["name"] in broken)

"""Small homework 2 (numpy network) through the CLI: the reference notebook earns every test
point, public ones in the self-check and hidden ones in the instructor's run; golden flawed
variants lose exactly the points of the tests they break."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.testing import git_save, make_bare
from tests.conftest import REPO_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem())),
]
REFERENCE = REPO_ROOT / "reference_solutions" / "hw2-numpy-network"
NOTEBOOK = (REFERENCE / "hw2_numpy_network.ipynb").read_text()


def gist(tmp_path: Path, text: str) -> Path:
    """A secret gist: one notebook at the root of a git repository."""
    root = tmp_path / "gist"
    root.mkdir()
    (root / "hf2 megoldás.ipynb").write_text(text)
    git_save(root, "HF2", date="2018-10-01T21:00:00+02:00")
    return root


def graded_tests(tmp_path: Path, text: str, monkeypatch) -> dict:
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(REPO_ROOT / "reference_solutions"))
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app,
        ["grade", "hw2-numpy-network", "--repo", str(make_bare(gist(tmp_path, text))),
         "--student", "ABC123", "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    checks = json.loads((out / "ABC123" / "result.json").read_text())["checks"]
    return next(c for c in checks if c["id"] == "tests")


def lost(check: dict) -> dict[str, float]:
    return {t["name"]: t["points"] for t in check["facts"]["tests"] if t["status"] != "passed"}


def test_reference_earns_every_point_and_self_check_runs_public_tests_only(tmp_path, monkeypatch):
    check = graded_tests(tmp_path, NOTEBOOK, monkeypatch)
    assert check["status"] == "pass", check["message"]
    assert check["points"] == check["max_points"] == 8
    assert sum(t["visibility"] == "hidden" for t in check["facts"]["tests"]) == 3
    out = tmp_path / "self"
    CliRunner().invoke(
        app, ["check", "hw2-numpy-network", str(tmp_path / "gist"), "--out", str(out)]
    )
    mine = next(c for c in json.loads((out / "result.json").read_text())["checks"]
                if c["id"] == "tests")  # fmt: skip
    assert mine["points"] == 5 and mine["status"] == "pass"
    assert {t["visibility"] for t in mine["facts"]["tests"]} == {"public"}


FLAWS = {
    # L2 without its factor 2: the public and the hidden regularisation tests fail
    "l2 gradient halved": (
        "return 2 * lam * weights",
        "return lam * weights",
        {"test_l2_gradient": 0.5, "test_regularisation_gradients_on_other_inputs": 1.0},
    ),
    # the mini-batch block's markers are misspelt
    "markers missing": (
        "# HF2 start mini-batch",
        "# HF2 begin minibatch",
        {"test_marked_blocks_exist": 1.0},
    ),
    # batches in the original order: covered, but never shuffled
    "no shuffling": (
        "order = np.random.default_rng(seed).permutation(len(x))",
        "order = np.arange(len(x))",
        {"test_minibatches_shuffle_and_cover": 1.0},
    ),
}


@pytest.mark.parametrize("flaw", sorted(FLAWS))
def test_a_flawed_variant_loses_exactly_its_points(tmp_path, monkeypatch, flaw):
    old, new, expected = FLAWS[flaw]
    assert json.dumps(old)[1:-1] in NOTEBOOK
    text = NOTEBOOK.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
    check = graded_tests(tmp_path, text, monkeypatch)
    assert lost(check) == expected, check["facts"]["tests"]
    assert check["points"] == 8 - sum(expected.values())

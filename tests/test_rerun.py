"""The `rerun` check: plans, discovery, modes, and reference solutions rerun end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader import pipeline
from grader.checks.rerun import RerunArgs, RerunCheck, discover
from grader.cli import app
from grader.pipeline import outcome_of_exception
from grader.results import EnvironmentFailure, Status, read_result
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.sandbox.queue import RunQueue
from grader.settings import RunSettings
from grader.testing import build_file_tree, git_save, make_bare
from tests.markers import needs_project_stack
from tests.rerun_helpers import make_ctx

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "reference_solutions" / "project"
needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))


def test_args_need_something_to_run():
    with pytest.raises(ValueError, match="commands"):
        RerunArgs()
    assert RerunArgs(discover=True).discover


@pytest.mark.parametrize(
    ("files", "commands", "notebooks"),
    [
        ({"train.py": "", "evaluate.py": ""}, ["python train.py", "python evaluate.py"], []),
        ({"main.py": "", "nb.ipynb": "{}"}, ["python main.py"], []),
        ({"Makefile": "all:\n\ttrue\ntrain: all\n\tpython x.py\n"}, ["make train"], []),
        ({"a/hello.ipynb": "{}", "README.md": ""}, [], ["a/hello.ipynb"]),
    ],
)
def test_discovery(tmp_path, files, commands, notebooks):
    ctx = make_ctx(build_file_tree(tmp_path / "s", files))
    assert discover(ctx) == (commands, notebooks)


def test_mode_none_from_the_front_door_skips(tmp_path):
    ctx = make_ctx(build_file_tree(tmp_path / "s", {"train.py": "print(1)"}), rerun="none")
    outcome = RerunCheck().run(ctx, RerunArgs(commands=["python train.py"]))
    assert outcome.status == Status.SKIPPED
    with pytest.raises(ValueError, match="unknown rerun mode 'bogus': use one of none, smoke"):
        make_ctx(tmp_path, rerun="bogus")


def test_instructor_grading_refuses_without_bubblewrap(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_FORCE_PLAIN", "1")
    monkeypatch.delenv("GRADER_ALLOW_UNSANDBOXED", raising=False)
    ctx = make_ctx(build_file_tree(tmp_path / "s", {"train.py": "print(1)"}))
    ctx.queue = RunQueue(gpus=[], lock_dir=tmp_path / "locks")
    with pytest.raises(EnvironmentFailure) as raised:  # the grader's machine, not the student
        RerunCheck().run(ctx, RerunArgs(commands=["python train.py"]))
    outcome = outcome_of_exception(raised.value)
    assert outcome.status == Status.ENVIRONMENT and outcome.facts["environment"] == "sandbox"
    assert "cannot be sandboxed" in outcome.message
    assert "GRADER_ALLOW_UNSANDBOXED" in outcome.message


def test_self_check_runs_unsandboxed_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_FORCE_PLAIN", "1")
    work = build_file_tree(tmp_path / "s", {"train.py": "print('Epoch 1/1 - loss: 0.5')"})
    ctx = make_ctx(work, mode="worktree")
    ctx.queue = RunQueue(gpus=[], lock_dir=tmp_path / "locks")
    outcome = RerunCheck().run(ctx, RerunArgs(commands=["python train.py"]))
    assert outcome.status == Status.WARN
    assert outcome.message.startswith("NOT ISOLATED")
    assert outcome.facts["isolated"] is False
    assert outcome.facts["history"]["phases"][0]["epochs"][0]["metrics"]["loss"] == 0.5


@needs_bwrap
def test_failing_command_is_a_clear_failure(tmp_path):
    work = build_file_tree(tmp_path / "s", {"train.py": "raise SystemExit('no data folder')"})
    ctx = make_ctx(work)
    ctx.queue = RunQueue(gpus=[], lock_dir=tmp_path / "locks")
    outcome = RerunCheck().run(ctx, RerunArgs(commands=["python train.py", "python never.py"]))
    assert outcome.status == Status.FAIL
    assert "`python train.py` exited with status 1" in outcome.message
    assert "no data folder" in outcome.evidence[0].detail
    assert len(outcome.facts["runs"]) == 1  # stops at the first failure


@needs_bwrap
def test_smoke_settings_and_artifacts(tmp_path):
    script = (
        "import os, sys, json\n"
        "epochs = int(os.environ.get('EPOCHS', '50'))\n"
        "extra = sys.argv[1:]\n"
        "for e in range(1, epochs + 1):\n"
        "    print(f'Epoch {e}/{epochs} - loss: {1 / e:.4f} - accuracy: {0.5 + e / 100:.4f}')\n"
        "json.dump({'test_accuracy': 0.7, 'argv': extra}, open('metrics.json', 'w'))\n"
    )
    work = build_file_tree(tmp_path / "s", {"train.py": script, "data.csv": "a,b\n1,2\n"})
    ctx = make_ctx(work)
    ctx.queue = RunQueue(gpus=[], lock_dir=tmp_path / "locks")
    args = RerunArgs(
        commands=["python train.py"], smoke={"env": {"EPOCHS": "2"}, "args": ["--fast"]}
    )
    outcome = RerunCheck().run(ctx, args)
    assert outcome.status == Status.PASS, outcome.message
    assert "smoke mode on cpu" in outcome.message
    assert outcome.facts["artifacts"] == ["metrics.json"]  # data.csv was not produced
    produced = json.loads((Path(outcome.facts["artifacts_dir"]) / "metrics.json").read_text())
    assert produced["argv"] == ["--fast"]
    history = outcome.facts["history"]
    assert len(history["phases"][0]["epochs"]) == 2
    assert not (work / "metrics.json").exists()  # the graded tree is never written


# ---- the project reference solution, through the CLI ------------------------------------

SPEC = """
id: project
title: Project rerun
course: test
deadline: "2020-12-11 23:59"
checks:
  - check: rerun
    points: 2
    args:
      commands: ["python train.py", "python evaluate.py"]
      smoke: {args: ["--epochs", "3"], timeout: 300}
      timeout: 300
  - check: compare
    points: 2
    args: {metric: test_accuracy, tolerance: 0.01}
"""


def _project_repo(tmp_path: Path, tamper: bool) -> Path:
    root = tmp_path / "student"
    shutil.copytree(PROJECT, root, ignore=shutil.ignore_patterns("__pycache__", "*.pdf", "*.ipynb"))
    if tamper:  # a log that claims what the code cannot reach
        log = (root / "logs" / "train.log").read_text().splitlines()
        fake = [
            line.replace("accuracy: 0.", "accuracy: 0.9") if line.startswith("Epoch") else line
            for line in log
        ]
        (root / "logs" / "train.log").write_text("\n".join(fake) + "\n")
        metrics = json.loads((root / "results" / "metrics.json").read_text())
        metrics["accuracy"] = 0.99
        (root / "results" / "metrics.json").write_text(json.dumps(metrics))
    git_save(root, "project", date="2020-12-10T12:00:00+01:00")
    return root


def _setup(tmp_path: Path, monkeypatch, tamper: bool) -> tuple[Path, Path]:
    instructor = tmp_path / "instructor"
    build_file_tree(
        instructor, {"project/reference.json": json.dumps({"metrics": {"test_accuracy": 0.9667}})}
    )
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(instructor))
    spec = tmp_path / "project.yaml"
    spec.write_text(SPEC)
    return spec, _project_repo(tmp_path, tamper)


def _self_check(tmp_path: Path, monkeypatch, mode: str, tamper: bool) -> dict:
    spec, root = _setup(tmp_path, monkeypatch, tamper)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["check", str(spec), str(root), "--out", str(out), "--rerun", mode]
    )
    assert result.exit_code in (0, 1), result.output
    data = read_result(out / "result.json")
    return {c.id: c for c in data.checks}


@needs_bwrap
@pytest.mark.slow
@needs_project_stack
def test_project_reference_smoke_rerun_is_consistent(tmp_path, monkeypatch):
    checks = _self_check(tmp_path, monkeypatch, "smoke", tamper=False)
    rerun, compare = checks["rerun"], checks["compare"]
    assert rerun.status == Status.PASS, rerun.message
    assert rerun.facts["isolated"] is True
    assert "results/metrics.json" in rerun.facts["artifacts"]
    assert compare.status == Status.PASS, compare.message
    assert compare.message.startswith("consistent")
    assert compare.facts["early_epochs"]["compared"] >= 4
    assert compare.facts["early_epochs"]["mismatches"] == []
    assert compare.facts["svg"].startswith("<svg")
    assert compare.points == 2


@needs_bwrap
@pytest.mark.slow
@needs_project_stack
def test_instructor_grading_pins_and_reruns_in_the_sandbox(tmp_path, monkeypatch):
    spec_path, root = _setup(tmp_path, monkeypatch, tamper=True)
    spec = pipeline.load_assignment(spec_path)
    result = pipeline.grade(
        spec, str(make_bare(root)), "ABC123", tmp_path / "out", settings=RunSettings(rerun="full")
    )
    checks = {c.id: c for c in result.checks}
    assert checks["rerun"].status == Status.PASS, checks["rerun"].message
    assert checks["rerun"].facts["mode"] == "full"
    assert (tmp_path / "out" / "rerun" / "rerun" / "results" / "metrics.json").is_file()
    compare = checks["compare"]
    assert compare.status == Status.MANUAL
    assert compare.facts["rerun"] == pytest.approx(0.9667, abs=0.01)
    assert compare.facts["claimed"] == 0.99
    assert "log does not match a rerun" in compare.message

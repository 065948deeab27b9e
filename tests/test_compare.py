"""The `compare` check: claimed vs rerun vs reference, and the hw4 reference end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.checks.compare import CompareArgs, CompareCheck, band_fraction, early_epochs, trend
from grader.cli import app
from grader.logs import parse_text
from grader.results import CheckResult, Status, read_result
from grader.sandbox.bwrap import bwrap_available
from grader.testing import build_file_tree, git_save
from tests.markers import needs_hw4_stack
from tests.rerun_helpers import make_ctx

ROOT = Path(__file__).resolve().parent.parent
HW4 = ROOT / "reference_solutions" / "hw4-transfer"


def log(values: list[tuple[float, float]], test: float | None = None) -> str:
    lines = [
        f"Epoch {i}/{len(values)} - loss: {loss:.4f} - accuracy: {acc:.4f}"
        for i, (loss, acc) in enumerate(values, 1)
    ]
    if test is not None:
        lines.append(f"Test accuracy: {test:.4f}")
    return "\n".join(lines) + "\n"


HONEST = [(0.9, 0.60), (0.7, 0.70), (0.5, 0.80), (0.4, 0.85), (0.35, 0.88)]


def ctx_with(
    tmp_path,
    committed: str,
    rerun_text: str,
    mode: str,
    reference: float | None,
    measured: float | None = None,
):
    work = build_file_tree(tmp_path / "s", {"training.log": committed})
    ctx = make_ctx(work, spec_id="hw")
    facts = {"mode": mode, "history": parse_text(rerun_text, "rerun output").to_dict()}
    ctx.previous.append(CheckResult("rerun", Status.PASS, 0, 0, "ok", facts=facts))
    if measured is not None:  # the tests check evaluated the rerun's model on hidden data
        tests = {"metrics": {"test_accuracy": measured}}
        ctx.previous.append(CheckResult("tests", Status.PASS, 0, 0, "ok", facts=tests))
    instructor = tmp_path / "instructor"
    if reference is not None:
        build_file_tree(instructor, {"hw/reference.json": json.dumps({"test_accuracy": reference})})
    else:
        instructor.mkdir()
    return ctx, instructor


@pytest.fixture
def run_compare(tmp_path, monkeypatch):
    def go(committed, rerun_text, mode="full", reference=0.9, measured=None, **args):
        ctx, instructor = ctx_with(tmp_path, committed, rerun_text, mode, reference, measured)
        if measured is not None:
            args.setdefault("measured", "tests")
        monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(instructor))
        return CompareCheck().run(ctx, CompareArgs(**args))

    return go


def test_full_rerun_matching_the_log_is_consistent(run_compare):
    outcome = run_compare(log(HONEST, 0.87), log(HONEST, 0.88), measured=0.86)
    assert outcome.status == Status.PASS
    assert outcome.message.startswith(
        "consistent: claimed 0.87, rerun printed (full) 0.88, measured 0.86, reference 0.9"
    )
    assert outcome.fraction == 1.0  # measured 0.86 / 0.9 >= 90%
    assert outcome.facts["svg"].startswith("<svg")


def test_printed_numbers_never_score(run_compare):
    """Without a measurement the rerun's printed accuracy earns no band: only agreement."""
    printed_only = run_compare(log(HONEST, 0.72), log(HONEST, 0.72))
    assert printed_only.status == Status.PASS
    assert printed_only.fraction is None
    assert "printed numbers never score" in printed_only.message
    waiting = run_compare(log(HONEST, 0.72), log(HONEST, 0.72), measured=0.7, measured_metric="f1")
    assert waiting.status == Status.MANUAL
    assert "recorded no f1" in waiting.message


def test_printed_accuracy_far_from_the_measured_one_is_flagged(run_compare):
    outcome = run_compare(log(HONEST, 0.88), log(HONEST, 0.88), measured=0.51)
    assert outcome.status == Status.MANUAL
    assert "the grader measures 0.51 on its own data" in outcome.message
    assert outcome.fraction == 0.0


def test_full_rerun_far_from_the_log_is_flagged(run_compare):
    outcome = run_compare(log(HONEST, 0.99), log(HONEST, 0.71))
    assert outcome.status == Status.MANUAL
    assert "log does not match a rerun" in outcome.message
    assert outcome.facts["consistency"] == "mismatch"
    warn = run_compare(log(HONEST, 0.99), log(HONEST, 0.71), mismatch="warn")
    assert warn.status == Status.WARN and warn.fraction == 0.0


def test_score_bands_on_the_measured_value(run_compare):
    outcome = run_compare(log(HONEST, 0.72), log(HONEST, 0.72), measured=0.72)
    assert outcome.status == Status.PASS
    assert outcome.fraction == 0.5  # 80% of the reference
    assert outcome.facts["ratio_to_reference"] == pytest.approx(0.8)


def test_missing_reference_is_pending_not_failed(run_compare):
    outcome = run_compare(log(HONEST, 0.87), log(HONEST, 0.87), reference=None, measured=0.87)
    assert outcome.status == Status.MANUAL
    assert "reference metrics pending" in outcome.message


def test_smoke_compares_first_epochs_and_plausibility(run_compare):
    smoke = log(HONEST[:2])
    ok = run_compare(log(HONEST, 0.87), smoke, mode="smoke")
    assert ok.status == Status.PASS, ok.message
    assert "smoke rerun" in ok.message
    assert ok.facts["early_epochs"] == {"compared": 4, "mismatches": []}
    invented = [(0.2, 0.97), (0.1, 0.99)] + HONEST[2:]
    bad = run_compare(log(invented, 0.87), smoke, mode="smoke")
    assert bad.status == Status.MANUAL
    assert "first epochs differ" in bad.message
    boast = run_compare(log(HONEST, 0.99), smoke, mode="smoke", reference=0.85)
    assert boast.status == Status.MANUAL
    assert "beyond the reference" in boast.message


def test_failed_or_skipped_rerun(tmp_path, monkeypatch):
    ctx, instructor = ctx_with(tmp_path, log(HONEST, 0.8), log(HONEST), "full", 0.9)
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(instructor))
    ctx.previous[0].status = Status.FAIL
    assert CompareCheck().run(ctx, CompareArgs()).status == Status.MANUAL
    ctx.previous[0].status = Status.SKIPPED
    assert CompareCheck().run(ctx, CompareArgs()).status == Status.SKIPPED
    ctx.previous.clear()
    assert CompareCheck().run(ctx, CompareArgs()).status == Status.SKIPPED


def test_regenerated_predictions_are_compared(tmp_path, monkeypatch):
    ctx, instructor = ctx_with(tmp_path, log(HONEST, 0.8), log(HONEST, 0.8), "full", 0.9)
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(instructor))
    build_file_tree(ctx.workdir, {"predictions.csv": "date,t\n2020-10-28,11.5\n2020-11-03,9.0\n"})
    artifacts = build_file_tree(
        tmp_path / "art", {"predictions.csv": "date,t\n2020-10-28,11.5\n2020-11-03,7.5\n"}
    )
    ctx.previous[0].facts["artifacts_dir"] = str(artifacts)
    outcome = CompareCheck().run(ctx, CompareArgs(predictions=["predictions.csv"]))
    assert outcome.status == Status.MANUAL
    assert any(e.verdict == "differs" and "1.5" in e.detail for e in outcome.evidence)


def test_helpers():
    assert trend(parse_text(log(HONEST)), 3) == "down"
    assert trend(parse_text(log([(0.5, 0.5), (0.9, 0.4)])), 3) == "up"
    assert band_fraction(0.5, 1.0, CompareArgs()) == (0.0, 0.5)
    compared, mismatches = early_epochs(
        parse_text(log(HONEST)), parse_text(log([(0.9, 0.61), (0.9, 0.7)])), CompareArgs()
    )
    assert compared == 4 and mismatches == ["epoch 2 loss: log 0.7, rerun 0.9"]


# ---- the hw4 reference solution, rerun in the sandbox through the CLI --------------------

TRAIN = "python train.py --data data --weights none --image-size 32 --device cpu --workers 0"
SPEC = f"""
id: hw4-transfer
title: hw4 rerun
course: test
deadline: "2020-11-10 23:59"
checks:
  - check: rerun
    points: 2
    args:
      commands: ["{TRAIN} --out output"]
      gpu: optional
      smoke: {{args: ["--epochs-head", "1", "--epochs-finetune", "1"], timeout: 300}}
  - check: compare
    points: 2
    args: {{metric: test_accuracy}}
"""


@pytest.fixture(scope="module")
def hw4_submission(tmp_path_factory) -> tuple[Path, float]:
    """The hw4 reference with tiny generated images and its own (honest) committed log."""
    root = tmp_path_factory.mktemp("hw4") / "student"
    shutil.copytree(HW4, root, ignore=shutil.ignore_patterns("__pycache__", "data", "*output"))
    py = sys.executable
    subprocess.run(
        [py, "make_shapes.py", "--out", "data", "--train", "8", "--val", "4", "--test", "4"],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip
    command = [py, *TRAIN.split()[1:], "--epochs-head", "1", "--epochs-finetune", "1"]
    subprocess.run([*command, "--out", "output"], cwd=root, check=True, capture_output=True)
    accuracy = json.loads((root / "output" / "metrics.json").read_text())["test"]["accuracy"]
    return root, accuracy


def _grade_hw4(tmp_path, monkeypatch, root: Path, reference: float) -> dict[str, CheckResult]:
    student = tmp_path / "student"
    shutil.copytree(root, student)
    git_save(student, "hw4", date="2020-11-09T12:00:00+01:00")
    build_file_tree(
        tmp_path / "instructor",
        {"hw4-transfer/reference.json": json.dumps({"metrics": {"test_accuracy": reference}})},
    )
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(tmp_path / "instructor"))
    (tmp_path / "hw4.yaml").write_text(SPEC)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["check", str(tmp_path / "hw4.yaml"), str(student), "--out", str(out), "--rerun", "smoke"],
    )
    assert result.exit_code in (0, 1), result.output
    return {c.id: c for c in read_result(out / "result.json").checks}


needs_hw4 = pytest.mark.skipif(
    not bwrap_available() or not (HW4 / "train.py").is_file(),
    reason="needs a working bubblewrap and the hw4 reference solution",
)


@needs_hw4
@needs_hw4_stack
@pytest.mark.slow
def test_hw4_reference_smoke_rerun_is_consistent(tmp_path, monkeypatch, hw4_submission):
    root, accuracy = hw4_submission
    checks = _grade_hw4(tmp_path, monkeypatch, root, reference=accuracy)
    assert checks["rerun"].status == Status.PASS, checks["rerun"].message
    assert checks["rerun"].facts["isolated"] is True
    assert len(checks["rerun"].facts["history"]["phases"]) == 2  # both stages rerun
    compare = checks["compare"]
    assert compare.status == Status.PASS, compare.message
    assert compare.facts["consistency"] == "consistent"
    assert compare.facts["early_epochs"]["mismatches"] == []


@needs_hw4
@needs_hw4_stack
@pytest.mark.slow
def test_hw4_log_claiming_099_is_flagged(tmp_path, monkeypatch, hw4_submission):
    root, accuracy = hw4_submission
    fake = tmp_path / "fake"
    shutil.copytree(root, fake)
    text = (fake / "output" / "training.log").read_text()
    lines = [
        "Test accuracy: 0.9900" if line.startswith("Test accuracy") else line
        for line in text.splitlines()
    ]
    (fake / "output" / "training.log").write_text("\n".join(lines) + "\n")
    metrics = json.loads((fake / "output" / "metrics.json").read_text())
    metrics["test"]["accuracy"] = 0.99
    (fake / "output" / "metrics.json").write_text(json.dumps(metrics))
    checks = _grade_hw4(tmp_path, monkeypatch, fake, reference=accuracy)
    compare = checks["compare"]
    assert compare.status in (Status.WARN, Status.MANUAL)
    assert "log does not match a rerun" in compare.message
    assert compare.facts["claimed"] == 0.99

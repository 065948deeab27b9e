"""Homework 4 end to end: the reference solution runs offline on CPU, and graded as a real
git repository through the CLI it earns full marks; flawed copies lose exactly the points
the spec assigns to their flaw."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from grader.cli import app
from grader.logs import parse_file
from grader.testing import git_save, make_bare
from tests.markers import needs_hw4_stack

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE = REPO_ROOT / "reference_solutions" / "hw4-transfer"
SOURCES = ["download.py", "split.py", "make_shapes.py", "train.py", "README.md", "requirements.txt"]
ON_TIME = "2020-11-09T18:00:00+01:00"

# the reference trains with PyTorch: without it (a plain `pip install grader[dev]`) these skip
pytestmark = [
    pytest.mark.slow,
    needs_hw4_stack,
]


def python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference's real entry points: shapes data, then both stages on CPU."""
    work = tmp_path_factory.mktemp("run")
    python(str(REFERENCE / "make_shapes.py"), "--out", "data", "--train", "8", "--val", "4",
           "--test", "4", "--size", "32", cwd=work)  # fmt: skip
    python(str(REFERENCE / "train.py"), "--data", "data", "--weights", "none",
           "--epochs-head", "1", "--epochs-finetune", "1", "--image-size", "32",
           "--batch-size", "8", "--device", "cpu", "--workers", "0", "--out", "output",
           cwd=work)  # fmt: skip
    return work / "output"


def test_training_writes_metrics_and_a_two_stage_log(trained: Path) -> None:
    metrics = json.loads((trained / "metrics.json").read_text())["test"]
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["f1"] <= 1
    assert metrics["classes"] == ["circle", "square"]
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["images"] == 8
    history = parse_file(trained / "training.log")
    assert [p.name for p in history.phases] == [
        "Stage 1: training only the fully connected head",
        "Stage 2: fine-tuning layer4 and the head (lower layers frozen)",
    ]
    assert [len(p.epochs) for p in history.phases] == [1, 1]
    assert set(history.epochs[0].metrics) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.test_metrics["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-4)


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory, trained: Path) -> Path:
    """The reference as a student would commit it: code, 400/100/100 tiny images, outputs."""
    tree = tmp_path_factory.mktemp("tree") / "hw4"
    tree.mkdir()
    for name in SOURCES:
        shutil.copy(REFERENCE / name, tree / name)
    python("make_shapes.py", "--out", "data", "--size", "32", cwd=tree)
    shutil.copytree(trained, tree / "output")
    return tree


def grade(tmp_path: Path, tree: Path, curves: bool = True) -> dict:
    repo = tmp_path / "repo"
    shutil.copytree(tree, repo)
    git_save(repo, "homework 4", date=ON_TIME)
    bare = make_bare(repo, tmp_path / "remote.git")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["grade", "hw4-transfer", "--repo", str(bare), "--student", "ABC123", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert ("<svg" in (out / "ABC123" / "report.html").read_text()) == curves
    return json.loads((out / "ABC123" / "result.json").read_text())


def excerpt(result: dict) -> dict:
    """The golden part of result.json: status and points of every check."""
    return {c["id"]: [c["status"], c["points"], c["max_points"]] for c in result["checks"]}


FULL_MARKS = {
    "files": ["pass", 2.0, 2.0],
    "english": ["pass", 1.0, 1.0],
    "git_history": ["pass", 1.0, 1.0],
    "dataset_split": ["pass", 3.0, 3.0],
    "code_evidence": ["pass", 4.0, 4.0],
    "training_log": ["pass", 3.0, 3.0],
    "notebooks": ["skipped", 0.0, 0.0],
    # static grading (--rerun none; see test_bundled_reruns): pending, in the maximum
    "rerun": ["skipped", 0.0, 2.0],
    "compare": ["skipped", 0.0, 2.0],
}


def test_reference_earns_full_marks(tmp_path: Path, submission: Path) -> None:
    result = grade(tmp_path, submission)
    assert excerpt(result) == FULL_MARKS
    assert (result["score"], result["max_score"]) == (14.0, 18.0)  # 4 points pending
    checks = {c["id"]: c for c in result["checks"]}
    assert checks["training_log"]["facts"]["phases"] == [
        {"name": "Stage 1: training only the fully connected head", "epochs": 1},
        {"name": "Stage 2: fine-tuning layer4 and the head (lower layers frozen)", "epochs": 1},
    ]
    assert checks["dataset_split"]["facts"]["counts"]["train"] == {"circle": 400, "square": 400}
    assert checks["dataset_split"]["facts"]["hashed_images"] == 1200


def variant(tmp_path: Path, submission: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(submission, tree)
    return tree


def test_one_class_with_390_training_images(tmp_path: Path, submission: Path) -> None:
    tree = variant(tmp_path, submission)
    for path in sorted((tree / "data/train/square").iterdir())[390:]:
        path.unlink()
    result = grade(tmp_path, tree)
    assert excerpt(result) == {**FULL_MARKS, "dataset_split": ["fail", 2.0, 3.0]}
    split = next(c for c in result["checks"] if c["id"] == "dataset_split")
    assert split["facts"]["parts"] == {"counts": False, "balance": True, "no_leakage": True}
    assert "train/square has 390 images, 400 expected (±8)" in split["message"]


def test_test_images_leaked_into_training(tmp_path: Path, submission: Path) -> None:
    tree = variant(tmp_path, submission)
    train, test = tree / "data/train/circle", tree / "data/test/circle"
    victims = sorted(train.iterdir())[:5]
    sources = sorted(test.iterdir())[:5]
    for index, (victim, source) in enumerate(zip(victims, sources, strict=True)):
        victim.unlink()
        if index == 0:  # re-encoded as JPEG and resized
            buffer = io.BytesIO()
            Image.open(source).resize((40, 40)).save(buffer, "JPEG", quality=80)
            (train / "leak0.jpg").write_bytes(buffer.getvalue())
        else:
            shutil.copy(source, train / f"leak{index}.png")
    result = grade(tmp_path, tree)
    assert excerpt(result) == {**FULL_MARKS, "dataset_split": ["fail", 2.0, 3.0]}
    split = next(c for c in result["checks"] if c["id"] == "dataset_split")
    pairs = sorted((p["a"], p["b"], p["kind"]) for p in split["facts"]["leaked_pairs"])
    assert pairs == sorted(
        [("data/train/circle/leak0.jpg", f"data/test/circle/{sources[0].name}", "near_duplicate")]
        + [(f"data/train/circle/leak{i}.png", f"data/test/circle/{sources[i].name}", "identical")
           for i in range(1, 5)]
    )  # fmt: skip


def test_no_log_file(tmp_path: Path, submission: Path) -> None:
    tree = variant(tmp_path, submission)
    shutil.rmtree(tree / "output")
    result = grade(tmp_path, tree, curves=False)
    assert excerpt(result) == {
        **FULL_MARKS,
        "files": ["fail", 1.5, 2.0],  # the training output is one of four deliverables
        "training_log": ["fail", 0.0, 3.0],
    }
    log = next(c for c in result["checks"] if c["id"] == "training_log")
    assert log["message"].startswith("no log file with training output found (searched **/*.log")


def test_split_is_deterministic_and_disjoint(tmp_path: Path) -> None:
    python(str(REFERENCE / "make_shapes.py"), "--out", "shapes", "--train", "10", "--val", "0",
           "--test", "0", "--size", "16", cwd=tmp_path)  # fmt: skip
    shutil.copytree(tmp_path / "shapes" / "train", tmp_path / "downloads")
    for out in ("a", "b"):
        python(str(REFERENCE / "split.py"), "--src", "downloads", "--dst", out,
               "--counts", "6", "2", "2", cwd=tmp_path)  # fmt: skip
    manifest = (tmp_path / "a" / "split.csv").read_text()
    assert manifest == (tmp_path / "b" / "split.csv").read_text()  # same seed, same split
    rows = [line.split(",") for line in manifest.splitlines()[1:]]
    assert len(rows) == 20 and len({Path(r[0]).name for r in rows}) == 20  # no image twice
    for split, count in (("train", 6), ("val", 2), ("test", 2)):
        for label in ("circle", "square"):
            assert len(list((tmp_path / "a" / split / label).iterdir())) == count
    short = subprocess.run(
        [sys.executable, str(REFERENCE / "split.py"), "--src", "downloads", "--dst", "c"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert short.returncode != 0 and "10 images, 600 needed; download more" in short.stderr

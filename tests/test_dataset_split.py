"""`dataset_split`: counts per class and split, balance, and leakage between splits."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from grader.checks.registry import args_models
from grader.pipeline import self_check
from grader.results import Status
from grader.spec import SpecError, parse_spec_text

SPEC = """\
id: t
title: T
course: c
deadline: "2020-11-10 23:59"
checks:
  - check: dataset_split
    points: 3
    args:
{args}
"""
FULL = "      expected: {train: 400, val: 100, test: 100}\n      tolerance: 0.02"


def spec_for(args: str = FULL):
    return parse_spec_text(SPEC.format(args=args), "t.yaml", args_models())


def random_image(rng: np.random.Generator, size: int = 32) -> Image.Image:
    """A smooth random colour field: unlike any other to a perceptual hash."""
    coarse = rng.uniform(0, 255, (6, 6, 3)).astype(np.uint8)
    return Image.fromarray(coarse, "RGB").resize((size, size), Image.Resampling.BICUBIC)


def make_layout(root: Path, counts: dict[str, int], classes=("cat", "dog"), seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for split, count in counts.items():
        for label in classes:
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                random_image(rng).save(folder / f"{index:04d}.png")


@pytest.fixture(scope="module")
def base_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    make_layout(root / "data", {"train": 400, "val": 100, "test": 100})
    return root


def copy_of(base: Path, tmp_path: Path) -> Path:
    target = tmp_path / "w"
    shutil.copytree(base, target)
    return target


def run(path: Path, spec=None):
    return self_check(spec or spec_for(), path).checks[0]


def test_correct_layout_passes_with_counts(base_layout: Path, tmp_path: Path) -> None:
    result = run(copy_of(base_layout, tmp_path))
    assert result.status == Status.PASS, result.message
    assert result.points == 3
    assert result.facts["counts"] == {
        "train": {"cat": 400, "dog": 400}, "val": {"cat": 100, "dog": 100},
        "test": {"cat": 100, "dog": 100},
    }  # fmt: skip
    assert result.facts["leaked_pairs"] == [] and result.facts["hashed_images"] == 1200


def test_one_class_short_of_training_images(base_layout: Path, tmp_path: Path) -> None:
    root = copy_of(base_layout, tmp_path)
    for index in range(390, 400):
        (root / "data/train/dog" / f"{index:04d}.png").unlink()
    result = run(root)
    assert result.status == Status.FAIL
    assert result.points == 2  # counts lost; still balanced (2.5% apart) and no leakage
    assert result.facts["parts"] == {"counts": False, "balance": True, "no_leakage": True}
    assert "train/dog has 390 images, 400 expected (±8)" in result.message


def test_test_images_copied_into_train_are_all_found(base_layout: Path, tmp_path: Path) -> None:
    root = copy_of(base_layout, tmp_path)
    test_dir, train_dir = root / "data/test/cat", root / "data/train/cat"
    for index in range(5):  # replace 5 training images by copies of test images
        (train_dir / f"{index:04d}.png").unlink()
        source = test_dir / f"{index:04d}.png"
        if index == 0:  # re-encoded as JPEG and resized: not the same bytes
            buffer = io.BytesIO()
            Image.open(source).resize((48, 48)).save(buffer, "JPEG", quality=85)
            (train_dir / "copy0.jpg").write_bytes(buffer.getvalue())
        else:
            shutil.copy(source, train_dir / f"copy{index}.png")
    result = run(root)
    assert result.status == Status.FAIL
    assert result.points == 2
    pairs = {(p["a"], p["b"], p["kind"]) for p in result.facts["leaked_pairs"]}
    assert ("data/train/cat/copy0.jpg", "data/test/cat/0000.png", "near_duplicate") in pairs
    for index in range(1, 5):
        assert (
            f"data/train/cat/copy{index}.png", f"data/test/cat/{index:04d}.png", "identical"
        ) in pairs  # fmt: skip
    assert len(pairs) == 5
    assert "5 image pair(s) leak across splits (identical, near duplicate)" in result.message
    assert any(e.verdict == "near_duplicate" for e in result.evidence)


def test_unbalanced_classes_and_wrong_class_count(tmp_path: Path) -> None:
    root = tmp_path / "w"
    make_layout(root / "Dataset", {"Train": 10, "Validation": 3, "TEST": 3}, ("a", "b", "c"))
    for index in range(5):
        (root / "Dataset/Train/c" / f"{index:04d}.png").unlink()
    spec = spec_for("      expected: {train: 10, valid: 3, test: 3}\n      balance_tolerance: 0.2")
    result = run(root, spec)
    assert result.facts["counts"]["val"] == {"a": 3, "b": 3, "c": 3}
    assert result.facts["parts"] == {"counts": False, "balance": False, "no_leakage": True}
    assert "train has 3 class(es) (a, b, c), 2 expected" in result.message
    assert "train is unbalanced" in result.message


def test_manifest_without_committed_images(tmp_path: Path) -> None:
    rows = ["path,split,label"]
    for split, count in (("train", 4), ("val", 1), ("test", 1)):
        for label in ("cat", "dog"):
            rows += [f"{split}/{label}/{split}{label}{i}.jpg,{split},{label}" for i in range(count)]
    rows.append("test/cat/traincat0.jpg,test,cat")  # an image id listed in two splits
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "split_manifest.csv").write_text("\n".join(rows) + "\n")
    spec = spec_for("      expected: {train: 4, val: 1, test: 1}\n      tolerance: 1")
    result = run(tmp_path / "w", spec)
    assert result.facts["source"] == "manifest"
    assert result.facts["counts"]["test"] == {"cat": 2, "dog": 1}
    assert [p["kind"] for p in result.facts["leaked_pairs"]] == ["same_name"]
    assert result.facts["parts"]["no_leakage"] is False
    assert "not committed: compared by name only" in result.message


def test_malformed_manifest_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "manifest.csv").write_text("path,split,label\na.jpg,holdout,cat\n")
    result = run(tmp_path / "w")
    assert result.status == Status.FAIL
    assert result.message.startswith("manifest.csv:2: needs a path and a split")


def test_nothing_committed_can_be_left_to_the_instructor(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "README.md").write_text("# hi")
    assert run(tmp_path / "w").status == Status.FAIL
    manual = run(tmp_path / "w", spec_for(FULL + "\n      when_missing: manual"))
    assert manual.status == Status.MANUAL and manual.points == 0


def test_bad_arguments_fail_validation() -> None:
    with pytest.raises(SpecError) as info:
        spec_for("      expected: {training: 4, holdout: 1}\n      tolerance: 1.5")
    text = str(info.value)
    assert "unknown split 'holdout'" in text
    assert "a float tolerance is a fraction below 1" in text


@pytest.mark.slow
def test_1800_small_images_are_all_hashed(tmp_path: Path) -> None:
    root = tmp_path / "w"
    make_layout(root / "data", {"train": 600, "val": 150, "test": 150}, seed=1)
    result = run(root, spec_for("      expected: {train: 600, val: 150, test: 150}"))
    assert result.status == Status.PASS, result.message
    assert result.facts["hashed_images"] == 1800
    assert result.facts["hash_seconds"] >= 0  # the figure is reported, not asserted


def test_corrupt_image_is_listed_not_fatal(tmp_path: Path) -> None:
    root = tmp_path / "w"
    make_layout(root / "data", {"train": 2, "val": 1, "test": 1})
    (root / "data/train/cat/broken.png").write_bytes(b"\x89PNG not really")
    spec = spec_for("      expected: {train: 3, val: 1, test: 1}\n      tolerance: 1")
    result = run(root, spec)
    assert result.facts["unreadable"] == ["data/train/cat/broken.png"]
    assert any(e.verdict == "unreadable" for e in result.evidence)

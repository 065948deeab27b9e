"""Similarity at class scale (issue 10, E13), through ``grader batch`` on real repositories:
only each student's top pairs are listed (configurable, with a class-wide cap), the
reference solution counts as boilerplate without being named, and one hostile submission
(1,100 nested folders) does not cost the class its similarity check."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import git_save, make_bare, make_class, write_roster
from grader.testing.classes import TRAIN

SPEC = """\
id: sim-hw
title: Similar homework
course: c
deadline: "2020-10-27 23:59"
deliverables:
  - {glob: "readme.md", description: "README"}
checks:
  - check: files
    points: 1
similarity:
  threshold: 0.5
"""
TOP_TWO = SPEC + "  top_per_student: 2\n  max_pairs: 9\n"


def remove_tree(root: Path) -> None:
    """Delete a tree of any depth without recursion (Python 3.11's rmtree recurses)."""
    folders, stack = [], [str(root)]
    while stack:
        folder = stack.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)


def invoke(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def batch(tmp_path: Path, roster: Path, spec: str = SPEC):
    spec_file = tmp_path / "sim.yaml"
    spec_file.write_text(spec, encoding="utf-8")
    out = tmp_path / "out"
    done = invoke(
        "batch", spec_file, "--roster", roster, "--out", out, "--rerun", "none", "--no-progress",
        "--cache", tmp_path / "mirrors",
    )  # fmt: skip
    return done, out


def _partners(pairs: list[dict]) -> dict[str, int]:
    found: dict[str, int] = {}
    for pair in pairs:
        for who in (pair["a"], pair["b"]):
            found[who] = found.get(who, 0) + 1
    return found


def test_only_the_top_pairs_per_student_are_listed(tmp_path: Path) -> None:
    students = make_class(tmp_path / "class", kinds=["good"] * 12)  # all share train.py
    done, out = batch(tmp_path, write_roster(tmp_path / "roster.csv", students))
    assert done.exit_code == 0, done.output
    data = json.loads((out / "similarity.json").read_text())
    # by default each student's 3 most similar partners: before, all 66 pairs, with a
    # side-by-side page each (44,850 for 300 students)
    assert len(data["pairs"]) <= 12 * 3 < 66
    assert len(list((out / "similarity").glob("*.html"))) == len(data["pairs"])
    assert any("66 pairs reach the threshold" in note for note in data["notes"])
    assert set(_partners(data["pairs"])) == {s.neptun for s in students}  # nobody hidden
    assert "66 pairs reach the threshold" in (out / "index.html").read_text()
    # configurable in the spec: 2 per student, 9 for the class at most
    (tmp_path / "top.yaml").write_text(TOP_TWO, encoding="utf-8")
    again = invoke("similarity", out, "--spec", tmp_path / "top.yaml")
    assert again.exit_code == 0, again.output
    data = json.loads((out / "similarity.json").read_text())
    assert len(data["pairs"]) == 9 and len(list((out / "similarity").glob("*.html"))) == 9


def test_the_reference_solution_is_boilerplate_without_being_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instructor = Path(os.environ["GRADER_INSTRUCTOR_DIR"])
    (instructor / "sim-hw").mkdir()
    (instructor / "sim-hw" / "train.py").write_text(TRAIN, encoding="utf-8")  # the handout
    students = make_class(tmp_path / "class", kinds=["good"] * 4)
    done, out = batch(tmp_path, write_roster(tmp_path / "roster.csv", students))
    assert done.exit_code == 0, done.output
    assert json.loads((out / "similarity.json").read_text())["pairs"] == []  # before: 6 pairs


def test_one_deeply_nested_submission_does_not_cost_the_class_its_similarity(
    tmp_path: Path,
) -> None:
    students = make_class(tmp_path / "class", kinds=["good"] * 4)
    work = tmp_path / "deep"
    git_save(work, "start", date="2020-10-20T12:00:00+02:00", files={"readme.md": "# Deep"})
    folder = str(work)
    for _ in range(1100):  # os.makedirs and pathlib recurse: one level at a time
        folder = os.path.join(folder, "d")
        os.mkdir(folder)
    Path(folder, "model.py").write_text("print('deep')\n", encoding="utf-8")
    git_save(work, "nested", date="2020-10-21T12:00:00+02:00")
    roster = write_roster(tmp_path / "roster.csv", students)
    with roster.open("a", encoding="utf-8") as handle:
        handle.write(f"DEE111,Deep,deep@example.com,{make_bare(work)},,\n")
    try:
        done, out = batch(tmp_path, roster)
    finally:  # pytest's own clean-up (shutil.rmtree) recurses: remove the depths here
        for deep in (work, tmp_path / "out" / "DEE111" / "checkout"):
            remove_tree(deep)
    assert "similarity not computed" not in done.output  # before: RecursionError, for all
    data = json.loads((out / "similarity.json").read_text())
    assert data["submissions"] == 5
    assert {p["a"] for p in data["pairs"]} | {p["b"] for p in data["pairs"]} >= {
        s.neptun for s in students
    }
    # the deep submission is its own student's result (graded, or an error of its own)
    assert (out / "DEE111" / "result.json").is_file()


def test_the_fast_overlap_equals_copydetects(tmp_path: Path) -> None:
    """The per-pair similarity (numpy, for 44,850 pairs) is copydetect's own, to the token."""
    from copydetect import compare_files

    from grader.similarity import _documents, _similarity, boilerplate_hashes
    from grader.sources import SourceFile
    from tests.overview_class import COPIED, OTHER, OWN, RENAMED, STARTER

    texts = {"a": STARTER + COPIED, "b": RENAMED + OWN, "c": OTHER + COPIED[:400], "d": OWN}
    bp = boilerplate_hashes([SourceFile("s.py", STARTER, "python")])
    docs = {k: _documents([SourceFile("m.py", v, "python")], bp) for k, v in texts.items()}
    for a, b in [("a", "b"), ("a", "c"), ("b", "c"), ("a", "d"), ("c", "d")]:
        fa, fb = docs[a]["python"].fingerprint, docs[b]["python"].fingerprint
        _, (sim_a, sim_b), _ = compare_files(fa, fb)
        pair = _similarity(a, b, docs[a], docs[b])
        got = (pair.similarity_ab, pair.similarity_ba) if pair else (0.0, 0.0)
        assert got == (round(min(float(sim_a), 1.0), 4), round(min(float(sim_b), 1.0), 4))


def test_a_reference_copied_whole_leaves_nothing_to_compare(tmp_path: Path) -> None:
    """Several files are joined per submission; the k-grams across the joins are the
    reference's too, so two students who both submit it unchanged are not a pair."""
    from grader.similarity import find_similar
    from grader.testing import build_file_tree
    from tests.overview_class import COPIED, OTHER, RENAMED, STARTER

    reference = {"a_data.py": STARTER, "b_model.py": COPIED, "c_train.py": OTHER}
    build_file_tree(tmp_path / "reference", reference)
    for student in ("s1", "s2"):
        build_file_tree(tmp_path / student, reference)
    build_file_tree(tmp_path / "s3", {**reference, "b_model.py": RENAMED + COPIED})
    subs = {s: tmp_path / s for s in ("s1", "s2", "s3")}
    assert find_similar(subs, [tmp_path / "reference"], 0.1, ["**/*.py"]) == []

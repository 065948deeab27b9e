"""Cross-submission similarity (copydetect) of code and notebook code cells."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.similarity import (
    SimilarPair,
    analyse_out_dir,
    find_similar,
    read_similarity,
    resolve_boilerplate,
    write_similarity,
)
from grader.sources import collect_sources, notebook_code
from grader.testing import build_file_tree
from tests.overview_class import COPIED, OTHER, OWN, RENAMED, STARTER, build_class, spec, write_spec

PY = ["**/*.py", "**/*.ipynb"]


def notebook(*cells: tuple[str, str]) -> str:
    nb = nbformat.v4.new_notebook()
    for kind, source in cells:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(make(source))
    return nbformat.writes(nb)


def test_copied_code_with_renamed_variables_is_found(tmp_path: Path) -> None:
    build_file_tree(tmp_path, {
        "a/main.py": STARTER + COPIED,
        "b/src/net.py": STARTER + RENAMED,
        "c/model.py": STARTER + OWN,
    })  # fmt: skip
    subs = {k: tmp_path / k for k in "abc"}
    pairs = find_similar(subs, [], 0.6, PY)
    assert [(p.a, p.b) for p in pairs] == [("a", "b")]
    pair = pairs[0]
    assert pair.similarity_ab > 0.8 and pair.similarity_ba > 0.8
    assert pair.files_a == ["main.py"] and pair.files_b == ["src/net.py"]
    # the matched regions cover the copied functions (lines 9-29 of a's file)
    lines = {n for r in pair.regions_a for n in range(r.start_line, r.end_line + 1)}
    copied_first = STARTER.count("\n") + 2  # "def windows(" follows a blank line
    assert {copied_first, copied_first + 10, copied_first + 18} <= lines
    assert "def windows" in pair.sources_a["main.py"]
    region = pair.regions_b[0]
    text = pair.sources_b["src/net.py"]
    assert text.count("\n", 0, region.start) + 1 == region.start_line


def test_starter_code_shared_by_all_is_boilerplate(tmp_path: Path) -> None:
    build_file_tree(tmp_path, {
        "starter/main.py": STARTER,
        "a/main.py": STARTER + OWN,
        "b/main.py": STARTER + OTHER,
        "c/main.py": STARTER,
    })  # fmt: skip
    subs = {k: tmp_path / k for k in "abc"}
    without = find_similar(subs, [], 0.6, PY)
    assert {(p.a, p.b) for p in without} >= {("a", "c"), ("b", "c")}  # all share the starter
    assert find_similar(subs, [tmp_path / "starter"], 0.6, PY) == []
    # a single boilerplate file works as well as a folder
    assert find_similar(subs, [tmp_path / "starter" / "main.py"], 0.6, PY) == []


def test_notebooks_are_compared_by_their_code_cells(tmp_path: Path) -> None:
    cells = [("markdown", "# My forecast\nSome prose."), ("code", "%matplotlib inline\n" + STARTER)]
    cells += [("code", part) for part in RENAMED.split("\n\n\n") if part.strip()]
    build_file_tree(tmp_path, {
        "a/main.py": STARTER + COPIED,
        "b/work.ipynb": notebook(*cells),
        "c/broken.ipynb": "{not json",
        "c/ok.py": OTHER,
    })  # fmt: skip
    notes: list[str] = []
    pairs = find_similar({k: tmp_path / k for k in "abc"}, [], 0.6, PY, notes)
    assert [(p.a, p.b) for p in pairs] == [("a", "b")]
    code = pairs[0].sources_b["work.ipynb"]
    assert "def make_windows" in code and "My forecast" not in code and '"cell_type"' not in code
    assert "# %matplotlib inline" in code  # magics are kept as comments
    assert any("c: broken.ipynb skipped (not a readable notebook" in n for n in notes)


def test_notebook_code_and_collect_sources(tmp_path: Path) -> None:
    text = notebook(("code", "!pip install x\nimport os"), ("markdown", "x"), ("code", "print(1)"))
    assert notebook_code(text) == "# !pip install x\nimport os\n\nprint(1)\n"
    build_file_tree(tmp_path, {
        "s/a.py": "x = 1\n", "s/notes.txt": "copied words", "s/.git/config": "x",
        "s/__pycache__/a.py": "y = 2", "s/latin.py": b"x = '\xe9'\n",
    })  # fmt: skip
    (tmp_path / "s" / "link.py").symlink_to(tmp_path / "s" / "a.py")
    notes: list[str] = []
    found = collect_sources(tmp_path / "s", PY, notes, label="s")
    assert [f.path for f in found] == ["a.py"]
    assert found[0].language == "python"
    assert notes == ["s: latin.py skipped (not UTF-8 text)"]


def test_empty_and_missing_submissions_make_no_pairs(tmp_path: Path) -> None:
    build_file_tree(tmp_path, {"a/README.md": "hi", "b/x.py": "print(1)\n", "c/x.py": "print(1)\n"})
    subs = {"a": tmp_path / "a", "b": tmp_path / "b", "c": tmp_path / "c", "d": tmp_path / "d"}
    # files too short to fingerprint share nothing meaningful, whatever the threshold
    assert find_similar(subs, [tmp_path / "nothing"], 0.0, PY) == []


def test_similarity_json_round_trip_and_broken_file(tmp_path: Path) -> None:
    build_file_tree(tmp_path, {"a/m.py": STARTER + COPIED, "b/m.py": STARTER + RENAMED})
    pairs = find_similar({"a": tmp_path / "a", "b": tmp_path / "b"}, [], 0.6, PY)
    path = write_similarity(tmp_path, pairs, threshold=0.6, submissions=2, notes=["n"])
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["schema"] == 1 and raw["pairs"][0]["files_a"] == ["m.py"]
    report = read_similarity(tmp_path)
    assert report is not None and report.threshold == 0.6 and report.notes == ["n"]
    assert report.pairs == pairs and isinstance(report.pairs[0], SimilarPair)
    assert read_similarity(tmp_path / "a") is None
    path.write_text(json.dumps({"schema": 7}), encoding="utf-8")
    with pytest.raises(ValueError, match="similarity.json: not a readable similarity file"):
        read_similarity(tmp_path)


def test_boilerplate_is_found_under_the_instructor_dir_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_file_tree(tmp_path, {"inst/starter/a.py": "x", "spec/starter/a.py": "y"})
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(tmp_path / "inst"))
    the_spec = spec()  # boilerplate: ["starter"]
    found, notes = resolve_boilerplate(the_spec, tmp_path / "spec")
    assert found == [tmp_path / "inst" / "starter"] and notes == []
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(tmp_path / "none"))
    found, notes = resolve_boilerplate(the_spec, None)
    assert found == [] and "'starter' not found" in notes[0]


def test_cli_similarity_on_a_graded_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(tmp_path / "no-instructor-dir"))
    out = build_class(tmp_path)
    spec_file = write_spec(tmp_path / "spec")  # its starter/ is the boilerplate
    runner = CliRunner()
    done = runner.invoke(app, ["similarity", str(out), "--spec", str(spec_file)])
    assert done.exit_code == 0, done.output
    assert "1 similar pair(s) among 4 submissions" in done.output
    report = read_similarity(out)
    assert report is not None and [(p.a, p.b) for p in report.pairs] == [("AAA111", "EEE555")]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="similarity/AAA111--EEE555.html"' in page
    assert (out / "similarity" / "AAA111--EEE555.html").is_file()
    # no penalty: the results are untouched
    assert json.loads((out / "AAA111" / "result.json").read_text())["score"] == 3
    # a lower threshold lists pairs that share only a little code (next to the starter's end)
    loose = runner.invoke(
        app, ["similarity", str(out), "--spec", str(spec_file), "--threshold", "0.05"]
    )
    assert loose.exit_code == 0 and "(threshold 5%)" in loose.output
    assert "3 similar pair(s) among 4 submissions" in loose.output
    assert len(read_similarity(out).pairs) == 3
    bad = runner.invoke(app, ["similarity", str(out), "--spec", str(spec_file),
                              "--boilerplate", str(tmp_path / "nope")])  # fmt: skip
    assert bad.exit_code == 2 and "--boilerplate" in bad.output
    over = runner.invoke(
        app, ["similarity", str(out), "--spec", str(spec_file), "--threshold", "2"]
    )
    assert over.exit_code == 2


def test_an_unchanged_class_is_not_compared_again(tmp_path: Path) -> None:
    build_file_tree(tmp_path, {
        "out/a/checkout/m.py": STARTER + COPIED,
        "out/b/checkout/m.py": STARTER + RENAMED,
        "out/c/checkout/m.py": STARTER + OWN,
    })  # fmt: skip
    out, the_spec = tmp_path / "out", spec()
    first = analyse_out_dir(out, the_spec, spec_dir=write_spec(tmp_path / "spec").parent)
    assert not first.reused and [(p.a, p.b) for p in first.pairs] == [("a", "b")]
    again = analyse_out_dir(out, the_spec, spec_dir=tmp_path / "spec")
    assert again.reused and again.pairs == first.pairs
    assert not analyse_out_dir(out, the_spec, spec_dir=tmp_path / "spec", force=True).reused
    assert not analyse_out_dir(out, the_spec, 0.9, spec_dir=tmp_path / "spec").reused
    # a changed checkout is compared again: c now holds a's code too
    build_file_tree(out, {"c/checkout/m.py": STARTER + COPIED})
    changed = analyse_out_dir(out, the_spec, 0.9, spec_dir=tmp_path / "spec")
    assert not changed.reused and ("a", "c") in {(p.a, p.b) for p in changed.pairs}

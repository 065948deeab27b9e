"""The hostile suite, content family: files built to hurt the checks, graded through the real
CLI. Each case failed before the hardening it tests (issue 11)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.testing import build_file_tree, git_save, make_bare
from tests.hostile_kit import ON_TIME, README, check, grade, raw_result, spec

LATIN1_NAME = os.fsdecode(b"r\xe9sum\xe9.py")  # 'r\udce9sum\udce9.py': Latin-1 bytes on disk
CHECKS = """\
  - check: files
    points: 1
  - check: english
    points: 1
  - check: git_history
    points: 1
  - check: code_pattern
    points: 1
    args:
      patterns: [{regex: 'import', description: 'an import'}]
  - check: notebooks
    points: 1
    required: false
    args: {min_notebooks: 0}
  - check: training_log
    points: 1
    required: false
"""
HUNGARIAN = (
    "# Jegyzetek\n\nEz a fájl a házi feladat megoldásának jegyzeteit tartalmazza. A "
    "hálózatot a budapesti napi hőmérsékleti adatokon tanítottuk, és a modell egy nappal "
    "előre jósolja meg a várható átlaghőmérsékletet.\n"
)


def bare_repo(tmp: Path, name: str, files: dict) -> Path:
    work = build_file_tree(tmp / "work" / name, {"README.md": README, **files})
    git_save(work, "work", date=ON_TIME)
    return make_bare(work, tmp / f"{name}.git")


def test_a_latin1_file_name_is_carried_escaped_into_result_and_report(tmp_path: Path) -> None:
    repo = bare_repo(tmp_path, "s", {LATIN1_NAME: "import os  # load the data\n"})
    out = tmp_path / "out"
    done, result = grade(spec(tmp_path, CHECKS), repo, out)
    assert done.returncode == 0, done.stdout + done.stderr
    text = raw_result(out, "ABC123")  # valid UTF-8, whatever the names
    assert "r\\\\xe9sum\\\\xe9.py" in text  # shown escaped: r\xe9sum\xe9.py
    assert "r\\xe9sum\\xe9.py" in (out / "ABC123" / "report.html").read_text(encoding="utf-8")
    assert check(result, "code_pattern").status.value == "pass"
    assert (out / "ABC123" / "checkout" / LATIN1_NAME).is_file()  # the file itself is intact


def _pdf_page_tree_bomb(leaves: int = 90_000, ops: int = 2_000) -> bytes:
    """A 4 kB PDF listing one page 90,000 times (300 x 300 through one shared node), whose
    compressed content stream holds 2,000 text operators."""
    content = b"BT /F1 12 Tf 72 712 Td (the report text of our project) Tj ET\n" * ops
    stream = zlib.compress(content, 9)
    objs = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [" + b" ".join([b"6 0 R"] * 300) + b"] /Count %d >>" % leaves,
        6: b"<< /Type /Pages /Parent 2 0 R /Kids [" + b" ".join([b"3 0 R"] * 300)
        + b"] /Count 300 >>",
        3: b"<< /Type /Page /Parent 6 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        4: b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
        + b"\nendstream",
        5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }  # fmt: skip
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objs):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number + objs[number] + b"\nendobj\n")
    xref, size = out.tell(), max(objs) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for number in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets[number])
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))
    return out.getvalue()


def test_a_pdf_page_tree_bomb_is_read_within_bounds(tmp_path: Path) -> None:
    bomb = _pdf_page_tree_bomb()
    assert len(bomb) < 6000
    repo = bare_repo(tmp_path, "s", {"report.pdf": bomb, "train.py": "import torch\n"})
    checks = CHECKS + "  - check: pdf_report\n    points: 1\n    args: {min_words: 10}\n"
    out = tmp_path / "out"
    done, result = grade(spec(tmp_path, checks), repo, out, timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr
    assert check(result, "files").status.value == "pass"
    assert check(result, "code_pattern").status.value == "pass"
    report = check(result, "pdf_report")
    assert report.facts["pages"] == 1  # before: 90,000 pages from one page listed 90,000 times
    assert "89999 page(s) more than once" in json.dumps(report.facts), report.facts
    english = check(result, "english")
    assert english.status.value in ("pass", "error"), english.message


def test_every_check_has_a_time_budget_enforced_from_outside(tmp_path: Path) -> None:
    """A regular expression of the spec that backtracks for hours on one student's file:
    that check is an error; every other check of the submission is graded."""
    evil = "a" * 40 + "!"
    repo = bare_repo(tmp_path, "s", {"train.py": f"# {evil}\nimport os\nx = '{evil}'\n"})
    checks = CHECKS.replace("regex: 'import'", "regex: '(a+)+$'").replace(
        "description: 'an import'", "description: 'a string of a'"
    )
    spec_path = spec(tmp_path, checks, extra="limits:\n  check_seconds: 3\n")
    done, result = grade(spec_path, repo, tmp_path / "out", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    stopped = check(result, "code_pattern")
    assert stopped.status.value == "error"
    assert "time budget of 3 s (limits.check_seconds" in stopped.message, stopped.message
    assert check(result, "files").status.value == "pass"
    assert check(result, "english").status.value == "pass"
    assert check(result, "git_history").status.value == "pass"


def test_every_check_has_a_memory_budget_enforced_from_outside(tmp_path: Path) -> None:
    """A 40 MB notebook of ten million numbers: parsing it takes ten times the file."""
    numbers = ",".join(["1.5"] * 10_000_000)
    notebook = '{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"x": [' + numbers
    repo = bare_repo(tmp_path, "s", {"hog.ipynb": notebook + "]}}", "train.py": "import os\n"})
    spec_path = spec(tmp_path, CHECKS, extra="limits:\n  check_memory_mb: 200\n")
    done, result = grade(spec_path, repo, tmp_path / "out", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    hog = check(result, "notebooks")
    assert hog.status.value == "error", hog.message
    assert "memory budget of 200 MiB (limits.check_memory_mb" in hog.message, hog.message
    assert check(result, "files").status.value == "pass"
    assert check(result, "git_history").status.value == "pass"


@pytest.fixture
def deep_tmp(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, emptied with ``rm -rf`` afterwards: pytest's own clean-up of old temporary
    folders recurses and would fail on 1,100 levels (in every later session)."""
    yield tmp_path
    subprocess.run(["rm", "-rf", *map(str, tmp_path.iterdir())], check=False)


def test_eleven_hundred_nested_folders_are_fetched_and_checked(deep_tmp: Path) -> None:
    tmp_path = deep_tmp
    work = build_file_tree(tmp_path / "work" / "s", {"README.md": README})
    folder = work
    for _ in range(1_100):  # one by one: Path.mkdir(parents=True) recurses
        folder = folder / "d"
        folder.mkdir()
    (folder / "train.py").write_text("import os  # deep down\n")
    git_save(work, "work", date=ON_TIME)
    repo = make_bare(work, tmp_path / "s.git")
    out = tmp_path / "out"
    done, result = grade(spec(tmp_path, CHECKS), repo, out, timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result.error is None
    statuses = {c.id: c.status.value for c in result.checks}
    assert statuses["code_pattern"] == "pass" and statuses["files"] == "pass", statuses
    assert "error" not in statuses.values(), [(c.id, c.message) for c in result.checks]


def test_student_text_reaches_the_terminal_as_text(tmp_path: Path) -> None:
    """A folder named '[' holding a link to itself (']x'), Rich markup and terminal escape
    sequences in file names that the messages quote."""
    work = build_file_tree(
        tmp_path / "work" / "s",
        {
            "README.md": README,
            "[bold red]/[/]notes.md": HUNGARIAN,
            "esc\x1b]0;owned\x07.md": HUNGARIAN,
        },
    )
    (work / "[").mkdir()
    (work / "[" / "]x").symlink_to("]x")
    git_save(work, "work", date=ON_TIME)
    repo = make_bare(work, tmp_path / "s.git")
    done, result = grade(spec(tmp_path, CHECKS), repo, tmp_path / "out")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "MarkupError" not in output and "Traceback" not in output
    assert "[bold red]/[/]notes.md" in " ".join(output.split())
    assert "\x1b" not in output  # no raw escape sequence reaches the terminal
    assert "\\x1b]0;owned\\x07" in output


def test_no_host_path_in_what_the_student_sees(tmp_path: Path) -> None:
    """A symlink loop, a link to the grader's files, a missing deliverable: the result and
    the terminal never show where the grader keeps its files."""
    work = build_file_tree(tmp_path / "work" / "s", {"README.md": README})
    (work / "loop").symlink_to("loop")
    (work / "a").symlink_to("b")
    (work / "b").symlink_to("a")
    (work / "notes.md").symlink_to("loop")
    git_save(work, "work", date=ON_TIME)
    repo = make_bare(work, tmp_path / "s.git")
    out = tmp_path / "grader-home" / "out"
    done, result = grade(spec(tmp_path, CHECKS), repo, out, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result.error is None
    said = [ln for ln in done.stdout.splitlines() if not ln.startswith(("result:", "report:"))]
    for text in (raw_result(out, "ABC123"), "\n".join(said)):
        assert str(out) not in text and "grader-home" not in text, text

"""Instructor features on a student's install (no 'instructor' extra): a clear error that
says what to install, never a traceback."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from grader.extras import MissingExtra, require
from grader.results import SubmissionResult, write_result


def test_require_names_the_extra() -> None:
    require("json", "anything")  # installed: no error
    with pytest.raises(MissingExtra, match=r"pip install 'grader\[instructor\]'"):
        require("sqlalchemy_not_installed_here", "the gradebook")


HIDE = """
import importlib.util, sys
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name in {hidden!r} else real(name, *a)
sys.argv = ["grader", *{argv!r}]
from grader.cli import main
main()
"""


def run_without(hidden: set[str], argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    code = HIDE.format(hidden=hidden, argv=argv)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_gradebook_command_without_sqlalchemy(tmp_path: Path) -> None:
    done = run_without({"sqlalchemy"}, ["gradebook", "show", "--db", "g.sqlite"], tmp_path)
    assert done.returncode == 2
    assert "the gradebook needs the Python package 'sqlalchemy'" in done.stderr
    assert "grader[instructor]" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(importlib.util.find_spec("copydetect") is None, reason="no copydetect")
def test_similarity_command_without_copydetect(tmp_path: Path) -> None:
    for student in ("ABC123", "DEF456"):
        folder = tmp_path / "out" / student
        (folder / "checkout").mkdir(parents=True)
        (folder / "checkout" / "a.py").write_text(f"print('{student}')\n")
        result = SubmissionResult("hw3-temperature", student, "repo", "2020-10-27T23:59:00+01:00")
        write_result(result, folder / "result.json")
    done = run_without(
        {"copydetect"}, ["similarity", str(tmp_path / "out"), "--spec", "hw3-temperature"], tmp_path
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the similarity check needs the Python package 'copydetect'" in done.stderr
    assert "Traceback" not in done.stderr

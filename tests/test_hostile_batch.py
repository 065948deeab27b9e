"""The hostile suite, batch family: one hostile submission in a class must never stop the
class. Graded through the real ``grader batch``; each case failed before the hardening it
tests (issue 11)."""

from __future__ import annotations

import re
from pathlib import Path

from grader.results import read_result
from tests.hostile_kit import raw_result, roster, run_grader, spec, student
from tests.test_hostile_content import LATIN1_NAME, _pdf_page_tree_bomb

CHECKS = """\
  - check: files
    points: 1
  - check: english
    points: 1
  - check: code_pattern
    points: 1
    args:
      patterns: [{regex: 'import', description: 'an import'}]
  - check: training_log
    points: 1
    required: false
  - check: pdf_report
    points: 1
    required: false
"""
NORMAL = {"train.py": "import os  # train the network on the data\n"}
WEIRD_LOG = (
    "Epoch 1/3\n200/200 [====] - 3s - loss: nan - accuracy: inf - val_loss: -inf\n"
    "Epoch 2/3\n200/200 [====] - 3s - loss: 1e308 - accuracy: 1e-320 - val_loss: nan\n"
    "Epoch 3/3\n200/200 [====] - 3s - loss: 0.5 - accuracy: 0.9 - val_loss: 0.6\n"
)


def test_one_hostile_submission_never_stops_the_class(tmp_path: Path) -> None:
    repos = {
        "AAA111": student(tmp_path, "a", NORMAL),
        "BBB222": student(
            tmp_path, "b", {**NORMAL, LATIN1_NAME: "import sys  # r\u00e9sum\u00e9\n"}
        ),
        "CCC333": student(tmp_path, "c", {**NORMAL, "report.pdf": _pdf_page_tree_bomb()}),
        "DDD444": student(tmp_path, "d", {**NORMAL, "train.log": WEIRD_LOG}),
        "EEE555": student(tmp_path, "e", {**NORMAL, "train.py": "import os  # another\n"}),
    }
    rows = roster(tmp_path / "r.csv", list((k, str(v)) for k, v in repos.items()))
    out = tmp_path / "out"
    args = ("batch", str(spec(tmp_path, CHECKS, extra="limits:\n  check_seconds: 20\n")),
            "--roster", str(rows), "--out", str(out), "--no-progress", "--rerun", "none")  # fmt: skip
    done = run_grader(*args, "--jobs", "2", timeout=600)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    for neptun in repos:
        text = raw_result(out, neptun)  # every student has a result, valid UTF-8
        result = read_result(out / neptun / "result.json")
        assert result.error is None, (neptun, result.error)
        assert result.checks[0].status.value == "pass", (neptun, text[:500])
        assert (out / neptun / "report.html").is_file()
    assert (out / "index.html").is_file()
    assert (out / "similarity.json").is_file()
    assert done.returncode == 0, done.stdout + done.stderr
    again = run_grader(*args, timeout=300)  # the same command again: served from the cache
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.search(r"from cache\s*│\s*5\b", again.stdout), again.stdout


def test_a_result_that_cannot_be_written_is_that_units_error(tmp_path, monkeypatch) -> None:
    """Whatever breaks while one student's report is written (a template that chokes on
    their data), the class goes on, that student is retried next time."""
    from grader import report
    from grader.batch import BatchOptions, NullProgress, run_batch
    from grader.pipeline import load_assignment
    from grader.roster import load_roster

    repos = {n: student(tmp_path, n.lower(), NORMAL) for n in ("AAA111", "BBB222", "CCC333")}
    rows = roster(tmp_path / "r.csv", list((k, str(v)) for k, v in repos.items()))
    spec_path = spec(tmp_path, "  - check: files\n    points: 1\n")
    real = report.render_report

    def choking(result, spec):
        if result.student == "BBB222" and not result.error:
            raise ValueError("the template choked")
        return real(result, spec)

    monkeypatch.setattr(report, "render_report", choking)
    options = BatchOptions(rerun_mode="none", cache_dir=tmp_path / "mirrors", overview=True)
    spec_obj = load_assignment(spec_path)
    out = tmp_path / "out"
    summary = run_batch(spec_obj, spec_path, load_roster(rows, spec_obj), out, options,
                        NullProgress())  # fmt: skip
    assert summary.outcomes["pass"] == 2 and summary.outcomes["error"] == 1
    failed = read_result(out / "BBB222" / "result.json")
    assert "internal error while writing this result" in failed.error
    assert "the template choked" in failed.error
    assert (out / "index.html").is_file() and (out / "CCC333" / "report.html").is_file()
    monkeypatch.undo()
    again = run_batch(spec_obj, spec_path, load_roster(rows, spec_obj), out, options,
                      NullProgress())  # fmt: skip
    assert (again.graded, again.cached) == (1, 2)
    assert read_result(out / "BBB222" / "result.json").error is None

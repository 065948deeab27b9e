"""A small class for the review desk's tests, graded through the real pipeline.

Real git repositories with dated commits (``grader.testing``), graded by the CLI
(``grader grade``), recorded with ``grader gradebook sync`` and compared with ``grader
similarity``, as an instructor would. AAA111's README and notebook output carry XSS
payloads (they end up quoted in the predictions check's evidence) and its README is too
short to judge its English: a ``manual`` item. BBB222 copied AAA111's code: a
similarity pair. Names are Hungarian, one is an XSS payload too.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import build_file_tree, git_save, make_bare

ASSIGNMENT = "review-demo"
README_XSS = "<script>alert('readme')</script>"
NOTEBOOK_XSS = "<img src=x onerror=alert('notebook')>"
NAME_XSS = "<b onmouseover=alert(3)>Mallory</b> Kovács"

SPEC = """\
id: review-demo
title: "Review demo: Budapest temperature forecast"
course: "Test course"
deadline: "2020-10-27 23:59"
deliverables:
  - glob: "readme.md"
    description: "README"
  - glob: ["**/*.py", "**/*.ipynb"]
    description: "code"
checks:
  - check: files
    points: 2
  - check: english
    points: 2
  - check: predictions
    points: 3
    args:
      dates: [2020-10-28, 2020-11-03, 2020-11-24]
      labels: ["1 day", "1 week", "1 month"]
similarity:
  threshold: 0.4
"""

MODEL = """\
import numpy as np


def windows(values, width):
    # cut the daily means into overlapping windows of a week
    rows = []
    for start in range(len(values) - width):
        rows.append(values[start:start + width])
    features = np.stack(rows)
    targets = values[width:]
    mean = features.mean(axis=0)
    std = features.std(axis=0) + 1e-6
    return (features - mean) / std, targets


def train(features, targets, epochs=10):
    weights = np.zeros(features.shape[1])
    for epoch in range(epochs):
        error = features @ weights - targets
        weights -= 0.01 * features.T @ error / len(targets)
        print("epoch", epoch, float((error ** 2).mean()))
    return weights
"""

OWN = """\
class Forecaster:
    def __init__(self, lags=7):
        self.lags = lags

    def predict(self, history):
        recent = history[-self.lags:]
        return sum(recent) / len(recent)
"""

LONG_README = """\
# Budapest temperature forecast

This repository trains a small feed-forward network on the daily mean temperature of
Budapest and predicts the mean temperature one day, one week and one month ahead. Run
`python model.py` to train it; the predictions are written to predictions.csv below.

2020-10-28: 9.5
2020-11-03: 8.0
2020-11-24: 3.1
"""


def _notebook() -> str:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(forecast)")
    cell.outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text=f"2020-11-03: 8.1 {NOTEBOOK_XSS}\n2020-11-24: 3.0\n"
    )]  # fmt: skip
    nb.cells = [nbformat.v4.new_markdown_cell("# Előrejelzés"), cell]
    return nbformat.writes(nb)


# id -> (name, files, commit date)
STUDENTS: dict[str, tuple[str, dict[str, str], str]] = {
    "AAA111": (NAME_XSS, {"README.md": f"# Hőmérséklet\n\n2020-10-28: 9.8 {README_XSS}\n",
                          "forecast.ipynb": _notebook(), "model.py": MODEL},
               "2020-10-26T12:00:00+01:00"),
    "BBB222": ("Bíró Béla", {"README.md": LONG_README, "model.py": MODEL},
               "2020-10-27T21:30:00+01:00"),
    "CCC333": ("Cseh Cecília", {"README.md": LONG_README, "src/forecaster.py": OWN},
               "2020-10-25T09:00:00+01:00"),
}  # fmt: skip


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def grade_class(tmp: Path) -> Path:
    """Grade the class into ``tmp/out`` with the CLI; the gradebook is
    ``tmp/out/gradebook.sqlite`` and the pairs are in ``tmp/out/similarity.json``."""
    spec = build_file_tree(tmp / "spec", {"review-demo.yaml": SPEC}) / "review-demo.yaml"
    out = tmp / "out"
    roster = ["neptun,name,email"]
    for student, (name, files, date) in STUDENTS.items():
        git_save(tmp / "repos" / student, "work", date=date, files=files)
        bare = make_bare(tmp / "repos" / student)
        done = invoke("grade", spec, "--repo", bare, "--student", student, "--out", out)
        assert done.exit_code == 0, done.output
        roster.append(f'{student},"{name}",{student.lower()}@example.com')
    db = out / "gradebook.sqlite"
    synced = invoke("gradebook", "sync", "--db", db, out)
    assert synced.exit_code == 0, synced.output
    from grader.gradebook import Gradebook

    book = Gradebook(str(db))
    book.add_roster(
        {"neptun": s, "name": name, "email": f"{s.lower()}@example.com"}
        for s, (name, _, _) in STUDENTS.items()
    )
    book.close()
    similar = invoke("similarity", out, "--spec", spec)
    assert similar.exit_code == 0, similar.output
    pairs = json.loads((out / "similarity.json").read_text(encoding="utf-8"))["pairs"]
    assert [(p["a"], p["b"]) for p in pairs] == [("AAA111", "BBB222")], pairs
    return out

"""A small class graded through the real pipeline, for the overview and similarity tests.

Real git repos with dated commits (grader.testing), graded with ``pipeline.grade`` and
written with ``write_outputs`` into one batch folder, as ``grader batch`` leaves it.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.pipeline import grade, write_outputs
from grader.spec import AssignmentSpec, parse_spec_text
from grader.testing import build_file_tree, git_save, make_bare

SPEC = """\
id: overview-demo
title: "Overview demo"
course: "Test course"
deadline: "2020-10-27 23:59"
late:
  mode: percent
  percent: 10
deliverables:
  - glob: "readme.md"
    description: "README"
  - glob: ["**/*.py", "**/*.ipynb"]
    description: "code"
checks:
  - check: files
    points: 2
  - check: git_history
    points: 1
  - check: notebooks
    points: 1
    required: false
    args:
      min_notebooks: 0
similarity:
  threshold: 0.5
  boilerplate: ["starter"]
"""

STARTER = '''\
import numpy as np


def load(path):
    """Read the temperatures, one per line."""
    with open(path) as handle:
        return np.array([float(line) for line in handle if line.strip()])
'''

COPIED = """

def windows(values, width):
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

RENAMED = """

def make_windows(series, size):
    # slide a window over the series
    out = []
    for s in range(len(series) - size):
        out.append(series[s:s + size])
    x = np.stack(out)
    y = series[size:]
    mu = x.mean(axis=0)
    sigma = x.std(axis=0) + 1e-6
    return (x - mu) / sigma, y


def fit(x, y, n_epochs=10):
    w = np.zeros(x.shape[1])
    for ep in range(n_epochs):
        err = x @ w - y
        w -= 0.01 * x.T @ err / len(y)
        print("epoch", ep, float((err ** 2).mean()))
    return w
"""

OWN = """

class Forecaster:
    def __init__(self, lags=7):
        self.lags = lags
        self.model = None

    def fit(self, series):
        import torch
        net = torch.nn.Sequential(torch.nn.Linear(self.lags, 32), torch.nn.ReLU())
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        data = torch.tensor(series, dtype=torch.float32).unfold(0, self.lags + 1, 1)
        for _ in range(200):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(data[:, :-1]).sum(-1), data[:, -1])
            loss.backward()
            opt.step()
        self.model = net
        return self
"""

OTHER = '''

def moving_average(temps, days=3):
    """Tomorrow is the mean of the last few days: the baseline to beat."""
    total = sum(temps[-days:])
    return total / min(days, len(temps))


if __name__ == "__main__":
    history = load("data/train.csv")
    print({"tomorrow": moving_average(list(history))})
'''

XSS_NAME = "<script>alert(1)</script> Mallory"

# id -> (name, files, commit date); None files: the repo does not exist
STUDENTS: dict[str, tuple[str, dict[str, str] | None, str]] = {
    "AAA111": ("Anna Alpha", {"README.md": "# Forecast", "main.py": STARTER + COPIED},
               "2020-10-26T12:00:00+01:00"),
    "BBB222": ("Bela Beta", {"main.py": STARTER + OWN}, "2020-10-26T12:00:00+01:00"),
    "CCC333": ("Cecil Gamma", {"README.md": "# Late", "model.py": STARTER + OTHER},
               "2020-10-29T12:00:00+01:00"),
    "DDD444": ("Dora Delta", None, ""),
    "EEE555": (XSS_NAME, {"README.md": "# Mine", "src/net.py": STARTER + RENAMED},
               "2020-10-27T20:00:00+01:00"),
}  # fmt: skip


def spec() -> AssignmentSpec:
    return parse_spec_text(SPEC, "overview-demo.yaml")


def write_spec(folder: Path) -> Path:
    """The spec file plus its starter code (the boilerplate) beside it."""
    build_file_tree(folder, {"overview-demo.yaml": SPEC, "starter/main.py": STARTER})
    return folder / "overview-demo.yaml"


def build_class(tmp: Path, out: Path | None = None) -> Path:
    """Grade the class into ``out`` (default tmp/out); return the batch folder."""
    out = out or tmp / "out"
    the_spec = spec()
    roster = ["neptun,name,email"]
    for student, (name, files, date) in STUDENTS.items():
        roster.append(f'{student},"{name}",{student.lower()}@example.com')
        repo = tmp / "repos" / student
        if files is not None:
            git_save(repo, "work", date=date, files=files)
            remote = str(make_bare(repo))
        else:
            remote = str(tmp / "repos" / "missing.git")
        result = grade(the_spec, remote, student, out / student, cache_dir=tmp / "cache")
        write_outputs(result, the_spec, out / student)
    build_file_tree(out, {"roster.csv": "\n".join(roster) + "\n"})
    # a result file broken on disk is still a row, with its error
    build_file_tree(out, {"ZZZ999/result.json": json.dumps({"schema": 99})})
    return out

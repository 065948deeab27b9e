"""A generated class of real student repositories (bare git repos with dated commits) and
its roster, for tests, demos and benchmarks of batch grading (hw3-temperature shaped).

    students = make_class(tmp / "class", n=30)      # -> list[FakeStudent]
    write_roster(tmp / "roster.csv", students)
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from grader.testing.repos import git, git_save, make_bare

ON_TIME = "2020-10-25T18:00:00+02:00"
EARLY = "2020-10-20T12:00:00+02:00"
LATE = "2020-10-29T09:00:00+01:00"  # after the 2020-10-27 23:59 deadline

README = """# Budapest temperature forecast

This project trains a small feed-forward neural network on historic daily temperatures
of Budapest and predicts the mean temperature one day, one week and one month ahead.
Run `python train.py` to train the model and write the three predictions to
`predictions.csv`. The training data is in `data/train.csv`.
"""
README_HU = """# Budapesti hőmérséklet előrejelzés

Ez a projekt egy egyszerű neurális hálót tanít a budapesti napi hőmérsékleti adatokon, és
megjósolja a hőmérsékletet egy nappal, egy héttel és egy hónappal előre. A futtatáshoz
írd be, hogy `python train.py`, az eredmények a `predictions.csv` fájlba kerülnek.
"""
TRAIN = """# Train a feed-forward network on daily Budapest temperatures.
import csv

# read the training data (one row per day, up to the deadline)
rows = list(csv.DictReader(open("data/train.csv")))
temps = [float(r["temp"]) for r in rows]
# a stand-in for the network: the mean of the last week
forecast = sum(temps[-7:]) / 7
print("prediction", forecast)
"""


@dataclass
class FakeStudent:
    neptun: str
    name: str
    kind: str  # good, late, broken-notebook, hungarian, empty, missing, team, extension
    repo: Path
    team: str | None = None
    extension: str | None = None


def _files(neptun: str, seed: int) -> dict[str, str]:
    start = date(2020, 9, 10)  # 45 days of data, ending three days before the deadline
    days = [start + timedelta(days=i) for i in range(45)]
    temps = "\n".join(f"{d.isoformat()},{10 + (i * seed) % 7}" for i, d in enumerate(days))
    return {
        "README.md": README,
        "train.py": TRAIN + f"# student {neptun}\n",
        "data/train.csv": "date,temp\n" + temps + "\n",
        "predictions.csv": f"date,celsius\n2020-10-28,{9 + seed % 5}\n2020-11-03,8\n2020-11-24,4\n",
    }


def make_student_repo(root: Path, neptun: str, kind: str, seed: int) -> Path:
    """A bare repository for one student of the given kind; returns its path."""
    work = root / "work" / neptun
    bare = root / "remotes" / f"{neptun}.git"
    if kind == "missing":
        return bare  # never created
    if kind == "empty":
        bare.parent.mkdir(parents=True, exist_ok=True)
        git(bare.parent, "init", "-q", "--bare", bare.name)
        return bare
    files = _files(neptun, seed)
    git_save(work, "start", date=EARLY, files={"README.md": files["README.md"]})
    if kind == "late":  # the predictions only arrive after the deadline
        git_save(
            work, "code", date=ON_TIME, files={k: files[k] for k in ("train.py", "data/train.csv")}
        )
        git_save(
            work, "predictions", date=LATE, files={"predictions.csv": files["predictions.csv"]}
        )
    elif kind == "extension":  # everything after the deadline, before the extension
        git_save(work, "all", date=LATE, files=files)
    else:
        if kind == "hungarian":
            files["README.md"] = README_HU
        if kind == "broken-notebook":
            files["explore.ipynb"] = '{"cells": [ this is not json'
        git_save(work, "work", date=ON_TIME, files=files)
    bare.parent.mkdir(parents=True, exist_ok=True)
    make_bare(work, bare)
    return bare


def class_kinds(n: int) -> list[str]:
    """A class of ``n`` (>= 10): mostly good, some late, broken, Hungarian, one empty, one
    missing, one extension, and one team of three."""
    special = ["late", "late", "broken-notebook", "hungarian", "empty", "missing", "extension"]
    special += ["team"] * 3
    return special + ["good"] * (n - len(special)) if n >= len(special) else ["good"] * n


def make_class(root: str | Path, n: int = 30, kinds: list[str] | None = None) -> list[FakeStudent]:
    root = Path(root)
    kinds = kinds or class_kinds(n)
    students: list[FakeStudent] = []
    team_repo: Path | None = None
    for index, kind in enumerate(kinds):
        neptun = f"S{index:03d}" + "XY"[index % 2] + "Z"
        name = f"Student {index}"
        if kind == "team":
            if team_repo is None:
                team_repo = make_student_repo(root, neptun, "good", index)
            students.append(FakeStudent(neptun, name, kind, team_repo, team="team-a"))
            continue
        repo = make_student_repo(root, neptun, kind, index)
        extension = "2020-11-03 23:59" if kind == "extension" else None
        students.append(FakeStudent(neptun, name, kind, repo, extension=extension))
    (root / "kinds.json").write_text(json.dumps({s.neptun: s.kind for s in students}, indent=2))
    return students


def write_roster(path: str | Path, students: list[FakeStudent]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["neptun", "name", "email", "github", "team", "extension"])
        for s in students:
            email = f"{s.neptun.lower()}@example.com"
            writer.writerow([s.neptun, s.name, email, str(s.repo), s.team or "", s.extension or ""])
    return path

"""Build example student repositories with dated commits and grade them (``make demo``).

    python examples/make_examples.py --out demo-out            # build, grade, print reports
    python examples/make_examples.py --out demo-out --no-grade # only build the repos

Every repo is a real git repository (a bare 'remote' under OUT/repos/) whose commit dates
sit before or after the deadline as each story needs. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from grader.checks.observed import PLACEHOLDER_OPT_IN
from grader.testing import build_file_tree, git_save, make_bare

ROOT = Path(__file__).resolve().parent.parent

# ---- hw3: Budapest temperature forecast -------------------------------------------------

README_EN = """\
# Budapest temperature forecast

This repository predicts the daily mean temperature in Budapest one day, one week and one
month ahead with a small feed-forward neural network written in PyTorch.

## How to run

Install the requirements and run the training script. It reads the committed training
data, trains the network and writes the three predictions to a separate file.

```bash
pip install -r requirements.txt
python train.py --data training_data.csv --out predictions.csv
```

## Files

The training data is stored in the training data file. The predictions for the three
target dates are stored in the predictions file, one row per date, in degrees Celsius.
"""

README_HU = """\
# Budapesti hőmérséklet előrejelzés

Ez a projekt a budapesti napi középhőmérsékletet jósolja meg egy nappal, egy héttel és
egy hónappal előre, egy egyszerű előrecsatolt neurális hálóval.

## Futtatás

Telepítsd a szükséges csomagokat, majd futtasd a tanító szkriptet. A szkript beolvassa a
tanító adatokat, megtanítja a hálót, és külön fájlba írja a három előrejelzést.

```bash
python train.py
```
"""

TRAIN_PY = '''\
"""Train a feed-forward network on daily Budapest temperatures and predict three days."""

import argparse
import csv
import csv


def load_series(path):
    """Read the daily mean temperatures from a CSV file with a date and a value column."""
    with open(path, newline="") as handle:
        return [float(row["mean_celsius"]) for row in csv.DictReader(handle)]


def main():
    # Parse the command line so that the data file and the output can be chosen freely.
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="training_data.csv")
    parser.add_argument("--out", default="predictions.csv")
    args = parser.parse_args()
    series = load_series(args.data)
    # The network itself is defined in model.py; here we only report the data size.
    print(f"loaded {len(series)} days of training data")


if __name__ == "__main__":
    main()
'''


def training_csv(last: date = date(2020, 10, 27), days: int = 400) -> str:
    rows = ["date,mean_celsius"]
    for offset in range(days, -1, -1):
        day = last - timedelta(days=offset)
        value = 11.5 - 11.0 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 20) / 365.25)
        rows.append(f"{day.isoformat()},{value:.1f}")
    return "\n".join(rows) + "\n"


PREDICTIONS = "date,predicted_celsius\n2020-10-28,9.8\n2020-11-03,8.1\n2020-11-24,3.4\n"


def hw3_files(readme: str = README_EN) -> dict[str, str]:
    return {
        "README.md": readme,
        "train.py": TRAIN_PY,
        "requirements.txt": "torch\n",
        "training_data.csv": training_csv(),
        "predictions.csv": PREDICTIONS,
    }


def story_complete(repo: Path) -> None:
    git_save(repo, "Add training data", date="2020-10-20T18:00:00+02:00",
             files={"training_data.csv": training_csv()})  # fmt: skip
    git_save(repo, "Model, README and predictions", date="2020-10-27T21:30:00+01:00",
             files=hw3_files())  # fmt: skip


def story_late(repo: Path) -> None:
    git_save(repo, "First version", date="2020-10-26T20:00:00+01:00", files=hw3_files())
    git_save(repo, "Improve the README after the deadline", date="2020-10-28T09:15:00+01:00",
             files={"README.md": README_EN + "\nUpdated after the deadline.\n"})  # fmt: skip
    git_save(repo, "Tweak predictions", date="2020-10-29T10:00:00+01:00",
             files={"predictions.csv": PREDICTIONS.replace("9.8", "10.2")})  # fmt: skip


def story_hungarian(repo: Path) -> None:
    git_save(repo, "Beadandó", date="2020-10-27T22:00:00+01:00", files=hw3_files(README_HU))


def story_missing(repo: Path) -> None:
    files = hw3_files()
    del files["predictions.csv"], files["training_data.csv"]
    git_save(repo, "Only the code", date="2020-10-25T12:00:00+01:00", files=files)


def story_backdated(repo: Path) -> None:
    files = hw3_files()
    git_save(repo, "Start", date="2020-10-24T12:00:00+02:00",
             files={"README.md": README_EN, "train.py": TRAIN_PY})  # fmt: skip
    git_save(repo, "Data and predictions", date="2020-10-30T12:00:00+01:00",
             author_date="2020-10-30T12:00:00+01:00", files=files)  # fmt: skip
    # re-dated to look on time, but it sits on top of a commit made after the deadline
    git_save(repo, "Fix typo", date="2020-10-27T23:00:00+01:00",
             files={"README.md": README_EN.replace("freely", "freely.")})  # fmt: skip


# (student id, story, what it shows)
HW3_STORIES: list[tuple[str, Callable[[Path], None], str]] = [
    ("AAA111", story_complete, "complete and on time"),
    ("BBB222", story_late, "on time first, then commits after the deadline"),
    ("CCC333", story_hungarian, "README in Hungarian"),
    ("DDD444", story_missing, "training data and predictions missing"),
    ("EEE555", story_backdated, "a backdated commit on top of a late one"),
]

# ---- hw4, team project, Colab: built from the reference solutions ------------------------

REFERENCE = ROOT / "reference_solutions"
HW4_SOURCES = ["download.py", "split.py", "make_shapes.py", "train.py", "README.md",
               "requirements.txt"]  # fmt: skip


def hw4_tree(repo: Path) -> None:
    """The hw4 reference as a student commits it: code, 400/100/100 small images, the log."""
    for name in HW4_SOURCES:
        shutil.copy(REFERENCE / "hw4-transfer" / name, repo / name)
    subprocess.run([sys.executable, "make_shapes.py", "--out", "data", "--size", "32"],
                   cwd=repo, check=True, capture_output=True)  # fmt: skip
    shutil.copytree(REFERENCE / "hw4-transfer" / "example_output", repo / "output")


def story_hw4_complete(repo: Path) -> None:
    hw4_tree(repo)
    git_save(repo, "Transfer learning on circles and squares", date="2020-11-09T18:00:00+01:00")


def story_hw4_leak(repo: Path) -> None:
    hw4_tree(repo)
    test = sorted((repo / "data" / "test" / "circle").iterdir())[:5]
    for image in test:  # five test images also used for training
        shutil.copy(image, repo / "data" / "train" / "circle" / f"copy_{image.name}")
    git_save(repo, "More training images", date="2020-11-10T20:00:00+01:00")


def story_hw4_no_log(repo: Path) -> None:
    hw4_tree(repo)
    shutil.rmtree(repo / "output")
    git_save(repo, "Code and data", date="2020-11-08T12:00:00+01:00")


def _project_builder():
    spec = importlib.util.spec_from_file_location("project_build_history",
                                                  REFERENCE / "project" / "build_history.py")  # fmt: skip
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def story_project_on_time(repo: Path) -> None:
    _project_builder().build_history(repo)


def story_project_m2_late(repo: Path) -> None:
    _project_builder().build_history(repo, dates={"m2": "2020-11-23 20:15"})


def story_colab_complete(repo: Path) -> None:
    shutil.copy(REFERENCE / "colab-hello" / "colab_hello.ipynb", repo / "colab_hello.ipynb")
    git_save(repo, "CIFAR-10 warm-up", date="2020-09-18T10:00:00+02:00")


def story_colab_no_outputs(repo: Path) -> None:
    import nbformat

    nb = nbformat.read(REFERENCE / "colab-hello" / "colab_hello.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, repo / "colab_hello.ipynb")
    git_save(repo, "Notebook (not run)", date="2020-09-19T10:00:00+02:00")


Story = tuple[str, Callable[[Path], None], str]
EXAMPLES: dict[str, list[Story]] = {
    "bme-vitmav45-2020/hw3-temperature": HW3_STORIES,
    "bme-vitmav45-2020/hw4-transfer": [
        ("FFF666", story_hw4_complete, "complete 400/100/100 split, two-stage log"),
        ("GGG777", story_hw4_leak, "five test images copied into train"),
        ("HHH888", story_hw4_no_log, "no training output committed"),
    ],
    "bme-vitmav45-2020/project": [
        ("III999", story_project_on_time, "every milestone met on time"),
        ("JJJ000", story_project_m2_late, "milestone 2 committed one day late"),
    ],
    "elte-dl-seminar/colab-hello": [
        ("KKK111", story_colab_complete, "notebook with its stored image"),
        ("LLL222", story_colab_no_outputs, "notebook saved without outputs"),
    ],
}


def build(out: Path) -> dict[str, list[tuple[str, Path, str]]]:
    """Create every example repo; returns assignment -> [(student, bare repo, story)]."""
    repos_root = out / "repos"
    if repos_root.exists():
        shutil.rmtree(repos_root)
    built: dict[str, list[tuple[str, Path, str]]] = {}
    for assignment, stories in EXAMPLES.items():
        for student, story, text in stories:
            work = repos_root / assignment.replace("/", "__") / student
            story(build_file_tree(work, {}))
            bare = make_bare(work)
            built.setdefault(assignment, []).append((student, bare, text))
    return built


NAMES = {
    "AAA111": "Anna Kovács", "BBB222": "Bence Nagy", "CCC333": "Csilla Tóth",
    "DDD444": "Dániel Szabó", "EEE555": "Eszter Horváth", "FFF666": "Ferenc Varga",
    "GGG777": "Gabriella Kiss", "HHH888": "Henrik Molnár", "III999": "Ilona Németh",
    "JJJ000": "János Farkas", "KKK111": "Katalin Balogh", "LLL222": "László Papp",
}  # fmt: skip


def write_roster(path: Path, entries: list[tuple[str, Path, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["neptun", "name", "email", "github"])
        for student, bare, _ in entries:
            writer.writerow([student, NAMES.get(student, student),
                             f"{student.lower()}@example.com", str(bare)])  # fmt: skip
    return path


def grade_all(out: Path, built: dict[str, list[tuple[str, Path, str]]]) -> int:
    """Grade each assignment's class with the instructor's batch: reports, class overview,
    gradebook. Static checks only (no reruns), so the demo takes seconds."""
    from grader import pipeline
    from grader.batch.engine import BatchOptions, run_batch
    from grader.paths import resolve_spec
    from grader.results import read_result
    from grader.roster import load_roster

    # the demo, and only the demo, scores hw3 against the bundled PLACEHOLDER observations
    # (the results and the overview say so); a real grading run never does
    os.environ[PLACEHOLDER_OPT_IN] = "1"
    from grader.sandbox import FORCE_ENV, refusal

    reason = refusal("pinned")
    if reason is not None:  # the demo's own example repositories, not students' code
        print(f"note: {reason.split(', so ')[0]}; the instructor tests of the demo's own "
              "example repositories run without the sandbox (a real class refuses to start)")  # fmt: skip
        os.environ[FORCE_ENV] = "1"
    failures = 0
    for assignment, entries in built.items():
        spec = pipeline.load_assignment(assignment)
        class_dir = out / "classes" / spec.id
        class_dir.mkdir(parents=True, exist_ok=True)
        roster = load_roster(write_roster(class_dir / "roster.csv", entries), spec)
        options = BatchOptions(jobs=2, rerun_mode="none", cache_dir=out / "cache")
        summary = run_batch(spec, resolve_spec(assignment), roster, class_dir, options)
        print(f"\n{spec.title}  (deadline {spec.deadline_at.isoformat()})")
        for student, _, text in entries:
            result = read_result(class_dir / student / "result.json")
            shown = result.error or f"{result.score:g}/{result.max_score:g} points"
            failures += bool(result.error)
            print(f"  {student}  {text:<46} {shown:<14} {class_dir / student / 'report.html'}")
        print(f"  class overview: {summary.overview}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo-out")
    parser.add_argument("--no-grade", action="store_true", help="only build the repositories")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    built = build(args.out)
    if args.no_grade:
        print(f"repositories in {args.out / 'repos'}")
        return 0
    grade_all(args.out, built)
    print(f"\nReports: {args.out / 'classes'}/<assignment>/<student>/report.html; class "
          f"overviews: {args.out / 'classes'}/<assignment>/index.html")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

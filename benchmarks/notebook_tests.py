"""Notebook tests at class scale: the `tests` check through the batch vs nbgrader autograde.

    .venv/bin/python benchmarks/notebook_tests.py [--n 20] [--jobs 2] [--cell-timeout 10]
                                                  [--runs 1] [--no-nbgrader]

20 notebook submissions of a small assignment with 3 instructor tests each: 12 correct,
5 with a wrong answer, 2 whose code raises, 1 with an infinite loop (interrupted at the
per-cell timeout). Prints, for ``grader batch`` (GRADER_RERUN_SLOTS = --jobs): the total,
the per-submission median (whole unit: fetch, pin, tests, result files) and the tests
check's own median; then the same workload graded by nbgrader's ``autograde``, installed
into its own venv (~/.cache/grader-bench/nbgrader, from the package index; skipped with a
note when it cannot be installed), and whether the scores agree on the submissions that
end. Targets: median <= 0.3 s per submission; total <= 15 s with a 10 s cell timeout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from grader.batch.engine import BatchOptions, run_batch  # noqa: E402
from grader.pipeline import load_assignment  # noqa: E402
from grader.roster import load_roster  # noqa: E402
from grader.settings import RerunMode  # noqa: E402
from grader.testing import build_file_tree, git_save, make_bare  # noqa: E402

SPEC = """
id: bench-notebook
title: Notebook tests benchmark
course: benchmark
deadline: "2020-10-27 23:59"
checks:
  - check: tests
    points: 3
    args:
      public: [bench_tests]
      notebook: "*.ipynb"
      cell_timeout: {cell_timeout}
      timeout: 10
      budget: 60
      preload: [numpy]
"""
TESTS = """
import numpy as np


def test_mean(nb):
    assert nb.ref("mean_of")([1.0, 2.0, 6.0]) == 3.0


def test_normalize(nb):
    np.testing.assert_allclose(nb.ref("normalize")(np.array([3.0, 4.0])), [0.6, 0.8])


def test_relu(nb):
    np.testing.assert_allclose(nb.ref("relu")(np.array([-1.0, 2.0])), [0.0, 2.0])
"""
# nbgrader's version of the same three tests (grade cells, one point each)
NB_TESTS = [
    "assert mean_of([1.0, 2.0, 6.0]) == 3.0",
    "np.testing.assert_allclose(normalize(np.array([3.0, 4.0])), [0.6, 0.8])",
    "np.testing.assert_allclose(relu(np.array([-1.0, 2.0])), [0.0, 2.0])",
]
CORRECT = """import numpy as np

def mean_of(xs):
    return float(np.mean(xs))

def normalize(v):
    return v / np.linalg.norm(v)

def relu(x):
    return np.maximum(x, 0.0)
"""
WRONG = [
    CORRECT.replace("np.mean(xs)", "np.median(xs)"),
    CORRECT.replace("np.linalg.norm(v)", "v.sum()"),
    CORRECT.replace("np.maximum(x, 0.0)", "np.abs(x)"),
    CORRECT.replace("np.mean(xs)", "sum(xs)"),
    CORRECT.replace("np.maximum(x, 0.0)", "np.minimum(x, 0.0)"),
]
RAISING = [
    CORRECT.replace("return v / np.linalg.norm(v)", "raise NotImplementedError('normalize')"),
    CORRECT + "\nraise RuntimeError('a cell that fails')\n",
]
LOOPING = CORRECT + "\nwhile True:\n    pass\n"


def solutions(n: int) -> list[tuple[str, str, int]]:
    """(neptun, code, expected points) for n submissions in the 12/5/2/1 proportions."""
    kinds = [(CORRECT, 3)] * 12 + [(w, 2) for w in WRONG] + [(RAISING[0], 2), (RAISING[1], 3)]
    kinds += [(LOOPING, 3)]
    chosen = [kinds[i % len(kinds)] for i in range(n)]
    return [(f"NB{i:04d}", code, points) for i, (code, points) in enumerate(chosen)]


def student_notebook(code: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Házi feladat"), nbformat.v4.new_code_cell(code)]
    return nbformat.writes(nb)


def build_class(base: Path, n: int, cell_timeout: float) -> tuple[Path, Path, list]:
    build_file_tree(base / "spec", {"bench.yaml": SPEC.format(cell_timeout=cell_timeout),
                                    "bench_tests/test_functions.py": TESTS})  # fmt: skip
    students = solutions(n)
    rows = []
    for neptun, code, _points in students:
        repo = build_file_tree(base / "repos" / neptun, {"homework.ipynb": student_notebook(code)})
        git_save(repo, "homework", date="2020-10-20T12:00:00+02:00")
        rows.append((neptun, str(make_bare(repo))))
    roster = base / "roster.csv"
    with roster.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["neptun", "github"])
        writer.writerows(rows)
    return base / "spec" / "bench.yaml", roster, students


def grade_with_grader(spec_path: Path, roster_path: Path, out: Path, jobs: int) -> dict:
    os.environ["GRADER_RERUN_SLOTS"] = str(jobs)
    spec = load_assignment(spec_path)
    roster = load_roster(roster_path, spec)
    options = BatchOptions(jobs=jobs, rerun_mode=RerunMode.NONE, force=True, overview=False)
    started = time.perf_counter()
    summary = run_batch(spec, spec_path, roster, out, options)
    total = time.perf_counter() - started
    scores, check_seconds = {}, []
    for result in out.glob("*/result.json"):
        data = json.loads(result.read_text())
        check = data["checks"][0]
        scores[data["student"]] = check["points"]
        check_seconds.append(check["facts"].get("wall_s", 0.0))
    return {
        "total": total,
        "unit_median": summary.median_unit_seconds,
        "check_median": statistics.median(check_seconds) if check_seconds else None,
        "scores": scores,
    }


# ---- nbgrader ----------------------------------------------------------------------------

NBGRADER_VENV = Path.home() / ".cache" / "grader-bench" / "nbgrader"


def nbgrader_python() -> tuple[Path | None, str]:
    python = NBGRADER_VENV / "bin" / "python"
    if (NBGRADER_VENV / ".ready").is_file():
        return python, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(NBGRADER_VENV)], check=True,
                       capture_output=True, timeout=300)  # fmt: skip
        subprocess.run([str(python), "-m", "pip", "install", "-q", "nbgrader", "numpy"],
                       check=True, capture_output=True, timeout=1200)  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        return None, f"nbgrader could not be installed: {exc} {detail.decode()[-300:]}"
    (NBGRADER_VENV / ".ready").write_text("ok\n")
    return python, ""


def _nbgrader_source() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    solution = nbformat.v4.new_code_cell("### BEGIN SOLUTION\n" + CORRECT + "### END SOLUTION")
    solution.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                     "grade_id": "answer", "schema_version": 3}  # fmt: skip
    nb.cells = [nbformat.v4.new_markdown_cell("# Házi feladat"), solution]
    for index, test in enumerate(NB_TESTS, start=1):
        cell = nbformat.v4.new_code_cell("import numpy as np\n" + test)
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                     "points": 1, "grade_id": f"test{index}",
                                     "schema_version": 3}  # fmt: skip
        nb.cells.append(cell)
    return nb


def grade_with_nbgrader(base: Path, students: list, cell_timeout: float) -> dict:
    python, problem = nbgrader_python()
    if python is None:
        return {"skipped": problem}
    course = base / "nbgrader-course"
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\n"
        f"c.Execute.timeout = {int(cell_timeout)}\nc.Execute.interrupt_on_timeout = True\n"
    )
    nbformat.write(_nbgrader_source(), course / "source" / "ps1" / "ps1.ipynb")
    nbgrader = [str(python), "-m", "nbgrader"]
    env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = {"cwd": course, "check": True, "capture_output": True, "text": True, "timeout": 1200,
           "env": env}  # fmt: skip
    subprocess.run([*nbgrader, "db", "assignment", "add", "ps1"], **run)
    subprocess.run([*nbgrader, "generate_assignment", "ps1", "--force"], **run)
    released = nbformat.read(course / "release" / "ps1" / "ps1.ipynb", 4)
    for neptun, code, _points in students:
        subprocess.run([*nbgrader, "db", "student", "add", neptun], **run)
        nb = nbformat.from_dict(json.loads(json.dumps(released)))
        nb.cells[1].source = code
        target = course / "submitted" / neptun / "ps1"
        target.mkdir(parents=True)
        nbformat.write(nb, target / "ps1.ipynb")
    started = time.perf_counter()
    subprocess.run([*nbgrader, "autograde", "ps1", "--force"], **run)
    total = time.perf_counter() - started
    subprocess.run([*nbgrader, "export", "--to", str(base / "grades.csv")], **run)
    with (base / "grades.csv").open() as handle:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    return {"total": total, "per_submission": total / len(students), "scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cell-timeout", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=1, help="grader batches (medians)")
    parser.add_argument("--no-nbgrader", action="store_true")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-nbtests-"))
    base.chmod(0o755)  # the sandbox dir below it must be reachable by the sandbox uids
    os.environ.setdefault("GRADER_INSTRUCTOR_DIR", str(base / "no-instructor-data"))
    (base / "no-instructor-data").mkdir()
    os.environ.setdefault("GRADER_CACHE", str(base / "cache"))
    # slots and uids of its own, so other graders on this machine neither slow nor meet it
    os.environ.setdefault("GRADER_SANDBOX_DIR", str(base / "sandbox"))
    os.environ.setdefault("GRADER_SANDBOX_UID", "63000")
    try:
        spec, roster, students = build_class(base, args.n, args.cell_timeout)
        runs = [grade_with_grader(spec, roster, base / f"out{i}", args.jobs)
                for i in range(args.runs)]  # fmt: skip
        ours = runs[-1]
        total = statistics.median(r["total"] for r in runs)
        unit = statistics.median(r["unit_median"] for r in runs)
        check = statistics.median(r["check_median"] for r in runs)
        print(f"grader batch --jobs {args.jobs} ({args.n} notebooks, 3 tests each, "
              f"{args.cell_timeout:g} s cell timeout, {args.runs} run(s), medians):")  # fmt: skip
        print(f"  total {total:.2f} s (target <= 15 s)")
        print(f"  per submission: median {unit:.3f} s (target <= 0.3 s); tests check alone "
              f"{check:.3f} s")  # fmt: skip
        expected = {neptun: points for neptun, _code, points in students}
        wrong = {k: (v, expected[k]) for k, v in ours["scores"].items() if v != expected[k]}
        print(f"  scores as designed: {'yes' if not wrong else f'NO {wrong}'}")
        if args.no_nbgrader:
            return
        theirs = grade_with_nbgrader(base, students, args.cell_timeout)
        if "skipped" in theirs:
            print(f"nbgrader: skipped ({theirs['skipped']})")
            return
        print(f"nbgrader autograde: total {theirs['total']:.2f} s, "
              f"{theirs['per_submission']:.3f} s per submission")  # fmt: skip
        ending = [n for n, code, _p in students if code != LOOPING]
        differ = {n: (ours["scores"][n], theirs["scores"].get(n)) for n in ending
                  if ours["scores"][n] != theirs["scores"].get(n)}  # fmt: skip
        print(f"  same scores as nbgrader on the {len(ending)} that end: "
              f"{'yes' if not differ else f'NO {differ}'}")  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

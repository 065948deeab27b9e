"""Batch grading benchmark: a generated class of N student repos (default 200) graded with
the static pipeline at --jobs 1 and --jobs 2, then regraded unchanged (all from the cache).

    .venv/bin/python benchmarks/batch.py [--n 200] [--spec SPEC] [--keep DIR]

Prints the per-submission median (time a worker spent on one unit: fetch, pin, checks),
the batch's total wall time (probing, grading, reports, gradebook, markers; the --jobs 2
run also the similarity check and the class overview, as ``grader batch`` does), the
similarity and overview steps on their own, the overview's size, and the unchanged
regrade. The generated class shares its code (the worst case for similarity: every pair
matches). Targets: median <= 0.25 s per submission, unchanged regrade <= 50 ms per
submission, overview under 2 MB.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.batch import BatchOptions, run_batch  # noqa: E402
from grader.pipeline import load_assignment  # noqa: E402
from grader.roster import load_roster  # noqa: E402
from grader.testing import make_class, write_roster  # noqa: E402

DEFAULT_SPEC = ROOT / "assignments" / "bme-vitmav45-2020" / "hw3-temperature.yaml"


def grade(spec_path: Path, roster: Path, out: Path, cache: Path, jobs: int, overview: bool):
    spec = load_assignment(spec_path)
    options = BatchOptions(jobs=jobs, rerun_mode="none", cache_dir=cache, overview=overview)
    return run_batch(spec, spec_path, load_roster(roster, spec), out, options)


def class_wide_steps(spec_path: Path, out: Path) -> None:
    """The similarity check (forced: compared again) and the overview, each timed alone."""
    from grader.overview import write_overview
    from grader.similarity import analyse_out_dir

    spec = load_assignment(spec_path)
    start = time.perf_counter()
    report = analyse_out_dir(out, spec, spec_dir=spec_path.parent, force=True)
    similarity_s = time.perf_counter() - start
    start = time.perf_counter()
    page = write_overview(out, spec)
    overview_s = time.perf_counter() - start
    pages = list((out / "similarity").glob("*.html"))
    size = page.stat().st_size
    print(
        f"\nsimilarity: {report.submissions} submissions, {len(report.pairs)} pairs listed, "
        f"{similarity_s:.2f} s; similarity.json {(out / 'similarity.json').stat().st_size / 1e6:.2f} MB, "
        f"{len(pages)} side-by-side pages {sum(p.stat().st_size for p in pages) / 1e6:.2f} MB"
    )
    print(f"overview: {overview_s:.2f} s, index.html {size / 1e6:.2f} MB "
          f"({'under' if size < 2e6 else 'OVER'} the 2 MB target)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="students in the class")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="grader-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        students = make_class(work / "class", n=args.n)
        roster = write_roster(work / "roster.csv", students)
        print(f"generated {len(students)} student repos in {time.perf_counter() - start:.1f} s")
        rows = []
        for jobs in (1, 2):
            out, cache = work / f"out-j{jobs}", work / f"mirrors-j{jobs}"
            summary = grade(args.spec, roster, out, cache, jobs, overview=jobs == 2)
            rows.append((f"--jobs {jobs}" + (" +overview" if jobs == 2 else ""), summary))
        regrade = grade(args.spec, roster, work / "out-j2", work / "mirrors-j2", 2, False)
        units = regrade.units
        print(f"\nclass: {args.n} students in {units} grading units, spec {args.spec.name}")
        print(
            f"{'run':<20}{'graded':>8}{'cached':>8}{'median/sub':>12}{'total':>10}{'per sub':>10}"
        )
        for name, s in rows:
            median = s.median_unit_seconds or 0.0
            print(
                f"{name:<20}{s.graded:>8}{s.cached:>8}{median:>11.3f}s{s.seconds:>9.2f}s"
                f"{s.seconds / units:>9.3f}s"
            )
        per = regrade.seconds / units
        print(
            f"{'regrade (same)':<20}{regrade.graded:>8}{regrade.cached:>8}{'-':>12}"
            f"{regrade.seconds:>9.2f}s{per:>9.4f}s"
        )
        class_wide_steps(args.spec, work / "out-j2")
        median = max(s.median_unit_seconds or 0.0 for _, s in rows)
        ok_median, ok_regrade = median <= 0.25, per <= 0.05
        print(
            f"\ntargets: median <= 0.25 s per submission: {'met' if ok_median else 'MISSED'}; "
            f"unchanged regrade <= 50 ms per submission: {'met' if ok_regrade else 'MISSED'}"
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Deadline snapshot benchmark: a generated class of N student repos (default 200) is
snapshotted (fetch, HEAD, kept ref, blobs, one ledger line each), the ledger verified, and
the class batch-graded with and without the ledger (static checks, --jobs 1).

    .venv/bin/python benchmarks/ledger.py [--n 200] [--keep DIR]

Prints the snapshot's wall time (and per repository), the verification time, and the
batch's per-unit median with the ledger next to the one without (the cost of pinning on a
recorded HEAD: one extra `git log` per pin).
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
from grader.batch.units import build_units  # noqa: E402
from grader.ledger import read_lines  # noqa: E402
from grader.pipeline import load_assignment  # noqa: E402
from grader.roster import load_roster  # noqa: E402
from grader.snapshot import take_snapshots, targets_from_units  # noqa: E402
from grader.testing import make_class, write_roster  # noqa: E402

SPEC = ROOT / "assignments" / "bme-vitmav45-2020" / "hw3-temperature.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="students in the class")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="grader-ledger-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        students = make_class(work / "class", n=args.n)
        roster_path = write_roster(work / "roster.csv", students)
        spec = load_assignment(SPEC)
        roster = load_roster(roster_path, spec)
        targets = targets_from_units(build_units(roster, spec), spec, "final")
        cache = work / "cache"
        start = time.perf_counter()
        outcomes = take_snapshots(spec, targets, work / "graded" / "ledger.jsonl", cache)
        seconds = time.perf_counter() - start
        recorded = sum(o.status == "recorded" for o in outcomes)
        print(f"snapshot: {len(targets)} repositories ({recorded} recorded, "
              f"{len(targets) - recorded} unreadable) in {seconds:.2f} s, "
              f"{1000 * seconds / len(targets):.1f} ms each (8 threads)")  # fmt: skip
        start = time.perf_counter()
        entries, problems = read_lines(work / "graded" / "ledger.jsonl")
        print(f"verify: {len(entries)} entries, {len(problems)} problems in "
              f"{1000 * (time.perf_counter() - start):.1f} ms")  # fmt: skip
        for label, out in (
            ("without the ledger", work / "plain"),
            ("with the ledger", work / "graded"),
        ):
            options = BatchOptions(jobs=1, rerun_mode="none", cache_dir=cache, overview=False)
            summary = run_batch(spec, SPEC, roster, out, options)
            print(f"batch {label}: median {summary.median_unit_seconds:.3f} s per unit, "
                  f"{summary.seconds:.1f} s in all")  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Review desk benchmark: a gradebook of N students (default 200; results shaped like the
hw3 batch's, with a manual item each and a few decisions), served through the Flask app
(in-process test client, no network). Prints the median time of each page and action.

    .venv/bin/python benchmarks/review_desk.py [--n 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.gradebook import Gradebook  # noqa: E402
from grader.gradebook.review import ReviewStore  # noqa: E402
from grader.results import CheckResult, Evidence, Status, SubmissionResult  # noqa: E402
from grader.web import DeskConfig, create_app  # noqa: E402

A = "hw3-temperature"


def result(index: int) -> SubmissionResult:
    student = f"S{index:05d}"
    evidence = [Evidence(f"notebooks/run_{i}.ipynb", "found", "2020-10-28: 9.8 °C " * 4, i)
                for i in range(8)]  # fmt: skip
    checks = [
        CheckResult("files", Status.PASS, 2, 2, "all present", evidence[:4]),
        CheckResult("english", Status.MANUAL, 0, 2, "not enough text to judge", evidence),
        CheckResult("git_history", Status.PASS, 1, 1, "on time"),
        CheckResult("predictions", Status.PASS, 3, 3, "3 of 3", evidence),
        CheckResult("training_data", Status.FAIL, 0, 2, "too few rows", evidence[:2]),
    ]
    return SubmissionResult(
        assignment=A, student=student, repo=f"https://github.com/x/{student}", deadline=
        "2020-10-27T23:59:00+01:00", commit="c0ffee", committed_at="2020-10-26T10:00:00+01:00",
        checks=checks, score=6, max_score=10, graded_at="2026-01-01T10:00:00+00:00",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="desk-bench-"))
    book = Gradebook(str(folder / "gradebook.sqlite"))
    started = time.perf_counter()
    for index in range(args.n):
        book.record(result(index), run_id="bench")
    store = ReviewStore(book)
    for index in range(0, args.n, 10):
        store.decide_check(A, f"S{index:05d}", "english", points=1, reason="bench", who="TA",
                           expected_version=0)  # fmt: skip
    print(f"{args.n} students recorded in {time.perf_counter() - started:.1f} s")
    client = create_app(DeskConfig(db_url=book.url, instructor_token="t")).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"csrf_token": token, "name": "bench", "token": "t"})
    student = f"S{args.n // 2 + 1:05d}"
    pages = {
        "class page": f"/a/{A}/",
        "review queue": "/queue",
        "one submission": f"/a/{A}/s/{student}/",
        "history": f"/a/{A}/s/{student}/history",
        "moodle export": f"/a/{A}/exports/moodle.csv",
    }
    for name, url in pages.items():
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - began)
            assert response.status_code == 200, (url, response.status_code)
        print(f"{name:16s} median {1000 * statistics.median(times):7.1f} ms")
    page = client.get(pages["one submission"]).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    times = []
    for version in range(args.repeat):
        began = time.perf_counter()
        response = client.post(f"/a/{A}/s/{student}/check/english", data={
            "csrf_token": token, "points": str(1 + version % 2), "reason": "bench",
            "version": str(version)})  # fmt: skip
        times.append(time.perf_counter() - began)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    print(f"{'save a decision':16s} median {1000 * statistics.median(times):7.1f} ms")


if __name__ == "__main__":
    main()

"""Sandbox overhead benchmark.

    .venv/bin/python benchmarks/sandbox_overhead.py [--runs 40] [--notebooks 5]

1. Launch overhead: the median wall time of ``/bin/true`` through the bubblewrap sandbox
   (uid drop, rlimits, namespaces, read-only system, private /tmp, output capture) minus
   that of a plain ``subprocess.run``. Target <= 10 ms. The same with a cgroup joined (GPU
   runs and runs longer than a minute) is printed for reference.
2. Notebook overhead: executing a small notebook (kernel start, 3 cells) with our sandboxed
   nbclient runner versus plain nbclient run the same way without a sandbox (a fresh
   ``python`` process with NotebookClient, as ``jupyter nbconvert --execute`` would).
   Target <= 10% per notebook. The in-process nbclient time is printed for reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from grader.sandbox import BubblewrapSandbox, Limits  # noqa: E402
from grader.sandbox.bwrap import bwrap_available  # noqa: E402
from grader.sandbox.envs import interpreter_mounts, resolve_interpreter  # noqa: E402
from grader.sandbox.notebook import RUNNER, execute_notebooks  # noqa: E402
from grader.sandbox.workspace import discard_workdir, prepare_workdir  # noqa: E402

PLAIN_NB = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
"""


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def launch(runs: int) -> tuple[float, float, float]:
    sandbox = BubblewrapSandbox()
    work = prepare_workdir(None, sandbox.uid)
    plain, boxed, grouped = [], [], []
    try:
        for _ in range(3):  # warm the page cache
            subprocess.run(["/bin/true"], check=True)
            sandbox.run(["/bin/true"], work, Limits(wall_s=10))
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(["/bin/true"], check=True, capture_output=True)
            plain.append(time.perf_counter() - start)
            start = time.perf_counter()
            out = sandbox.run(["/bin/true"], work, Limits(wall_s=10))
            boxed.append(time.perf_counter() - start)
            assert out.ok, out.stderr
            start = time.perf_counter()
            sandbox.run(["/bin/true"], work, Limits(wall_s=10, cgroup="always"))
            grouped.append(time.perf_counter() - start)
    finally:
        discard_workdir(work)
    return median_ms(plain), median_ms(boxed), median_ms(grouped)


def small_notebook() -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import math\nx = sum(math.sqrt(i) for i in range(100000))"),
        nbformat.v4.new_code_cell("print(round(x, 2))"),
        nbformat.v4.new_code_cell("[i * i for i in range(10)]"),
    ]
    return nbformat.writes(nb)


def notebooks(count: int) -> tuple[float, float, float]:
    python = resolve_interpreter(sys.executable)
    mounts = interpreter_mounts(python)
    sandbox = BubblewrapSandbox()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        (src / "bench.ipynb").write_text(small_notebook())
        plain, ours, inproc = [], [], []
        for index in range(count + 1):
            start = time.perf_counter()
            subprocess.run(
                [str(python), "-c", PLAIN_NB, str(src / "bench.ipynb")],
                check=True, capture_output=True,
            )  # fmt: skip
            plain_s = time.perf_counter() - start
            work = prepare_workdir(src, sandbox.uid)
            start = time.perf_counter()
            run = execute_notebooks(
                sandbox, work, ["bench.ipynb"], Limits(wall_s=120), str(python), mounts=mounts
            )
            ours_s = time.perf_counter() - start
            discard_workdir(work)
            assert run.ok, run.failures
            from nbclient import NotebookClient

            nb = nbformat.read(src / "bench.ipynb", as_version=4)
            start = time.perf_counter()
            NotebookClient(nb, timeout=60, kernel_name="python3").execute()
            inproc_s = time.perf_counter() - start
            if index:  # the first round only warms caches
                plain.append(plain_s)
                ours.append(ours_s)
                inproc.append(inproc_s)
    return median_ms(plain), median_ms(ours), median_ms(inproc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="launches to time")
    parser.add_argument("--notebooks", type=int, default=5, help="notebook executions to time")
    args = parser.parse_args()
    if not bwrap_available():
        raise SystemExit("bubblewrap is not installed (apt-get install -y bubblewrap)")
    assert RUNNER.is_file()
    plain, boxed, grouped = launch(args.runs)
    print(
        f"launch: plain subprocess {plain:.1f} ms, sandbox {boxed:.1f} ms (median of {args.runs}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"(a run that also joins a cgroup, as GPU runs and runs over a minute do: "
        f"{grouped:.1f} ms, +{grouped - plain:.1f} ms)"
    )
    verdict = "ok" if boxed - plain <= 10 else "OVER TARGET"
    print(f"launch overhead: {boxed - plain:.1f} ms (target <= 10 ms) {verdict}")
    p, o, i = notebooks(args.notebooks)
    share = (o - p) / p * 100
    print(
        f"notebook: plain nbclient {p:.0f} ms, sandboxed runner {o:.0f} ms "
        f"(in-process nbclient {i:.0f} ms; median of {args.notebooks})"
    )
    verdict = "ok" if share <= 10 else "OVER TARGET"
    print(f"notebook overhead: {share:+.1f}% (target <= 10%) {verdict}")


if __name__ == "__main__":
    main()

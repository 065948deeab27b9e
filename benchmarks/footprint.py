"""What a student pays: the install and the start of the CLI.

    .venv/bin/python benchmarks/footprint.py [--repeats 15] [--keep DIR] [--python python3.11]
                                             [--source CHECKOUT]

Creates a fresh virtual environment, ``pip install``s the grader from this checkout
without extras (as a student, or the GitHub Action on every push, does), and prints

- the install: packages installed (the grader included; the venv's own pip and setuptools
  not) and their size on disk in MB (10^6 bytes: site-packages after minus before), with
  the install's wall time;
- ``grader --version``: process wall time, warm (after one unmeasured run);
- ``grader check hw3-temperature REPO`` on a small student repository (README, training
  script, data CSV, predictions): process wall time, warm.

Times are the median and the minimum of ``--repeats`` runs; the machine's other load shows
in the median, the minimum is the cost; the CPU time (user + system, minimum) is printed
too, as it suffers less from a busy machine. Targets (issue 14): <= 25 packages, <= 80 MB,
--version <= 0.15 s, check <= 0.35 s. pip uses whatever index the machine is set up with.
``--source`` measures another checkout (an older commit unpacked with ``git archive``, say)
with this script and this repository's test kit.
"""

from __future__ import annotations

import argparse
import contextlib
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

from grader.testing import make_student_repo  # noqa: E402

TARGETS = {"packages": 25, "mb": 80.0, "version": 0.15, "check": 0.35}
_LIST = "import importlib.metadata as m, json; print(json.dumps(sorted({d.metadata['Name'].lower() for d in m.distributions()})))"  # noqa: E501


def _site_packages(venv: Path) -> Path:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return Path(out.stdout.strip())


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _dists(venv: Path) -> set[str]:
    out = subprocess.run([str(venv / "bin" / "python"), "-c", _LIST], capture_output=True,
                         text=True, check=True)  # fmt: skip
    return set(json.loads(out.stdout))


def _times(command: list[str], repeats: int, env: dict[str, str]) -> tuple[float, float, float]:
    """(median wall, minimum wall, minimum CPU) seconds of the process, warm."""
    subprocess.run(command, capture_output=True, env=env, check=False)  # warm: .pyc, caches
    seconds, cpu = [], []
    for _ in range(repeats):
        before = os.times()
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, env=env, check=False)
        seconds.append(time.perf_counter() - start)
        after = os.times()
        cpu.append(after.children_user - before.children_user
                   + after.children_system - before.children_system)  # fmt: skip
        if done.returncode not in (0, 1):
            sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return statistics.median(seconds), min(seconds), min(cpu)


def _mark(value: float, target: float) -> str:
    return "ok" if value <= target else "OVER"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venv")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout to install")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="grader-footprint-"))
    work.mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    try:
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([args.python, "-m", "venv", str(venv)], check=True)
        site = _site_packages(venv)
        before_dists, before_size = _dists(venv), _size(site)
        start = time.perf_counter()
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
             "--disable-pip-version-check", str(args.source.resolve())],
            check=True, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        install_seconds = time.perf_counter() - start
        added = sorted(_dists(venv) - before_dists)
        mb = (_size(site) - before_size) / 1e6

        repo = make_student_repo(work / "class", "ABC123", "good", 3)
        worktree = work / "class" / "work" / "ABC123"
        assert repo.exists() and worktree.is_dir()
        env = {**os.environ, "NO_COLOR": "1"}
        grader = str(venv / "bin" / "grader")
        version = _times([grader, "--version"], args.repeats, env)
        check = _times(
            [grader, "check", "hw3-temperature", str(worktree), "--out", str(work / "report")],
            args.repeats, env,
        )  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"student install (no extras), {install_seconds:.1f} s with this machine's index:")
    print(f"  {', '.join(added)}")
    print()
    print(f"source: {args.source.resolve()}")
    print(f"{'figure':<42}{'measured':>16}{'target':>10}")
    print(f"{'packages installed':<42}{len(added):>16}{TARGETS['packages']:>10}  "
          f"{_mark(len(added), TARGETS['packages'])}")  # fmt: skip
    print(f"{'size on disk (MB)':<42}{mb:>16.1f}{TARGETS['mb']:>10.0f}  {_mark(mb, TARGETS['mb'])}")
    for label, (median, low, cpu), key in (
        ("grader --version (s, median / min)", version, "version"),
        ("grader check hw3-temperature (s, med/min)", check, "check"),
    ):
        shown = f"{median:.3f} / {low:.3f}"
        print(f"{label:<42}{shown:>16}{TARGETS[key]:>10.2f}  {_mark(low, TARGETS[key])}"
              f"  (CPU {cpu:.3f} s)")  # fmt: skip


if __name__ == "__main__":
    main()

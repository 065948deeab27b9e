"""Shared helpers of the hostile suites (tests/test_hostile_*.py): the real CLI in a child
process, small specs, student repositories with dated commits, rosters."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from grader.results import SubmissionResult, read_result
from grader.testing import build_file_tree, git_save, make_bare

GRADER = str(Path(sys.executable).with_name("grader"))
ON_TIME = "2020-10-20T12:00:00+02:00"
DEADLINE = "2020-10-27 23:59"
README = (
    "# Temperature forecast\n\nThis project trains a small neural network on the daily "
    "temperatures of Budapest and predicts the mean temperature one day ahead. Run the "
    "training script to train the model and print the prediction for the next day.\n"
)


def spec(tmp: Path, checks: str, extra: str = "", name: str = "hw.yaml") -> Path:
    """A spec file with the given ``checks:`` body (YAML, indented by two spaces)."""
    text = (
        f'id: hw\ntitle: HW\ncourse: c\ndeadline: "{DEADLINE}"\n'
        'deliverables:\n  - glob: "readme.md"\n    description: "README"\n'
        f"{extra}checks:\n{checks}"
    )
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def student(tmp: Path, name: str, files: dict, date: str = ON_TIME) -> Path:
    """A bare repository with one commit holding ``files`` (plus a README)."""
    work = build_file_tree(tmp / "work" / name, {"README.md": README, **files})
    git_save(work, "solution", date=date)
    return make_bare(work, tmp / "remotes" / f"{name}.git")


def roster(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["neptun", "github"])
        writer.writerows(rows)
    return path


def _bounded() -> None:  # a grader that regresses must not take the test machine with it
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))


def run_grader(
    *args: str,
    env: dict | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """``grader ARGS`` in a child process (plain terminal, no colours)."""
    full = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200", **(env or {})}
    argv = [*prefix, GRADER, *args]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full, cwd=cwd,
        preexec_fn=_bounded, errors="backslashreplace", start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:  # whatever happened, nothing the grader started outlives the test
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def grade(
    spec_path: Path, repo: str | Path, out: Path, *extra: str, neptun: str = "ABC123", **kw
) -> tuple[subprocess.CompletedProcess, SubmissionResult | None]:
    done = run_grader(
        "grade", str(spec_path), "--repo", str(repo), "--student", neptun, "--out", str(out),
        *extra, **kw,
    )  # fmt: skip
    path = out / neptun / "result.json"
    return done, (read_result(path) if path.is_file() else None)


def raw_result(out: Path, neptun: str) -> str:
    """result.json as bytes decoded strictly (it must be valid UTF-8)."""
    return (out / neptun / "result.json").read_bytes().decode("utf-8")


def check(result: SubmissionResult, key: str):
    return next(c for c in result.checks if c.id == key)


def marker(out: Path, neptun: str) -> dict:
    return json.loads((out / neptun / "cache.json").read_text(encoding="utf-8"))

"""The reference solution, measured the way students are: ``grader reference SPEC``.

The reference folder (``instructor_dir()/<spec id>/`` by default) is committed into a
private git repository and graded by the same pipeline as a student's work: the spec's
``rerun`` checks in the sandbox (on a GPU when one is free) and its ``tests`` checks with
the hidden tests. What they measured goes into ``reference.json`` under ``runs.<mode>``
(metrics, hidden-test results, the environment, the commit and the date); score bands in
the specs are relative to these numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader import __version__
from grader.pipeline import grade
from grader.results import Status, SubmissionResult, atomic_write, now_iso
from grader.settings import RerunMode, RunSettings
from grader.spec import AssignmentSpec

MEASURING = ("rerun", "tests")
NOT_COPIED = ("hidden_tests", "hidden_data", "reference.json", ".git", "__pycache__")


@dataclass
class ReferenceRun:
    mode: str
    result: SubmissionResult
    entry: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _commit(folder: Path) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
        check=False, env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull},
    )  # fmt: skip
    return done.stdout.strip() or None if done.returncode == 0 else None


def _snapshot(source: Path, work: Path, setup: str | None) -> Path:
    """A git repository holding the reference (its hidden material left out)."""
    repo = work / "reference"
    shutil.copytree(source, repo, ignore=shutil.ignore_patterns(*NOT_COPIED), symlinks=True)
    if setup:
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        done = subprocess.run(setup, shell=True, cwd=repo, capture_output=True, text=True,
                              check=False, env={**os.environ, "PATH": path})  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"--setup failed: {(done.stderr or done.stdout).strip()[-800:]}")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "grader",
           "GIT_AUTHOR_EMAIL": "grader@localhost", "GIT_COMMITTER_NAME": "grader",
           "GIT_COMMITTER_EMAIL": "grader@localhost"}  # fmt: skip
    for argv in (["init", "-q", "-b", "main"], ["add", "-A", "-f"],
                 ["commit", "-q", "-m", "reference solution", "--allow-empty"]):  # fmt: skip
        subprocess.run(["git", *argv], cwd=repo, env=env, check=True, capture_output=True)
    return repo


def _entry(result: SubmissionResult, mode: str, source: Path) -> tuple[dict, list[str]]:
    metrics: dict[str, float] = {}
    problems: list[str] = []
    entry: dict[str, Any] = {"date": now_iso(), "commit": _commit(source),
                             "grader_version": __version__, "checks": {}}  # fmt: skip
    for check in result.checks:
        entry["checks"][check.id] = {"status": check.status.value, "message": check.message}
        if check.check == "rerun":
            history = check.facts.get("history") or {}
            metrics.update({f"test_{k}": v for k, v in (history.get("test_metrics") or {}).items()})
            entry["history"] = history
            entry["environment"] = {
                "device": check.facts.get("device"), "sandbox": check.facts.get("sandbox"),
                "mode": check.facts.get("mode"),
                "wall_s": sum(r.get("wall_s", 0) for r in check.facts.get("runs") or []),
            }  # fmt: skip
        if check.check == "tests":
            metrics.update(check.facts.get("metrics") or {})
            entry["tests"] = [
                {k: t.get(k) for k in ("name", "visibility", "status", "points", "earned")}
                for t in check.facts.get("instructor_only", {}).get("tests", [])
            ]
            entry.setdefault("environment", {})["tests_device"] = check.facts.get("device")
            rows = check.facts.get("instructor_only", {}).get("tests", [])
            failing = [r for r in rows if r.get("status") in ("failed", "error", "not run")]
            problems += [
                f"the reference fails its own test {r.get('name')}: {str(r.get('message'))[:600]}"
                for r in failing
            ]
            if failing:
                continue
        if check.status in (Status.FAIL, Status.ERROR, Status.ENVIRONMENT):
            problems.append(f"{check.id}: {check.message}")
    entry["metrics"] = {k: round(float(v), 6) for k, v in metrics.items()}
    entry["mode"] = mode
    return entry, problems


def measure_reference(
    spec: AssignmentSpec,
    source: Path,
    mode: RerunMode = RerunMode.SMOKE,
    setup: str | None = None,
) -> ReferenceRun:
    """Grade the reference solution in ``source`` with the spec's rerun and tests checks."""
    checks = [c for c in spec.checks if c.check in MEASURING]
    if not checks:
        raise ValueError(f"{spec.id} has no rerun or tests check: nothing to measure")
    measuring = spec.model_copy(update={"checks": checks})
    with tempfile.TemporaryDirectory(prefix="grader-reference-") as tmp:
        work = Path(tmp)
        repo = _snapshot(source, work, setup)
        result = grade(
            measuring, str(repo), "REFERENCE", work / "graded", cache_dir=work / "cache",
            deadline=datetime.now(UTC), settings=RunSettings(rerun=mode, hidden=True),
        )  # fmt: skip
    if result.error:
        return ReferenceRun(mode.value, result, {}, [result.error])
    entry, problems = _entry(result, mode.value, source)
    return ReferenceRun(mode.value, result, entry, problems)


def write_reference(run: ReferenceRun, path: Path) -> Path:
    """Merge this mode's run into ``reference.json`` (other modes' runs are kept)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    data.setdefault("runs", {})[run.mode] = run.entry
    data["written_by"] = "grader reference"
    return atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

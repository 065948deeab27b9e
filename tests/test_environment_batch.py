"""The environment is never the student's fault (issue 10, D11), through the CLI: a batch
that reruns student code refuses to start without a usable sandbox; a sandbox that fails
inside a job makes "not graded (environment)" results that count as errors, make the
batch exit 1, show in the summary and the overview, are never cached and are never
exported as grades; once the environment is fixed, the same command regrades them
(no --force)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.testing import make_class, write_roster
from tests.markers import needs_bwrap_binary

pytestmark = pytest.mark.slow

GRADER = str(Path(sys.executable).with_name("grader"))
SPEC = """\
id: rr
title: Rerun homework
course: c
deadline: "2020-10-27 23:59"
deliverables:
  - {glob: "readme.md", description: "README"}
checks:
  - check: files
    points: 1
  - check: rerun
    points: 2
    required: false
    args:
      commands: ["python train.py"]
      timeout: 120
      smoke: {env: {SMOKE: "1"}}
"""


def run(klass: dict, *extra: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_FORCE")}
    environ.pop("GRADER_ALLOW_UNSANDBOXED", None)
    environ.update(env, COLUMNS="250")
    command = [
        GRADER, "batch", str(klass["spec"]), "--roster", str(klass["roster"]), "--out",
        str(klass["out"]), "--cache", str(klass["root"] / "mirrors"), "--no-progress",
        "--rerun", "smoke", *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=environ, timeout=600)


@pytest.fixture()
def klass(tmp_path: Path) -> dict:
    (tmp_path / "rr.yaml").write_text(SPEC, encoding="utf-8")
    students = make_class(tmp_path / "class", kinds=["good", "good"])
    return {
        "root": tmp_path, "spec": tmp_path / "rr.yaml", "out": tmp_path / "out",
        "roster": write_roster(tmp_path / "roster.csv", students),
        "students": [s.neptun for s in students],
    }  # fmt: skip


@needs_bwrap_binary
def test_a_missing_sandbox_refuses_to_start_then_an_environment_failure_is_retried(
    klass: dict,
) -> None:
    out = klass["out"]
    # 1. bubblewrap "missing": the batch refuses to start; nothing is graded or cached
    refused = run(klass, GRADER_FORCE_PLAIN="1")
    assert refused.returncode == 2, refused.stdout + refused.stderr  # before: 0, "0 error"
    said = " ".join(refused.stderr.split())
    assert "run student code" in said and "GRADER_ALLOW_UNSANDBOXED=1" in said
    assert not list(out.glob("*/result.json"))

    # 2. the sandbox breaks inside each job (its interpreter is gone): not the students'
    # fault: "not graded (environment)", an error, exit 1, in the summary and the overview
    broken = run(klass, GRADER_RERUN_PYTHON="/nonexistent/python3")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    text = " ".join(broken.stdout.split())
    assert "0 pass, 0 fail, 2 error" in text
    assert "2 of them not graded (environment)" in text
    for neptun in klass["students"]:
        result = json.loads((out / neptun / "result.json").read_text())
        rerun = next(c for c in result["checks"] if c["id"] == "rerun")
        assert rerun["status"] == "environment" and rerun["points"] == 0
        assert "interpreter '/nonexistent/python3' does not exist" in rerun["message"]
        assert json.loads((out / neptun / "cache.json").read_text())["key"] is None
    overview = (out / "index.html").read_text()
    assert "not graded (environment)" in overview
    export = subprocess.run(
        [GRADER, "gradebook", "export", "--db", str(out / "gradebook.sqlite"), "--assignment",
         "rr", "--format", "moodle", "--out", str(klass["root"] / "moodle.csv")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert export.returncode == 1 and "not graded (environment)" in export.stderr
    assert not any(
        n in (klass["root"] / "moodle.csv").read_text() for n in klass["students"]
    )  # never a 0 for them

    # 3. fixed: the same command regrades them (no --force), with the rerun's points
    fixed = run(klass)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    text = " ".join(fixed.stdout.split())
    assert "graded now │ 2" in text and "from cache │ 0" in text
    for neptun in klass["students"]:
        result = json.loads((out / neptun / "result.json").read_text())
        rerun = next(c for c in result["checks"] if c["id"] == "rerun")
        assert rerun["status"] == "pass" and rerun["points"] == 2, rerun["message"]
    # and now a result is current: the next run serves it from the cache
    again = run(klass)
    assert "from cache │ 2" in " ".join(again.stdout.split())

"""The scheduled deadline-snapshot workflow: valid for GitHub, and its recording step does
what it says when bash runs it as GitHub would (the grader from this checkout on PATH)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.ledger import read_lines
from grader.testing import build_file_tree, git_save, make_bare
from tests.conftest import REPO_ROOT

WORKFLOW = REPO_ROOT / "templates" / "github" / "snapshot.yml"
CHECK_JSONSCHEMA = shutil.which("check-jsonschema") or str(
    Path(sys.executable).with_name("check-jsonschema")
)
SPEC = """\
id: mini
title: Mini
course: c
deadline: "2020-10-27 23:59"
milestones:
  - {id: m1, title: Data, deadline: "2020-10-20 23:59"}
checks:
  - check: files
    milestone: m1
    points: 1
"""


def step(name: str) -> str:
    jobs = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]
    return next(s["run"] for s in jobs["snapshot"]["steps"] if s.get("name") == name)


@pytest.mark.skipif(not Path(CHECK_JSONSCHEMA).exists(), reason="check-jsonschema not installed")
def test_the_workflow_validates_against_githubs_schema() -> None:
    done = subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    crons = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))[True]["schedule"]
    assert len(crons) == 5  # every deadline of the 2020 semester


@pytest.mark.slow
def test_the_recording_step_snapshots_every_listed_deadline(tmp_path: Path) -> None:
    work = build_file_tree(tmp_path / "student", {"README.md": "# Házi\n"})
    head = git_save(work, "work", date="2020-10-19T10:00:00+02:00")
    bare = make_bare(work)
    repo = build_file_tree(tmp_path / "grading", {
        "mini.yaml": SPEC,
        "rosters/mini.csv": f"neptun,github\nABC123,{bare}\n",
        "snapshots.txt": "# spec roster out [options]\n\n"
                         "mini.yaml rosters/mini.csv grades/mini\n"
                         "mini.yaml rosters/mini.csv grades/mini --milestone m1\n",
    })  # fmt: skip
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GRADER_GITHUB_TOKEN": ""}  # fmt: skip
    done = subprocess.run(["bash", "-e", "-c", step("Record the HEADs at the deadlines that have passed")],
                          cwd=repo, env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    entries, problems = read_lines(repo / "grades" / "mini" / "ledger.jsonl")
    assert problems == [] and [(e.kind, e.head) for e in entries] == [("final", head), ("m1", head)]
    assert (repo / "grades" / "mini" / "gradebook.sqlite").is_file()
    assert list((repo / ".grader-cache" / "mirrors").glob("*.git"))
    again = subprocess.run(["bash", "-e", "-c", step("Record the HEADs at the deadlines that have passed")],
                           cwd=repo, env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert again.returncode == 0 and "already recorded" in again.stdout
    assert len(read_lines(repo / "grades" / "mini" / "ledger.jsonl")[0]) == 2

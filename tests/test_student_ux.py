"""The student's everyday experience at the command line: `grader explain`, the text-mode
"Fix these first" and uncommitted-files warning, .grader/ ignoring itself, output that is
not a terminal, `grader workflow` without --action, student ids."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.install_source import action_from_direct_url
from grader.student_ids import normalize_student_id, student_id_rule
from grader.testing import build_file_tree, git_save, make_bare

HW3 = "bme-vitmav45-2020/hw3-temperature"
ROOT = Path(__file__).resolve().parent.parent
MILESTONE_SPEC = """\
id: ms-demo
title: Milestone demo
course: Mély tanulás gyakorlat
deadline: "2020-12-11 23:59"
milestones:
  - {id: m1, title: "Data", deadline: "2020-10-25 23:59"}
checks:
  - check: files
    id: m1_data
    title: "M1: training data"
    milestone: m1
    points: 1
    args: {deliverables: [{glob: "data/*.csv", description: "the training data"}]}
  - check: code_pattern
    id: m1_code
    title: "M1: data loading code"
    milestone: m1
    points: 1
    args: {patterns: [{regex: "read_csv", description: "reads the data"}]}
  - check: milestones
    points: 1
    args: {requires: [m1]}
  - check: files
    id: readme
    points: 1
    args: {deliverables: [{glob: "readme.md", description: "the README"}]}
"""


def invoke(*args: object, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def flat(text: str) -> str:
    return " ".join(text.split())


# ---- grader explain ---------------------------------------------------------------------


def test_explain_prints_checks_points_deadlines_in_both_zones_and_assumptions() -> None:
    done = invoke("explain", HW3, "--tz", "Asia/Tokyo")
    assert done.exit_code == 0, done.output
    text = flat(done.output)
    assert "Small homework 3: Budapest temperature forecast" in text
    assert (
        "2020-10-27 23:59 (UTC+01:00) Europe/Budapest = 2020-10-28 07:59 (UTC+09:00) your "
        "local time" in text
    )
    assert "What is checked (11 points)" in text
    assert "5. Predictions for the required dates (3 points, required)" in text
    assert "4. Notebooks with outputs (1 point, optional)" in text
    assert "Record the training data and the three predictions" in text  # the description
    assert "later commits are not seen" in text  # late policy in words


def test_explain_milestones_same_zone_and_a_bad_zone() -> None:
    done = invoke("explain", "project", "--tz", "Europe/Budapest")
    assert done.exit_code == 0, done.output
    text = flat(done.output)
    assert "Milestone m1" in text and "2020-10-25 23:59 (UTC+01:00)" in text
    assert "(the same as your local time)" in text and "graded at milestone m2" in text
    bad = invoke("explain", HW3, "--tz", "Mars/Olympus")
    assert bad.exit_code == 2 and "not an IANA time zone" in bad.output


# ---- grader check in text mode ------------------------------------------------------------


def _milestone_spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec" / "ms-demo.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MILESTONE_SPEC, encoding="utf-8")
    return path


def test_text_mode_lists_fix_first_and_a_missed_milestone_once(tmp_path: Path) -> None:
    spec = _milestone_spec(tmp_path)
    repo = build_file_tree(tmp_path / "repo", {"readme.md": "# Projekt\n", "model.py": "x = 1\n"})
    git_save(repo, "start", date="2020-10-20T10:00:00+02:00")
    build_file_tree(repo, {"jegyzet (vázlat).txt": "még nincs kész\n", "notes/todo.md": "x\n"})
    done = invoke("check", spec, repo)
    assert done.exit_code == 1
    text = done.output
    assert "Fix these first" in text
    items = re.findall(r"^\s*\d+\. (.+)$", text, re.M)
    assert len(items) == 1, items  # two failing m1 checks, said once
    assert items[0].startswith("Milestone m1 missed: its deadline 2020-10-25 23:59 (UTC+01:00)")
    assert "M1: training data, M1: data loading code do not pass" in flat(text)
    assert (
        "2 uncommitted files here will not be seen by the pinned run: "
        "jegyzet (vázlat).txt, notes/todo.md" in flat(text)
    )
    # the HTML report says the same, in the same words
    html = (repo / ".grader" / "report.html").read_text(encoding="utf-8")
    fix = html[html.index('id="fix-first"') :]
    fix = fix[: fix.index("</section>")]
    assert fix.count("<li") == 1 and "Milestone m1 missed" in fix
    assert "2 uncommitted files here will not be seen by the pinned run" in html


def test_pinned_report_says_a_missed_milestone_once_not_per_check(tmp_path: Path) -> None:
    spec = _milestone_spec(tmp_path)
    repo = build_file_tree(tmp_path / "repo", {"readme.md": "# Projekt\n"})
    git_save(repo, "start", date="2020-10-20T10:00:00+02:00")
    build_file_tree(repo, {"data/train.csv": "a,b\n1,2\n", "load.py": "pd.read_csv('x')\n"})
    git_save(repo, "data, one week late", date="2020-11-01T10:00:00+01:00")
    out = tmp_path / "out"
    done = invoke("grade", spec, "--repo", make_bare(repo), "--student", "abc123", "--out", out)
    assert done.exit_code == 0, done.output
    result = json.loads((out / "ABC123" / "result.json").read_text())
    failing = [c["id"] for c in result["checks"] if c["status"] == "fail"]
    assert failing == ["m1_data", "m1_code", "milestones"]
    html = (out / "ABC123" / "report.html").read_text(encoding="utf-8")
    fix = html[html.index('id="fix-first"') :]
    fix = fix[: fix.index("</section>")]
    assert fix.count("<li") == 1
    assert "Milestone m1 missed" in fix and "did not pass at the last commit before" in fix


def test_a_passing_check_has_no_fix_list_and_grader_folder_ignores_itself(tmp_path: Path) -> None:
    from grader.testing.classes import _files

    repo = build_file_tree(tmp_path / "hw3", _files("ABC123", 3))
    git_save(repo, "all", date="2020-10-25T18:00:00+02:00")
    done = invoke("check", HW3, repo)
    assert done.exit_code == 0, done.output
    assert "Fix these first" not in done.output and "uncommitted" not in done.output
    assert (repo / ".grader" / ".gitignore").read_text().splitlines()[-1] == "*"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert status.stdout == ""  # the reports are not offered for committing


# ---- output that is not a terminal ---------------------------------------------------------


def _grader(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip


def test_piped_output_is_not_wrapped_at_80_columns(tmp_path: Path) -> None:
    listed = _grader("list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    hw4 = next(line for line in lines if line.startswith("bme-vitmav45-2020/hw4-transfer"))
    assert len(hw4) > 80 and hw4.endswith("(deadline 2020-11-10 23:59 (UTC+01:00) Europe/Budapest)")
    repo = build_file_tree(tmp_path / "r", {"README.md": "Ez egy rövid leírás magyarul.\n"})
    git_save(repo, "x", date="2020-10-25T18:00:00+02:00")
    checked = _grader("check", HW3, repo)
    assert checked.returncode == 1
    row = next(line for line in checked.stdout.splitlines() if "Required files" in line)
    assert len(row) > 80 and "deliverables missing" in row  # the message on the row, whole
    assert max(map(len, checked.stdout.splitlines())) > 100


def test_version_answers_without_loading_the_command_line() -> None:
    code = (
        "import sys, runpy; sys.argv = ['grader', '--version']; "
        "runpy.run_module('grader', run_name='__main__'); "
        "print(sorted(m for m in ('typer', 'rich', 'pydantic', 'grader.cli') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["grader 0.1.0", "[]"]


# ---- workflow, student ids ------------------------------------------------------------------


def test_workflow_without_action_says_which_reference_to_use(monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_ACTION_REPOSITORY", raising=False)
    monkeypatch.setattr("grader.install_source.installed_action", lambda: None)
    done = invoke("workflow", HW3)
    assert done.exit_code == 2
    assert "COURSE-ORG" not in done.output
    assert "OWNER/REPO@REF" in done.output and "pip install" in done.output
    bad = invoke("workflow", HW3, "--action", "not a reference")
    assert bad.exit_code == 2 and "expected OWNER/REPO@REF" in bad.output


def test_workflow_names_the_action_it_runs_in(monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_ACTION_REPOSITORY", "bme-dl/grader")
    monkeypatch.setenv("GITHUB_ACTION_REF", "v1.4")
    done = invoke("workflow", HW3)
    assert done.exit_code == 0, done.output
    assert "uses: bme-dl/grader@v1.4 " in done.output and "COURSE-ORG" not in done.output


def test_the_action_is_read_from_pips_record_of_a_github_install() -> None:
    record = {
        "url": "https://github.com/bme-dl/grader.git",
        "vcs_info": {"vcs": "git", "requested_revision": "v0.3.0", "commit_id": "ab" * 20},
    }
    assert action_from_direct_url(record) == "bme-dl/grader@v0.3.0"
    del record["vcs_info"]["requested_revision"]
    assert action_from_direct_url(record) == f"bme-dl/grader@{'ab' * 20}"
    assert action_from_direct_url({"url": "file:///work/grader", "dir_info": {}}) is None


def test_student_ids_follow_the_course_rule_with_neptun_by_default(tmp_path: Path) -> None:
    assert normalize_student_id(" abc123 ") == "ABC123"
    with pytest.raises(ValueError, match="not a Neptun code"):
        normalize_student_id("abc12")
    with pytest.raises(ValueError, match="not a Neptun code"):
        normalize_student_id("../../etc")

    class Course:
        student_id_pattern = r"s\d{7}"

    rule = student_id_rule(Course())
    assert normalize_student_id("s1234567", rule) == "s1234567"
    with pytest.raises(ValueError, match="course's pattern"):
        normalize_student_id("ABC123", rule)
    done = invoke("grade", HW3, "--repo", tmp_path, "--student", "ab-12", "--out", tmp_path)
    assert done.exit_code == 2 and "'ab-12' is not a Neptun code" in flat(done.output)

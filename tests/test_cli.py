"""End-to-end: the CLI on real git repos with dated commits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import build_file_tree, git_save, make_bare

HW3 = "bme-vitmav45-2020/hw3-temperature"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import make_examples as ex  # noqa: E402

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def complete_repo(tmp_path: Path, name: str = "s") -> Path:
    repo = build_file_tree(tmp_path / name, {})
    ex.story_complete(repo)
    return make_bare(repo)


def test_list_and_validate(tmp_path: Path) -> None:
    listed = invoke("list")
    assert listed.exit_code == 0 and HW3 in listed.output
    ok = invoke("validate", HW3)
    assert ok.exit_code == 0 and "ok" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\ntitle: B\ncourse: c\ndeadline: '2020-13-01 10:00'\n"
        "checks:\n  - check: files\n    points: -1\n  - check: nope\n",
        encoding="utf-8",
    )
    result = invoke("validate", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:4 deadline" in result.output
    assert f"{bad}:7 checks[0].points" in result.output
    assert f"{bad}:8 checks[1].check: unknown check 'nope'" in result.output
    assert "Traceback" not in result.output


def test_grade_complete_submission_writes_result_and_report(tmp_path: Path) -> None:
    bare = complete_repo(tmp_path)
    out = tmp_path / "out"
    result = invoke("grade", HW3, "--repo", str(bare), "--student", "aaa111", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads((out / "AAA111" / "result.json").read_text())
    assert data["schema"] == 1 and data["student"] == "AAA111"
    assert data["deadline"] == "2020-10-27T23:59:00+01:00"
    assert data["error"] is None and data["commit"]
    assert set(data) >= {"assignment", "repo", "committed_at", "pin", "checks", "score",
                         "max_score", "late_penalty", "grader_version", "graded_at"}  # fmt: skip
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id["files"]["status"] == "pass" and by_id["english"]["status"] == "pass"
    assert by_id["git_history"]["status"] == "pass"
    assert data["score"] == data["max_score"] > 0
    html = (out / "AAA111" / "report.html").read_text()
    assert "AAA111" in html and data["commit"][:10] in html and "<style>" in html
    assert "<script" not in html  # self-contained, no scripts needed


def test_grade_with_relative_out_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare = complete_repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = invoke("grade", HW3, "--repo", str(bare), "--student", "AAA111", "--out", "rel")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rel" / "AAA111" / "checkout" / "README.md").exists()


def test_grade_missing_repo_is_a_failed_result(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("grade", HW3, "--repo", str(tmp_path / "nope"), "--student", "ZZZ999",
                    "--out", str(out))  # fmt: skip
    assert result.exit_code == 1
    data = json.loads((out / "ZZZ999" / "result.json").read_text())
    assert "not found" in data["error"]
    assert "Could not be graded" in (out / "ZZZ999" / "report.html").read_text()


def test_grade_with_deadline_override_and_bad_deadline(tmp_path: Path) -> None:
    repo = build_file_tree(tmp_path / "late", {})
    ex.story_late(repo)
    bare = make_bare(repo)
    out = tmp_path / "out"
    invoke("grade", HW3, "--repo", str(bare), "--student", "BBB222", "--out", str(out),
           "--deadline", "2020-10-30 12:00")  # fmt: skip
    data = json.loads((out / "BBB222" / "result.json").read_text())
    assert data["pin"]["commits_after_deadline"] == 0
    bad = invoke("grade", HW3, "--repo", str(bare), "--student", "BBB222", "--deadline", "soon")
    assert bad.exit_code == 2 and "--deadline" in bad.output


def test_hostile_content_is_escaped_in_report(tmp_path: Path) -> None:
    repo = tmp_path / "s"
    files = ex.hw3_files()
    files["predictions.csv"] = None
    files["<img src=x onerror=alert(1)>prediction.csv"] = "x"
    git_save(repo, "<script>alert(1)</script>", date="2020-10-26T12:00:00+01:00", files=files)
    out = tmp_path / "out"
    invoke("grade", HW3, "--repo", str(make_bare(repo)), "--student", "ABC123", "--out", str(out))
    html = (out / "ABC123" / "report.html").read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_self_check_exit_codes_and_uncommitted_files(tmp_path: Path) -> None:
    work = build_file_tree(tmp_path / "mine", {})
    ex.story_complete(work)
    (work / "notes.md").write_text("Some notes I have not committed yet, written in English.")
    result = invoke("check", HW3, str(work))
    assert result.exit_code == 0, result.output
    data = json.loads((work / ".grader" / "result.json").read_text())
    assert data["pin"]["mode"] == "worktree" and data["pin"]["uncommitted"] == ["notes.md"]
    html = (work / ".grader" / "report.html").read_text()
    assert "will not be seen" in html and "notes.md" in html
    (work / "predictions.csv").unlink()
    failing = invoke("check", HW3, str(work), "--format", "json")
    assert failing.exit_code == 1
    assert json.loads(failing.output)["checks"][0]["status"] == "fail"


def test_self_check_of_a_plain_folder(tmp_path: Path) -> None:
    folder = build_file_tree(tmp_path / "plain", ex.hw3_files())
    result = invoke("check", HW3, str(folder))
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output  # git history is judged only in the pinned run


def test_malformed_notebook_and_non_utf8_readme_do_not_crash(tmp_path: Path) -> None:
    files = ex.hw3_files()
    files["analysis.ipynb"] = '{"cells": [ this is not json'
    repo = build_file_tree(tmp_path / "s", files)
    (repo / "README.md").write_bytes(ex.README_EN.encode("utf-8") + "Árvíztűrő".encode("cp1250"))
    git_save(repo, "work", date="2020-10-26T12:00:00+01:00")
    out = tmp_path / "out"
    result = invoke("grade", HW3, "--repo", str(make_bare(repo)), "--student", "ABC123",
                    "--out", str(out))  # fmt: skip
    assert result.exit_code == 0
    data = json.loads((out / "ABC123" / "result.json").read_text())
    checks = {c["id"]: c for c in data["checks"]}
    assert checks["notebooks"]["status"] == "fail"
    assert checks["notebooks"]["evidence"][0]["verdict"] == "malformed"
    assert checks["english"]["status"] == "pass"


@pytest.mark.skipif(shutil.which("grader") is None and not Path(sys.executable).with_name("grader").exists(),
                    reason="console script not installed")  # fmt: skip
def test_console_script_runs(tmp_path: Path) -> None:
    exe = shutil.which("grader") or str(Path(sys.executable).with_name("grader"))
    done = subprocess.run([exe, "validate", HW3], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr

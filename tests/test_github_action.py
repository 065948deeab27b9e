"""The GitHub Action: schema-valid, and its steps run as GitHub runs them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from grader.cli import app
from grader.exports.github import annotations, escape_data, escape_property
from grader.results import CheckResult, Evidence, Status, SubmissionResult
from grader.testing import build_file_tree
from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "examples"))
import make_examples as ex  # noqa: E402

pytestmark = pytest.mark.slow  # runs the action's steps and the CLI in subprocesses

HW3 = "bme-vitmav45-2020/hw3-temperature"
CHECK_JSONSCHEMA = shutil.which("check-jsonschema") or str(
    Path(sys.executable).with_name("check-jsonschema")
)


def schema_ok(schema: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", schema, str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.mark.skipif(not Path(CHECK_JSONSCHEMA).exists(), reason="check-jsonschema not installed")
def test_action_and_workflows_validate_against_github_schemas(tmp_path: Path) -> None:
    action = schema_ok("vendor.github-actions", REPO_ROOT / "action.yml")
    assert action.returncode == 0, action.stdout + action.stderr
    template = schema_ok("vendor.github-workflows", REPO_ROOT / "templates/github/grader.yml")
    assert template.returncode == 0, template.stdout + template.stderr
    printed = CliRunner().invoke(app, ["workflow", HW3, "--action", "my-course/grader@v2"])
    assert printed.exit_code == 0 and "uses: my-course/grader@v2" in printed.output
    generated = tmp_path / "grader.yml"
    generated.write_text(printed.output)
    assert schema_ok("vendor.github-workflows", generated).returncode == 0
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    steps: 3\n")
    assert schema_ok("vendor.github-workflows", broken).returncode != 0  # the check can fail


def _substitute(value: str, inputs: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        expr = match.group(1).strip()
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        if expr == "github.action_path":
            return str(REPO_ROOT)
        raise AssertionError(f"unsupported expression in action.yml: {expr}")

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))


def _condition(expr: str, inputs: dict[str, str]) -> bool:
    match = re.fullmatch(r"inputs\.([\w-]+) (==|!=) '([^']*)'", expr.strip())
    assert match, f"unsupported if: {expr}"
    equal = inputs[match.group(1)] == match.group(3)
    return equal if match.group(2) == "==" else not equal


def run_action(workspace: Path, tmp_path: Path, **given: str) -> tuple[int, str, str, dict]:
    """Run the action's `run` steps with bash as GitHub does, in GitHub's environment.

    `uses` steps (setup-python) and the install step (pip install of this checkout, which
    needs the network) are replaced by the test's own environment, where grader is installed.
    """
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs.update(given)
    tmp_path.mkdir(parents=True, exist_ok=True)
    summary, output, env_file = tmp_path / "summary.md", tmp_path / "output", tmp_path / "env"
    for f in (summary, output, env_file):
        f.write_text("")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_ENV": str(env_file),
        "GITHUB_ACTION_PATH": str(REPO_ROOT),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
    }
    stdout, code = "", 0
    for step in action["runs"]["steps"]:
        if "run" not in step or step.get("id") == "install":
            continue
        if "if" in step and not _condition(step["if"], inputs):
            continue
        step_env = {k: _substitute(v, inputs) for k, v in step.get("env", {}).items()}
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _substitute(step["run"], inputs)],
            cwd=workspace, env={**env, **step_env}, capture_output=True, text=True, check=False,
        )  # fmt: skip
        stdout += done.stdout
        code = done.returncode
        if code:
            break
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return code, stdout, summary.read_text(), outputs


def test_action_on_a_passing_submission(tmp_path: Path) -> None:
    repo = build_file_tree(tmp_path / "student", {})
    ex.story_complete(repo)
    code, stdout, summary, outputs = run_action(repo, tmp_path, assignment=HW3)
    assert code == 0, stdout
    assert "::error" not in stdout
    assert "## Small homework 3" in summary and "every required check passes" in summary
    assert "| :white_check_mark: | Required files | 2 / 2 |" in summary
    assert "Only the instructor's pinned run can judge" in summary
    # the same maximum as the instructor's run; git_history (1 point) is judged only there
    assert outputs["passed"] == "true" and (outputs["score"], outputs["max-score"]) == ("9", "10")
    assert "Git history and dates (1 points): judged by the instructor's pinned run" in summary
    report = Path(outputs["report-dir"])
    assert (report / "report.html").exists() and (report / "result.json").exists()
    assert not report.is_relative_to(repo)  # nothing written into the student's workspace


def test_action_on_a_failing_submission_in_a_subfolder(tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    files = ex.hw3_files(ex.README_HU)
    del files["predictions.csv"]
    build_file_tree(workspace / "hw3", files)
    ex.git_save(workspace, "hw3", date="2020-10-26T12:00:00+01:00")
    ex.git_save(workspace, "late", date="2020-10-30T12:00:00+01:00", files={"x.txt": "x"})
    code, stdout, summary, outputs = run_action(tmp_path / "repo", tmp_path, assignment=HW3,
                                                path="hw3")  # fmt: skip
    assert code == 1
    lines = stdout.splitlines()
    english = [x for x in lines if x.startswith("::error file=hw3/README.md,line=1,")]
    assert english and "Written in English (fail)" in english[0]
    missing = [x for x in lines if x.startswith("::error title=Required files")]
    assert missing and "file=" not in missing[0] and "predictions" in missing[0]
    assert "### Fix these first" in summary and "some required checks fail" in summary
    assert "dated after the deadline" in summary
    assert outputs["passed"] == "false"
    never, *_ = run_action(tmp_path / "repo", tmp_path / "again", assignment=HW3, path="hw3",
                           **{"fail-on": "never"})  # fmt: skip
    assert never == 0


def test_workflow_command_escaping() -> None:
    assert escape_data("50%\nnext") == "50%25%0Anext"
    assert escape_property("a,b:c") == "a%2Cb%3Ac"
    result = SubmissionResult("a", "s", "r", "2020-10-27T23:59:00+01:00")
    result.checks = [
        CheckResult(
            "x", Status.WARN, 1, 1, "msg", [Evidence("we,ird:name.md", "problem", "d\nx", 3)]
        ),
        CheckResult("y", Status.PASS, 1, 1, "fine", [Evidence("ok.md", "problem", "ignored")]),
    ]
    lines = annotations(result)
    assert lines == ["::warning file=we%2Cird%3Aname.md,line=3,title=x (warn)::problem: d%0Ax"]


def test_junit_format(tmp_path: Path) -> None:
    pytest.importorskip("grader.exports.junit")
    import xml.etree.ElementTree as ET

    repo = build_file_tree(tmp_path / "s", ex.hw3_files())
    done = CliRunner().invoke(app, ["check", HW3, str(repo), "--format", "junit"])
    assert done.exit_code == 0
    root = ET.fromstring(done.output)
    assert root.iter("testcase")

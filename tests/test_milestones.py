"""The `milestones` check: unit tests on given results, and end to end through the CLI on
a git repo whose milestone work lands before or after each milestone deadline."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from grader.checks.milestones import MilestonesArgs, MilestonesCheck
from grader.cli import app
from grader.pipeline import self_check
from grader.results import CheckOutcome, CheckResult, PinInfo, Status
from grader.spec import parse_spec_text
from grader.testing import build_file_tree, git_save, make_bare, make_context

SPEC = """\
id: t
title: T
course: c
deadline: "2020-12-11 23:59"
milestones:
  - {id: m1, title: "Data", deadline: "2020-10-25 23:59"}
  - {id: m2, title: "Baseline", deadline: "2020-11-22 23:59"}
checks:
  - check: files
    id: m1-data
    milestone: m1
    points: 2
    args:
      deliverables: [{glob: "data/train.csv", description: "training data"}]
  - check: files
    id: m2-train
    milestone: m2
    points: 2
    args:
      deliverables: [{glob: "train.py", description: "training code"}]
  - check: files
    id: m2-extra
    milestone: m2
    required: false
    points: 1
    args:
      deliverables: [{glob: "extra.py", description: "optional extra"}]
  - check: files
    id: final
    points: 1
    args:
      deliverables: [{glob: "readme.md", description: "readme"}]
  - check: milestones
    points: 3
    args:
      requires: [m1, m2]
"""
SHA1, SHA2 = "1" * 40, "2" * 40


def spec():
    return parse_spec_text(SPEC, "t.yaml")


def result(check_id: str, status: Status, milestone: str | None, required: bool = True):
    return CheckResult(
        id=check_id, status=status, points=0.0, max_points=1.0, message=f"{check_id} said so",
        check="files", required=required, milestone=milestone,
    )  # fmt: skip


def pin(**errors: str) -> PinInfo:
    info = PinInfo()
    for mid, sha, deadline in (
        ("m1", SHA1, "2020-10-25T23:59:00+01:00"),
        ("m2", SHA2, "2020-11-22T23:59:00+01:00"),
    ):
        entry = {"deadline": deadline, "commit": sha, "committed_at": "2020-10-20T18:00:00+02:00"}
        entry["commits_after_deadline"] = 2
        if mid in errors:
            entry.update(commit=None, committed_at=None, error=errors[mid])
        info.milestones[mid] = entry
    return info


def run(previous: list[CheckResult], info: PinInfo | None = None, mode: str = "pinned", **args):
    s = spec()
    ctx = make_context(".", "milestones", spec=s, pin=info or pin(), mode=mode, previous=previous)
    return MilestonesCheck().run(ctx, MilestonesArgs(**({"requires": ["m1", "m2"]} | args)))


def passing() -> list[CheckResult]:
    return [
        result("m1-data", Status.PASS, "m1"),
        result("m2-train", Status.WARN, "m2"),
        result("m2-extra", Status.FAIL, "m2", required=False),  # optional: not a condition
        result("final", Status.FAIL, None),
    ]


def test_all_met_passes_and_reports_each_pinned_commit() -> None:
    outcome = run(passing())
    assert outcome.status == Status.PASS, outcome.message
    assert "m1 (commit 1111111111)" in outcome.message
    facts = outcome.facts["milestones"]
    assert facts["m1"]["met"] and facts["m2"]["met"]
    assert facts["m2"]["commit"] == SHA2 and facts["m2"]["checks"] == {"m2-train": "warn"}
    rows = [(e.path, e.verdict) for e in outcome.evidence]
    assert rows == [
        ("m1 @ 1111111111", "met"),
        ("m1 / m1-data", "pass"),
        ("m2 @ 2222222222", "met"),
        ("m2 / m2-train", "warn"),
    ]


def test_failed_milestone_check_names_milestone_check_and_commit() -> None:
    previous = passing()
    previous[1] = result("m2-train", Status.FAIL, "m2")
    outcome = run(previous)
    assert outcome.status == Status.FAIL
    assert outcome.fraction == 0.0
    assert outcome.message == (
        "m2 not met by its deadline 2020-11-22T23:59:00+01:00: at its pinned commit 2222222222 "
        "(2020-10-20T18:00:00+02:00) check 'm2-train' failed (m2-train said so); "
        "2 commit(s) after the milestone deadline do not count"
    )
    assert "m1 not met" not in outcome.message
    assert outcome.facts["milestones"]["m1"]["met"] is True
    assert outcome.facts["milestones"]["m2"]["verdict"] == "not_met"


def test_nothing_committed_by_a_milestone_deadline() -> None:
    outcome = run(passing(), pin(m1="no commit on or before the deadline"))
    assert outcome.status == Status.FAIL
    assert "m1 not met by its deadline 2020-10-25T23:59:00+01:00: nothing committed by then" in (
        outcome.message
    )
    assert "no commit on or before the deadline" in outcome.message
    assert outcome.evidence[0].path == "m1 @ none"


def test_error_and_manual_results() -> None:
    previous = passing()
    previous[0] = result("m1-data", Status.ERROR, "m1")
    assert "could not finish" in run(previous).message
    previous[0] = result("m1-data", Status.MANUAL, "m1")
    outcome = run(previous)
    assert outcome.status == Status.MANUAL and "m1 undecided" in outcome.message


def test_explicit_checks_list() -> None:
    previous = passing()
    # listed explicitly, the optional check is a condition too
    outcome = run(previous, checks={"m2": ["m2-train", "m2-extra"]})
    assert outcome.status == Status.FAIL and "'m2-extra' failed" in outcome.message
    assert run(previous, requires=["m1"]).status == Status.PASS


def test_spec_mistakes_are_errors_that_say_what_to_fix() -> None:
    previous = passing()
    unknown = run(previous, requires=["m3"])
    assert unknown.status == Status.ERROR
    assert "'m3' is not a milestone of this spec (milestones: m1, m2)" in unknown.message
    untagged = run(previous, checks={"m1": ["final"]})
    assert untagged.status == Status.ERROR
    assert "'final' is graded at the final commit" in untagged.message
    missing = run(previous, checks={"m1": ["nope"]})
    assert "'nope' is not a check of this spec" in missing.message
    later = run(previous[:1], checks={"m2": ["m2-train"]})
    assert "'m2-train' comes after this check" in later.message
    stray = run(previous, requires=["m1"], checks={"m2": ["m2-train"]})
    assert "args.checks names m2, which args.requires does not list" in stray.message
    untagged_all = run([r for r in previous if r.milestone != "m2"])
    assert "no required check before this one is tagged `milestone: m2`" in untagged_all.message


def test_self_check_outside_a_git_repository_is_pending(tmp_path: Path) -> None:
    outcome: CheckOutcome = run(passing(), PinInfo(mode="worktree"), mode="worktree")
    assert outcome.status == Status.SKIPPED and "instructor's pinned run" in outcome.pending
    assert "no complete git history here" in outcome.message
    assert "m1 2020-10-25 23:59:00+01:00" in outcome.message
    # with the milestones pinned in the local history, the self-check judges as the pinned run
    assert run(passing(), mode="worktree").status == Status.PASS
    build_file_tree(tmp_path, {"readme.md": "# x", "train.py": "", "data/train.csv": "a\n"})
    result = self_check(spec(), tmp_path)
    check = result.checks[-1]
    # pending: its points count in the maximum, not earned yet (the same maximum as the
    # instructor's run)
    assert (check.status, check.points, check.max_points) == (Status.SKIPPED, 0.0, 3.0)
    assert result.max_score == spec().max_points


def grade(tmp_path: Path, repo: Path) -> dict:
    spec_path = tmp_path / "spec.yaml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app, ["grade", str(spec_path), "--repo", str(make_bare(repo)), "--student", "abc123",
              "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))


def test_end_to_end_on_time_and_late(tmp_path: Path) -> None:
    repo = tmp_path / "team"
    m1 = git_save(repo, "data", date="2020-10-20T18:00:00+02:00", files={"data/train.csv": "x\n"})
    m2 = git_save(repo, "train", date="2020-11-18T18:00:00+01:00", files={"train.py": "pass\n"})
    git_save(repo, "docs", date="2020-12-08T18:00:00+01:00", files={"readme.md": "# Team\n"})
    on_time = grade(tmp_path / "a", repo)
    last = on_time["checks"][-1]
    assert (last["status"], last["points"]) == ("pass", 3.0)
    assert last["facts"]["milestones"]["m1"]["commit"] == m1
    assert last["facts"]["milestones"]["m2"]["commit"] == m2
    assert on_time["score"] == 8.0 and on_time["max_score"] == 9.0  # m2-extra is missing

    late = tmp_path / "late"
    git_save(late, "data", date="2020-10-20T18:00:00+02:00", files={"data/train.csv": "x\n"})
    git_save(late, "train", date="2020-11-23T09:00:00+01:00", files={"train.py": "pass\n"})
    git_save(late, "docs", date="2020-12-08T18:00:00+01:00", files={"readme.md": "# Team\n"})
    result = grade(tmp_path / "b", late)
    by_id = {c["id"]: c for c in result["checks"]}
    assert by_id["m2-train"]["status"] == "fail"
    assert by_id["m2-train"]["commit"] == by_id["m1-data"]["commit"]  # M2 pinned at M1's work
    milestones = by_id["milestones"]
    assert (milestones["status"], milestones["points"]) == ("fail", 0.0)
    assert milestones["message"].startswith(
        "m2 not met by its deadline 2020-11-22T23:59:00+01:00: at its pinned commit "
        f"{by_id['m1-data']['commit'][:10]} (2020-10-20T18:00:00+02:00) check 'm2-train' failed "
        "(1 of 1 deliverables missing: training code)"
    )
    assert milestones["message"].endswith("; 2 commit(s) after the milestone deadline do not count")
    assert result["score"] == 3.0
    html = (tmp_path / "b" / "out" / "ABC123" / "report.html").read_text(encoding="utf-8")
    assert "m2 @ " in html and "not met" in html


def test_end_to_end_nothing_before_the_first_milestone(tmp_path: Path) -> None:
    repo = tmp_path / "team"
    git_save(repo, "all", date="2020-11-01T10:00:00+01:00", files={"data/train.csv": "x\n"})
    git_save(repo, "train", date="2020-11-18T18:00:00+01:00", files={"train.py": "pass\n"})
    git_save(repo, "docs", date="2020-12-08T18:00:00+01:00", files={"readme.md": "# Team\n"})
    result = grade(tmp_path / "a", repo)
    by_id = {c["id"]: c for c in result["checks"]}
    assert by_id["m1-data"]["status"] == "fail"
    assert by_id["m1-data"]["message"].startswith("nothing to grade for milestone m1")
    milestones = by_id["milestones"]
    assert milestones["status"] == "fail"
    assert milestones["message"].startswith(
        "m1 not met by its deadline 2020-10-25T23:59:00+01:00: nothing committed by then ("
    )
    assert milestones["facts"]["milestones"]["m2"]["met"] is True
    assert result["pin"]["milestones"]["m1"]["commit"] is None

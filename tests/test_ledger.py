"""The deadline snapshot ledger, end to end through the CLI on real git repositories: a
force-push after the snapshot, an edited or deleted ledger line, snapshots before the
deadline, unreachable repositories, and the batch pinning on the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.ledger import GENESIS, LedgerError, append, entry_hash, load_ledger, read_lines
from grader.testing import build_file_tree, git, git_save, make_bare

SPEC = """\
id: mini
title: "Mini homework"
course: "Test course"
deadline: "2020-10-27 23:59"
deliverables:
  - glob: "readme.md"
    description: "README"
  - glob: "megoldás.py"
    description: "the solution"
checks:
  - check: files
    points: 2
  - check: git_history
    points: 1
"""
BEFORE = "2020-10-20T12:00:00+02:00"
ON_TIME = "2020-10-27T20:00:00+01:00"
AFTER = "2020-10-29T09:00:00+01:00"

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture()
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "mini.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def student_repo(tmp_path: Path, name: str = "hallgato") -> tuple[Path, Path, str]:
    """A working copy whose work is half done at the deadline: (work, bare, sha at deadline)."""
    work = build_file_tree(tmp_path / name, {"README.md": "# Házi feladat\n\nFirst steps.\n"})
    git_save(work, "kezdés", date=BEFORE)
    sha = git_save(work, "félkész", date=ON_TIME, files={"megoldás.py": "print('félig')\n"})
    return work, make_bare(work), sha


def force_push_backdated(work: Path, bare: Path) -> str:
    """After the deadline the student rewrites history: the last commit amended with better
    work and the old date, then force-pushed. Returns the rewritten commit's sha."""
    build_file_tree(work, {"megoldás.py": "print('kész, teljes megoldás')\n"})
    git(work, "add", "-A")
    git(work, "commit", "-q", "--amend", "--no-edit", date=ON_TIME)
    git(work, "push", "-q", "--force", str(bare), "HEAD:main")
    return git(work, "rev-parse", "HEAD")


def roster(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text("neptun,name,github\n" + "".join(f"{n},Hallgató {n},{r}\n" for n, r in rows),
                    encoding="utf-8")  # fmt: skip
    return path


def result_of(out: Path, neptun: str) -> dict:
    return json.loads((out / neptun / "result.json").read_text(encoding="utf-8"))


def test_force_push_after_the_snapshot_pins_on_the_recorded_head(
    tmp_path: Path, spec: Path
) -> None:
    work, bare, at_deadline = student_repo(tmp_path)
    out = tmp_path / "grades"
    taken = invoke("snapshot", str(spec), "--roster", str(roster(tmp_path, [("ABC123", str(bare))])),
                   "--out", str(out))  # fmt: skip
    assert taken.exit_code == 0, taken.output
    assert "recorded ABC123" in taken.output and at_deadline[:10] in taken.output
    rewritten = force_push_backdated(work, bare)
    assert rewritten != at_deadline

    # without the ledger, today's behaviour: the pin moves to the rewritten commit
    plain = invoke("grade", str(spec), "--repo", str(bare), "--student", "ABC123",
                   "--out", str(tmp_path / "no-ledger"))  # fmt: skip
    assert plain.exit_code == 0, plain.output
    unguarded = result_of(tmp_path / "no-ledger", "ABC123")
    assert unguarded["commit"] == rewritten
    assert unguarded["pin"]["evidence"] == "commit dates"

    graded = invoke("grade", str(spec), "--repo", str(bare), "--student", "ABC123",
                    "--out", str(out))  # fmt: skip
    assert graded.exit_code == 0, graded.output
    result = result_of(out, "ABC123")
    assert result["commit"] == at_deadline
    assert result["pin"]["evidence"] == "ledger"
    assert result["pin"]["snapshot"]["head"] == at_deadline
    kinds = {a["kind"]: a for a in result["pin"]["anomalies"]}
    rewrite = kinds["rewritten_after_snapshot"]
    assert rewrite["detail"].startswith(
        f"recorded HEAD {at_deadline[:10]} is no longer on the branch"
    )
    assert kinds["pushed_after_snapshot"]["sha"] == rewritten
    assert result["pin"]["commits_after_deadline"] == 1  # the rewritten commit, not graded
    assert "History rewritten" in graded.output
    html = (out / "ABC123" / "report.html").read_text(encoding="utf-8")
    assert "The pin rests on" in html and "the deadline snapshot" in html
    assert "is no longer on the branch" in html
    checkout = (out / "ABC123" / "checkout" / "megoldás.py").read_text(encoding="utf-8")
    assert "félig" in checkout  # the graded files are the ones at the deadline


def test_snapshot_objects_survive_the_mirror_prune(tmp_path: Path, spec: Path) -> None:
    work, bare, at_deadline = student_repo(tmp_path)
    cache = tmp_path / "cache"
    out = tmp_path / "grades"
    listing = roster(tmp_path, [("ABC123", str(bare))])
    assert invoke("snapshot", str(spec), "--roster", str(listing), "--out", str(out),
                  "--cache", str(cache)).exit_code == 0  # fmt: skip
    force_push_backdated(work, bare)
    git(bare, "gc", "-q", "--prune=now")  # the old commit is gone from the remote itself
    with pytest.raises(RuntimeError):
        git(bare, "cat-file", "-e", f"{at_deadline}^{{commit}}")
    graded = invoke("grade", str(spec), "--repo", str(bare), "--student", "ABC123",
                    "--out", str(out), "--cache", str(cache))  # fmt: skip
    assert graded.exit_code == 0, graded.output
    assert result_of(out, "ABC123")["commit"] == at_deadline
    mirror = next((cache / "mirrors").glob("*.git"))
    refs = git(mirror, "for-each-ref", "--format=%(refname) %(objectname)", "refs/grader")
    assert refs.startswith("refs/grader/snapshots/mini/final/") and refs.endswith(at_deadline)
    verified = invoke("snapshot", "verify", "--out", str(out), "--cache", str(cache))
    assert verified.exit_code == 0, verified.output
    assert "1 entries, the chain is intact" in verified.output


def test_push_after_the_deadline_with_an_old_date_is_not_graded(tmp_path: Path, spec: Path) -> None:
    work, bare, at_deadline = student_repo(tmp_path)
    out = tmp_path / "grades"
    assert invoke("snapshot", str(spec), "--roster", str(roster(tmp_path, [("ABC123", str(bare))])),
                  "--out", str(out)).exit_code == 0  # fmt: skip
    # a fast-forward push after the deadline of a commit dated before it: no rewrite
    late = git_save(work, "pótlás", date="2020-10-27T22:00:00+01:00",
                    files={"megoldás.py": "print('kész')\n"})  # fmt: skip
    git(work, "push", "-q", str(bare), "HEAD:main")
    assert invoke("grade", str(spec), "--repo", str(bare), "--student", "ABC123",
                  "--out", str(out)).exit_code == 0  # fmt: skip
    result = result_of(out, "ABC123")
    assert result["commit"] == at_deadline
    kinds = [a["kind"] for a in result["pin"]["anomalies"]]
    assert "rewritten_after_snapshot" not in kinds
    pushed = [a for a in result["pin"]["anomalies"] if a["kind"] == "pushed_after_snapshot"]
    assert [a["sha"] for a in pushed] == [late]


def test_edited_and_deleted_lines_are_detected(tmp_path: Path, spec: Path) -> None:
    bares = [student_repo(tmp_path, f"s{i}")[1] for i in range(3)]
    out = tmp_path / "grades"
    listing = roster(tmp_path, [(f"ABC12{i}", str(b)) for i, b in enumerate(bares)])
    assert invoke("snapshot", str(spec), "--roster", str(listing), "--out", str(out)).exit_code == 0
    ledger = out / "ledger.jsonl"
    lines = ledger.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert invoke("snapshot", "verify", "--out", str(out)).exit_code == 0

    # an instructor (or anyone) edits the recorded HEAD of the second student
    entry = json.loads(lines[1])
    entry["head"] = "f" * 40
    ledger.write_text("\n".join([lines[0], json.dumps(entry), lines[2]]) + "\n", encoding="utf-8")
    edited = invoke("snapshot", "verify", "--out", str(out))
    assert edited.exit_code == 1
    assert f"{ledger}:2: entry 2 (ABC121) was edited" in edited.output.replace("\n", "")
    assert "differs from the gradebook's copy" in edited.output.replace("\n", " ")
    # grading refuses to pin on a tampered ledger
    refused = invoke("grade", str(spec), "--repo", str(bares[1]), "--student", "ABC121",
                     "--out", str(out))  # fmt: skip
    assert refused.exit_code == 2 and "fails verification" in refused.output
    batch = invoke("batch", str(spec), "--roster", str(listing), "--out", str(out),
                   "--rerun", "none", "--no-progress")  # fmt: skip
    assert batch.exit_code == 2 and "fails verification" in batch.output

    # the last line deleted: the chain alone cannot tell, the gradebook's copy can
    ledger.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    deleted = invoke("snapshot", "verify", "--out", str(out))
    assert deleted.exit_code == 1
    assert "entry 3 (ABC122) is in the gradebook but not in the file" in deleted.output

    # a middle line deleted: the chain breaks
    ledger.write_text("\n".join([lines[0], lines[2]]) + "\n", encoding="utf-8")
    gap = invoke("snapshot", "verify", "--out", str(out))
    assert gap.exit_code == 1 and "does not follow the line before it" in gap.output
    # and nothing more is appended to a broken ledger
    again = invoke("snapshot", str(spec), "--roster", str(listing), "--out", str(out), "--again")
    assert again.exit_code == 2 and "nothing was added" in again.output


def test_snapshot_waits_for_the_deadline_and_records_unreadable_repos(
    tmp_path: Path, spec: Path
) -> None:
    future = tmp_path / "future.yaml"
    future.write_text(SPEC.replace("2020-10-27 23:59", "2099-01-01 12:00"), encoding="utf-8")
    _, bare, _ = student_repo(tmp_path)
    listing = roster(tmp_path, [("ABC123", str(bare)), ("XYZ789", str(tmp_path / "nincs.git"))])
    out = tmp_path / "grades"
    early = invoke("snapshot", str(future), "--roster", str(listing), "--out", str(out))
    assert early.exit_code == 0, early.output
    assert "not reached yet" in early.output and not (out / "ledger.jsonl").exists()

    taken = invoke("snapshot", str(spec), "--roster", str(listing), "--out", str(out))
    assert taken.exit_code == 1  # one repository could not be read: recorded with the error
    assert "failed XYZ789" in taken.output
    entries, problems = read_lines(out / "ledger.jsonl")
    assert problems == [] and [e.unit for e in entries] == ["ABC123", "XYZ789"]
    assert entries[1].head is None and "not found" in entries[1].get("error")
    again = invoke("snapshot", str(spec), "--roster", str(listing), "--out", str(out))
    assert "already recorded: entry 1" in again.output  # observed once per deadline
    assert len(read_lines(out / "ledger.jsonl")[0]) == 3  # the unreadable one is tried again


def test_batch_pins_every_unit_on_the_ledger(tmp_path: Path, spec: Path) -> None:
    first_work, first, first_sha = student_repo(tmp_path, "elso")
    _, second, second_sha = student_repo(tmp_path, "masodik")
    out = tmp_path / "grades"
    listing = roster(tmp_path, [("AAA111", str(first)), ("BBB222", str(second))])
    assert invoke("snapshot", str(spec), "--roster", str(listing), "--out", str(out)).exit_code == 0
    rewritten = force_push_backdated(first_work, first)
    done = invoke("batch", str(spec), "--roster", str(listing), "--out", str(out),
                  "--rerun", "none", "--no-progress")  # fmt: skip
    assert done.exit_code == 0, done.output
    one, two = result_of(out, "AAA111"), result_of(out, "BBB222")
    assert (one["commit"], two["commit"]) == (first_sha, second_sha)
    assert one["commit"] != rewritten and one["pin"]["evidence"] == "ledger"
    assert "rewritten_after_snapshot" in [a["kind"] for a in one["pin"]["anomalies"]]
    assert "rewritten_after_snapshot" not in [a["kind"] for a in two["pin"]["anomalies"]]


def test_milestone_snapshot_pins_the_milestone(tmp_path: Path) -> None:
    spec = tmp_path / "proj.yaml"
    spec.write_text(
        SPEC.replace("checks:\n", "milestones:\n  - {id: m1, title: Data, deadline: "
                     "'2020-10-25 23:59'}\nchecks:\n  - check: files\n    id: m1-files\n"
                     "    milestone: m1\n    points: 1\n"),
        encoding="utf-8",
    )  # fmt: skip
    work = build_file_tree(tmp_path / "team", {"README.md": "# Csapat\n"})
    m1_sha = git_save(work, "adatok", date="2020-10-24T10:00:00+02:00",
                      files={"megoldás.py": "print(1)\n"})  # fmt: skip
    bare = make_bare(work)
    out = tmp_path / "grades"
    listing = roster(tmp_path, [("ABC123", str(bare))])
    taken = invoke("snapshot", str(spec), "--roster", str(listing), "--out", str(out),
                   "--milestone", "m1")  # fmt: skip
    assert taken.exit_code == 0, taken.output
    assert load_ledger(out / "ledger.jsonl").entries[0].kind == "m1"
    # the team rewrites m1's history after its deadline, backdated
    build_file_tree(work, {"megoldás.py": "print('jobb')\n"})
    git(work, "add", "-A")
    git(work, "commit", "-q", "--amend", "--no-edit", date="2020-10-24T10:00:00+02:00")
    git(work, "push", "-q", "--force", str(bare), "HEAD:main")
    assert invoke("grade", str(spec), "--repo", str(bare), "--student", "ABC123",
                  "--out", str(out)).exit_code == 0  # fmt: skip
    result = result_of(out, "ABC123")
    assert result["pin"]["milestones"]["m1"]["commit"] == m1_sha
    assert result["pin"]["milestones"]["m1"]["evidence"] == "ledger"
    assert result["pin"]["evidence"] == "commit dates"  # no snapshot of the final deadline
    bad = invoke("snapshot", str(spec), "--roster", str(listing), "--out", str(out),
                 "--milestone", "m9")  # fmt: skip
    assert bad.exit_code == 2 and "not a milestone" in bad.output


# ---- the ledger file on its own ------------------------------------------------------


def test_chain_hashes_and_tampering_kinds(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    added = append(path, [{"unit": "A"}, {"unit": "B"}])
    append(path, [{"unit": "C"}])
    entries = load_ledger(path).entries
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].get("prev") == GENESIS and entries[1].get("prev") == entries[0].hash
    assert all(e.hash == entry_hash(e.data) for e in entries)
    assert len({e.get("ledger") for e in entries}) == 1 and added[0].hash == entries[0].hash
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[1], lines[0], lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(LedgerError) as moved:
        load_ledger(path)
    assert any("does not follow" in p for p in moved.value.problems)
    path.write_text("\n".join([lines[0], lines[1], lines[2][:-5]]) + "\n", encoding="utf-8")
    with pytest.raises(LedgerError) as cut:
        load_ledger(path)
    assert any(":3: not valid JSON" in p for p in cut.value.problems)
    with pytest.raises(LedgerError):  # nothing is appended to a broken chain
        append(path, [{"unit": "D"}])
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
    assert load_ledger(tmp_path / "missing.jsonl").entries == []


def test_late_work_pushed_after_the_snapshot_is_late_whatever_its_date(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "late.yaml"
    spec.write_text(SPEC.replace("checks:\n", "late: {mode: percent, unit: day, percent: 10, "
                                 "cap: 50}\nchecks:\n"), encoding="utf-8")  # fmt: skip
    work, bare, at_deadline = student_repo(tmp_path)
    out = tmp_path / "grades"
    listing = roster(tmp_path, [("ABC123", str(bare))])
    assert invoke("snapshot", str(spec), "--roster", str(listing), "--out", str(out)).exit_code == 0
    backdated = git_save(work, "pótlás", date="2020-10-27T22:00:00+01:00",
                         files={"megoldás.py": "print('kész')\n"})  # fmt: skip
    git(work, "push", "-q", str(bare), "HEAD:main")
    assert invoke("grade", str(spec), "--repo", str(bare), "--student", "ABC123",
                  "--out", str(tmp_path / "dates-only")).exit_code == 0  # fmt: skip
    assert result_of(tmp_path / "dates-only", "ABC123")["late_penalty"] == 0  # the date lies
    assert invoke("grade", str(spec), "--repo", str(bare), "--student", "ABC123",
                  "--out", str(out)).exit_code == 0  # fmt: skip
    result = result_of(out, "ABC123")
    assert result["commit"] == backdated != at_deadline  # late work is graded, with a penalty
    assert result["late_penalty"] > 0
    assert result["pin"]["commits_after_deadline"] == 1

"""Where submissions come from: GitHub Classroom's roster and grades exports (with their
real column names, individual and group assignments), identifiers mapped to Neptun codes,
secret gist URLs cloned and pinned, and URLs that could be read as options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader import fetch
from grader.classroom import gist_clone_url, neptun_of
from grader.cli import app
from grader.roster import RosterError, load_roster, parse_roster_text, resolve_repo
from grader.spec import parse_spec_text
from grader.testing import build_file_tree, git_save, make_bare

SPEC = """\
id: hw2
title: "Numpy network"
course: c
deadline: "2018-10-02"
repo_url_pattern: "https://github.com/{org}/{assignment}-{github}"
deliverables:
  - {glob: "*.ipynb", description: "the notebook"}
checks:
  - check: files
    points: 1
"""
# GitHub Classroom's exports, as downloaded (header names as gh-classroom writes them)
CLASSROOM_ROSTER = (
    '"identifier","github_username","github_id","name"\n'
    '"ABC123","kovacs-anna","40261856","Kovács Anna"\n'
    '"Nagy Béla (DEF456)","nagyb","40261857","Nagy Béla"\n'
    '"cili@example.com","cili-codes","40261858","Szabó Cecília"\n'
)
GRADES_HEADER = (
    "assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,"
    "student_repository_name,student_repository_url,submission_timestamp,points_awarded,"
    "points_available"
)


def spec():
    return parse_spec_text(SPEC, "hw2.yaml")


def grades_row(user: str, ident: str, repo: str, group: str | None = None) -> str:
    row = (f"hw2,https://classroom.github.com/classrooms/1/assignments/hw2,,{user},{ident},"
           f"hw2-{user},{repo},2018-10-01 20:00:00 UTC,0,10")  # fmt: skip
    return row + (f",{group}" if group is not None else "")


def test_classroom_roster_export_with_an_identifier_mapping(tmp_path: Path) -> None:
    path = tmp_path / "classroom_roster.csv"
    path.write_text(CLASSROOM_ROSTER, encoding="utf-8")
    with pytest.raises(RosterError) as info:
        load_roster(path, spec(), org="bme-dl")
    text = [str(p) for p in info.value.problems]
    assert len(text) == 1 and text[0].startswith(f"{path}:4 identifier: 'cili@example.com'")
    assert "--ids" in text[0]
    ids = tmp_path / "ids.csv"
    ids.write_text("identifier;neptun\ncili@example.com;ghi789\n", encoding="utf-8")
    roster = load_roster(path, spec(), org="bme-dl", ids=ids)
    assert [(e.neptun, e.name, e.repo) for e in roster.entries] == [
        ("ABC123", "Kovács Anna", "https://github.com/bme-dl/hw2-kovacs-anna"),
        ("DEF456", "Nagy Béla", "https://github.com/bme-dl/hw2-nagyb"),
        ("GHI789", "Szabó Cecília", "https://github.com/bme-dl/hw2-cili-codes"),
    ]
    bad_ids = tmp_path / "bad-ids.csv"
    bad_ids.write_text("identifier,neptun\ncili@example.com,cili\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"bad-ids.csv:2 neptun: 'CILI' is not a Neptun code"):
        load_roster(path, spec(), org="bme-dl", ids=bad_ids)


def test_classroom_grades_export_individual_and_group(tmp_path: Path) -> None:
    individual = "\n".join([
        GRADES_HEADER,
        grades_row("kovacs-anna", "ABC123", "https://github.com/bme-dl/hw2-kovacs-anna"),
        grades_row("nagyb", "Nagy Béla (DEF456)", "https://github.com/bme-dl/hw2-nagyb"),
    ]) + "\n"  # fmt: skip
    roster = parse_roster_text(individual, "grades.csv", spec())
    assert [(e.neptun, e.repo, e.team) for e in roster.entries] == [
        ("ABC123", "https://github.com/bme-dl/hw2-kovacs-anna", None),
        ("DEF456", "https://github.com/bme-dl/hw2-nagyb", None),
    ]
    group = "\n".join([
        GRADES_HEADER + ",group_name",
        grades_row("kovacs-anna", "ABC123", "https://github.com/bme-dl/proj-mely-tanulok", "Mély tanulók"),
        grades_row("nagyb", "DEF456", "https://github.com/bme-dl/proj-mely-tanulok", "Mély tanulók"),
        grades_row("cili-codes", "GHI789", "https://github.com/bme-dl/proj-kalman", "Kálmán"),
    ]) + "\n"  # fmt: skip
    teams = parse_roster_text(group, "grades.csv", spec()).teams()
    assert {t: [e.neptun for e in m] for t, m in teams.items()} == {
        "Mély tanulók": ["ABC123", "DEF456"], "Kálmán": ["GHI789"],
    }  # fmt: skip
    not_accepted = GRADES_HEADER + "\n" + grades_row("x", "JKL012", "") + "\n"
    with pytest.raises(RosterError, match=r"grades.csv:2 student_repository_url: JKL012: no rep"):
        parse_roster_text(not_accepted, "grades.csv", spec())
    typo = GRADES_HEADER.replace("points_available", "points_avail") + "\n"
    with pytest.raises(RosterError, match="points_avail: unknown column; the columns are"):
        parse_roster_text(typo, "grades.csv", spec())


def test_batch_takes_a_classroom_grades_export_as_its_roster(tmp_path: Path) -> None:
    bares = {}
    for user in ("kovacs-anna", "nagyb"):
        work = build_file_tree(tmp_path / user, {"hf2.ipynb": '{"cells": []}'})
        git_save(work, "HF2", date="2018-10-01T20:00:00+02:00")
        bares[user] = make_bare(work)
    grades = tmp_path / "grades.csv"
    grades.write_text("\n".join([
        GRADES_HEADER,
        grades_row("kovacs-anna", "ABC123", str(bares["kovacs-anna"])),
        grades_row("nagyb", "Nagy Béla (DEF456)", str(bares["nagyb"])),
    ]) + "\n", encoding="utf-8")  # fmt: skip
    spec_file = tmp_path / "hw2.yaml"
    spec_file.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app, ["batch", str(spec_file), "--roster", str(grades), "--out", str(out),
              "--rerun", "none", "--no-progress"], catch_exceptions=False,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    for neptun in ("ABC123", "DEF456"):
        result = json.loads((out / neptun / "result.json").read_text(encoding="utf-8"))
        assert result["commit"] and result["checks"][0]["status"] == "pass"


def test_identifiers_become_neptun_codes_only_when_they_say_so() -> None:
    assert neptun_of(" abc123 ", None) == "ABC123"
    assert neptun_of("Kovács Anna (abc123)", None) == "ABC123"
    assert neptun_of("Kovács Anna", None) is None
    assert neptun_of("KOVACS", None) == "KOVACS"  # six letters are a Neptun code's shape
    assert neptun_of("anna@example.com", {"anna@example.com": "XYZ789"}) == "XYZ789"


def test_gist_urls_are_cloned_as_git_repositories() -> None:
    gist = "0123456789abcdef0123456789abcdef"
    clone = f"https://gist.github.com/{gist}.git"
    for url in (f"https://gist.github.com/{gist}", f"https://gist.github.com/kovacs-anna/{gist}",
                f"https://gist.github.com/{gist}.git", f"https://gist.github.com/{gist}/",
                f"https://gist.github.com/kovacs-anna/{gist}#file-hf2-ipynb",
                f"https://gist.github.com/{gist.upper()}"):  # fmt: skip
        assert gist_clone_url(url) == clone, url
        assert resolve_repo(url, pattern=None, neptun="ABC123", team=None, assignment="hw2",
                            org=None, base_dir=Path("/")) == clone  # fmt: skip
    assert gist_clone_url("https://gist.github.com/kovacs-anna") is None
    assert gist_clone_url("https://github.com/kovacs-anna/0123456789abcdef0123") is None


def test_a_secret_gist_in_the_roster_is_cloned_and_pinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gist's clone URL is served by a local bare repository (test-only mapping)."""
    gist = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    work = build_file_tree(tmp_path / "gist", {"hf2.ipynb": '{"cells": []}'})
    on_time = git_save(work, "HF2 momentum, l1reg, l2reg", date="2018-10-02T21:00:00+02:00")
    git_save(work, "javítás", date="2018-10-04T10:00:00+02:00", files={"notes.txt": "later\n"})
    bare = make_bare(work)
    seen: list[str] = []
    real = fetch.normalize_url

    def mapped(repo: str) -> str:
        url = real(repo)
        seen.append(url)
        return str(bare) if url == f"https://gist.github.com/{gist}.git" else url

    monkeypatch.setattr(fetch, "normalize_url", mapped)
    roster = tmp_path / "roster.csv"
    roster.write_text(f"neptun,name,github\nABC123,Kovács Anna,https://gist.github.com/kovacs-anna/{gist}\n",
                      encoding="utf-8")  # fmt: skip
    spec_file = tmp_path / "hw2.yaml"
    spec_file.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out"
    entry = load_roster(roster, spec()).entries[0]
    assert entry.repo == f"https://gist.github.com/{gist}.git"
    done = CliRunner().invoke(
        app, ["grade", str(spec_file), "--repo", entry.repo, "--student", "ABC123",
              "--out", str(out)], catch_exceptions=False,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    result = json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))
    assert result["commit"] == on_time and result["pin"]["commits_after_deadline"] == 1
    assert f"https://gist.github.com/{gist}.git" in seen


def test_a_url_that_looks_like_an_option_is_never_one(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="starts with '-'"):
        parse_roster_text("neptun,github\nABC123,--upload-pack=touch x\n", "r.csv", spec())
    marker = tmp_path / "pwned"
    # a value that passes as an ssh URL but starts with '-' still reaches git only after
    # `--`: git refuses it as a host name and runs nothing
    with pytest.raises(fetch.FetchError):
        fetch.mirror(f"-oProxyCommand=touch {marker}@host:repo", tmp_path / "cache")
    with pytest.raises(fetch.FetchError):
        fetch.mirror("-x@localhost:repo", tmp_path / "cache")
    assert not marker.exists()

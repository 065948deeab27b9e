"""Roster CSV: columns, validation with line numbers, repository URLs, teams, extensions."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.batch.units import build_units
from grader.cli import app
from grader.roster import RosterError, load_roster, parse_roster_text, resolve_repo
from grader.spec import parse_spec_text

SPEC = """\
id: hw
title: HW
course: c
deadline: "2020-10-27 23:59"
{extra}
checks:
  - check: files
    points: 1
"""


def spec_for(extra: str = ""):
    return parse_spec_text(SPEC.format(extra=extra), "hw.yaml")


PATTERN = spec_for('repo_url_pattern: "https://github.com/{org}/{assignment}-{github}"')


def problems(text: str, spec=None, **kw) -> list[str]:
    with pytest.raises(RosterError) as info:
        parse_roster_text(text, "roster.csv", spec or PATTERN, base_dir=Path("/r"), **kw)
    return [str(p) for p in info.value.problems]


def test_valid_roster_with_urls_paths_user_names_and_case_insensitive_header() -> None:
    text = (
        "Neptun,NAME,Email,GitHub,Team,Extension\n"
        "abc123,Anna Kovács,anna@example.com,annak,,\n"
        "DEF456,Béla,b@example.com,https://gitlab.com/bela/hw.git,,2020-11-03 23:59\n"
        "GHI789,Cili,,repos/cili.git,,\n"
    )
    roster = parse_roster_text(text, "roster.csv", PATTERN, org="bme-dl", base_dir=Path("/r"))
    a, b, c = roster.entries
    assert (a.neptun, a.name, a.repo) == (
        "ABC123",
        "Anna Kovács",
        "https://github.com/bme-dl/hw-annak",
    )
    assert b.repo == "https://gitlab.com/bela/hw.git"
    assert b.extension is not None and b.extension.isoformat() == "2020-11-03T23:59:00+01:00"
    assert c.repo == "/r/repos/cili.git" and c.line == 4


def test_semicolons_bom_blank_lines_and_quoted_fields(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(
        '\ufeffneptun;name;github\n\nABC123;"Kovács; Anna";git@github.com:a/hw.git\n',
        encoding="utf-8",
    )
    roster = load_roster(path, PATTERN)
    assert roster.entries[0].name == "Kovács; Anna"
    assert roster.entries[0].line == 3


def test_every_problem_at_once_with_its_line() -> None:
    text = (
        "neptun,name,github,team\n"  # 1
        "ABC12,Short,annak,\n"  # 2 bad neptun
        "DEF456,Ok,bela,\n"  # 3
        "def456,Again,bela,\n"  # 4 duplicate
        "GHI789,Empty,,\n"  # 5 empty repo
        "JKL012,T1,https://h/t1.git,red\n"  # 6
        "MNO345,T2,https://h/other.git,red\n"  # 7 team with two repos
        "JKL012,T1 again,https://h/t1.git,blue\n"  # 8 in two teams
        "PQR678,Bad user,not a user!,\n"  # 9
    )
    found = problems(text, org="o")
    assert found == [
        "roster.csv:2 neptun: 'ABC12' is not a Neptun code (six letters or digits)",
        "roster.csv:4 neptun: DEF456 is listed twice (first on line 3)",
        "roster.csv:5 github: empty; give a repository URL, a path or a GitHub user name",
        "roster.csv:7 github: team 'red' has two repositories: https://h/t1.git (line 6) and "
        "https://h/other.git; a team is graded from one repository",
        "roster.csv:8 team: JKL012 is in two teams: red (line 6) and blue",
        "roster.csv:9 github: 'not a user!' is neither a URL, a path, nor a GitHub user name "
        "(letters, digits, '-')",
    ]


def test_header_problems() -> None:
    found = problems("neptun,name,githb,name\nABC123,a,b,c\n")
    assert found == [
        "roster.csv:1 name: column appears more than once",
        "roster.csv:1 githb: unknown column; the columns are neptun, name, email, github, team, extension",
        "roster.csv:1 github: required column is missing",
    ]
    assert problems("") == [
        "roster.csv:1: no header; the columns are neptun, name, email, github, team, extension"
    ]
    assert problems("neptun,github\n\n") == ["roster.csv: the roster lists no students"]


def test_row_problems_extension_and_field_count() -> None:
    found = problems("neptun,github,extension\nABC123,https://h/a.git,next week\nDEF456,x,y,z\n")
    assert found[0].startswith("roster.csv:2 extension: 'next week' is not a date-time")
    assert found[1] == "roster.csv:3: 4 fields but the header has 3 columns"


def test_user_name_needs_pattern_and_org() -> None:
    assert problems("neptun,github\nABC123,annak\n", spec_for()) == [
        "roster.csv:2 github: 'annak' is a user name, but the spec has no repo_url_pattern to "
        "build a URL from; give the full repository URL or add repo_url_pattern to the spec"
    ]
    assert "pass --org ORG" in problems("neptun,github\nABC123,annak\n")[0]
    bad = spec_for('repo_url_pattern: "https://github.com/x/{user}"')
    assert "unknown placeholder {user}" in problems("neptun,github\nABC123,annak\n", bad)[0]


def test_resolve_repo_placeholders() -> None:
    url = resolve_repo(
        "annak", pattern="https://github.com/{org}/{team}-{neptun}-{github}", neptun="ABC123",
        team="red", assignment="hw", org="o", base_dir=Path("/"),
    )  # fmt: skip
    assert url == "https://github.com/o/red-ABC123-annak"
    assert resolve_repo("~/x.git", pattern=None, neptun="A", team=None, assignment="a",
                        org=None, base_dir=Path("/")) == str(Path("~/x.git").expanduser())  # fmt: skip


def test_teams_become_one_unit_at_the_latest_deadline() -> None:
    spec = spec_for('extensions:\n  GHI789: "2020-10-30 23:59"')
    text = (
        "neptun,name,github,team,extension\n"
        "XYZ999,Solo,https://h/solo.git,,\n"
        "JKL012,B,https://h/t.git,red,2020-11-01 12:00\n"
        "ABC123,A,https://h/t.git,red,\n"
        "GHI789,C,https://h/t.git,red,\n"
        "DEF456,D,https://h/d.git,,\n"
    )
    units = build_units(parse_roster_text(text, "r.csv", spec), spec)
    assert [u.id for u in units] == ["XYZ999", "ABC123", "DEF456"]
    team = units[1]
    assert team.neptuns == ["ABC123", "GHI789", "JKL012"] and team.team == "red"
    assert team.deadline.isoformat() == "2020-11-01T12:00:00+01:00" and team.extended
    assert "JKL012's deadline" in team.notes[0]
    assert not units[0].extended and units[0].deadline == spec.deadline_at


def test_cli_reports_roster_problems_with_lines(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("neptun,github,colour\nABC12,x/y.git,red\n", encoding="utf-8")
    spec = tmp_path / "hw.yaml"
    spec.write_text(SPEC.format(extra=""), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["batch", str(spec), "--roster", str(roster), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert f"{roster}:1 colour: unknown column" in result.output.replace("\n", "")
    missing = CliRunner().invoke(
        app, ["batch", str(spec), "--roster", str(tmp_path / "no.csv"), "--out", str(tmp_path)]
    )
    assert missing.exit_code == 2 and "file not found" in missing.output

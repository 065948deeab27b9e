"""Where submissions come from: GitHub Classroom's CSV exports and secret gists.

GitHub Classroom gives two CSV files the roster reader (``grader.roster``) takes as they
are downloaded:

- the classroom roster (Students > Download): ``identifier, github_username, github_id,
  name``; the repository follows from ``github_username`` and the spec's
  ``repo_url_pattern`` (e.g. ``https://github.com/{org}/{assignment}-{github}``);
- an assignment's grades (Download grades, or ``gh classroom assignment-grades``):
  ``assignment_name, assignment_url, starter_code_url, github_username,
  roster_identifier, student_repository_name, student_repository_url,
  submission_timestamp, points_awarded, points_available`` and, for a group assignment,
  ``group_name``; the repository is ``student_repository_url`` and a group is a team.

A roster identifier becomes a Neptun code when it is one (``ABC123``), when it ends with
one in parentheses (``Kovács Anna (ABC123)``), or through an ``identifier,neptun`` mapping
file (``--ids``). Anything else is an error naming the line: never a guess.

A secret gist (``https://gist.github.com/<id>``, with or without the owner) is a git
repository: it is cloned from ``https://gist.github.com/<id>.git`` and pinned like any
other.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path

from grader.spec import NEPTUN_RE

CLASSROOM_ROSTER = "classroom roster"
CLASSROOM_GRADES = "classroom grades"
ROSTER_COLUMNS = ("identifier", "github_username", "github_id", "name")
GRADES_COLUMNS = (
    "assignment_name", "assignment_url", "starter_code_url", "github_username",
    "roster_identifier", "student_repository_name", "student_repository_url",
    "submission_timestamp", "points_awarded", "points_available", "group_name",
)  # fmt: skip
REQUIRED = {
    CLASSROOM_ROSTER: ("identifier", "github_username"),
    CLASSROOM_GRADES: ("roster_identifier", "student_repository_url"),
}
_IN_PARENS = re.compile(r"\(\s*([A-Za-z0-9]{6})\s*\)\s*$")
_GIST = re.compile(
    r"^https?://gist\.github\.com/(?:[A-Za-z0-9-]+/)?([0-9a-f]{20,40})(?:\.git)?/?(?:#.*)?$",
    re.IGNORECASE,
)


class IdsError(Exception):
    """An identifier mapping file that cannot be used; every problem as (line, column,
    message)."""

    def __init__(self, problems: list[tuple[int | None, str, str]]):
        self.problems = problems
        super().__init__(
            "\n".join(f"{line} {column}: {message}" for line, column, message in problems)
        )


def kind_of(header: list[str]) -> str | None:
    """Which Classroom export a (lower-cased) CSV header is, or None for the grader's own."""
    columns = set(header)
    if "roster_identifier" in columns and "student_repository_url" in columns:
        return CLASSROOM_GRADES
    if "identifier" in columns and "github_username" in columns and "neptun" not in columns:
        return CLASSROOM_ROSTER
    return None


def known_columns(kind: str) -> tuple[str, ...]:
    return ROSTER_COLUMNS if kind == CLASSROOM_ROSTER else GRADES_COLUMNS


def neptun_of(identifier: str, ids: Mapping[str, str] | None) -> str | None:
    """The Neptun code for a Classroom roster identifier, or None when it has none."""
    value = identifier.strip()
    if ids and value in ids:
        return ids[value]
    if NEPTUN_RE.match(value.upper()):
        return value.upper()
    match = _IN_PARENS.search(value)
    return match.group(1).upper() if match and NEPTUN_RE.match(match.group(1).upper()) else None


def canonical_row(
    kind: str, cells: Mapping[str, str], ids: Mapping[str, str] | None
) -> tuple[dict[str, str], tuple[str, str] | None]:
    """A Classroom row as the grader's roster cells (neptun, name, email, github, team), or
    a problem (column, message)."""
    ident_column = "identifier" if kind == CLASSROOM_ROSTER else "roster_identifier"
    identifier = cells.get(ident_column, "").strip()
    neptun = neptun_of(identifier, ids)
    if not identifier:
        return {}, (ident_column, "empty; the student is not on the Classroom roster")
    if neptun is None:
        return {}, (
            ident_column,
            f"{identifier!r} is not a Neptun code; make the Neptun code the roster identifier, "
            "write it as 'Name (NEPTUN)', or map identifiers with --ids FILE "
            "(CSV: identifier,neptun)",
        )
    user = cells.get("github_username", "").strip()
    if kind == CLASSROOM_ROSTER:
        if not user:
            return {}, ("github_username", f"{identifier}: no GitHub account linked yet")
        row = {"neptun": neptun, "name": cells.get("name", "").strip(), "github": user}
        return row | {"email": "", "team": ""}, None
    repo = cells.get("student_repository_url", "").strip()
    if not repo:
        return {}, ("student_repository_url", f"{identifier}: no repository (not accepted yet)")
    team = cells.get("group_name", "").strip()
    return {"neptun": neptun, "name": "", "email": "", "github": repo, "team": team}, None


def load_ids(path: str | Path) -> dict[str, str]:
    """An ``identifier,neptun`` CSV (a header, any order, ',' or ';'). Raises IdsError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IdsError([(None, "", f"cannot read: {exc}")]) from None
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    columns = {(c or "").strip().lower(): c for c in reader.fieldnames or []}
    if "identifier" not in columns or "neptun" not in columns:
        raise IdsError([(1, "", "the columns must be identifier and neptun")])
    found: dict[str, str] = {}
    problems: list[tuple[int | None, str, str]] = []
    for record in reader:
        line = reader.line_num
        identifier = (record.get(columns["identifier"]) or "").strip()
        neptun = (record.get(columns["neptun"]) or "").strip().upper()
        if not identifier and not neptun:
            continue
        if not NEPTUN_RE.match(neptun):
            problems.append((line, "neptun", f"{neptun!r} is not a Neptun code"))
        elif identifier in found and found[identifier] != neptun:
            problems.append((line, "identifier", f"{identifier!r} is mapped twice"))
        else:
            found[identifier] = neptun
    if problems:
        raise IdsError(problems)
    return found


def gist_clone_url(value: str) -> str | None:
    """``https://gist.github.com/<id>.git`` for a gist's web or clone URL, else None."""
    match = _GIST.match(value.strip())
    return f"https://gist.github.com/{match.group(1).lower()}.git" if match else None

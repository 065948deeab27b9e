"""The class roster: a CSV of students, their repositories, teams and deadline extensions.

Columns (header required, names case-insensitive, order free, ``,`` or ``;`` separated):

- ``neptun`` (required): the Neptun code, six letters or digits; upper-cased.
- ``github`` (required): a repository URL, a local path (relative paths are relative to
  the roster file), or a GitHub user name that the spec's ``repo_url_pattern`` turns into a
  URL (placeholders ``{github}``, ``{neptun}``, ``{team}``, ``{assignment}``, ``{org}``).
- ``name``, ``email``: shown in reports and the gradebook.
- ``team``: students with the same team name share one repository and one grading.
- ``extension``: this student's own deadline, local time ('2020-11-03 23:59').

Every problem is reported at once with its line number (``RosterError``). A team is graded
once, at the LATEST deadline among its members' (an extension granted to any member covers
the team's shared repository); every member then gets that result under their own code.
"""

from __future__ import annotations

import csv
import io
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from grader import classroom
from grader.spec import NEPTUN_RE, AssignmentSpec, parse_local_datetime

COLUMNS = ("neptun", "name", "email", "github", "team", "extension")
REQUIRED = ("neptun", "github")
PLACEHOLDERS = {"github", "neptun", "team", "assignment", "org"}
URL_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
GITHUB_USER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


@dataclass(frozen=True)
class RosterProblem:
    file: str
    line: int | None
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where} {self.column}: {self.message}" if self.column else f"{where}: {self.message}"
        )


class RosterError(Exception):
    """A roster that cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: list[RosterProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class RosterEntry:
    neptun: str
    github: str
    repo: str  # resolved: URL or absolute local path
    line: int
    name: str = ""
    email: str = ""
    team: str | None = None
    extension: datetime | None = None

    def to_dict(self) -> dict:
        return {
            "neptun": self.neptun,
            "name": self.name,
            "email": self.email,
            "github": self.github,
            "repo": self.repo,
            "team": self.team,
            "extension": self.extension.isoformat() if self.extension else None,
            "line": self.line,
        }


@dataclass
class Roster:
    file: str
    entries: list[RosterEntry] = field(default_factory=list)

    def teams(self) -> dict[str, list[RosterEntry]]:
        found: dict[str, list[RosterEntry]] = {}
        for entry in self.entries:
            if entry.team:
                found.setdefault(entry.team, []).append(entry)
        return found


def _delimiter(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


def resolve_repo(
    github: str,
    *,
    pattern: str | None,
    neptun: str,
    team: str | None,
    assignment: str,
    org: str | None,
    base_dir: Path,
) -> str:
    """The repository to fetch for a roster ``github`` field. Raises ValueError saying why not.

    A URL is used as is; a path (it has a '/' or starts with '.' or '~') becomes absolute,
    relative to ``base_dir``; anything else is a GitHub user name put into ``pattern``.
    """
    value = github.strip()
    if value.startswith("-"):  # git would read it as an option (it is passed after `--` too)
        raise ValueError(f"{value!r} starts with '-': not a URL, a path or a GitHub user name")
    if URL_RE.match(value):
        return classroom.gist_clone_url(value) or value
    if "/" in value or "\\" in value or value.startswith((".", "~")):
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (base_dir / path).resolve())
    if not GITHUB_USER_RE.match(value):
        raise ValueError(
            f"{value!r} is neither a URL, a path, nor a GitHub user name (letters, digits, '-')"
        )
    if not pattern:
        raise ValueError(
            f"{value!r} is a user name, but the spec has no repo_url_pattern to build a URL "
            "from; give the full repository URL or add repo_url_pattern to the spec"
        )
    values = {
        "github": value,
        "neptun": neptun,
        "team": team or "",
        "assignment": assignment,
        "org": org,
    }
    for _, name, _, _ in string.Formatter().parse(pattern):
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise ValueError(
                f"repo_url_pattern {pattern!r} has an unknown placeholder {{{name}}}; "
                f"use {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}"
            )
        if name == "org" and not org:
            raise ValueError(f"repo_url_pattern {pattern!r} needs {{org}}: pass --org ORG")
        if name == "team" and not team:
            raise ValueError(f"repo_url_pattern {pattern!r} needs {{team}}, but no team is set")
    return pattern.format(**values)


def parse_roster_text(
    text: str,
    file: str,
    spec: AssignmentSpec,
    *,
    org: str | None = None,
    base_dir: Path | None = None,
    ids: Mapping[str, str] | None = None,
) -> Roster:
    """Validate roster CSV text. Raises RosterError listing every problem with its line.

    GitHub Classroom's roster and grades exports are read as they are
    (``grader.classroom``); ``ids`` maps their roster identifiers to Neptun codes."""
    base_dir = base_dir or Path(file).resolve().parent
    problems: list[RosterProblem] = []

    def problem(line: int | None, column: str, message: str) -> None:
        problems.append(RosterProblem(file, line, column, message))

    text = text.lstrip("\ufeff")
    first = text.splitlines()[0] if text.strip() else ""
    if not first.strip():
        raise RosterError([RosterProblem(file, 1, "", f"no header; the columns are {_cols()}")])
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first))
    header = [h.strip().lower() for h in next(reader)]
    kind = classroom.kind_of(header)
    columns = classroom.known_columns(kind) if kind else COLUMNS
    for index, name in enumerate(header):
        if name not in columns:
            known = ", ".join(columns)
            problem(1, name or f"column {index + 1}", f"unknown column; the columns are {known}")
        elif header.count(name) > 1 and header.index(name) == index:
            problem(1, name, "column appears more than once")
    for name in classroom.REQUIRED[kind] if kind else REQUIRED:
        if name not in header:
            problem(1, name, "required column is missing")
    if problems:
        raise RosterError(problems)

    entries: list[RosterEntry] = []
    seen: dict[str, RosterEntry] = {}
    team_repo: dict[str, tuple[str, int]] = {}
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problem(start, "", f"not valid CSV: {exc}")
            break
        if not any(cell.strip() for cell in row):
            continue
        line = start
        if len(row) > len(header):
            problem(line, "", f"{len(row)} fields but the header has {len(header)} columns")
            continue
        cells = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        if kind:
            cells, trouble = classroom.canonical_row(kind, cells, ids)
            if trouble:
                problem(line, *trouble)
                continue
        ok = True
        neptun = cells["neptun"].upper()
        if not NEPTUN_RE.match(neptun):
            problem(
                line, "neptun", f"{cells['neptun']!r} is not a Neptun code (six letters or digits)"
            )
            ok = False
        team = cells.get("team") or None
        extension = None
        if cells.get("extension"):
            try:
                extension = parse_local_datetime(cells["extension"], spec.timezone)
            except ValueError as exc:
                problem(line, "extension", str(exc))
                ok = False
        repo = ""
        if not cells["github"]:
            problem(line, "github", "empty; give a repository URL, a path or a GitHub user name")
            ok = False
        else:
            try:
                repo = resolve_repo(
                    cells["github"], pattern=spec.repo_url_pattern, neptun=neptun, team=team,
                    assignment=spec.id, org=org, base_dir=base_dir,
                )  # fmt: skip
            except ValueError as exc:
                problem(line, "github", str(exc))
                ok = False
        if ok and neptun in seen:
            before = seen[neptun]
            if (before.team or None) != team:
                problem(
                    line, "team",
                    f"{neptun} is in two teams: {before.team or '(none)'} (line {before.line}) "
                    f"and {team or '(none)'}",
                )  # fmt: skip
            else:
                problem(line, "neptun", f"{neptun} is listed twice (first on line {before.line})")
            ok = False
        if ok and team:
            if team in team_repo and team_repo[team][0] != repo:
                other, other_line = team_repo[team]
                problem(
                    line, "github",
                    f"team {team!r} has two repositories: {other} (line {other_line}) and {repo}; "
                    "a team is graded from one repository",
                )  # fmt: skip
                ok = False
            team_repo.setdefault(team, (repo, line))
        if not ok:
            continue
        entry = RosterEntry(
            neptun=neptun, github=cells["github"], repo=repo, line=line,
            name=cells.get("name", ""), email=cells.get("email", ""), team=team,
            extension=extension,
        )  # fmt: skip
        seen[neptun] = entry
        entries.append(entry)
    if not entries and not problems:
        problem(None, "", "the roster lists no students")
    if problems:
        raise RosterError(problems)
    return Roster(file, entries)


def load_roster(
    path: str | Path,
    spec: AssignmentSpec,
    *,
    org: str | None = None,
    ids: str | Path | None = None,
) -> Roster:
    """Load and validate a roster file (``ids``: an identifier,neptun CSV for a GitHub
    Classroom export). Raises RosterError naming file, line and column."""
    path = Path(path)
    mapping = None
    if ids is not None:
        try:
            mapping = classroom.load_ids(ids)
        except classroom.IdsError as exc:
            raise RosterError(
                [RosterProblem(str(ids), line, column, m) for line, column, m in exc.problems]
            ) from None
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError([RosterProblem(str(path), None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(
            [RosterProblem(str(path), None, "", f"cannot read (save it as UTF-8 CSV): {exc}")]
        ) from None
    return parse_roster_text(
        text, str(path), spec, org=org, base_dir=path.resolve().parent, ids=mapping
    )


def _cols() -> str:
    return ", ".join(COLUMNS)

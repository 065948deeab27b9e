"""Grading units: what one grading job grades (one student, or one team's shared repo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from grader.roster import Roster, RosterEntry
from grader.spec import AssignmentSpec


@dataclass(frozen=True)
class Member:
    neptun: str
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class GradingUnit:
    """One repository graded once at one deadline, for one or more students.

    ``id`` is the folder of the unit's work (its checkout lives in ``OUT/<id>/checkout``):
    the student's Neptun code, or for a team its first member's (sorted) code. Every member
    gets ``OUT/<neptun>/result.json`` with their own code in ``student``.
    """

    id: str
    repo: str
    deadline: datetime
    members: tuple[Member, ...]
    team: str | None = None
    extended: bool = False  # the deadline comes from an extension
    notes: tuple[str, ...] = field(default_factory=tuple)
    # the deadline ledger's entries the pins rest on ("final", milestone ids; grader.ledger)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)

    @property
    def neptuns(self) -> list[str]:
        return [m.neptun for m in self.members]

    @property
    def label(self) -> str:
        return f"team {self.team} ({', '.join(self.neptuns)})" if self.team else self.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "repo": self.repo,
            "deadline": self.deadline.isoformat(),
            "members": [
                {"neptun": m.neptun, "name": m.name, "email": m.email} for m in self.members
            ],
            "team": self.team,
            "extended": self.extended,
            "notes": list(self.notes),
            "snapshots": self.snapshots,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradingUnit:
        return cls(
            id=data["id"],
            repo=data["repo"],
            deadline=datetime.fromisoformat(data["deadline"]),
            members=tuple(Member(**m) for m in data["members"]),
            team=data.get("team"),
            extended=bool(data.get("extended")),
            notes=tuple(data.get("notes") or ()),
            snapshots=dict(data.get("snapshots") or {}),
        )


def _deadline(spec: AssignmentSpec, entry: RosterEntry) -> tuple[datetime, bool]:
    """Roster extension, else the spec's extension for this student, else the deadline."""
    if entry.extension is not None:
        return entry.extension, True
    return spec.deadline_for(entry.neptun), entry.neptun in spec.extensions


def build_units(roster: Roster, spec: AssignmentSpec) -> list[GradingUnit]:
    """One unit per student without a team, one per team (at its members' latest deadline)."""
    units: list[GradingUnit] = []
    teams = roster.teams()
    done_teams: set[str] = set()
    for entry in roster.entries:
        member = Member(entry.neptun, entry.name, entry.email)
        if not entry.team:
            deadline, extended = _deadline(spec, entry)
            units.append(GradingUnit(entry.neptun, entry.repo, deadline, (member,), None, extended))
            continue
        if entry.team in done_teams:
            continue
        done_teams.add(entry.team)
        group = sorted(teams[entry.team], key=lambda e: e.neptun)
        deadlines = [(_deadline(spec, e), e.neptun) for e in group]
        (deadline, extended), owner = max(deadlines, key=lambda d: d[0][0])
        notes: tuple[str, ...] = ()
        if len({d[0][0] for d in deadlines}) > 1:
            notes = (f"team graded at {owner}'s deadline {deadline.isoformat()} (the latest)",)
        members = tuple(Member(e.neptun, e.name, e.email) for e in group)
        units.append(
            GradingUnit(
                group[0].neptun, group[0].repo, deadline, members, entry.team, extended, notes
            )
        )
    return units

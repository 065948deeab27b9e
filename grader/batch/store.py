"""What a batch leaves on disk, written so that a crash at any moment loses at most the
unit in flight.

OUT/<NEPTUN>/result.json   the student's result (for a team: the team's, under their code)
OUT/<NEPTUN>/report.html   their report
OUT/<NEPTUN>/cache.json    written LAST: the done marker, with the cache key
OUT/<UNIT>/checkout/       the graded files (a team's live in its first member's folder)
OUT/batch.json             the manifest: spec, roster, run, every unit's state
OUT/students.json          the roster as the overview and the gradebook read it
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.batch.units import GradingUnit
from grader.results import SubmissionResult, Verdict, atomic_write, write_result

MANIFEST = "batch.json"
MARKER = "cache.json"


def outcome_of(result: SubmissionResult) -> str:
    """'error' (could not be graded, by the submission's or the environment's fault),
    'pass' (every required check passes), 'fail' or 'not_eligible' (a gate is not met)."""
    verdict = result.verdict
    return verdict.value if verdict.graded else "error"


def member_result(result: SubmissionResult, neptun: str) -> SubmissionResult:
    """A copy of a unit's result for one member (their own code in ``student``)."""
    copy = SubmissionResult.from_dict(result.to_dict())
    copy.student = neptun
    return copy


def team_facts(unit: GradingUnit) -> dict[str, Any]:
    return {
        "name": unit.team,
        "members": [{"neptun": m.neptun, "name": m.name} for m in unit.members],
        "graded_as": unit.id,
        "notes": list(unit.notes),
    }


def read_marker(out: Path, neptun: str) -> dict[str, Any] | None:
    try:
        data = json.loads((out / neptun / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_done(out: Path, unit: GradingUnit, key: str | None) -> dict[str, Any] | None:
    """The unit's stored marker when every member's result is stored under ``key``."""
    if key is None:
        return None
    first = None
    for neptun in unit.neptuns:
        marker = read_marker(out, neptun)
        if not marker or marker.get("key") != key or not (out / neptun / "result.json").is_file():
            return None
        first = first or marker
    return first


def persist_unit(
    out: Path,
    unit: GradingUnit,
    result: SubmissionResult,
    key: str | None,
    render: Callable[[SubmissionResult], str],
    record: Callable[[SubmissionResult, GradingUnit], None] | None = None,
    extra: dict[str, Any] | None = None,
) -> list[SubmissionResult]:
    """Write every member's result.json and report.html, record them (gradebook), then the
    done markers. Returns the members' results. A result the environment stopped
    ("not graded (environment)") is written but never marked as cached: the next run
    grades it again."""
    result = result.printable()  # names that are not UTF-8 are shown escaped, never a crash
    if result.verdict == Verdict.ENVIRONMENT:
        key = None
    if unit.neptuns == [result.student]:
        results = [result]
    else:
        results = [member_result(result, neptun) for neptun in unit.neptuns]
    for member in results:
        folder = out / member.student
        for stale in folder.glob(".*-*"):  # temporary files of a write killed half-way
            if stale.name.startswith((".result.json-", ".report.html-", f".{MARKER}-")):
                stale.unlink(missing_ok=True)
        if unit.team:
            member.team = team_facts(unit)  # who shared the repo, whose folder has the checkout
        write_result(member, folder / "result.json")
        atomic_write(folder / "report.html", render(member), sync=False)
    if record is not None:
        for member in results:
            record(member, unit)
    for member in results:
        marker = {
            "key": key,
            "unit": unit.id,
            "team": unit.team,
            "members": unit.neptuns,
            "repo": unit.repo,
            "deadline": unit.deadline.isoformat(),
            "commit": result.commit,
            "outcome": outcome_of(result),
            "score": result.score,
            "max_score": result.max_score,
            "graded_at": result.graded_at,
            **(extra or {}),
        }
        # no fsync: a marker lost to a power cut only means that unit is graded again
        atomic_write(out / member.student / MARKER, json.dumps(marker, indent=2), sync=False)
    return results


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False), sync=False)


def read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

"""The gradebook: students, teams, assignments, every grading run, manual overrides.

``Gradebook`` reads results; it never runs checks. Every write is one short transaction,
retried while another process holds the SQLite write lock, so the batch engine's
parallel workers can all call ``record`` on one database.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from grader.gradebook import ledger_rows as _ledger_rows  # noqa: F401 (its table)
from grader.gradebook import queries
from grader.gradebook.engine import add_missing_columns, insert_rows, make_engine, retry_locked
from grader.gradebook.errors import GradebookError
from grader.gradebook.models import (
    SCHEMA_VERSION,
    Assignment,
    Base,
    GradingRun,
    Meta,
    Override,
    Student,
    Team,
    TeamMember,
)
from grader.gradebook.rows import GradeRow, HistoryEntry, OverrideInfo, result_digest
from grader.results import Status, SubmissionResult, Verdict

# checks per status in a run's row
_COUNTED = {s: f"n_{s.value}" for s in Status}


def _utc(value: str | None) -> datetime | None:
    """A stored (naive UTC) datetime from an ISO string; None when absent or unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _iso(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=UTC).isoformat(timespec="seconds") if moment else None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _field(entry: Any, *names: str) -> Any:
    for name in names:
        value = entry.get(name) if isinstance(entry, Mapping) else getattr(entry, name, None)
        if value not in (None, ""):
            return value
    return None


def _not_graded(row: GradeRow) -> None:
    """A run that did not grade the submission (the repository, the environment) has no
    score: exports leave it blank or out, never 0."""
    result = row.result()
    if result is None or result.verdict.graded:
        return
    reason = result.not_graded_reason
    if result.verdict == Verdict.ENVIRONMENT:
        reason = f"not graded (environment): {reason}"
    row.score = row.graded_score = None
    row.error = reason


class Gradebook:
    """A gradebook at a SQLAlchemy URL (``sqlite:///gradebook.sqlite`` by default; a
    plain path means a SQLite file; ``postgresql://...`` for a shared one)."""

    def __init__(self, url: str, create: bool = True):
        """Open (and with ``create``, make) the gradebook at ``url``. Reading commands pass
        ``create=False``: a gradebook that does not exist is a GradebookError, never an
        empty new one."""
        self.url = url
        self._engine = make_engine(url, create=create)
        self._pid = os.getpid()
        if not create:
            self._check_existing()
            return
        for attempt in (1, 2):
            try:
                retry_locked(self._create_schema)
                break
            except (IntegrityError, ProgrammingError) as exc:
                if attempt == 2:  # else: another process created the tables just now
                    raise GradebookError(f"cannot open the gradebook {url!r}: {exc}") from None
                time.sleep(0.2)
            except SQLAlchemyError as exc:
                raise GradebookError(f"cannot open the gradebook {url!r}: {exc}") from None

    # ---- plumbing -----------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if os.getpid() != self._pid:  # a forked worker must not share the parent's sockets
            self._engine.dispose(close=False)
            self._pid = os.getpid()
        return self._engine

    def _check_existing(self) -> None:
        try:
            with self.engine.connect() as conn:
                found = (
                    conn.scalar(select(Meta.value).where(Meta.key == "schema"))
                    if inspect(conn).has_table(Meta.__tablename__)
                    else None
                )
        except SQLAlchemyError as exc:
            raise GradebookError(f"cannot open the gradebook {self.url!r}: {exc}") from None
        if found is None:
            raise GradebookError(f"{self.url} is not a gradebook (no grader tables in it)")
        if found != str(SCHEMA_VERSION):
            raise GradebookError(
                f"{self.url}: gradebook schema {found} is not supported (expected "
                f"{SCHEMA_VERSION}); use a grader version that matches it"
            )

    def _create_schema(self) -> None:
        with self.engine.begin() as conn:
            Base.metadata.create_all(conn)
            add_missing_columns(conn, Base.metadata)
            insert_rows(
                conn, Meta.__table__, [{"key": "schema", "value": str(SCHEMA_VERSION)}], ["key"]
            )
            found = conn.scalar(select(Meta.value).where(Meta.key == "schema"))
        if found != str(SCHEMA_VERSION):
            raise GradebookError(
                f"{self.url}: gradebook schema {found} is not supported (expected "
                f"{SCHEMA_VERSION}); use a grader version that matches it"
            )

    def _write(self, action: Any) -> Any:
        def transaction() -> Any:
            with self.engine.begin() as conn:
                return action(conn)

        try:
            return retry_locked(transaction)
        except OperationalError as exc:
            raise GradebookError(f"{self.url}: the database stays busy or broken: {exc}") from None
        except SQLAlchemyError as exc:
            raise GradebookError(f"{self.url}: the write failed: {exc}") from None

    def close(self) -> None:
        self._engine.dispose()

    # ---- writing ------------------------------------------------------------------
    def add_assignment(
        self,
        assignment_id: str,
        *,
        title: str = "",
        course: str = "",
        max_points: float = 0.0,
        spec_hash: str | None = None,
    ) -> None:
        """Create or update an assignment (the batch engine calls it with the spec)."""
        row = dict(
            id=assignment_id, title=title, course=course, max_points=float(max_points),
            spec_hash=spec_hash,
        )  # fmt: skip
        update = [k for k in ("title", "course", "max_points", "spec_hash") if row[k]]
        self._write(lambda c: insert_rows(c, Assignment.__table__, [row], ["id"], update or None))

    def add_roster(self, entries: Iterable[Any]) -> int:
        """Add or update students (and their teams) from roster entries: objects or
        mappings with ``neptun`` (or ``student``), ``name``, ``email``, ``github``, ``team``.
        Returns how many students were given."""
        students: list[dict[str, Any]] = []
        members: list[dict[str, str]] = []
        for index, entry in enumerate(entries, start=1):
            neptun = _field(entry, "neptun", "student")
            if not neptun:
                raise GradebookError(f"roster entry {index} has no Neptun code")
            neptun = str(neptun).strip().upper()
            students.append(
                dict(
                    neptun=neptun,
                    name=str(_field(entry, "name") or ""),
                    email=str(_field(entry, "email") or ""),
                    github=str(_field(entry, "github", "repo") or ""),
                )  # fmt: skip
            )
            team = _field(entry, "team")
            if team:
                members.append({"team_id": str(team), "student": neptun})

        def action(conn: Connection) -> int:
            insert_rows(conn, Student.__table__, students, ["neptun"], ["name", "email", "github"])
            teams = [{"id": t} for t in sorted({m["team_id"] for m in members})]
            insert_rows(conn, Team.__table__, teams, ["id"])
            insert_rows(conn, TeamMember.__table__, members, ["team_id", "student"])
            return len(students)

        return self._write(action)

    def record(self, result: SubmissionResult, *, team: str | None = None, run_id: str) -> int:
        """Store one grading of one unit. A team's run is credited to every member known
        from the roster. Recording the very same result again changes nothing (returns 0;
        else the number of rows written)."""
        text, digest = result_digest(result)
        counts = {column: 0 for column in _COUNTED.values()}
        for check in result.checks:
            counts[_COUNTED[check.status]] += 1
        committed, deadline = _utc(result.late_at), _utc(result.deadline)
        base = dict(
            run_id=run_id, assignment=result.assignment, unit=result.student, repo=result.repo,
            commit=result.commit, committed_at=result.committed_at, deadline=result.deadline,
            score=float(result.score), max_score=float(result.max_score),
            late_penalty=float(result.late_penalty), error=result.error,
            late=int(bool(committed and deadline and committed > deadline)),
            commits_after_deadline=int(result.pin.commits_after_deadline or 0),
            grader_version=result.grader_version, graded_at=_utc(result.graded_at) or _now(),
            digest=digest, result_json=text, **counts,
        )  # fmt: skip
        assignment = dict(
            id=result.assignment, title=result.title, course=result.course,
            max_points=float(result.max_score), spec_hash=None,
        )  # fmt: skip

        def action(conn: Connection) -> int:
            known = conn.execute(
                select(Assignment).where(Assignment.id == result.assignment)
            ).first()
            if known is None:
                insert_rows(conn, Assignment.__table__, [assignment], ["id"])
            else:  # fill in what an earlier result lacked; add_assignment sets the real values
                fill = {
                    k: assignment[k]
                    for k in ("title", "course")
                    if assignment[k] and not getattr(known, k)
                }
                if assignment["max_points"] > known.max_points:
                    fill["max_points"] = assignment["max_points"]
                if fill:
                    conn.execute(
                        Assignment.__table__.update()
                        .where(Assignment.id == result.assignment)
                        .values(**fill)
                    )
            team_id = team
            if team_id is None and conn.scalar(select(Team.id).where(Team.id == result.student)):
                team_id = result.student  # the unit is a team known from the roster
            credited: list[str] = []
            if team_id:
                insert_rows(conn, Team.__table__, [{"id": team_id}], ["id"])
                credited = list(
                    conn.scalars(
                        select(TeamMember.student)
                        .where(TeamMember.team_id == team_id)
                        .order_by(TeamMember.student)
                    )
                )
            credited = credited or [result.student]
            people = [dict(neptun=s, name="", email="", github="") for s in credited]
            insert_rows(conn, Student.__table__, people, ["neptun"])
            rows = [
                {**base, "student": s, "team": team_id, "recorded_at": _now()} for s in credited
            ]
            return insert_rows(
                conn, GradingRun.__table__, rows, ["student", "assignment", "digest"]
            )

        return self._write(action)

    def override(
        self,
        student: str,
        assignment: str,
        points: float,
        reason: str,
        who: str,
        extra_credit: bool = False,
    ) -> OverrideInfo:
        """Set a manual grade; it replaces the graded score (late penalty included). Points
        above the student's maximum (their latest run's, else the assignment's) are refused
        unless ``extra_credit``."""
        if not isinstance(points, int | float) or not math.isfinite(points) or points < 0:
            raise GradebookError(f"points must be a number >= 0, not {points!r}")
        if not reason or not reason.strip():
            raise GradebookError("an override needs a reason (it is shown to the student)")
        if not who or not who.strip():
            raise GradebookError("an override needs the name of who sets it")
        created = _now()

        def action(conn: Connection) -> None:
            key = self._require(conn, student, assignment)
            top = self._maximum(conn, key, assignment)
            if points > top and not extra_credit:
                raise GradebookError(
                    f"{points:g} points is more than {key}'s maximum of {top:g} for "
                    f"{assignment}; give points in [0, {top:g}], or pass --extra-credit "
                    "if it is meant"
                )
            conn.execute(
                Override.__table__.insert().values(
                    student=key,
                    assignment=assignment,
                    points=float(points),
                    reason=reason.strip(),
                    who=who.strip(),
                    created_at=created,
                )  # fmt: skip
            )

        self._write(action)
        return OverrideInfo(float(points), reason.strip(), who.strip(), _iso(created) or "")

    def _maximum(self, conn: Connection, student: str, assignment: str) -> float:
        """A student's maximum: their latest run's, else the assignment's."""
        latest = conn.scalar(
            select(GradingRun.max_score)
            .where(GradingRun.student == student, GradingRun.assignment == assignment)
            .order_by(GradingRun.graded_at.desc(), GradingRun.id.desc())
            .limit(1)
        )
        if latest:
            return float(latest)
        return float(
            conn.scalar(select(Assignment.max_points).where(Assignment.id == assignment)) or 0.0
        )

    # ---- reading ------------------------------------------------------------------
    def _require(self, conn: Connection, student: str | None, assignment: str) -> str:
        """The stored student key (a Neptun code matches in any case); raises for an
        unknown assignment or student."""
        if conn.scalar(select(Assignment.id).where(Assignment.id == assignment)) is None:
            known = ", ".join(conn.scalars(select(Assignment.id).order_by(Assignment.id)))
            raise GradebookError(
                f"unknown assignment {assignment!r}; the gradebook has: {known or 'none yet'}"
            )
        if student is None:
            return ""
        for key in dict.fromkeys((student.strip(), student.strip().upper())):
            if conn.scalar(select(Student.neptun).where(Student.neptun == key)) is not None:
                return key
        raise GradebookError(
            f"unknown student {student!r}; add the roster or sync the results first"
        )

    def assignments(self) -> list[dict[str, Any]]:
        """Every assignment with how many students have a run for it."""
        graded = (
            select(GradingRun.assignment, func.count(func.distinct(GradingRun.student)))
            .group_by(GradingRun.assignment)
        )  # fmt: skip
        with self.engine.connect() as conn:
            counts = dict(conn.execute(graded).all())
            rows = conn.execute(select(Assignment).order_by(Assignment.id)).all()
        return [
            dict(
                id=r.id,
                title=r.title,
                course=r.course,
                max_points=r.max_points,
                graded=counts.get(r.id, 0),
            )  # fmt: skip
            for r in rows
        ]

    def current(self, assignment: str) -> list[GradeRow]:
        """Every student's effective grade: the latest run (by grading time), with the
        latest override applied. Students never graded appear with status 'missing'."""
        latest, overrides, run_counts = queries.current_statements(assignment)
        with self.engine.connect() as conn:
            self._require(conn, None, assignment)
            max_points = conn.scalar(
                select(Assignment.max_points).where(Assignment.id == assignment)
            )
            students = conn.execute(select(Student).order_by(Student.neptun)).all()
            teams = dict(conn.execute(select(TeamMember.student, TeamMember.team_id)).all())
            runs = {r.student: r for r in conn.execute(latest).all()}
            manual = {o.student: o for o in conn.execute(overrides).all()}
            counts = dict(conn.execute(run_counts).all())
        rows = []
        for student in students:
            run, over = runs.get(student.neptun), manual.get(student.neptun)
            row = GradeRow(
                student=student.neptun, assignment=assignment, name=student.name,
                email=student.email, team=teams.get(student.neptun),
                max_score=float(max_points or 0.0), runs=counts.get(student.neptun, 0),
            )  # fmt: skip
            if run is not None:
                row.score = row.graded_score = run.score
                row.max_score = run.max_score or row.max_score
                row.late_penalty, row.late, row.error = run.late_penalty, bool(run.late), run.error
                row.commits_after_deadline = run.commits_after_deadline
                row.commit, row.committed_at = run.commit, run.committed_at
                row.graded_at, row.run_id = _iso(run.graded_at), run.run_id
                row.team = run.team or row.team
                row.counts = {s.value: getattr(run, c) for s, c in _COUNTED.items()}
                row.result_json = run.result_json
                if run.error or run.n_error or run.n_environment:  # the one verdict decides
                    _not_graded(row)
            if over is not None:
                row.override = OverrideInfo(
                    over.points, over.reason, over.who, _iso(over.created_at) or ""
                )
                row.score = over.points
            rows.append(row)
        return rows

    def history(self, student: str, assignment: str) -> list[HistoryEntry]:
        """Every run and override of one student for one assignment, oldest first."""
        with self.engine.connect() as conn:
            student = self._require(conn, student, assignment)
            runs = conn.execute(
                select(GradingRun)
                .where(GradingRun.student == student, GradingRun.assignment == assignment)
                .order_by(GradingRun.graded_at, GradingRun.id)
            ).all()
            overrides = conn.execute(
                select(Override)
                .where(Override.student == student, Override.assignment == assignment)
                .order_by(Override.created_at, Override.id)
            ).all()
        entries = [
            (r.graded_at, HistoryEntry(
                kind="run", at=_iso(r.graded_at) or "", score=r.score, max_score=r.max_score,
                late_penalty=r.late_penalty, commit=r.commit, run_id=r.run_id, error=r.error,
                team=r.team,
            ))
            for r in runs
        ] + [
            (o.created_at, HistoryEntry(
                kind="override", at=_iso(o.created_at) or "", score=o.points, reason=o.reason,
                who=o.who,
            ))
            for o in overrides
        ]  # fmt: skip
        return [entry for _, entry in sorted(entries, key=lambda pair: pair[0])]

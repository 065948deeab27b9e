"""The decision log: append-only, versioned rows of the humans' decisions (per-check
points and comments, similarity pair verdicts), with undo.

Every change is a ``Decision`` row with who, when, old -> new and why. A writer names the
version of the target it saw; when another writer got there first the write is refused
with a ``DecisionConflict`` that carries the current state, so nothing is overwritten
unseen (the unique key on the version catches the race on PostgreSQL, SQLite's write
lock serialises it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from grader.gradebook.decisions import (
    CHECK,
    KINDS,
    PAIR,
    PAIR_STATUSES,
    AuditEntry,
    CheckDecision,
    DecisionState,
    late_share,
)
from grader.gradebook.engine import retry_locked
from grader.gradebook.errors import GradebookError
from grader.gradebook.models import Decision
from grader.gradebook.rows import GradeRow
from grader.gradebook.store import Gradebook, _iso, _now
from grader.results import SubmissionResult

T = TypeVar("T")
MAX_TEXT = 4000


class DecisionConflict(GradebookError):
    """Someone else changed the target since the editor loaded it."""

    def __init__(self, message: str, current: DecisionState):
        super().__init__(message)
        self.current = current


def _clean(text: str | None, what: str, required: bool = False) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise GradebookError(f"{what} is required")
    if len(text) > MAX_TEXT:
        raise GradebookError(f"{what} is too long ({len(text)} characters; at most {MAX_TEXT})")
    return text


def pair_key(a: str, b: str) -> str:
    return "|".join(sorted((a, b)))


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id, assignment=row.assignment, kind=row.kind, student=row.student,
        target=row.target, version=row.version, old=json.loads(row.old or "{}"),
        new=json.loads(row.new or "{}"), reason=row.reason, who=row.who,
        at=_iso(row.created_at) or "", undoes=row.undoes, run_digest=row.run_digest,
    )  # fmt: skip


class DecisionLog:
    """The decisions over one gradebook (``ReviewStore`` adds requests and links)."""

    def __init__(self, book: Gradebook):
        self.book = book

    # ---- plumbing -------------------------------------------------------------------
    def _transaction(self, action: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self.book.engine.begin() as conn:
                return action(conn)

        try:
            return retry_locked(run)
        except OperationalError as exc:
            raise GradebookError(f"the database stays busy or broken: {exc}") from None
        except IntegrityError:
            raise  # a lost race on a version: the caller reports the conflict
        except SQLAlchemyError as exc:
            raise GradebookError(f"the write failed: {exc}") from None

    def _read(self, action: Callable[[Connection], T]) -> T:
        with self.book.engine.connect() as conn:
            return action(conn)

    @staticmethod
    def _state(conn: Connection, assignment: str, kind: str, student: str, target: str):
        last = conn.execute(
            select(Decision)
            .where(
                Decision.assignment == assignment,
                Decision.kind == kind,
                Decision.student == student,
                Decision.target == target,
            )  # fmt: skip
            .order_by(Decision.version.desc())
            .limit(1)
        ).first()
        if last is None:
            return DecisionState()
        return DecisionState(
            state=json.loads(last.new or "{}"), version=last.version, who=last.who,
            at=_iso(last.created_at) or "", reason=last.reason, last_id=last.id,
        )  # fmt: skip

    def state(self, assignment: str, kind: str, student: str, target: str) -> DecisionState:
        return self._read(lambda c: self._state(c, assignment, kind, student, target))

    def _append(
        self,
        assignment: str,
        kind: str,
        student: str,
        target: str,
        new: dict[str, Any] | Callable[[Connection, DecisionState], dict[str, Any]],
        *,
        reason: str,
        who: str,
        expected_version: int | None,
        undoes: int | None = None,
        run_digest: str | None = None,
    ) -> AuditEntry:
        """Add one decision row over ``expected_version`` (None: whatever is current)."""
        if kind not in KINDS:
            raise GradebookError(f"unknown decision kind {kind!r}")
        who = _clean(who, "who decides", required=True)[:256]

        def action(conn: Connection) -> AuditEntry:
            current = self._state(conn, assignment, kind, student, target)
            if expected_version is not None and current.version != expected_version:
                raise DecisionConflict(_conflict_text(current), current)
            state = new(conn, current) if callable(new) else new
            if _meaningful(state) == _meaningful(current.state) and undoes is None:
                raise GradebookError("nothing changed: the decision is already so")
            row = dict(
                assignment=assignment, kind=kind, student=student, target=target,
                version=current.version + 1, old=json.dumps(current.state, ensure_ascii=False),
                new=json.dumps(state, ensure_ascii=False), reason=reason, who=who,
                created_at=_now(), undoes=undoes, run_digest=run_digest,
            )  # fmt: skip
            new_id = conn.execute(Decision.__table__.insert().values(**row)).inserted_primary_key
            return _entry(conn.execute(select(Decision).where(Decision.id == new_id[0])).one())

        try:
            return self._transaction(action)
        except IntegrityError:
            current = self.state(assignment, kind, student, target)
            raise DecisionConflict(_conflict_text(current), current) from None

    # ---- reading --------------------------------------------------------------------
    def history(
        self, assignment: str | None = None, student: str | None = None, kind: str | None = None
    ) -> list[AuditEntry]:
        """Decision rows, oldest first; a pair's rows belong to both of its students."""
        query = select(Decision).order_by(Decision.created_at, Decision.id)
        if assignment:
            query = query.where(Decision.assignment == assignment)
        if kind:
            query = query.where(Decision.kind == kind)
        entries = [_entry(r) for r in self._read(lambda c: c.execute(query).all())]
        if student:
            entries = [e for e in entries if student in (e.student, *e.target.split("|"))]
        return entries

    def entry(self, decision_id: int) -> AuditEntry:
        row = self._read(
            lambda c: c.execute(select(Decision).where(Decision.id == decision_id)).first()
        )
        if row is None:
            raise GradebookError(f"no decision #{decision_id}")
        return _entry(row)

    def check_decisions(
        self, assignment: str, student: str | None = None
    ) -> dict[str, dict[str, CheckDecision]]:
        """student -> check id -> the current decision (only checks that have one)."""
        out: dict[str, dict[str, CheckDecision]] = {}
        for e in self.history(assignment, kind=CHECK):
            if student is not None and e.student != student:
                continue
            if e.new.get("points") is None and not e.new.get("comment"):
                out.get(e.student, {}).pop(e.target, None)  # undone back to nothing
                continue
            out.setdefault(e.student, {})[e.target] = CheckDecision(
                check_id=e.target, points=e.new.get("points"), comment=e.new.get("comment", ""),
                reason=e.reason, who=e.who, at=e.at, version=e.version, run_digest=e.run_digest,
            )  # fmt: skip
        return {student: checks for student, checks in out.items() if checks}

    def student_key(self, student: str, assignment: str) -> str:
        """The stored student key (a Neptun code matches in any case)."""
        return self._read(lambda c: self.book._require(c, student, assignment))

    def latest_run(self, student: str, assignment: str) -> tuple[GradeRow, SubmissionResult]:
        student = self.student_key(student, assignment)
        rows = [r for r in self.book.current(assignment) if r.student == student]
        if not rows or rows[0].result() is None:
            raise GradebookError(f"{student} has no graded result for {assignment}")
        result = rows[0].result()
        assert result is not None
        return rows[0], result

    # ---- per-check decisions ----------------------------------------------------------
    def decide_check(
        self,
        assignment: str,
        student: str,
        check_id: str,
        *,
        points: float | None,
        comment: str = "",
        reason: str = "",
        who: str,
        expected_version: int | None,
    ) -> AuditEntry:
        """Set (or clear, with None) one check's points and its comment for the student."""
        student = self.student_key(student, assignment)
        row, result = self.latest_run(student, assignment)
        check = next((c for c in result.checks if c.id == check_id), None)
        if check is None:
            known = ", ".join(c.id for c in result.checks)
            raise GradebookError(f"{assignment} has no check {check_id!r}; it has: {known}")
        comment, reason = _clean(comment, "the comment"), _clean(reason, "the reason")
        if points is not None:
            if not math.isfinite(points) or not 0 <= points <= check.max_points:
                raise GradebookError(
                    f"points for {check_id} must be between 0 and {check.max_points:g}, "
                    f"not {points:g}"
                )
            if not reason:
                raise GradebookError("a change of points needs a reason (kept in the audit log)")
            if late_share(result) is None:
                raise GradebookError(
                    f"{student}'s late penalty cannot be told from the result (a late "
                    "submission that earned 0 points); set the whole grade with "
                    "`grader gradebook override` instead"
                )
        new = {"points": None if points is None else round(float(points), 4), "comment": comment}
        return self._append(
            assignment, CHECK, student, check_id, new, reason=reason, who=who,
            expected_version=expected_version, run_digest=_digest(row),
        )  # fmt: skip

    # ---- similarity pairs -------------------------------------------------------------
    def decide_pair(
        self, assignment: str, a: str, b: str, *, status: str, note: str, who: str,
        expected_version: int | None,
    ) -> AuditEntry:  # fmt: skip
        if status not in PAIR_STATUSES:
            raise GradebookError(f"a pair is {', '.join(PAIR_STATUSES)}, not {status!r}")
        note = _clean(note, "the note", required=status != "open")
        new = {"status": status, "note": note}
        return self._append(
            assignment, PAIR, "", pair_key(a, b), new, reason=note, who=who,
            expected_version=expected_version,
        )  # fmt: skip

    def pair_states(self, assignment: str) -> dict[str, DecisionState]:
        states: dict[str, DecisionState] = {}
        for e in self.history(assignment, kind=PAIR):
            states[e.target] = DecisionState(e.new, e.version, e.who, e.at, e.reason, e.id)
        return states

    # ---- undo ---------------------------------------------------------------------------
    def undo(self, decision_id: int, *, who: str, reason: str = "") -> AuditEntry:
        """Revert one decision with a new row; refused when a later decision changed the
        same target since (undo that one first)."""
        entry = self.entry(decision_id)
        reason = _clean(reason, "the reason") or f"undo of #{entry.id}"

        def reverted(_conn: Connection, current: DecisionState) -> dict[str, Any]:
            if _meaningful(current.state) != _meaningful(entry.new):
                raise DecisionConflict(
                    f"decision #{entry.id} is not the latest word on {entry.target}: "
                    f"{current.who} changed it since; undo that one first",
                    current,
                )
            return entry.old

        return self._append(
            entry.assignment, entry.kind, entry.student, entry.target, reverted,
            reason=reason, who=who, expected_version=None, undoes=entry.id,
            run_digest=entry.run_digest,
        )  # fmt: skip


def _meaningful(state: dict[str, Any]) -> dict[str, Any]:
    """A state without its empty values ({} and {"points": None, "comment": ""} agree)."""
    return {k: v for k, v in state.items() if v not in (None, "")}


def _digest(row: GradeRow) -> str | None:
    import hashlib

    return hashlib.sha256(row.result_json.encode("utf-8")).hexdigest() if row.result_json else None


def _conflict_text(current: DecisionState) -> str:
    who = f" by {current.who}" if current.who else ""
    when = f" at {current.at}" if current.at else ""
    return (
        f"someone else changed this{who}{when} while you were editing (now version "
        f"{current.version}); your edit was not saved: compare and save it again"
    )

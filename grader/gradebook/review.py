"""The review desk's data: the decision log (``grader.gradebook.decision_log``) plus
students' regrade requests (answered with a decision) and their secret links."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.engine import Connection

from grader.gradebook.decision_log import (
    DecisionConflict,
    DecisionLog,
    _clean,
    _conflict_text,
    pair_key,
)
from grader.gradebook.decisions import CHECK, REGRADE, AuditEntry
from grader.gradebook.errors import GradebookError
from grader.gradebook.models import Assignment, GradingRun, RegradeRequest, Student, StudentLink
from grader.gradebook.store import _iso, _now

__all__ = ["DecisionConflict", "ReviewStore", "pair_key"]


class ReviewStore(DecisionLog):
    """The review desk's data over one gradebook."""

    # ---- regrade requests ---------------------------------------------------------------
    def open_regrade(
        self, assignment: str, student: str, message: str, check_id: str = "", source: str = "link"
    ) -> int:
        message = _clean(message, "the request", required=True)
        check_id = _clean(check_id, "the check")

        def action(conn: Connection) -> int:
            self.book._require(conn, None, assignment)
            known = conn.scalar(select(Student.neptun).where(Student.neptun == student))
            if known is None:
                raise GradebookError(f"unknown student {student!r}")
            row = dict(
                assignment=assignment, student=student, check_id=check_id, message=message,
                source=source, created_at=_now(),
            )  # fmt: skip
            return conn.execute(
                RegradeRequest.__table__.insert().values(**row)
            ).inserted_primary_key[0]

        return self._transaction(action)

    def regrades(self, assignment: str | None = None, student: str | None = None) -> list[dict]:
        """Each request with its current answer (``state``: status, outcome, reply)."""
        query = select(RegradeRequest).order_by(RegradeRequest.created_at, RegradeRequest.id)
        if assignment:
            query = query.where(RegradeRequest.assignment == assignment)
        if student:
            query = query.where(RegradeRequest.student == student)
        rows = self._read(lambda c: c.execute(query).all())
        answers = {}
        for e in self.history(assignment, kind=REGRADE):
            answers[(e.assignment, e.target)] = e
        out = []
        for r in rows:
            answer = answers.get((r.assignment, str(r.id)))
            state = answer.new if answer else {}
            out.append(
                dict(
                    id=r.id,
                    assignment=r.assignment,
                    student=r.student,
                    check_id=r.check_id,
                    message=r.message,
                    source=r.source,
                    at=_iso(r.created_at) or "",
                    status=state.get("status", "open"),
                    outcome=state.get("outcome", ""),
                    reply=state.get("reply", ""),
                    version=answer.version if answer else 0,
                    answered_by=answer.who if answer else "",
                    answered_at=answer.at if answer else "",
                    answer_id=answer.id if answer else None,
                )  # fmt: skip
            )
        return out

    def answer_regrade(
        self, request_id: int, *, reply: str, who: str, expected_version: int | None,
        points: float | None = None,
    ) -> AuditEntry:  # fmt: skip
        """Answer a request: a reply for the student and, when it names a check and new
        points are given, a per-check decision as well."""
        found = [r for r in self.regrades() if r["id"] == request_id]
        if not found:
            raise GradebookError(f"no regrade request #{request_id}")
        request = found[0]
        reply = _clean(reply, "the reply", required=True)
        if request["version"] != (expected_version if expected_version is not None else 0):
            current = self.state(
                request["assignment"], REGRADE, request["student"], str(request_id)
            )
            raise DecisionConflict(_conflict_text(current), current)
        outcome = "unchanged"
        if points is not None:
            if not request["check_id"]:
                raise GradebookError("this request names no check; set points on the check itself")
            version = self.state(
                request["assignment"], CHECK, request["student"], request["check_id"]
            ).version
            comment = self.state(
                request["assignment"], CHECK, request["student"], request["check_id"]
            ).state.get("comment", "")
            self.decide_check(
                request["assignment"], request["student"], request["check_id"], points=points,
                comment=comment, reason=f"regrade request #{request_id}: {reply}", who=who,
                expected_version=version,
            )  # fmt: skip
            outcome = "changed"
        new = {"status": "answered", "outcome": outcome, "reply": reply}
        return self._append(
            request["assignment"], REGRADE, request["student"], str(request_id), new,
            reason=reply, who=who, expected_version=expected_version,
        )  # fmt: skip

    def import_regrades(self, rows: list[dict[str, str]], assignment: str) -> tuple[int, list[str]]:
        """Requests from CSV rows (``neptun``/``student``, ``message``, optional ``check``)."""
        added, problems = 0, []
        for number, row in enumerate(rows, start=2):
            low = {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k}
            student = (low.get("neptun") or low.get("student") or "").upper()
            message = low.get("message") or low.get("request") or ""
            if not student or not message:
                problems.append(f"line {number}: needs a neptun and a message")
                continue
            try:
                self.open_regrade(assignment, student, message, low.get("check", ""), "csv")
                added += 1
            except GradebookError as exc:
                problems.append(f"line {number}: {exc}")
        return added, problems

    # ---- students' secret links ---------------------------------------------------------
    def link_token(self, student: str, create: bool = True) -> str | None:
        def action(conn: Connection) -> str | None:
            token = conn.scalar(select(StudentLink.token).where(StudentLink.student == student))
            if token or not create:
                return token
            token = secrets.token_urlsafe(24)
            conn.execute(
                StudentLink.__table__.insert().values(
                    student=student, token=token, created_at=_now()
                )
            )
            return token

        return self._transaction(action)

    def student_for_token(self, token: str) -> str | None:
        if not token or len(token) > 128:
            return None
        found = self._read(
            lambda c: c.scalar(select(StudentLink.student).where(StudentLink.token == token))
        )
        if found is None:
            return None
        # constant-time comparison against the stored value (defence in depth)
        stored = self.link_token(found, create=False) or ""
        return found if secrets.compare_digest(stored, token) else None

    def assignments_of(self, student: str) -> list[str]:
        query = (
            select(GradingRun.assignment).where(GradingRun.student == student).distinct()
        )  # fmt: skip
        return sorted(self._read(lambda c: list(c.scalars(query))))

    def students(self) -> list[str]:
        return self._read(
            lambda c: list(c.scalars(select(Student.neptun).order_by(Student.neptun)))
        )

    def assignment_ids(self) -> list[str]:
        return self._read(lambda c: list(c.scalars(select(Assignment.id).order_by(Assignment.id))))

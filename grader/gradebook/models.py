"""The gradebook's tables (SQLAlchemy 2.x declarative models).

Times are stored as naive UTC datetimes (SQLite has no time zones); every reader turns
them back into aware ones.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 1


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value facts about the database itself (the schema version)."""

    __tablename__ = "gradebook_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class Student(Base):
    __tablename__ = "students"
    neptun: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    email: Mapped[str] = mapped_column(String(256), default="")
    github: Mapped[str] = mapped_column(String(512), default="")


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)


class TeamMember(Base):
    __tablename__ = "team_members"
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    student: Mapped[str] = mapped_column(ForeignKey("students.neptun"), primary_key=True)


class Assignment(Base):
    __tablename__ = "assignments"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(String(512), default="")
    course: Mapped[str] = mapped_column(String(512), default="")
    max_points: Mapped[float] = mapped_column(Float, default=0.0)
    spec_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)


class GradingRun(Base):
    """One grading of one unit, credited to one student (a team run has a row per member).

    ``digest`` is the SHA-256 of the normalised result JSON: recording the same result
    twice (the batch, then ``sync``) keeps one row.
    """

    __tablename__ = "grading_runs"
    __table_args__ = (
        UniqueConstraint("student", "assignment", "digest", name="uq_run_result"),
        Index("ix_runs_current", "assignment", "student", "graded_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(128))
    student: Mapped[str] = mapped_column(ForeignKey("students.neptun"))
    assignment: Mapped[str] = mapped_column(ForeignKey("assignments.id"))
    team: Mapped[str | None] = mapped_column(String(128), nullable=True)
    unit: Mapped[str] = mapped_column(String(128))
    repo: Mapped[str] = mapped_column(Text, default="")
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    committed_at: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deadline: Mapped[str] = mapped_column(String(64), default="")
    score: Mapped[float] = mapped_column(Float, default=0.0)
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    late_penalty: Mapped[float] = mapped_column(Float, default=0.0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    commits_after_deadline: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    n_pass: Mapped[int] = mapped_column(Integer, default=0)
    n_fail: Mapped[int] = mapped_column(Integer, default=0)
    n_warn: Mapped[int] = mapped_column(Integer, default=0)
    n_error: Mapped[int] = mapped_column(Integer, default=0)
    n_manual: Mapped[int] = mapped_column(Integer, default=0)
    n_skipped: Mapped[int] = mapped_column(Integer, default=0)
    n_environment: Mapped[int] = mapped_column(Integer, default=0)
    grader_version: Mapped[str] = mapped_column(String(64), default="")
    graded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    digest: Mapped[str] = mapped_column(String(64))
    result_json: Mapped[str] = mapped_column(Text)


class Override(Base):
    """A manual grade: replaces the graded score; the latest override wins."""

    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_current", "assignment", "student", "created_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    student: Mapped[str] = mapped_column(ForeignKey("students.neptun"))
    assignment: Mapped[str] = mapped_column(ForeignKey("assignments.id"))
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    who: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Decision(Base):
    """A human's decision, layered over the graded result (never replacing it).

    One append-only row per change of one target: a check of one student's submission
    (``kind="check"``, ``target`` = the check id), a similarity pair (``kind="pair"``,
    ``target`` = "A|B") or a regrade request (``kind="regrade"``, ``target`` = its id).
    ``old``/``new`` are the target's state before and after (JSON). ``version`` counts the
    target's changes: two graders saving over the same version collide on the unique key,
    so a conflicting edit is detected, never silently lost. An undo is a new row whose
    ``undoes`` names the row it reverts.
    """

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("assignment", "kind", "student", "target", "version", name="uq_decision"),
        Index("ix_decisions_target", "assignment", "kind", "student", "target"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    student: Mapped[str] = mapped_column(String(128), default="")
    target: Mapped[str] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(Integer)
    old: Mapped[str] = mapped_column(Text, default="{}")
    new: Mapped[str] = mapped_column(Text, default="{}")
    reason: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    undoes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    run_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RegradeRequest(Base):
    """A student's request to look again (through their secret link, or imported from a
    CSV by the instructor). Its answer is a ``Decision`` of kind "regrade"."""

    __tablename__ = "regrade_requests"
    __table_args__ = (Index("ix_regrades", "assignment", "student"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment: Mapped[str] = mapped_column(String(128))
    student: Mapped[str] = mapped_column(String(128))
    check_id: Mapped[str] = mapped_column(String(256), default="")
    message: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="link")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class StudentLink(Base):
    """A student's secret link to the review desk (their feedback and regrade requests)."""

    __tablename__ = "student_links"
    student: Mapped[str] = mapped_column(String(128), primary_key=True)
    token: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)

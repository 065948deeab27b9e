"""The statements behind ``Gradebook.current``: latest run and latest override per student."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from grader.gradebook.models import GradingRun, Override


def current_statements(assignment: str) -> tuple[Select, Select, Select]:
    """(latest run per student, latest override per student, runs per student)."""
    order = (GradingRun.graded_at.desc(), GradingRun.id.desc())
    rank = func.row_number().over(partition_by=GradingRun.student, order_by=order)
    ranked = (
        select(GradingRun.id, rank.label("rn"))
        .where(GradingRun.assignment == assignment)
        .subquery()
    )
    latest = select(GradingRun).join(ranked, ranked.c.id == GradingRun.id).where(ranked.c.rn == 1)
    o_rank = func.row_number().over(
        partition_by=Override.student, order_by=(Override.created_at.desc(), Override.id.desc())
    )
    o_ranked = (
        select(Override.id, o_rank.label("rn")).where(Override.assignment == assignment).subquery()
    )
    overrides = (
        select(Override).join(o_ranked, o_ranked.c.id == Override.id).where(o_ranked.c.rn == 1)
    )
    run_counts = (
        select(GradingRun.student, func.count())
        .where(GradingRun.assignment == assignment)
        .group_by(GradingRun.student)
    )
    return latest, overrides, run_counts

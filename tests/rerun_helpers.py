"""Shared helpers for the rerun/compare/notebook tests: a CheckContext on a folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from grader.checks.base import CheckContext
from grader.results import PinInfo
from grader.spec import AssignmentSpec, CheckSpec


def make_ctx(workdir: Path, mode: str = "pinned", spec_id: str = "demo", key: str = "rerun"):
    spec = AssignmentSpec(
        id=spec_id, title="Demo", course="test", deadline="2020-11-10 23:59",
        checks=[CheckSpec(check="files")],
    )  # fmt: skip
    check = CheckSpec(check=key, id=key)
    return CheckContext(
        spec=spec, check=check, workdir=workdir, student="ABC123", repo=str(workdir),
        commit=None, committed_at=datetime(2020, 11, 1, tzinfo=UTC),
        deadline=spec.deadline_at, pin=PinInfo(mode=mode), mode=mode,
    )  # fmt: skip

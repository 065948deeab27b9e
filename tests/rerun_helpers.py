"""Shared helpers for the rerun/compare/notebook tests: a CheckContext on a folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from grader.testing import make_context


def make_ctx(workdir: Path, mode: str = "pinned", spec_id: str = "demo", key: str = "rerun", **kw):
    """A context for the check ``key``; reruns in smoke mode unless ``rerun`` says otherwise."""
    kw.setdefault("rerun", "smoke")
    return make_context(
        workdir, key, check_id=key, spec_id=spec_id, deadline="2020-11-10 23:59", mode=mode,
        committed_at=datetime(2020, 11, 1, tzinfo=UTC), **kw,
    )  # fmt: skip

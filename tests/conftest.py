from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.budget import stop_worker

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mirrors go to a per-test cache; no test touches the user's ~/.cache. Instructor data
    (observations, reference metrics) is absent unless a test provides it, as for a student
    who installed the wheel."""
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    (tmp_path / "no-instructor-data").mkdir(exist_ok=True)
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(tmp_path / "no-instructor-data"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    # rerun slot locks where every test run on this machine finds them (slots are uids)
    monkeypatch.setenv(
        "GRADER_LOCK_DIR", str(Path(tempfile.gettempdir()) / "grader-sandbox" / "locks")
    )


@pytest.fixture(autouse=True)
def _fresh_check_worker() -> Iterator[None]:
    """Checks run in a long-lived worker forked from this process (grader.budget): each test
    gets one forked after its own patches, never one left by an earlier test."""
    stop_worker()
    yield
    stop_worker()

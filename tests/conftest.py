from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Under pytest-xdist every worker gets its own block of sandbox uids (rerun slots, the warm
# pool): the process limit counts per uid, so two workers sharing one would bound each
# other's runs. Set before any grader module reads it.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw") and _WORKER[2:].isdigit():
    os.environ["GRADER_SANDBOX_UID"] = str(62000 + 1000 * int(_WORKER[2:]))
    # xdist hands its workers the controller's terminal width (COLUMNS=80); a plain pytest
    # run has none, and the CLI's console reads it once, at import
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

from grader.budget import stop_worker  # noqa: E402

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

"""Results as plain data, serialised to the versioned ``result.json`` (schema 1).

This module imports nothing of the project. Rendering lives in ``grader.report``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` made safe to write as UTF-8. File names are bytes: a name that is not UTF-8
    (``r\\xe9sum\\xe9.py`` in Latin-1) reaches Python as surrogate escapes (``os.fsdecode``),
    which no UTF-8 file can hold; each such byte is shown as a visible ``\\xNN`` escape."""
    return _SURROGATE.sub(_escape_surrogate, text) if _SURROGATE.search(text) else text


def printable_data(value: Any) -> Any:
    """``printable`` applied to every string (keys included) of JSON-like data."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_data(k): printable_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_data(v) for v in value]
    return value


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    ERROR = "error"
    MANUAL = "manual"
    SKIPPED = "skipped"
    # the grader's environment stopped the check (no sandbox, full disk, git transport, a
    # broken GPU, the grader's own timeout): not the student's doing, never a penalty
    ENVIRONMENT = "environment"

    @property
    def blocking(self) -> bool:
        """A required check in this state makes the self-check exit non-zero."""
        return self in (Status.FAIL, Status.ERROR, Status.ENVIRONMENT)


class EnvironmentFailure(Exception):
    """Raised by a check or a service when the grading environment, not the submission,
    failed. The pipeline turns it into ``Status.ENVIRONMENT`` ("not graded (environment)"):
    no points lost, never cached, retried by the next run.

    ``kind`` names the cause in one word: sandbox, disk, git, network, gpu, timeout.
    """

    def __init__(self, message: str, kind: str = "environment"):
        super().__init__(message)
        self.kind = kind


class Verdict(StrEnum):
    """The one verdict of a submission, the same in every report, page and export."""

    PASS = "pass"  # graded; every required check passes
    FAIL = "fail"  # graded; a required check fails
    ERROR = "error"  # not graded: the submission itself (missing repo, nothing to pin)
    ENVIRONMENT = "environment"  # not graded: the grader's environment failed; retried
    # a gate (a required milestone, a gate check) is not met: no pass/fail; reason first
    NOT_ELIGIBLE = "not_eligible"

    @property
    def graded(self) -> bool:
        """Grading came to a determination (pass, fail, or not eligible)."""
        return self in (Verdict.PASS, Verdict.FAIL, Verdict.NOT_ELIGIBLE)


@dataclass
class Evidence:
    path: str = ""
    verdict: str = ""
    detail: str = ""
    line: int | None = None


@dataclass
class CheckOutcome:
    """What a check returns; the pipeline turns it into a CheckResult with points.

    ``fraction`` is the share of the check's points earned (0..1); when None it follows
    from the status (pass and warn earn all, everything else none).

    ``pending`` (with status SKIPPED) says that this run cannot judge the check and which
    run will ("the instructor's pinned run: ..."): its points stay in the maximum, not
    earned yet. A SKIPPED check without it does not apply to the submission (an optional
    notebooks check on a repository without notebooks) and counts for nothing either way.
    """

    status: Status
    message: str
    evidence: list[Evidence] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    fraction: float | None = None
    pending: str = ""


@dataclass
class CheckResult:
    id: str
    status: Status
    points: float
    max_points: float
    message: str
    evidence: list[Evidence] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    check: str = ""
    title: str = ""
    explanation: str = ""
    required: bool = True
    milestone: str | None = None
    commit: str | None = None
    pending: str = ""  # which run judges it, when this one could not (see CheckOutcome)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        raw = dict(data)
        raw["status"] = Status(raw["status"])
        raw["evidence"] = [Evidence(**e) for e in raw.get("evidence", [])]
        return cls(**raw)


@dataclass
class Anomaly:
    sha: str
    kind: str
    detail: str


@dataclass
class PinInfo:
    branch: str | None = None
    tip: str | None = None
    commits_after_deadline: int = 0
    first_after: str | None = None
    last_after: str | None = None
    commits_before_deadline: int = 0
    anomalies: list[Anomaly] = field(default_factory=list)
    symlinks_outside: list[str] = field(default_factory=list)
    uncommitted: list[str] = field(default_factory=list)
    mode: str = "pinned"  # "pinned" (instructor) or "worktree" (self-check)
    milestones: dict[str, dict[str, Any]] = field(default_factory=dict)
    # what the pin rests on: "ledger" (a deadline snapshot), "github" (push times from the
    # activity API) or "commit dates" (only what the student's machine wrote); and the details
    evidence: str = "commit dates"
    snapshot: dict[str, Any] | None = None
    # the date the late policy judges: the graded commit's, or the late commit's it sits on
    # (a backdated commit inherits its lateness); ``late_note`` says why when they differ
    late_at: str | None = None
    late_note: str = ""


@dataclass
class SubmissionResult:
    assignment: str
    student: str
    repo: str
    deadline: str
    commit: str | None = None
    committed_at: str | None = None
    pin: PinInfo = field(default_factory=PinInfo)
    checks: list[CheckResult] = field(default_factory=list)
    score: float = 0.0
    max_score: float = 0.0
    late_penalty: float = 0.0
    error: str | None = None
    # "environment" when ``error`` is the grader's environment's fault (git transport, full
    # disk, ...), not the submission's; such a result is never cached
    error_kind: str | None = None
    grader_version: str = ""
    graded_at: str = ""
    title: str = ""
    course: str = ""
    team: dict[str, Any] | None = None  # {name, members, graded_as, notes} for team work
    # preconditions: [{id, kind: milestone|check, title, met: true|false|null, reason}];
    # one not met makes the verdict NOT_ELIGIBLE (null: undecided, a human looks)
    gates: list[dict[str, Any]] = field(default_factory=list)
    # what the spec says the grader assumed (its ``description``), shown in every report
    assumptions: str = ""
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain data, every string printable (see ``printable``)."""
        data = printable_data(asdict(self))
        ordered = {"schema": data.pop("schema")}
        ordered.update(data)
        return ordered

    def printable(self) -> SubmissionResult:
        """A copy whose every string can be written as UTF-8 (names shown escaped)."""
        return SubmissionResult.from_dict(self.to_dict())

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        schema = data.get("schema")
        if schema != SCHEMA_VERSION:
            raise ValueError(f"result.json schema {schema!r} is not supported (expected 1)")
        data = dict(data)
        pin = dict(data.pop("pin", {}) or {})
        pin["anomalies"] = [Anomaly(**a) for a in pin.get("anomalies", [])]
        checks = [CheckResult.from_dict(raw) for raw in data.pop("checks", [])]
        known = {f for f in cls.__dataclass_fields__}
        extra = {k: v for k, v in data.items() if k in known}
        return cls(pin=PinInfo(**pin), checks=checks, **extra)

    @property
    def required_ok(self) -> bool:
        """No required check blocks and no gate is unmet (a gate is a precondition)."""
        if self.error or self.unmet_gates:
            return False
        return not any(c.required and c.status.blocking for c in self.checks)

    @property
    def unmet_gates(self) -> list[dict[str, Any]]:
        return [g for g in self.gates if g.get("met") is False]

    @property
    def verdict(self) -> Verdict:
        """pass / fail / not eligible / error / environment: the only place this is decided."""
        if self.error:
            return Verdict.ENVIRONMENT if self.error_kind == "environment" else Verdict.ERROR
        if any(c.status == Status.ENVIRONMENT for c in self.checks):
            return Verdict.ENVIRONMENT
        if self.unmet_gates:
            return Verdict.NOT_ELIGIBLE
        return Verdict.PASS if self.required_ok else Verdict.FAIL

    @property
    def not_graded_reason(self) -> str:
        """Why the submission was not graded ("" when it was)."""
        if self.error:
            return self.error
        stopped = [c for c in self.checks if c.status == Status.ENVIRONMENT]
        return "; ".join(
            f"{c.title or c.id}: {c.message.removeprefix('not graded (environment): ')}"
            for c in stopped
        )

    @property
    def late_at(self) -> str | None:
        """The date the late policy judged (a backdated commit's is the late one below it)."""
        return self.pin.late_at or self.committed_at

    @property
    def failed_required(self) -> list[CheckResult]:
        """The required checks that make the verdict a fail (what a red label names)."""
        return [c for c in self.checks if c.required and c.status.blocking]

    @property
    def pending_checks(self) -> list[CheckResult]:
        """Checks this run could not judge (their points count in the maximum, unearned)."""
        return [c for c in self.checks if c.pending]


def is_result_document(data: object) -> bool:
    """Whether parsed JSON is the grader's own result (``result.json``, or the self-check's
    ``--format json`` redirected into a file): recognised by its content, whatever its name,
    so that the grader's output is never read as student work."""
    if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
        return False
    return isinstance(data.get("schema"), int) and {"assignment", "student", "score"} <= set(data)


_TEXT_SCORE = re.compile(r"^\s*Score: \d+(?:\.\d+)? / \d+(?:\.\d+)?\b", re.MULTILINE)
_TEXT_MARKERS = re.compile(
    r"^\s*(?:report: |Fix these first|What the grader assumes|Not judged in this run|"
    r"Required checks fail|Some required checks fail)|"
    r"\bCheck\s*[│|┃]\s*Status\s*[│|┃]\s*Points\b",
    re.MULTILINE,
)
_ACTION_LINE = re.compile(r"^::(?:error|warning|notice)(?: [^:]*)?::", re.MULTILINE)


def is_grader_output(text: str) -> bool:
    """Whether a file's text is the grader's own output, in any of its formats: the JSON
    result (``is_result_document``), the terminal's text (``grader check > out.txt``: its
    "Score: X / Y" line and the table or report line around it), GitHub workflow commands
    (``--format github``) or the JUnit XML (``--format junit``). Recognised by content,
    whatever the file's name, so that the grader's output is never read as student work."""
    head = text[:200_000]
    stripped = head.lstrip()
    if stripped.startswith("{"):
        try:
            return is_result_document(json.loads(text))
        except (ValueError, RecursionError):
            return False
    if stripped.startswith("<?xml") or stripped.startswith("<testsuites"):
        return "<testsuites" in head and 'name="max_score"' in head
    if _TEXT_SCORE.search(head) and _TEXT_MARKERS.search(head):
        return True
    return len(_ACTION_LINE.findall(head)) >= 2 and "title=" in head


def now_iso() -> str:
    """The current UTC time as result files write it (seconds precision)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


FILE_MODE = 0o644  # every file the grader writes: readable where the output is served
DIR_MODE = 0o755


def output_dir(path: str | Path) -> Path:
    """Create a folder for the grader's output (and its missing parents) with DIR_MODE,
    whatever the umask; an existing folder is left as it is."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        os.chmod(folder, DIR_MODE)
    return path


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` (made with its folder) for the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write(path: str | Path, text: str, sync: bool = True) -> Path:
    """Write via a temporary file in the same folder and rename: readers see the old file
    or the new one, never half of one. ``sync`` also flushes it to the disk first. The
    file gets FILE_MODE (0644), the folders made for it DIR_MODE (0755)."""
    path = Path(path)
    output_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_result(result: SubmissionResult, path: str | Path) -> Path:
    """Write result.json atomically (a crash never leaves half a file)."""
    return atomic_write(path, result.to_json())


def read_result(path: str | Path) -> SubmissionResult:
    return SubmissionResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

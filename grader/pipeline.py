"""The one pipeline behind every front door: spec -> submission -> checks -> result.

The Python API mirrors the CLI: ``load_assignment``, ``grade`` (instructor, pinned),
``self_check`` (student working tree) and ``write_outputs``.
"""

from __future__ import annotations

import contextlib
import errno
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from grader import __version__
from grader.budget import Budget, OverBudget, can_fork, run_bounded
from grader.checks.base import CheckContext
from grader.checks.registry import REGISTRY, args_models
from grader.course import COURSE_FILE, find_course, load_course, semester_resolver
from grader.fetch import FetchError
from grader.gates import evaluate_gates
from grader.paths import cache_dir as default_cache_dir
from grader.paths import resolve_spec
from grader.results import (
    CheckOutcome,
    CheckResult,
    EnvironmentFailure,
    Status,
    SubmissionResult,
    atomic_write,
    now_iso,
    output_dir,
    write_result,
)
from grader.scoring import late_fraction, maximum, points_for
from grader.settings import RerunMode, RunSettings
from grader.spec import (
    AssignmentSpec,
    CheckSpec,
    SpecError,
    SpecProblem,
    load_spec,
)
from grader.submission import Submission, fetch_submission, worktree_submission

# who judges a milestone check that a self-check outside a git repository cannot pin
PENDING_PIN = "the instructor's pinned run (or a self-check inside the git repository)"


def load_assignment(ref: str | Path, semester: str | None = None) -> AssignmentSpec:
    """A spec path or bundled id, fully validated (check arguments included). A course file
    beside the spec puts ``semester``'s dates and parameters in (default: its current one)."""
    try:
        path = resolve_spec(str(ref))
    except FileNotFoundError as exc:
        raise SpecError([SpecProblem(str(ref), None, "", str(exc).split(": ", 1)[-1])]) from None
    course_path = find_course(path)
    if course_path is None:
        if semester is not None:
            raise SpecError([SpecProblem(
                str(path), None, "", f"--semester {semester}: there is no {COURSE_FILE} beside "
                "the spec to take the semester's dates from",
            )])  # fmt: skip
        return load_spec(path, args_models())
    resolver = semester_resolver(load_course(course_path), semester)
    return load_spec(path, args_models(), resolve=resolver)


def run_check(
    spec: AssignmentSpec,
    check: CheckSpec,
    submission: Submission,
    cache: dict,
    previous: list[CheckResult] | None = None,
    settings: RunSettings | None = None,
) -> CheckResult:
    """Run one check in this process; any exception inside it becomes an `error` result,
    never a crash. (``run_checks`` runs the spec's checks under their budget.)"""
    snapshot = submission.snapshot_for(check.milestone)
    cls = REGISTRY[check.check]
    unpinned = check.milestone is not None and check.milestone not in submission.milestones
    if unpinned and check.milestone in submission.pin.milestones:
        reason = submission.pin.milestones[check.milestone].get("error", "not pinned")
        outcome = CheckOutcome(
            Status.FAIL, f"nothing to grade for milestone {check.milestone}: {reason}"
        )
    elif unpinned:  # a self-check outside a git repository: no history to pin it in
        outcome = CheckOutcome(
            Status.SKIPPED,
            f"milestone {check.milestone} is graded at the last commit before its deadline, "
            "and there is no complete git history here to find it (a shallow clone?)",
            pending=PENDING_PIN,
        )
    else:
        ctx = CheckContext(
            spec=spec, check=check, workdir=snapshot.workdir, student=submission.student,
            repo=submission.repo, commit=snapshot.commit, committed_at=snapshot.committed_at,
            deadline=snapshot.deadline, pin=submission.pin, mode=submission.mode, cache=cache,
            previous=list(previous or []), settings=settings or RunSettings(),
        )  # fmt: skip
        try:
            outcome = cls().run(ctx, cls.Args.model_validate(check.args))
        except Exception as exc:  # a bug or a hostile file must not stop the batch
            outcome = outcome_of_exception(exc)
        outcome = _without_host_paths(outcome, snapshot.workdir)
    return _check_result(check, outcome, None if unpinned else snapshot.commit)


def _check_result(check: CheckSpec, outcome: CheckOutcome, commit: str | None) -> CheckResult:
    points, max_points = points_for(outcome, check.points)
    return CheckResult(
        id=check.key, status=outcome.status, points=points, max_points=max_points,
        message=outcome.message, evidence=outcome.evidence, facts=outcome.facts,
        check=check.check, title=check.title or REGISTRY[check.check].title,
        explanation=check.explanation, required=check.required, milestone=check.milestone,
        commit=commit, pending=outcome.pending,
    )  # fmt: skip


def _budgeted(check: CheckSpec) -> bool:
    return can_fork() and not REGISTRY[check.check].runs_in_sandbox


def run_checks(
    spec: AssignmentSpec, submission: Submission, settings: RunSettings
) -> list[CheckResult]:
    """Every check of the spec in order, each under the spec's budget enforced from outside
    it (``grader.budget``: a forked worker with an address-space limit, killed at the time
    limit). A check over its budget is an `error` of its own: the submission's files made
    it slow or hungry, and the other checks are graded. (The environment's failures, such
    as a sandbox that cannot start, git's network timeout or a full disk, are "not graded
    (environment)" instead.) A check whose untrusted work runs in the sandbox under the
    sandbox's own limits (the rerun) runs in this process."""
    results: list[CheckResult] = []
    cache: dict = {}
    run = uuid.uuid4().hex  # the worker's cache for this submission's checks
    budget = Budget(spec.limits.check_seconds, spec.limits.check_memory_mb)
    for check in spec.checks:  # in spec order; a check may read the results before it
        if not _budgeted(check):
            results.append(run_check(spec, check, submission, cache, results, settings))
            continue
        try:
            answer = run_bounded(
                _checked, run, spec, check, submission, results, settings, budget=budget
            )
            results.append(CheckResult.from_dict(answer))
        except (OverBudget, RuntimeError) as exc:
            commit = submission.snapshot_for(check.milestone).commit
            results.append(_check_result(check, _stopped(exc), commit))
    return results


_WORKER_CACHE: dict[str, dict] = {}


def _checked(
    run: str,
    spec: AssignmentSpec,
    check: CheckSpec,
    submission: Submission,
    previous: list[CheckResult],
    settings: RunSettings,
) -> dict[str, Any]:
    """In the budget's worker: one check, as plain data. Loads the check's trusted helpers
    first (``warm_up``, once per worker); ``ctx.cache`` lives as long as ``run``."""
    cls = REGISTRY[check.check]
    if cls not in _WARM:
        _WARM.add(cls)
        with contextlib.suppress(Exception):  # an optional library missing: the check says so
            cls.warm_up()
    if run not in _WORKER_CACHE:
        _WORKER_CACHE.clear()
        _WORKER_CACHE[run] = {}
    return asdict(run_check(spec, check, submission, _WORKER_CACHE[run], previous, settings))


_WARM: set[type] = set()


def _stopped(exc: Exception) -> CheckOutcome:
    if isinstance(exc, OverBudget):
        key = "check_seconds" if exc.kind == "time" else "check_memory_mb"
        detail = f" ({exc.detail})" if exc.detail else ""
        return CheckOutcome(
            Status.ERROR,
            f"the check stopped at its {exc.kind} budget of {exc.amount} (limits.{key} in the "
            f"spec) on this submission's files{detail}; the other checks were graded",
            facts={"budget": exc.kind},
        )
    return CheckOutcome(Status.ERROR, f"the check could not finish: {exc}")


def _without_host_paths(outcome: CheckOutcome, workdir: Path) -> CheckOutcome:
    """The checkout's own path never shows (an error naming a file says its relative path)."""
    roots = sorted({str(workdir), str(workdir.resolve())}, key=len, reverse=True)

    def clean(text: str) -> str:
        for root in roots:
            text = text.replace(root + "/", "").replace(root, ".")
        return text

    outcome.message = clean(outcome.message)
    for item in outcome.evidence:
        item.path, item.detail = clean(item.path), clean(item.detail)
    return outcome


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def outcome_of_exception(exc: Exception) -> CheckOutcome:
    """What an exception escaping a check means: the environment's failure (EnvironmentFailure,
    a full disk) is "not graded (environment)"; anything else is an `error` of that check."""
    if isinstance(exc, EnvironmentFailure):
        return CheckOutcome(
            Status.ENVIRONMENT, f"not graded (environment): {exc}", facts={"environment": exc.kind}
        )
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return CheckOutcome(
            Status.ENVIRONMENT,
            f"not graded (environment): the grader's disk is full ({exc.strerror})",
            facts={"environment": "disk"},
        )
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    return CheckOutcome(
        Status.ERROR,
        f"the check could not finish: {type(exc).__name__}: {exc}",
        facts={"where": f"{Path(last.filename).name}:{last.lineno}"} if last else {},
    )


def _result(spec: AssignmentSpec, student: str, repo: str, deadline: datetime) -> SubmissionResult:
    return SubmissionResult(
        assignment=spec.id, student=student, repo=repo, deadline=deadline.isoformat(),
        title=spec.title, course=spec.course, max_score=spec.max_points,
        grader_version=__version__, graded_at=now_iso(), assumptions=spec.description.strip(),
    )  # fmt: skip


def evaluate(
    spec: AssignmentSpec, submission: Submission, settings: RunSettings | None = None
) -> SubmissionResult:
    """Run every check of the spec on a submission and score it.

    ``settings`` is what the front door asked for (rerun mode, hidden material); every check
    reads it from ``ctx.settings``.
    """
    settings = settings or RunSettings()
    result = _result(spec, submission.student, submission.repo, submission.main.deadline)
    result.commit = submission.main.commit
    result.committed_at = (
        submission.main.committed_at.isoformat() if submission.main.committed_at else None
    )
    result.pin = submission.pin
    result.checks = run_checks(spec, submission, settings)  # a check reads those before it
    result.gates = evaluate_gates(spec, submission, result.checks)
    raw = sum(c.points for c in result.checks)
    result.max_score = maximum(result.checks)
    if submission.mode == "pinned":
        judged = submission.pin.late_at
        late_at = datetime.fromisoformat(judged) if judged else submission.main.committed_at
        lost = late_fraction(spec.late, late_at, submission.main.deadline)
        result.late_penalty = round(raw * lost, 4)
    result.score = round(raw - result.late_penalty, 4)
    return result.printable()  # file names are bytes: shown escaped, never a crash to write


def grade(
    spec: AssignmentSpec,
    repo: str,
    student: str,
    work_dir: Path,
    cache_dir: Path | None = None,
    deadline: datetime | None = None,
    now: datetime | None = None,
    settings: RunSettings | None = None,
    snapshots: Mapping[str, dict[str, Any]] | None = None,
) -> SubmissionResult:
    """Instructor grading of one submission pinned at its deadline. Never raises for a bad
    submission: a repo that cannot be fetched or pinned is a result with ``error`` set.
    ``settings`` default: no rerun, instructor-only material allowed. ``snapshots``: the
    deadline ledger's entries for this repository (see ``grader.ledger``)."""
    settings = settings or RunSettings(hidden=True)
    student = student.strip()
    effective = deadline or spec.deadline_for(student)
    try:
        output_dir(work_dir)  # the grader's folder (0755), before the checkout lands in it
        submission = fetch_submission(
            spec,
            repo,
            student,
            work_dir,
            cache_dir or default_cache_dir(),
            deadline=effective,
            now=now,
            snapshots=snapshots,
        )
    except FetchError as exc:
        result = _result(spec, student, repo, effective)
        result.error = str(exc)
        return result.printable()
    except Exception as exc:  # an unexpected failure is still one student's result
        result = _result(spec, student, repo, effective)
        outcome = outcome_of_exception(exc)
        if outcome.status == Status.ENVIRONMENT:  # git transport, a full disk: retried later
            result.error = outcome.message.removeprefix("not graded (environment): ")
            result.error_kind = "environment"
        else:
            result.error = f"internal error while fetching: {type(exc).__name__}: {exc}"
        for path in (work_dir, cache_dir or default_cache_dir()):  # no host path shown
            result.error = result.error.replace(str(Path(path).resolve()), "<grader>")
        return result.printable()
    return evaluate(spec, submission, settings)


def self_check(
    spec: AssignmentSpec,
    path: Path,
    student: str = "self-check",
    rerun: RerunMode = RerunMode.NONE,
    hidden: bool = False,
) -> SubmissionResult:
    """The student's own working tree, uncommitted work included. Never uses instructor-only
    material (hidden tests, hidden data), whatever is installed, unless ``hidden`` is asked
    for by an instructor's front door (``grader gradescope --hidden``)."""
    settings = RunSettings(rerun=RerunMode.parse(rerun), hidden=hidden)
    return evaluate(spec, worktree_submission(spec, path, student), settings)


def write_outputs(
    result: SubmissionResult, spec: AssignmentSpec, out_dir: Path
) -> tuple[Path, Path]:
    """Write ``result.json`` and ``report.html`` into ``out_dir``."""
    from grader.report import render_report  # rendering is the report layer's job

    output_dir(out_dir)
    result = result.printable()
    json_path = write_result(result, out_dir / "result.json")
    html_path = atomic_write(out_dir / "report.html", render_report(result, spec), sync=False)
    return json_path, html_path

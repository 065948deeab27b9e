"""Taking deadline snapshots: at the deadline, each repository's branch HEAD, the time it
was observed (UTC, the grader's clock) and the URL go into the ledger (``grader.ledger``),
and the objects are kept under ``refs/grader/snapshots/...`` in the mirror cache so that a
force-push cannot make them unreachable. Grading then pins on the recorded HEAD
(``grader.pin_evidence``).

A repository is observed only once its deadline has passed (an earlier observation could
miss a legitimate last push), and only once per deadline unless asked again.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from grader import __version__, fetch, github_activity
from grader.fetch import FetchError
from grader.ledger import FINAL, Entry, Ledger, append, load_ledger
from grader.pinning import pin_commit
from grader.results import EnvironmentFailure
from grader.spec import AssignmentSpec
from grader.tree import remove_tree


@dataclass(frozen=True)
class Target:
    """One repository to observe: a grading unit (a student, or a team's shared repo)."""

    unit: str
    members: tuple[str, ...]
    repo: str
    deadline: datetime  # the final deadline (with the unit's extension), or the milestone's


@dataclass
class Observation:
    target: Target
    status: str  # "recorded", "skipped" or "failed" (recorded, with the error)
    message: str
    entry: Entry | None = None


def repo_key(repo: str) -> str:
    """How the ledger names a repository: its normalised URL (a local path made absolute)."""
    try:
        return fetch.normalize_url(repo)
    except FetchError:
        return repo


def snapshots_for(
    ledger: Ledger, spec: AssignmentSpec, repo: str, deadline: datetime
) -> dict[str, dict[str, Any]]:
    """The ledger entries a grading of ``repo`` pins on: "final" at ``deadline`` and each
    milestone at its own deadline (absent keys: no usable entry)."""
    key = repo_key(repo)
    wanted = {FINAL: deadline} | {m.id: spec.milestone_deadline(m.id) for m in spec.milestones}
    found = {}
    for kind, moment in wanted.items():
        entry = ledger.lookup(spec.id, kind, key, moment)
        if entry is not None:
            found[kind] = entry.summary()
    return found


def _keep_objects(mirror_dir: Path, head: str, deadline: datetime, branch: str) -> str:
    """Fetch the blobs the pin below ``head`` will need (a blob-less mirror fetches them on
    checkout), while the remote still has them. Returns 'complete' or why not."""
    try:
        history = fetch.read_history_at(mirror_dir, head, branch)
        decision = pin_commit(history.first_parent, deadline)
        shas = dict.fromkeys(s for s in (head, decision.commit and decision.commit.sha) if s)
        for sha in shas:
            scratch = Path(tempfile.mkdtemp(prefix="grader-keep-"))
            try:
                fetch.checkout(mirror_dir, sha, scratch / "tree")
            finally:
                remove_tree(scratch)  # iterative: a deep hostile tree is no RecursionError
    except (FetchError, EnvironmentFailure, OSError) as exc:
        return f"incomplete: {exc}"
    return "complete"


def observe(
    spec: AssignmentSpec, target: Target, kind: str, cache_dir: Path, semester: str | None,
    now: Callable[[], datetime] = fetch.now_utc,
) -> dict[str, Any]:  # fmt: skip
    """One ledger record for one repository (without the chain fields)."""
    record: dict[str, Any] = {
        "assignment": spec.id, "semester": semester, "kind": kind, "unit": target.unit,
        "members": list(target.members), "repo": repo_key(target.repo),
        "branch": spec.branch, "head": None, "error": None,
        "deadline": target.deadline.isoformat(), "grader_version": __version__, "evidence": {},
    }  # fmt: skip
    started = now()
    record["fetch_started_at"] = started.isoformat()
    try:
        mirror_dir = fetch.mirror(target.repo, cache_dir)
        finished = now()
        branch = spec.branch or fetch.default_branch(mirror_dir)
        record["branch"] = branch
        head = fetch.resolve_ref(mirror_dir, f"refs/heads/{branch}") if branch else None
        if head is None:
            available = ", ".join(fetch.branches(mirror_dir)) or "none"
            raise FetchError(f"branch {branch!r} not found; the repository has: {available}")
        record["head"] = head
        ref = f"refs/grader/snapshots/{spec.id}/{kind}/{started:%Y%m%dT%H%M%S%fZ}-{head[:12]}"
        fetch.keep_ref(mirror_dir, ref, head)
        record["ref"] = ref
        record["evidence"]["objects"] = _keep_objects(mirror_dir, head, target.deadline, branch)
    except FetchError as exc:
        finished = now()
        record["error"] = str(exc)
    except EnvironmentFailure as exc:  # the network, the disk: recorded, never the end of the class
        finished = now()
        record["error"] = f"not observed (environment): {exc}"
    record["observed_at"] = finished.isoformat()
    pushed = github_activity.evidence(target.repo, record["branch"] or "main", finished)
    if pushed is not None:
        record["evidence"]["github"] = pushed
    return record


def take_snapshots(
    spec: AssignmentSpec,
    targets: Iterable[Target],
    ledger_path: Path,
    cache_dir: Path,
    *,
    kind: str = FINAL,
    semester: str | None = None,
    again: bool = False,
    threads: int = 8,
    now: Callable[[], datetime] = fetch.now_utc,
) -> list[Observation]:
    """Observe every target whose deadline has passed and append them to the ledger.

    Raises LedgerError when the existing ledger fails verification (nothing is appended
    to a ledger that was tampered with)."""
    ledger = load_ledger(ledger_path)
    outcomes: list[Observation] = []
    todo: list[Target] = []
    moment = now()
    for target in targets:
        if moment < target.deadline:
            outcomes.append(
                Observation(
                    target,
                    "skipped",
                    f"deadline {target.deadline.isoformat()} not reached yet; run again after it",
                )  # fmt: skip
            )
            continue
        earlier = ledger.lookup(spec.id, kind, repo_key(target.repo), target.deadline)
        if earlier is not None and earlier.head and not again:
            outcomes.append(
                Observation(
                    target,
                    "skipped",
                    f"already recorded: entry {earlier.seq}, HEAD {earlier.head[:10]} "
                    f"observed {earlier.get('observed_at')}",
                    earlier,
                )  # fmt: skip
            )
            continue
        todo.append(target)
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="snapshot") as pool:
        records = list(pool.map(lambda t: observe(spec, t, kind, cache_dir, semester, now), todo))
    entries = append(ledger_path, records) if records else []
    for target, entry in zip(todo, entries, strict=True):
        if entry.head:
            message = f"HEAD {entry.head[:10]} on {entry.get('branch')} (entry {entry.seq})"
            outcomes.append(Observation(target, "recorded", message, entry))
        else:
            outcomes.append(Observation(target, "failed", str(entry.get("error")), entry))
    return outcomes


def targets_from_units(units: Iterable[Any], spec: AssignmentSpec, kind: str) -> list[Target]:
    """Targets from batch grading units (``grader.batch.units``): a milestone's deadline is
    the spec's (extensions move only the final deadline)."""
    targets = []
    for unit in units:
        deadline = unit.deadline if kind == FINAL else spec.milestone_deadline(kind)
        targets.append(Target(unit.id, tuple(unit.neptuns), unit.repo, deadline))
    return targets


def unit_snapshots(
    ledger: Ledger | None, spec: AssignmentSpec, units: Iterable[Any]
) -> Mapping[str, dict[str, dict[str, Any]]]:
    """unit id -> its ledger entries (for the batch)."""
    if ledger is None:
        return {}
    return {u.id: snapshots_for(ledger, spec, u.repo, u.deadline) for u in units}

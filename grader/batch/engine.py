"""The batch engine: every roster unit probed, graded (or taken from the cache), persisted.

Python API behind ``grader batch``; the CLI only adds the progress display and printing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import importlib
import json
import queue
import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader import __version__
from grader.batch import store
from grader.batch.cache import Backoff, Probe, cache_key, probe, spec_hash
from grader.batch.executors import DaskExecutor, Executor, LocalExecutor
from grader.batch.progress import NullProgress, ProgressSink
from grader.batch.units import GradingUnit, build_units
from grader.extras import require
from grader.ledger import LEDGER_FILE, LedgerError, load_ledger
from grader.paths import cache_dir as default_cache_dir
from grader.results import SubmissionResult
from grader.roster import Roster
from grader.snapshot import snapshots_for
from grader.spec import AssignmentSpec, dump_spec

RERUN_MODES = ("smoke", "full", "none")


class BatchError(Exception):
    """The batch cannot start (OUT locked by another batch, a bad executor...)."""


@dataclass
class BatchOptions:
    jobs: int = 1
    rerun_mode: str = "smoke"
    executor: str = "local"  # "local" or "dask://HOST:PORT"
    force: bool = False
    cache_dir: Path | None = None  # the mirror cache; $GRADER_CACHE or ~/.cache/grader
    gradebook: str | None = None  # SQLAlchemy URL; default sqlite:///OUT/gradebook.sqlite
    backoff: Backoff = field(default_factory=Backoff)
    probe_threads: int = 8
    overview: bool = True
    ledger: Path | None = None  # deadline snapshots the pins rest on (default OUT/ledger.jsonl)


@dataclass
class BatchSummary:
    out: Path
    run_id: str
    units: int = 0
    students: int = 0
    graded: int = 0  # units graded in this run
    cached: int = 0  # units whose stored result was current
    outcomes: dict[str, int] = field(default_factory=lambda: {"pass": 0, "fail": 0, "error": 0})
    seconds: float = 0.0
    unit_seconds: list[float] = field(default_factory=list)  # worker time per graded unit
    errors: list[tuple[str, str]] = field(default_factory=list)  # (unit label, message)
    warnings: list[str] = field(default_factory=list)
    overview: Path | None = None
    executor: str = ""

    @property
    def median_unit_seconds(self) -> float | None:
        return statistics.median(self.unit_seconds) if self.unit_seconds else None


def gpu_need(spec: AssignmentSpec, rerun_mode: str) -> str:
    """'required', 'optional' or 'none': what the spec's rerun checks ask of a worker."""
    if rerun_mode == "none":
        return "none"
    wants = [str(c.args.get("gpu", "optional")) for c in spec.checks if c.check == "rerun"]
    if "required" in wants:
        return "required"
    return "optional" if "optional" in wants else "none"


def make_executor(options: BatchOptions, spec: AssignmentSpec) -> Executor:
    if options.executor == "local":
        return LocalExecutor(options.jobs)
    return DaskExecutor(options.executor, gpu=gpu_need(spec, options.rerun_mode))


@contextlib.contextmanager
def _out_lock(out: Path) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".batch.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(
                f"another batch is writing to {out}; wait for it or use --out"
            ) from None
        yield


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Gradebook:
    """The gradebook, when its module is installed; a failure there is a warning, since the
    result files stay the source of truth (``grader gradebook sync`` rebuilds from them)."""

    def __init__(self, url: str, run_id: str, warnings: list[str]):
        self.url, self.run_id, self.warnings, self.book = url, run_id, warnings, None
        try:
            require("sqlalchemy", "the gradebook")
            module = importlib.import_module("grader.gradebook")
        except ImportError as exc:
            warnings.append(f"gradebook not written: {exc}")
            return
        try:
            self.book = module.Gradebook(url)
        except Exception as exc:  # noqa: BLE001 - reported, the batch goes on
            warnings.append(f"gradebook {url} not used: {type(exc).__name__}: {exc}")

    def setup(self, spec: AssignmentSpec, digest: str, roster: Roster) -> None:
        """The assignment and the roster (students, teams) before any result."""
        if self.book is None:
            return
        try:
            self.book.add_assignment(
                spec.id, title=spec.title, course=spec.course, max_points=spec.max_points,
                spec_hash=digest,
            )  # fmt: skip
            self.book.add_roster(roster.entries)
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"gradebook {self.url}: roster not added: {exc}")

    def record(self, result: SubmissionResult, unit: GradingUnit) -> None:
        """One member's own result. Team membership comes from the roster (``setup``):
        recording with ``team=`` would credit every member with this one copy."""
        if self.book is None:
            return
        try:
            self.book.record(result, team=None, run_id=self.run_id)
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"gradebook: {result.student} not recorded: {exc}")


def _failed_result(spec: AssignmentSpec, unit: GradingUnit, message: str) -> SubmissionResult:
    return SubmissionResult(
        assignment=spec.id, student=unit.neptuns[0], repo=unit.repo,
        deadline=unit.deadline.isoformat(), error=message, grader_version=__version__,
        graded_at=_now(), title=spec.title, course=spec.course, max_score=spec.max_points,
    )  # fmt: skip


def _overview(out: Path, spec: AssignmentSpec, spec_file: Path, warnings: list[str]) -> Path | None:
    """Similarity (reused when nothing changed) and the class overview page."""
    from grader.overview import write_overview
    from grader.similarity import analyse_out_dir

    try:
        if spec.similarity.enabled:
            analyse_out_dir(out, spec, spec_dir=spec_file.parent)
    except Exception as exc:  # noqa: BLE001 - similarity is advisory; grades stand
        warnings.append(f"similarity not computed: {type(exc).__name__}: {exc}")
    try:
        return Path(write_overview(out, spec))
    except Exception as exc:  # noqa: BLE001 - the results are written; the page can be redone
        warnings.append(f"class overview not written: {type(exc).__name__}: {exc}")
        return None


def run_batch(
    spec: AssignmentSpec,
    spec_file: Path,
    roster: Roster,
    out: Path,
    options: BatchOptions | None = None,
    progress: ProgressSink | None = None,
) -> BatchSummary:
    """Grade every unit of the roster into ``out``; resumable, cached, never stopped by one
    bad submission. Raises BatchError only when the batch cannot start."""
    options = options or BatchOptions()
    progress = progress or NullProgress()
    if options.rerun_mode not in RERUN_MODES:
        raise BatchError(f"--rerun {options.rerun_mode!r}: use one of {', '.join(RERUN_MODES)}")
    out = out.resolve()
    started = time.perf_counter()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    summary = BatchSummary(out, run_id)
    with _out_lock(out):
        # a semester's dates and parameters are in the spec, not in its file: workers (maybe
        # on other machines, without the course file) get the resolved spec
        spec_bytes = dump_spec(spec).encode() if spec.semester else spec_file.read_bytes()
        digest = spec_hash(spec, spec_bytes)
        units = with_snapshots(build_units(roster, spec), spec, options.ledger or out / LEDGER_FILE)
        summary.units, summary.students = len(units), len(roster.entries)
        manifest = _new_manifest(spec, spec_file, digest, roster, units, options, run_id, out)
        store.write_manifest(out, manifest)
        book = _Gradebook(
            options.gradebook or f"sqlite:///{out / 'gradebook.sqlite'}", run_id, summary.warnings
        )
        book.setup(spec, digest, roster)
        _roster_files(out, roster, summary.warnings)
        # a Dask scheduler is reached up front (a wrong address fails fast); the local pool
        # starts with the first unit to grade, so an unchanged regrade starts no process
        executor: Executor | None = (
            None if options.executor == "local" else make_executor(options, spec)
        )
        summary.executor = executor.name if executor else ""
        payload_base = {
            "spec_text": spec_bytes.decode("utf-8"), "spec_file": str(spec_file),
            "rerun_mode": options.rerun_mode,
            "cache_dir": str((options.cache_dir or default_cache_dir()).resolve()),
            "backoff": {"attempts": options.backoff.attempts, "base": options.backoff.base,
                        "cap": options.backoff.cap},
        }  # fmt: skip
        progress.start(units, len(roster.entries))
        probed: queue.Queue[tuple[GradingUnit, Probe]] = queue.Queue()
        threads = ThreadPoolExecutor(max(1, options.probe_threads), thread_name_prefix="probe")
        for unit in units:
            threads.submit(lambda u=unit: probed.put((u, _safe_probe(u, options.backoff))))
        waiting, by_id = len(units), {u.id: u for u in units}
        try:
            while waiting or (executor is not None and executor.pending):
                busy = executor is not None and executor.pending > 0
                for unit, found in _drain(probed, 0.0 if busy or not waiting else 0.5):
                    waiting -= 1
                    key = cache_key(found.fingerprint, digest, options.rerun_mode, unit.to_dict())
                    manifest["units"][unit.id].update(
                        key=key, repo_state=found.state, probe_tries=found.tries
                    )
                    progress.probed(unit, found)
                    marker = None if options.force else store.is_done(out, unit, key)
                    if marker is not None:
                        _cached(unit, marker, manifest, summary, progress)
                        continue
                    if executor is None:
                        executor = make_executor(options, spec)
                        summary.executor = executor.name
                    executor.submit(
                        {**payload_base, "unit": unit.to_dict(), "key": key,
                         "work_dir": str(out / unit.id), "attempt_id": uuid.uuid4().hex[:8]}
                    )  # fmt: skip
                    progress.submitted(unit)
                if executor is None:
                    continue
                for payload, answer in executor.poll(0.01 if waiting else 0.5):
                    unit = by_id[payload["unit"]["id"]]
                    _finish(spec, unit, payload, answer, out, manifest, summary, book, progress)
                    store.write_manifest(out, manifest)
        except BaseException as exc:  # Ctrl-C, or OUT became unwritable: stop, keep what is done
            manifest["stopped"] = {"at": _now(), "why": f"{type(exc).__name__}: {exc}"}
            with contextlib.suppress(OSError):
                store.write_manifest(out, manifest)
            threads.shutdown(wait=False, cancel_futures=True)
            if executor is not None:
                executor.close(cancel=True)
            progress.stop()
            raise
        threads.shutdown(wait=True)
        if executor is not None:
            executor.close()
        manifest["finished_at"] = _now()
        store.write_manifest(out, manifest)
        progress.stop()
        if options.overview:
            summary.overview = _overview(out, spec, spec_file, summary.warnings)
    summary.seconds = time.perf_counter() - started
    return summary


def with_snapshots(
    units: list[GradingUnit], spec: AssignmentSpec, ledger_path: Path
) -> list[GradingUnit]:
    """Each unit with the ledger entries its pins rest on. Raises BatchError (the batch
    does not start) when the ledger fails verification."""
    if not ledger_path.is_file():
        return units
    try:
        ledger = load_ledger(ledger_path)
    except LedgerError as exc:
        raise BatchError(
            f"the deadline ledger {ledger_path} fails verification, so no pin rests on it:\n"
            + "\n".join(exc.problems)
            + "\nsee `grader snapshot verify`"
        ) from None
    return [
        dataclasses.replace(u, snapshots=snapshots_for(ledger, spec, u.repo, u.deadline))
        for u in units
    ]


def _roster_files(out: Path, roster: Roster, warnings: list[str]) -> None:
    """``students.json`` (names and teams for the overview), and a word about results in
    OUT of students who are no longer on the roster."""
    students = {e.neptun: e.to_dict() for e in roster.entries}
    store.atomic_write(out / "students.json", json.dumps(students, indent=2, ensure_ascii=False))
    strays = sorted(
        p.parent.name for p in out.glob("*/result.json") if p.parent.name not in students
    )
    if strays:
        more = f" and {len(strays) - 10} more" if len(strays) > 10 else ""
        warnings.append(
            f"{out} also has results of students not on this roster (left as they are): "
            + ", ".join(strays[:10])
            + more
        )


def _safe_probe(unit: GradingUnit, backoff: Backoff) -> Probe:
    try:
        return probe(unit.repo, backoff)
    except Exception as exc:  # noqa: BLE001 - an unknown state: graded, never a cache hit
        return Probe(None, "unreachable", f"{type(exc).__name__}: {exc}")


def _drain(
    probed: queue.Queue[tuple[GradingUnit, Probe]], timeout: float
) -> list[tuple[GradingUnit, Probe]]:
    """What the probes have found so far; waits up to ``timeout`` for the first one."""
    found = []
    with contextlib.suppress(queue.Empty):
        found.append(probed.get(timeout=timeout) if timeout else probed.get_nowait())
        while True:
            found.append(probed.get_nowait())
    return found


def _cached(
    unit: GradingUnit, marker: dict, manifest: dict, summary: BatchSummary, progress: ProgressSink
) -> None:
    outcome = str(marker.get("outcome", "error"))
    summary.cached += 1
    summary.outcomes[outcome] = summary.outcomes.get(outcome, 0) + len(unit.members)
    manifest["units"][unit.id].update(
        status="done", cached=True, outcome=outcome, commit=marker.get("commit"),
        score=marker.get("score"), graded_at=marker.get("graded_at"), run_id=marker.get("run_id"),
    )  # fmt: skip
    progress.finished(unit, outcome, cached=True)


def _finish(
    spec: AssignmentSpec, unit: GradingUnit, payload: dict, answer: Any, out: Path,
    manifest: dict, summary: BatchSummary, book: _Gradebook, progress: ProgressSink,
) -> None:  # fmt: skip
    """Persist one graded unit: its members' files, the gradebook, then the done markers."""
    key = payload["key"]
    if isinstance(answer, BaseException):  # the job died, not the submission: never cached
        result = _failed_result(
            spec, unit, f"the grading job failed ({type(answer).__name__}: {answer}); "
            "run the batch again to retry this unit",
        )  # fmt: skip
        extra: dict[str, Any] = {}
        key = None
    else:
        result = SubmissionResult.from_dict(answer["result"])
        extra = {"seconds": answer["seconds"], "tries": answer["tries"], "host": answer["host"]}
        summary.unit_seconds.append(answer["seconds"])
    from grader.report import render_report  # the report layer renders; results stay data

    store.persist_unit(
        out, unit, result, key, lambda r: render_report(r, spec), book.record,
        {**extra, "run_id": summary.run_id},
    )  # fmt: skip
    outcome = store.outcome_of(result)
    summary.graded += 1
    summary.outcomes[outcome] = summary.outcomes.get(outcome, 0) + len(unit.members)
    if result.error:
        summary.errors.append((unit.label, result.error))
    manifest["units"][unit.id].update(
        status="done", cached=False, outcome=outcome, commit=result.commit, score=result.score,
        graded_at=result.graded_at, run_id=summary.run_id, **extra,
    )  # fmt: skip
    progress.finished(unit, outcome, cached=False)


def _new_manifest(
    spec: AssignmentSpec, spec_file: Path, digest: str, roster: Roster,
    units: list[GradingUnit], options: BatchOptions, run_id: str, out: Path,
) -> dict[str, Any]:  # fmt: skip
    previous = store.read_manifest(out) or {}
    runs = [*previous.get("runs", []), run_id][-50:]
    roster_bytes = Path(roster.file).read_bytes() if Path(roster.file).is_file() else b""
    return {
        "schema": 1,
        "spec": {"id": spec.id, "file": str(spec_file), "hash": digest},
        "roster": {"file": roster.file, "hash": hashlib.sha256(roster_bytes).hexdigest(),
                   "students": len(roster.entries)},
        "grader_version": __version__,
        "rerun_mode": options.rerun_mode,
        "executor": options.executor,
        "jobs": options.jobs,
        "run_id": run_id,
        "runs": runs,
        "started_at": _now(),
        "finished_at": None,
        "units": {
            u.id: {"members": u.neptuns, "team": u.team, "repo": u.repo,
                   "deadline": u.deadline.isoformat(), "status": "pending"}
            for u in units
        },
    }  # fmt: skip

"""The batch engine: every roster unit probed, graded (or taken from the cache), persisted.

Python API behind ``grader batch``; the CLI only adds the progress display and printing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
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
from grader.batch.gradebook_sink import GradebookSink
from grader.batch.progress import NullProgress, ProgressSink
from grader.batch.units import GradingUnit, build_units
from grader.batch.worker import INSTRUCTOR_ENV
from grader.ledger import LEDGER_FILE, LedgerError, load_ledger
from grader.paths import cache_dir as default_cache_dir
from grader.results import SubmissionResult, Verdict, atomic_write, now_iso, output_dir
from grader.roster import Roster
from grader.sandbox.workspace import sandbox_base
from grader.settings import RerunMode, RunSettings
from grader.snapshot import snapshots_for
from grader.spec import AssignmentSpec, dump_spec


class BatchError(Exception):
    """The batch cannot start (OUT locked by another batch, a bad executor...)."""


@dataclass
class BatchOptions:
    jobs: int = 1
    rerun_mode: RerunMode = RerunMode.SMOKE
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
    environment: int = 0  # students not graded because the environment failed (retried)
    warnings: list[str] = field(default_factory=list)
    overview: Path | None = None
    grades: Path | None = None  # OUT/grades.csv, one row per student
    executor: str = ""

    @property
    def median_unit_seconds(self) -> float | None:
        return statistics.median(self.unit_seconds) if self.unit_seconds else None


def gpu_need(spec: AssignmentSpec, rerun_mode: RerunMode) -> str:
    """'required', 'optional' or 'none': what the spec's rerun checks ask of a worker."""
    if rerun_mode == RerunMode.NONE:
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
    output_dir(out)
    with open(out / ".batch.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(
                f"another batch is writing to {out}; wait for it or use --out"
            ) from None
        yield


def _failed_result(spec: AssignmentSpec, unit: GradingUnit, message: str) -> SubmissionResult:
    """The result of a unit whose grading job died or timed out: the grader's environment
    failed, not the submission ("not graded (environment)", never cached, retried)."""
    return SubmissionResult(
        assignment=spec.id, student=unit.neptuns[0], repo=unit.repo,
        deadline=unit.deadline.isoformat(), error=message, error_kind="environment",
        grader_version=__version__, graded_at=now_iso(), title=spec.title, course=spec.course,
        max_score=spec.max_points, assumptions=spec.description.strip(),
    )  # fmt: skip


def sandbox_preflight(spec: AssignmentSpec, settings: RunSettings) -> None:
    """A batch whose checks run student code needs a usable sandbox before it starts:
    without one every student would be 'not graded (environment)'. Raises BatchError
    saying what to do (install bubblewrap, or GRADER_ALLOW_UNSANDBOXED=1)."""
    from grader.checks.registry import REGISTRY
    from grader.sandbox import refusal

    rerun = settings.rerun != RerunMode.NONE
    runs_code = [
        c.key for c in spec.checks
        if REGISTRY[c.check].runs_code_always or (rerun and REGISTRY[c.check].runs_code)
    ]  # fmt: skip
    reason = refusal("pinned") if runs_code else None
    if reason is not None:
        always = [c.key for c in spec.checks if REGISTRY[c.check].runs_code_always]
        instead = "" if always else "; or run with --rerun none"
        raise BatchError(
            f"--rerun {settings.rerun.value}: the checks {', '.join(runs_code)} run student "
            f"code, and {reason}. Nothing was graded{instead}"
        )


def _overview(out: Path, spec: AssignmentSpec, spec_file: Path, warnings: list[str]) -> Path | None:
    """Similarity (reused when nothing changed) and the class overview page."""
    from grader.overview import write_overview
    from grader.similarity import analyse_out_dir

    try:
        if spec.similarity.enabled:
            report = analyse_out_dir(out, spec, spec_dir=spec_file.parent)
            warnings += [n for n in report.notes if "left out of the similarity check" in n]
    except Exception as exc:  # noqa: BLE001 - similarity is advisory; grades stand
        warnings.append(f"similarity not computed: {type(exc).__name__}: {exc}")
    try:
        return Path(write_overview(out, spec))
    except Exception as exc:  # noqa: BLE001 - the results are written; the page can be redone
        warnings.append(f"class overview not written: {type(exc).__name__}: {exc}")
        return None


def _grades(out: Path, spec: AssignmentSpec, warnings: list[str]) -> Path | None:
    """``OUT/grades.csv`` next to the overview (one row per student, every check)."""
    from grader.class_grades import write_grades_csv

    try:
        return write_grades_csv(out, spec)
    except Exception as exc:  # noqa: BLE001 - the results are written; the CSV can be redone
        warnings.append(f"grades.csv not written: {type(exc).__name__}: {exc}")
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
    try:
        settings = RunSettings(rerun=RerunMode.parse(options.rerun_mode), hidden=True)
    except ValueError as exc:
        raise BatchError(f"--rerun: {exc}") from None
    if options.executor == "local":  # Dask workers check their own sandbox per unit
        sandbox_preflight(spec, settings)
    started = time.perf_counter()
    out = out.resolve()
    sandbox_base()  # removes what killed graders left under $GRADER_SANDBOX_DIR (run dirs...)
    with _out_lock(out):
        run = _BatchRun(spec, spec_file, roster, out, options, settings, progress)
        run.grade_all()
        run.summary.grades = _grades(out, spec, run.summary.warnings)  # the overview links it
        if options.overview:
            run.summary.overview = _overview(out, spec, spec_file, run.summary.warnings)
    run.summary.seconds = time.perf_counter() - started
    return run.summary


class _BatchRun:
    """One run of ``run_batch`` inside the OUT lock: probe every unit, serve current ones
    from the cache, grade the rest on the executor, persist each as it finishes."""

    def __init__(
        self, spec: AssignmentSpec, spec_file: Path, roster: Roster, out: Path,
        options: BatchOptions, settings: RunSettings, progress: ProgressSink | None,
    ) -> None:  # fmt: skip
        self.spec, self.roster, self.out, self.options = spec, roster, out, options
        self.settings = settings
        self.progress = progress or NullProgress()
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.summary = BatchSummary(out, run_id)
        # a semester's dates and parameters are in the spec, not in its file: workers (maybe
        # on other machines, without the course file) get the resolved spec
        spec_bytes = dump_spec(spec).encode() if spec.semester else spec_file.read_bytes()
        self.digest = spec_hash(spec, spec_bytes)
        if options.ledger is not None and not options.ledger.is_file():
            raise BatchError(f"--ledger: {options.ledger} does not exist")
        ledger = options.ledger or out / LEDGER_FILE
        self.units = with_snapshots(build_units(roster, spec), spec, ledger)
        self.by_id = {u.id: u for u in self.units}
        self.summary.units, self.summary.students = len(self.units), len(roster.entries)
        self.manifest = _new_manifest(
            spec, spec_file, self.digest, roster, self.units, options, run_id, out
        )
        store.write_manifest(out, self.manifest)
        self.book = GradebookSink(
            options.gradebook or f"sqlite:///{out / 'gradebook.sqlite'}", run_id,
            self.summary.warnings,
        )  # fmt: skip
        self.book.setup(spec, self.digest, roster)
        _roster_files(out, roster, self.summary.warnings)
        # a Dask scheduler is reached up front (a wrong address fails fast); the local pool
        # starts with the first unit to grade, so an unchanged regrade starts no process
        self.executor: Executor | None = (
            None if options.executor == "local" else make_executor(options, spec)
        )
        self.summary.executor = self.executor.name if self.executor else ""
        self.payload_base = {
            "spec_text": spec_bytes.decode("utf-8"), "spec_file": str(spec_file),
            "settings": settings.to_dict(),
            "cache_dir": str((options.cache_dir or default_cache_dir()).resolve()),
            "instructor_env": {k: os.environ[k] for k in INSTRUCTOR_ENV if k in os.environ},
            "backoff": {"attempts": options.backoff.attempts, "base": options.backoff.base,
                        "cap": options.backoff.cap},
        }  # fmt: skip

    def grade_all(self) -> None:
        self.progress.start(self.units, len(self.roster.entries))
        probed: queue.Queue[tuple[GradingUnit, Probe]] = queue.Queue()
        backoff = self.options.backoff
        threads = ThreadPoolExecutor(max(1, self.options.probe_threads), thread_name_prefix="probe")
        for unit in self.units:
            threads.submit(lambda u=unit: probed.put((u, _safe_probe(u, backoff))))
        waiting = len(self.units)
        try:
            while waiting or (self.executor is not None and self.executor.pending):
                busy = self.executor is not None and self.executor.pending > 0
                for unit, found in _drain(probed, 0.0 if busy or not waiting else 0.5):
                    waiting -= 1
                    self._probed(unit, found)
                if self.executor is None:
                    continue
                for payload, answer in self.executor.poll(0.01 if waiting else 0.5):
                    self._finish(payload, answer)
                    store.write_manifest(self.out, self.manifest)
        except BaseException as exc:  # Ctrl-C, or OUT became unwritable: stop, keep what is done
            self.manifest["stopped"] = {"at": now_iso(), "why": f"{type(exc).__name__}: {exc}"}
            with contextlib.suppress(OSError):
                store.write_manifest(self.out, self.manifest)
            threads.shutdown(wait=False, cancel_futures=True)
            if self.executor is not None:
                self.executor.close(cancel=True)
            self.progress.stop()
            raise
        threads.shutdown(wait=True)
        if self.executor is not None:
            self.executor.close()
        self.manifest["finished_at"] = now_iso()
        store.write_manifest(self.out, self.manifest)
        self.progress.stop()

    def _probed(self, unit: GradingUnit, found: Probe) -> None:
        """A unit whose repository state is known: from the cache, or to the executor."""
        key = cache_key(found.fingerprint, self.digest, self.settings, unit.to_dict())
        self.manifest["units"][unit.id].update(
            key=key, repo_state=found.state, probe_tries=found.tries
        )
        self.progress.probed(unit, found)
        marker = None if self.options.force else store.is_done(self.out, unit, key)
        if marker is not None:
            self._cached(unit, marker)
            return
        if self.executor is None:
            self.executor = make_executor(self.options, self.spec)
            self.summary.executor = self.executor.name
        self.executor.submit(
            {**self.payload_base, "unit": unit.to_dict(), "key": key,
             "work_dir": str(self.out / unit.id), "attempt_id": uuid.uuid4().hex[:8]}
        )  # fmt: skip
        self.progress.submitted(unit)

    def _cached(self, unit: GradingUnit, marker: dict) -> None:
        outcome = str(marker.get("outcome", "error"))
        self.summary.cached += 1
        self.summary.outcomes[outcome] = self.summary.outcomes.get(outcome, 0) + len(unit.members)
        self.manifest["units"][unit.id].update(
            status="done", cached=True, outcome=outcome, commit=marker.get("commit"),
            score=marker.get("score"), graded_at=marker.get("graded_at"),
            run_id=marker.get("run_id"),
        )  # fmt: skip
        self.progress.finished(unit, outcome, cached=True)

    def _finish(self, payload: dict, answer: Any) -> None:
        """Persist one graded unit: its members' files, the gradebook, then the done markers."""
        unit = self.by_id[payload["unit"]["id"]]
        summary = self.summary
        key = payload["key"]
        if isinstance(answer, BaseException):  # the job died, not the submission: never cached
            result = _failed_result(
                self.spec, unit, f"the grading job died or timed out ({type(answer).__name__}: "
                f"{answer}); run the batch again to retry this unit",
            )  # fmt: skip
            extra: dict[str, Any] = {}
            key = None
        else:
            result = SubmissionResult.from_dict(answer["result"])
            extra = {"seconds": answer["seconds"], "tries": answer["tries"], "host": answer["host"]}
            summary.unit_seconds.append(answer["seconds"])
        from grader.report import render_report  # the report layer renders; results stay data

        try:
            store.persist_unit(
                self.out, unit, result, key, lambda r: render_report(r, self.spec),
                self.book.record, {**extra, "run_id": summary.run_id},
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - one student's files must never stop the class
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise  # OUT itself is full: stop, keep what is done
            result = _failed_result(
                self.spec, unit, f"internal error while writing this result "
                f"({type(exc).__name__}: {exc}); run the batch again to retry this unit",
            )  # fmt: skip
            store.persist_unit(
                self.out, unit, result, None, lambda r: render_report(r, self.spec), None,
                {**extra, "run_id": summary.run_id},
            )  # fmt: skip
        outcome = store.outcome_of(result)
        summary.graded += 1
        summary.outcomes[outcome] = summary.outcomes.get(outcome, 0) + len(unit.members)
        verdict = result.verdict
        if verdict == Verdict.ENVIRONMENT:
            summary.environment += len(unit.members)
            summary.errors.append(
                (unit.label, f"not graded (environment): {result.not_graded_reason}")
            )
        elif result.error:
            summary.errors.append((unit.label, result.error))
        self.manifest["units"][unit.id].update(
            status="done", cached=False, outcome=outcome, commit=result.commit,
            score=result.score, graded_at=result.graded_at, run_id=summary.run_id, **extra,
        )  # fmt: skip
        self.progress.finished(unit, outcome, cached=False)


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
    atomic_write(out / "students.json", json.dumps(students, indent=2, ensure_ascii=False))
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
        "rerun_mode": str(options.rerun_mode),
        "executor": options.executor,
        "jobs": options.jobs,
        "run_id": run_id,
        "runs": runs,
        "started_at": now_iso(),
        "finished_at": None,
        "units": {
            u.id: {"members": u.neptuns, "team": u.team, "repo": u.repo,
                   "deadline": u.deadline.isoformat(), "status": "pending"}
            for u in units
        },
    }  # fmt: skip

"""The job a worker runs for one unit: fetch, pin, check (and rerun). JSON in, JSON out.

Runs in a local worker process or on a Dask worker, possibly on another machine: the
payload and the answer are plain JSON-able dicts (the spec travels as its YAML text, the
result as ``SubmissionResult.to_dict()``); no project object is pickled across.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from grader import pipeline
from grader.batch.cache import Backoff, is_transient, retry
from grader.batch.units import GradingUnit
from grader.checks.registry import args_models
from grader.settings import RunSettings
from grader.spec import AssignmentSpec, parse_spec_text

_SPECS: dict[str, AssignmentSpec] = {}
# what the batch's own environment says about instructor material; workers started earlier
# (a fork server keeps the environment it started with) or elsewhere get it with each job
INSTRUCTOR_ENV = ("GRADER_INSTRUCTOR_DIR", "GRADER_DEMO_PLACEHOLDERS")


def apply_instructor_env(values: dict[str, str]) -> None:
    """Use the batch's instructor settings for this job: a folder only where it exists on
    this machine (a remote Dask worker keeps its own otherwise)."""
    for name in INSTRUCTOR_ENV:
        value = values.get(name)
        if value is None:
            if name != "GRADER_INSTRUCTOR_DIR":
                os.environ.pop(name, None)
        elif name != "GRADER_INSTRUCTOR_DIR" or Path(value).is_dir():
            os.environ[name] = value


def spec_from_text(text: str, file: str) -> AssignmentSpec:
    """Parse a spec once per worker process (keyed by its text)."""
    key = f"{file}\n{text}"
    if key not in _SPECS:
        _SPECS[key] = parse_spec_text(text, file, args_models())
    return _SPECS[key]


def grade_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Grade one unit. Never raises for a bad submission: errors are in the result."""
    start = time.perf_counter()
    apply_instructor_env(payload.get("instructor_env", {}))
    spec = spec_from_text(payload["spec_text"], payload["spec_file"])
    unit = GradingUnit.from_dict(payload["unit"])
    backoff = Backoff(**payload.get("backoff", {}))

    def attempt():
        return pipeline.grade(
            spec,
            unit.repo,
            unit.members[0].neptun,
            Path(payload["work_dir"]),
            cache_dir=Path(payload["cache_dir"]),
            deadline=unit.deadline,
            settings=RunSettings.from_dict(payload["settings"]),
            **({"snapshots": unit.snapshots} if unit.snapshots else {}),
        )

    result, tries = retry(attempt, lambda r: bool(r.error) and is_transient(r.error), backoff)
    if result.error and is_transient(result.error):  # the network, still, after every retry
        result.error_kind = "environment"
    return {
        "unit": unit.id,
        "result": json.loads(result.to_json()),  # plain JSON: facts may hold other types
        "seconds": round(time.perf_counter() - start, 4),
        "tries": tries,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def die_with_parent(batch_pid: int) -> None:
    """Pool initializer: a worker exits when the batch process dies (even by kill -9), so a
    resumed batch never races an orphan writing the same checkout. Workers are forked from
    a fork server, not from the batch, so a watchdog thread waits on the batch's pidfd.
    Ctrl-C is the batch process's to handle (it cancels what is queued); workers ignore it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch, args=(batch_pid,), daemon=True, name="watchdog").start()


def _watch(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)  # Linux 5.3+: readable once the process has exited
        select.select([fd], [], [])
    except (AttributeError, OSError):  # no pidfd (or already gone): poll
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
            time.sleep(0.5)
    os._exit(1)

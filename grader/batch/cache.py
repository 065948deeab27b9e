"""The result cache: is a unit's stored result still current?

A result is current when nothing it depends on has changed: the repository's branches
(read with one ``git ls-remote``, no fetch, no checkout), the spec (its file bytes plus the
source of the checks and of everything else that can change a result, and the instructor's
files for the assignment, such as observations that arrive later), the grader version, the rerun mode, the unit's
deadline and its members. The branch tips determine the pinned commit, so keying on them is
keying on the commit sha, read before any fetch; a push after the deadline also changes
them, and rightly so: the report counts commits after the deadline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from grader import __version__
from grader.checks.registry import REGISTRY
from grader.fetch import FetchError, normalize_url
from grader.gitrun import network_limits, spawn
from grader.paths import instructor_dir
from grader.settings import RunSettings
from grader.spec import AssignmentSpec

# what git prints for failures worth another try: the network, not the repository
TRANSIENT_MARKERS = (
    "could not resolve host", "temporary failure in name resolution", "failed to connect",
    "couldn't connect to server", "connection refused", "connection reset", "connection timed out",
    "operation timed out", "timed out", "early eof", "the remote end hung up unexpectedly",
    "rpc failed", "http/2 stream", "gnutls", "ssl_read", "ssl_connect", "tls connection",
    "returned error: 500", "returned error: 502", "returned error: 503", "returned error: 504",
    "returned error: 429", "unexpected disconnect", "broken pipe", "network is unreachable",
)  # fmt: skip
PERMANENT_MARKERS = (
    "not found", "does not appear to be a git repository", "authentication", "terminal prompts disabled", "returned error: 403", "returned error: 401",
    "returned error: 404", "no such path", "permission denied",
)  # fmt: skip


def is_transient(message: str) -> bool:
    """A fetch failure worth retrying (network trouble), not a missing or private repo."""
    text = message.lower()
    if any(m in text for m in PERMANENT_MARKERS):
        return False
    return any(m in text for m in TRANSIENT_MARKERS)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``attempts`` tries, waiting base, 2*base, 4*base... (+-20%)."""

    attempts: int = 4
    base: float = 1.0
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.base * 2**attempt) * random.uniform(0.8, 1.2)


def retry(
    call: Callable[[], Any],
    transient: Callable[[Any], bool],
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Any, int]:
    """Call until ``transient(outcome)`` is false or the attempts run out: (outcome, tries).

    An exception counts as the outcome too; the last one is re-raised."""
    attempt = 0
    while True:
        attempt += 1
        try:
            outcome: Any = call()
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised when final
            outcome = exc
        if attempt >= backoff.attempts or not transient(outcome):
            if isinstance(outcome, Exception):
                raise outcome
            return outcome, attempt
        sleep(backoff.delay(attempt - 1))


class TransientError(Exception):
    """A network failure that may pass; retried with backoff."""


def ls_remote(repo: str, timeout: float = 60.0) -> str:
    """The refs of ``repo`` (``git ls-remote --symref``), through the grader's git runner
    (no global configuration, limits). Raises FetchError (missing or private repository)
    or TransientError (the network)."""
    url = normalize_url(repo)  # FetchError for a local path that does not exist
    limits = dataclasses.replace(network_limits(), seconds=timeout)
    done = spawn(["ls-remote", "--symref", "--", url], cwd=None, env=None, limits=limits)
    if done.stopped is None and done.returncode == 0:
        return done.stdout.decode("utf-8", "surrogateescape")
    if done.stopped == "time":
        raise TransientError(f"git ls-remote timed out after {timeout:g} s")
    message = " ".join(done.stderr.split()) or f"git ls-remote exited {done.returncode}"
    if is_transient(message):
        raise TransientError(message)
    raise FetchError(message)


@dataclass(frozen=True)
class Probe:
    """What ``git ls-remote`` said about a repository, as a fingerprint for the cache key."""

    fingerprint: str | None  # None: unknown (the network failed), never a cache hit
    state: str  # "ok", "empty", "missing" or "unreachable"
    message: str = ""
    tries: int = 1
    seconds: float = 0.0


def probe(repo: str, backoff: Backoff, sleep: Callable[[float], None] = time.sleep) -> Probe:
    """Fingerprint a repository's branches, retrying network failures with backoff."""
    start = time.perf_counter()
    tries = 0

    def call() -> str:
        nonlocal tries
        tries += 1
        return ls_remote(repo)

    try:
        refs, _ = retry(call, lambda o: isinstance(o, TransientError), backoff, sleep)
    except TransientError as exc:
        return Probe(None, "unreachable", str(exc), tries, time.perf_counter() - start)
    except FetchError as exc:
        digest = hashlib.sha256(f"missing\n{exc}".encode()).hexdigest()
        return Probe(digest, "missing", str(exc), tries, time.perf_counter() - start)
    lines = sorted(
        line for line in refs.splitlines() if "\tHEAD" in line or "\trefs/heads/" in line
    )
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    state = "ok" if lines else "empty"
    return Probe(digest, state, "", tries, time.perf_counter() - start)


# code that only reads or presents results: a change there never changes a result
_PRESENTATION = (
    "cli/",
    "batch/",
    "gradebook/",
    "exports/",
    "overview.py",
    "similarity.py",
    "report.py",
)


@lru_cache(maxsize=1)
def code_digest() -> str:
    """Every grader source file that can change a result (checks, their helpers, fetching,
    pinning, scoring, the sandbox...), so an edited check regrades even without a new
    version number."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(_PRESENTATION):
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def instructor_digest(spec_id: str) -> str:
    """What the instructor keeps for this assignment (``instructor_dir()/<spec id>/``: the
    observed temperatures that arrive after the deadline, reference metrics...): path, size
    and modification time of each file, so adding observations regrades the class."""
    base = instructor_dir()
    folder = base / spec_id if base is not None else None
    digest = hashlib.sha256(b"instructor files\n")
    # the demo's opt-in to score against placeholder observations changes the grades too
    digest.update(f"placeholders={os.environ.get('GRADER_DEMO_PLACEHOLDERS', '')}\n".encode())
    if folder is None or not folder.is_dir():
        return digest.hexdigest()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            with contextlib.suppress(OSError):
                stat = path.stat()
                rel = path.relative_to(folder).as_posix()
                digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def spec_hash(spec: AssignmentSpec, spec_bytes: bytes) -> str:
    """The spec file's bytes, the checks it uses, the source of the code behind them and
    the instructor's files for the assignment."""
    digest = hashlib.sha256(spec_bytes)
    for name in sorted({c.check for c in spec.checks}):
        cls = REGISTRY.get(name)
        digest.update(f"{name}={cls.__module__ if cls else '?'}".encode())
    digest.update(code_digest().encode())
    digest.update(instructor_digest(spec.id).encode())
    return digest.hexdigest()


def cache_key(
    fingerprint: str | None, spec_digest: str, settings: RunSettings, unit: dict[str, Any]
) -> str | None:
    """The key a stored result must carry to be reused; None when it cannot be known."""
    if fingerprint is None:
        return None
    parts = {
        "refs": fingerprint,
        "spec": spec_digest,
        "grader": __version__,
        "settings": settings.to_dict(),
        "repo": unit["repo"],
        "deadline": unit["deadline"],
        "members": [m["neptun"] for m in unit["members"]],
        "team": unit.get("team"),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

"""Is bubblewrap usable here, with the argv real runs use? Which /proc and /dev layout?

A probe with a reduced argv (``bwrap --ro-bind / / true``) passes in a GPU container whose
real runs then all fail (``--proc`` is refused there, see ``layout.py``), so the probe
launches ``true`` through ``BubblewrapSandbox.run`` itself: the same uid drop, prlimit,
namespaces, binds, ``/proc``, ``/dev`` and private ``/tmp`` as a rerun. It tries the
layouts in order and keeps the first that works; the answer is cached per process.
"""

from __future__ import annotations

import ctypes
import functools
import os
from dataclasses import dataclass

from grader.sandbox.base import Limits, SandboxError
from grader.sandbox.bwrap import DEFAULT_UID, BubblewrapSandbox
from grader.sandbox.layout import ORDER, layout_warnings
from grader.sandbox.workspace import discard_workdir, prepare_workdir

PROBE_LIMITS = Limits(wall_s=20, cgroup="never")
_PR_SET_CHILD_SUBREAPER, _PR_GET_CHILD_SUBREAPER = 36, 37


def _subreaper(value: bool | None = None) -> bool:
    """Whether this process is a child subreaper (and set it, with ``value``). The probe
    leaves it as it found it: asking whether bubblewrap works (at import time, in a
    student's self-check) must not make the process adopt every orphan of unrelated
    children (git's helpers) for the rest of its life."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if value is not None:
            libc.prctl(_PR_SET_CHILD_SUBREAPER, int(value), 0, 0, 0)
        state = ctypes.c_int(0)
        libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(state), 0, 0, 0)
        return bool(state.value)
    except (OSError, AttributeError):
        return False


@dataclass(frozen=True)
class Probe:
    problem: str | None  # why no layout works, in words; None when one does
    layout: str = "standard"
    warnings: tuple[str, ...] = ()
    tried: tuple[tuple[str, str], ...] = ()  # (layout, bwrap's error) for each failure


def _error(stderr: str, summary: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else summary)[:200]


def _failure(tried: list[tuple[str, str]]) -> str:
    first = tried[0][1] if tried else "no layout was tried"
    if "namespace" in first.lower():
        return f"bubblewrap cannot create namespaces here: {first}"
    return f"bubblewrap cannot start a sandbox here with the real launch argv: {first}"


@functools.cache
def probe_bwrap(exe: str) -> Probe:
    """Launch ``true`` in each layout until one works (as the sandbox uid when root)."""
    uid = DEFAULT_UID if os.geteuid() == 0 else os.getuid()
    tried: list[tuple[str, str]] = []
    try:
        work = prepare_workdir(None, uid)
    except OSError as exc:
        return Probe(f"cannot prepare a sandbox work dir: {exc}")
    was_reaper = _subreaper()
    try:
        for layout in ORDER:
            try:
                sandbox = BubblewrapSandbox(uid=uid, exe=exe, layout=layout)
                out = sandbox.run(["true"], work, PROBE_LIMITS)
            except (SandboxError, OSError) as exc:
                tried.append((layout, str(exc)[:200]))
                continue
            if out.ok:
                why = tried[0][1] if tried else ""
                return Probe(None, layout, tuple(layout_warnings(layout, why)), tuple(tried))
            tried.append((layout, _error(out.stderr, out.summary())))
    finally:
        discard_workdir(work)
        if not was_reaper:
            _subreaper(False)
    return Probe(_failure(tried), tried=tuple(tried))

"""How the sandbox gets its ``/proc`` and ``/dev``: bubblewrap's own (``--proc``, ``--dev``)
where the kernel allows it, a fallback where it does not.

A new procfs can be mounted in a user namespace only when the existing ``/proc`` is fully
visible; GPU containers overmount ``/proc/driver/nvidia`` (and Docker masks more), so
``--proc`` fails there with "Can't mount proc on /newroot/proc: Operation not permitted".
The fallback shows the host's ``/proc`` read-only. ``--dev`` can fail too (its devpts
mount); the fallback builds a minimal ``/dev`` of the harmless nodes. ``probe.py`` tries
the layouts in order with the real launch argv and keeps the first that works.
"""

from __future__ import annotations

import os

ORDER = ("standard", "host-proc", "minimal-dev", "host-proc-minimal-dev")
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
HOST_PROC = ["--ro-bind", "/proc", "/proc"]
NEW_PROC = ["--proc", "/proc"]
NEW_DEV = ["--dev", "/dev"]


def minimal_dev() -> list[str]:
    args = ["--tmpfs", "/dev"]
    for name in DEV_NODES:
        if os.path.exists(f"/dev/{name}"):
            args += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
    args += ["--symlink", "/proc/self/fd", "/dev/fd"]
    for number, stream in enumerate(("stdin", "stdout", "stderr")):
        args += ["--symlink", f"/proc/self/fd/{number}", f"/dev/{stream}"]
    return args + ["--dir", "/dev/shm"]


def layout_args(layout: str) -> list[str]:
    """The bwrap arguments that set up /proc and /dev in ``layout``."""
    proc = HOST_PROC if layout.startswith("host-proc") else NEW_PROC
    dev = minimal_dev() if layout.endswith("minimal-dev") else NEW_DEV
    return proc + dev


def layout_warnings(layout: str, why: str) -> list[str]:
    """What a fallback layout gives up, in words (``why``: bwrap's own error)."""
    warnings = []
    if layout.startswith("host-proc"):
        warnings.append(
            f"a new /proc cannot be mounted here ({why}); the sandbox sees the host's /proc "
            "read-only (the host's process list is visible, nothing of it is writable)"
        )
    if layout.endswith("minimal-dev"):
        warnings.append(f"bubblewrap's --dev cannot be set up here ({why}); a minimal /dev is used")
    return warnings

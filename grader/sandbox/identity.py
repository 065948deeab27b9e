"""A user name for the sandbox uid.

The slot uids (61000, ...) have no entry in the host's ``/etc/passwd`` and the scrubbed
environment has no ``USER``/``LOGNAME``, so ``getpass.getuser()`` raises inside the sandbox
(torch.compile and many caches call it) and ``pwd.getpwuid(os.getuid())`` fails. The
sandbox gets both: the variables, and small ``passwd``/``group`` files bound over the
host's (which also keeps the host's account list out of the sandbox).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from grader.sandbox.base import Mount
from grader.sandbox.workspace import sandbox_base

NAME = "sandbox"


def user_name(uid: int) -> str:
    """The uid's own name where the host has one (a non-root grader), else "sandbox"."""
    if uid >= 1000 or uid == 0:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            pass
    return NAME


def identity_env(uid: int) -> dict[str, str]:
    name = user_name(uid)
    return {"USER": name, "LOGNAME": name}


def _write_once(path: Path, text: str) -> Path:
    try:
        if path.read_text() == text:
            return path
    except OSError:
        pass
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return path


def identity_mounts(uid: int, gid: int) -> tuple[Mount, ...]:
    """``/etc/passwd`` and ``/etc/group`` naming root, the sandbox uid and nobody."""
    folder = sandbox_base() / "identity"
    folder.mkdir(mode=0o755, exist_ok=True)
    if folder.stat().st_uid == os.geteuid():
        os.chmod(folder, 0o755)
    name = user_name(uid)
    passwd = (
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"{name}:x:{uid}:{gid}:grader sandbox:/tmp:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    group = f"root:x:0:\n{name}:x:{gid}:\nnogroup:x:65534:\n"
    if uid == 0:  # never the case for slots; a root-run plain grader keeps one root line
        passwd = passwd.split("\n", 1)[1]
        group = group.split("\n", 1)[1]
    return (
        Mount(_write_once(folder / f"passwd-{uid}-{gid}", passwd), "/etc/passwd"),
        Mount(_write_once(folder / f"group-{uid}-{gid}", group), "/etc/group"),
    )

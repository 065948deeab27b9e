"""A user name for the sandbox uid.

The slot uids (61000, ...) have no entry in the host's ``/etc/passwd`` and the scrubbed
environment has no ``USER``/``LOGNAME``, so ``getpass.getuser()`` raises inside the sandbox
(torch.compile and many caches call it) and ``pwd.getpwuid(os.getuid())`` fails. The
sandbox gets both: the variables, and small ``passwd``/``group`` files over the host's
(which also keeps the host's account list out of the sandbox).
"""

from __future__ import annotations

import pwd

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


def identity_files(uid: int, gid: int) -> dict[str, str]:
    """The texts of ``/etc/passwd`` and ``/etc/group`` naming root, the sandbox uid and
    nobody. bubblewrap copies them into the sandbox from memory (``--ro-bind-data``): a bound
    host file would show its host path (the grader's folders) in ``/proc/self/mountinfo``."""
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
    return {"/etc/passwd": passwd, "/etc/group": group}

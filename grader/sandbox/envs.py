"""Which interpreter runs student code, and what of it must be visible in the sandbox.

The spec (or ``GRADER_RERUN_PYTHON``) names an interpreter or a venv's python; the sandbox
mounts that venv and its base installation read-only at their own paths (a venv is not
relocatable). Optionally a per-submission venv is built from the student's
``requirements.txt``, once per file hash, with the network open only for that install.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from grader.sandbox.base import Limits, Mount, RunOutput, Sandbox, SandboxError

SYSTEM_PREFIXES = ("/usr/", "/bin/", "/lib/", "/lib64/", "/sbin/")


def resolve_interpreter(python: str | None = None) -> Path:
    """The interpreter for student code: the argument, else $GRADER_RERUN_PYTHON, else the
    grader's own. Raises SandboxError naming the setting when it does not exist."""
    value = python or os.environ.get("GRADER_RERUN_PYTHON") or sys.executable
    path = Path(value)
    if not path.is_absolute():
        found = Path.cwd() / path
        path = found if found.exists() else path
    if not path.exists():
        raise SandboxError(
            f"interpreter {value!r} does not exist (set the rerun check's `python` arg or "
            "$GRADER_RERUN_PYTHON to a python executable)"
        )
    return Path(os.path.abspath(path))


def _venv_root(python: Path) -> Path | None:
    for candidate in (python.parent.parent, python.parent):
        if (candidate / "pyvenv.cfg").is_file():
            return candidate
    return None


def interpreter_mounts(python: Path) -> tuple[Mount, ...]:
    """Read-only mounts that make ``python`` (a venv's or a system one) work in the sandbox."""
    mounts: list[Mount] = []
    venv = _venv_root(python)
    if venv is not None:
        mounts.append(Mount(venv, str(venv)))
    real = Path(os.path.realpath(python))
    if not str(real).startswith(SYSTEM_PREFIXES):
        prefix = real.parent.parent  # <prefix>/bin/python3.x
        if venv is None or not str(prefix).startswith(str(venv)):
            mounts.append(Mount(prefix, str(prefix)))
    return tuple(mounts)


def requirements_hash(requirements: Path, python: Path, find_links: tuple[Path, ...] = ()) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(str(os.path.realpath(python)).encode())
    for folder in find_links:
        digest.update(b"\0" + str(folder).encode())
    return digest.hexdigest()[:16]


def wheelhouses(extra: list[str] | tuple[str, ...] = ()) -> tuple[Path, ...]:
    """Local wheel folders for requirements installs: the spec's ``find_links`` and
    ``$GRADER_WHEELHOUSE`` (paths separated by ':'), those that exist."""
    values = [*extra, *os.environ.get("GRADER_WHEELHOUSE", "").split(os.pathsep)]
    found = [Path(os.path.expandvars(v)).expanduser() for v in values if v.strip()]
    return tuple(dict.fromkeys(p.resolve() for p in found if p.is_dir()))


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """One build per requirements hash at a time, across threads and processes."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _chown_tree(root: Path, owner: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, "."]:
            os.chown(os.path.join(dirpath, name), owner, owner, follow_symlinks=False)


def submission_venv(
    requirements: Path,
    base_python: Path,
    cache_root: Path,
    sandbox: Sandbox,
    limits: Limits,
    uid: int | None = None,
    network: bool = True,
    find_links: tuple[Path, ...] = (),
) -> tuple[Path, RunOutput | None]:
    """A venv with the student's requirements, cached by file hash. Returns its python and
    the install run (None when it came from the cache). The install runs in the sandbox,
    with the network open only when ``network``; the venv is read-only afterwards.

    ``find_links`` (local wheel folders) are shown read-only at ``/wheels/N`` and offered
    to pip (alone, with ``--no-index``, when the network is closed). pip's temporary files
    go to a folder on disk, not the small in-memory ``/tmp`` (a CUDA torch wheel needs
    several GB to unpack). Two submissions with the same requirements build once."""
    key = requirements_hash(requirements, base_python, find_links)
    venv = cache_root / "venvs" / key
    python = venv / "bin" / "python"
    if (venv / ".complete").is_file():
        return python, None
    venv.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(venv.parent, 0o755)
    with _build_lock(venv.parent / f"{key}.lock"):
        if (venv / ".complete").is_file():  # built by another job while this one waited
            return python, None
        shutil.rmtree(venv, ignore_errors=True)  # a half-built venv of a crashed job
        return python, _build(requirements, base_python, venv, sandbox, limits, uid, network,
                              find_links)  # fmt: skip


def _build(
    requirements: Path,
    base_python: Path,
    venv: Path,
    sandbox: Sandbox,
    limits: Limits,
    uid: int | None,
    network: bool,
    find_links: tuple[Path, ...],
) -> RunOutput:
    python = venv / "bin" / "python"
    done = subprocess.run(
        [str(base_python), "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SandboxError(f"cannot create a venv at {venv}: {done.stderr.strip()[-300:]}")
    base_site = subprocess.run(
        [str(base_python), "-c", "import site, sys; print('\\n'.join(site.getsitepackages()))"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    for site_dir in (venv / "lib").glob("python3*/site-packages"):
        # the spec's venv stays importable (torch need not be reinstalled per student)
        (site_dir / "_grader_base.pth").write_text("\n".join(base_site) + "\n")
    scratch = venv.parent.parent / "tmp" / f"{venv.name}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True, mode=0o700)
    owner = uid if uid is not None and os.geteuid() == 0 else None
    if owner is not None:
        _chown_tree(venv, owner)
        os.chown(scratch, owner, owner)
    wheels = tuple(Mount(folder, f"/wheels/{i}") for i, folder in enumerate(find_links))
    mounts = (
        *interpreter_mounts(base_python),
        Mount(venv, str(venv), writable=True),
        Mount(scratch, str(scratch), writable=True),
        *wheels,
    )
    argv = [str(python), "-m", "pip", "install", "--no-input", "-q", "-r", requirements.name]
    for mount in wheels:
        argv += ["--find-links", mount.target]
    if not network:
        argv.append("--no-index")  # nothing to reach; fail at once instead of retrying
    env = {"TMPDIR": str(scratch), "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    try:
        install = sandbox.run(
            argv, requirements.parent, limits, network=network, mounts=mounts, env=env
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if owner is not None:
            _chown_tree(venv, 0)
    if install.ok:
        (venv / ".complete").write_text(requirements.read_text(errors="replace"))
    return install

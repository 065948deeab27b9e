"""Which interpreter runs student code, and what of it must be visible in the sandbox.

The spec (or ``GRADER_RERUN_PYTHON``) names an interpreter or a venv's python; the sandbox
mounts that venv and its base installation read-only at their own paths (a venv is not
relocatable). Optionally a venv is built from the student's ``requirements.txt``, with the
network open only for that install: shared between submissions (once per file hash) only
when every requirement is pinned and hashed, else for that submission alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from grader.sandbox.base import Limits, Mount, RunOutput, Sandbox, SandboxError
from grader.sandbox.workspace import forget_limit, limit_folder
from grader.tree import remove_tree, walk

MAX_VENV_MB = int(os.environ.get("GRADER_VENV_MAX_MB", "8192"))  # a submission's own venv

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


_PINNED = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,\s-]*\])?==[A-Za-z0-9._+!-]+"
    r"(\s*;[^-]*?)?(\s+--hash=sha256:[0-9a-f]{64})+$"
)


def why_private(requirements: Path) -> str | None:
    """None when ``requirements`` may build a venv shared with other submissions: every
    line a requirement pinned with ``==`` and ``--hash`` (installed from the index as wheels
    only, so no code of the submission runs and the same text means the same files), or
    ``--require-hashes``. Otherwise the first reason it may not (``-e .``, a local path, a
    URL, an unpinned or unhashed requirement, an option)."""
    text = requirements.read_text(encoding="utf-8", errors="replace").replace("\\\n", " ")
    for number, raw in enumerate(text.splitlines(), 1):
        line = " ".join(raw.split("#", 1)[0].split())  # a comment, or a URL's #egg=: private
        if not line or line == "--require-hashes":
            continue
        if not _PINNED.match(line):
            return f"requirements.txt line {number} ({line[:60]!r}) is not pinned and hashed"
    return None


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """One build per requirements hash at a time, across threads and processes."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _own(venv: Path, uid: int) -> None:
    for dirpath, dirnames, filenames in walk(venv):
        for name in [*dirnames, *filenames]:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)
    os.chown(venv, uid, uid)


def _create(venv: Path, base_python: Path) -> None:
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


def submission_venv(
    requirements: Path,
    base_python: Path,
    cache_root: Path,
    sandbox: Sandbox,
    limits: Limits,
    uid: int | None = None,
    network: bool = True,
    find_links: tuple[Path, ...] = (),
    private_dir: Path | None = None,
) -> tuple[Path, RunOutput | None]:
    """A venv with the student's requirements; returns its python and the install run (None
    when it came from the cache). The install runs in the sandbox, with the network open
    only when ``network``.

    Shared (cached under ``cache_root`` by the file's hash, built once even by simultaneous
    jobs, read-only to every run) only when ``why_private`` finds nothing: pinned, hashed,
    wheels only. Anything else (``-e .``, a path, a URL, a build of the submission's own
    code) is built in ``private_dir`` for this submission alone and goes with its run dir: a
    package's build could plant code (a ``.pth`` file) that would run in every later
    student's rerun.

    ``find_links`` (local wheel folders) are shown read-only at ``/wheels/N`` and offered
    to pip (alone, with ``--no-index``, when the network is closed). pip's temporary files
    go to a folder on disk, not the small in-memory ``/tmp`` (a CUDA torch wheel needs
    several GB to unpack)."""
    private = why_private(requirements)
    if private is not None:
        if private_dir is None:
            raise SandboxError(f"{private}: such a venv is built per submission (no folder given)")
        install = _build(requirements, base_python, private_dir, sandbox, limits, uid, network,
                         find_links, shared=False, scratch_root=private_dir.parent)  # fmt: skip
        install.warnings.append(f"a venv for this submission only: {private}")
        return private_dir / "bin" / "python", install
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
        install = _build(requirements, base_python, venv, sandbox, limits, uid, network,
                         find_links, shared=True, scratch_root=cache_root / "tmp")  # fmt: skip
        if install.ok:
            (venv / ".complete").write_text(requirements.read_text(errors="replace"))
    return python, install


def _build(
    requirements: Path,
    base_python: Path,
    venv: Path,
    sandbox: Sandbox,
    limits: Limits,
    uid: int | None,
    network: bool,
    find_links: tuple[Path, ...],
    *,
    shared: bool,
    scratch_root: Path,
) -> RunOutput:
    """Create ``venv`` afresh (a half-built one of a stopped job goes) and install into it in
    the sandbox; the venv and pip's scratch folder are the only places it may write, both
    size-limited. A shared venv is root's again afterwards (every run mounts it read-only)."""
    if venv.exists():
        remove_tree(venv)
    _create(venv, base_python)
    python = venv / "bin" / "python"
    scratch = scratch_root / f"pip-{venv.name}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True, mode=0o700)
    owner = uid if uid is not None and os.geteuid() == 0 else None
    if owner is not None:
        _own(venv, owner)
        os.chown(scratch, owner, owner)
    for folder in (venv, scratch):
        limit_folder(folder, MAX_VENV_MB << 20, 500_000)
    wheels = tuple(Mount(folder, f"/wheels/{i}") for i, folder in enumerate(find_links))
    mounts = (
        *interpreter_mounts(base_python),
        Mount(venv, str(venv), writable=True),
        Mount(scratch, str(scratch), writable=True),
        *wheels,
    )
    argv = [str(python), "-m", "pip", "install", "--no-input", "-q"]
    if shared:
        argv += ["--require-hashes", "--only-binary=:all:"]
    argv += ["-r", requirements.name]
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
        for folder in (venv, scratch):
            forget_limit(folder)
        remove_tree(scratch)
        if owner is not None and shared:
            _own(venv, 0)
    return install

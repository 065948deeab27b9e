"""Private, writable copies of a submission for one run, and collecting what it produced.

The rerun never touches the graded checkout: it copies it into a directory that only the
slot's uid can enter (mode 0700 under a 0711 parent), runs there, then collects artifacts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from grader.tree import NEVER_COPIED, matches

SKIP = shutil.ignore_patterns(*NEVER_COPIED)


def sandbox_base() -> Path:
    """Where run directories live: $GRADER_SANDBOX_DIR, else <tmp>/grader-sandbox."""
    base = Path(
        os.environ.get("GRADER_SANDBOX_DIR") or Path(tempfile.gettempdir()) / "grader-sandbox"
    )
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)
    return base


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def prepare_workdir(source: Path | None, uid: int | None = None, gid: int | None = None) -> Path:
    """A fresh run directory holding a copy of ``source`` (or empty), owned by ``uid``.

    Symlinks are copied as links (a link out of the tree points at nothing inside the
    sandbox). Returns the work dir; remove it with ``discard_workdir``.
    """
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=sandbox_base()))
    work = run_dir / "work"
    if source is not None:
        shutil.copytree(source, work, symlinks=True, ignore=SKIP)
    else:
        work.mkdir()
    if uid is not None and os.geteuid() == 0:
        gid = uid if gid is None else gid
        _chown_tree(run_dir, uid, gid)
    os.chmod(run_dir, 0o700)
    return work


def discard_workdir(work: Path) -> None:
    """Remove a run directory made by ``prepare_workdir`` (its parent ``run-*`` folder)."""
    run_dir = work.parent if work.parent.name.startswith("run-") else work
    shutil.rmtree(run_dir, ignore_errors=True)


def file_states(work: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (mtime_ns, size)}`` of every regular file under ``work``."""
    states = {}
    for dirpath, _dirnames, filenames in os.walk(work):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                info = path.stat()
                states[path.relative_to(work).as_posix()] = (info.st_mtime_ns, info.st_size)
    return states


def collect_artifacts(
    work: Path,
    patterns: list[str],
    dest: Path,
    max_bytes: int = 20 * 1024 * 1024,
    before: dict[str, tuple[int, int]] | None = None,
) -> list[str]:
    """Copy files matching ``patterns`` (globs relative to the work dir) into ``dest``.

    Only regular files are copied (never a symlink), at most ``max_bytes`` in all; with
    ``before`` (from ``file_states`` before the run) only those the run created or changed.
    Returns the relative paths copied.
    """
    copied: list[str] = []
    budget = max_bytes
    for dirpath, dirnames, filenames in os.walk(work):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            rel = path.relative_to(work).as_posix()
            if not matches(rel, patterns) or path.is_symlink():
                continue
            info = path.stat()
            size = info.st_size
            if before is not None and before.get(rel) == (info.st_mtime_ns, size):
                continue
            if size > budget or not path.is_file():
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            budget -= size
            copied.append(rel)
    return copied


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def same_as_committed(folder: Path, names: list[str], committed: Path) -> list[str]:
    """The files of ``names`` (under ``folder``) whose bytes equal a committed file under
    ``committed``: what a deterministic training reproduces, and what a copy gives too."""
    sizes: dict[int, list[Path]] = {}
    for dirpath, dirnames, filenames in os.walk(committed):
        dirnames[:] = [d for d in dirnames if d not in NEVER_COPIED]
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                sizes.setdefault(path.stat().st_size, []).append(path)
    same = []
    for name in names:
        produced = folder / name
        twins = sizes.get(produced.stat().st_size, [])
        digest = _digest(produced) if twins else ""
        if any(_digest(twin) == digest for twin in twins):
            same.append(name)
    return same

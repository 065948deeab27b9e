"""Private, writable, size-limited copies of a submission for one run, and collecting what
it produced.

The rerun never touches the graded checkout: it copies it into a directory that only the
slot's uid can enter (mode 0700 under a 0711 parent), runs there, then collects artifacts.

What a run may write is bounded: as root the work dir is a tmpfs of the submission's size
plus ``work_mb`` (and a bounded number of files), mounted for this run only; without root
the sandbox watches the folder's size and stops the run past the same bound (checked every
second, so it may overshoot by what the run writes in that second).

Everything lives under one root, ``sandbox_base()`` ($GRADER_SANDBOX_DIR): run dirs
(``run-<pid>-<start>-*``) and staging dirs (``stage-<pid>-<start>-*``) carry the owning
process, and ``clean_leftovers`` removes those whose process is gone (a ``kill -9``): the
next batch, or the next run of any grader process, does it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from grader.tree import NEVER_COPIED, copy_tree, matches, remove_tree, walk

MiB = 1 << 20
_OWNED = re.compile(r"^(?:run|stage)-(\d+)-(\d+)-")
_QUOTAS: dict[str, tuple[int, int]] = {}  # folder -> (bytes, files) watched during runs
_CLEANED = False


def _start_time(pid: int) -> int | None:
    """A process's start time (clock ticks since boot), None when it is gone (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[19])


def owner_tag() -> str:
    """``<pid>-<start time>``: names a leftover's owner even after its pid is reused."""
    return f"{os.getpid()}-{_start_time(os.getpid()) or 0}"


def sandbox_base() -> Path:
    """Where run directories live: $GRADER_SANDBOX_DIR, else <tmp>/grader-sandbox. The first
    call in a process removes what dead processes left there."""
    global _CLEANED
    base = Path(
        os.environ.get("GRADER_SANDBOX_DIR") or Path(tempfile.gettempdir()) / "grader-sandbox"
    )
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)
    if not _CLEANED:
        _CLEANED = True
        clean_leftovers(base)
    return base


def clean_leftovers(base: Path | None = None) -> list[str]:
    """Remove the run and staging dirs under ``base`` whose process is gone (unmounting a
    leftover work tmpfs first). Returns their names."""
    base = base or sandbox_base()
    removed = []
    with contextlib.suppress(OSError):
        for entry in base.iterdir():
            found = _OWNED.match(entry.name)
            if not found or _start_time(int(found.group(1))) == int(found.group(2)):
                continue
            _unmount(entry / "work")
            remove_tree(entry)
            removed.append(entry.name)
    return removed


def _unmount(path: Path) -> None:
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _size_of(source: Path | None) -> tuple[int, int]:
    """(bytes, files) of a folder, as a tmpfs would hold them (whole pages)."""
    size = count = 0
    if source is None:
        return size, count
    for dirpath, dirnames, filenames in walk(source):
        for name in dirnames + filenames:
            count += 1
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(dirpath, name))
                size += -(-info.st_size // 4096) * 4096
    return size, count


def _mount_tmpfs(work: Path, size: int, files: int, uid: int, gid: int) -> bool:
    options = f"size={size},nr_inodes={files},mode=0700,uid={uid},gid={gid},nosuid,nodev"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "grader-work", str(work)],
        capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0


def prepare_workdir(
    source: Path | None,
    uid: int | None = None,
    gid: int | None = None,
    *,
    work_mb: int | None = None,
    work_files: int = 100_000,
) -> Path:
    """A fresh run directory holding a copy of ``source`` (or empty), owned by ``uid``.

    ``work_mb``: what the run may write beyond the copy (a tmpfs as root, a watched folder
    otherwise), with at most ``work_files`` new files. Symlinks are copied as links (a link
    out of the tree points at nothing inside the sandbox). Returns the work dir; remove it
    with ``discard_workdir``.
    """
    run_dir = Path(tempfile.mkdtemp(prefix=f"run-{owner_tag()}-", dir=sandbox_base()))
    work = run_dir / "work"
    work.mkdir()
    root = os.geteuid() == 0
    owner = (uid, uid if gid is None else gid) if uid is not None and root else None
    if work_mb is not None:
        size, count = _size_of(source)
        limit, files = size + work_mb * MiB, count + work_files + 64
        uid_, gid_ = owner or (os.getuid(), os.getgid())
        if not (root and _mount_tmpfs(work, limit, files, uid_, gid_)):
            _QUOTAS[str(work.resolve())] = (limit, files)
    if source is not None:
        copy_tree(source, work, skip=NEVER_COPIED)
    if owner is not None:
        _chown_tree(run_dir, *owner)
    os.chmod(run_dir, 0o700)
    return work


def limit_folder(path: Path, max_bytes: int, max_files: int) -> None:
    """Watch ``path`` during sandboxed runs that can write it (see ``watcher``)."""
    _QUOTAS[str(Path(path).resolve())] = (max_bytes, max_files)


def forget_limit(path: Path) -> None:
    """Stop watching ``path`` (set by ``limit_folder``): no run writes it any more."""
    _QUOTAS.pop(str(Path(path).resolve()), None)


def watcher(paths: Iterable[Path]) -> Callable[[], str | None] | None:
    """For a run that can write ``paths``: a check (called about once a second) that says
    "disk" once a watched folder passes its bound; None when none is watched."""
    keys = [str(Path(p).resolve()) for p in paths]
    watched = [(Path(key), *_QUOTAS[key]) for key in keys if key in _QUOTAS]
    if not watched:
        return None

    def over() -> str | None:
        for path, max_bytes, max_files in watched:
            size = count = 0
            for dirpath, dirnames, filenames in walk(path):
                for name in dirnames + filenames:
                    count += 1
                    with contextlib.suppress(OSError):
                        size += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
                if size > max_bytes or count > max_files:
                    return "disk"
        return None

    return over


def discard_workdir(work: Path) -> None:
    """Remove a run directory made by ``prepare_workdir`` (its parent ``run-*`` folder)."""
    _QUOTAS.pop(str(Path(work).resolve()), None)
    _unmount(work)
    run_dir = work.parent if work.parent.name.startswith("run-") else work
    remove_tree(run_dir)


def file_states(work: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (mtime_ns, size)}`` of every regular file under ``work``."""
    states = {}
    for dirpath, _dirnames, filenames in walk(work):
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
    for dirpath, dirnames, filenames in walk(work):
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

"""The files of a submission: one walk, one set of ignored folders, one glob dialect.

Used by the checks (through ``CheckContext``), the similarity sources, the training-log
finder, the sandbox workspace and ``dataset_split``. Paths are POSIX, relative to the
submission's root, sorted; symlinked folders are never entered.

Globs: ``**`` crosses folders, ``{a,b}`` alternates, dot files match, case-insensitive
unless asked otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from wcmatch import glob as wglob

# never copied into a rerun's work dir: git internals, the grader's own output, caches
NEVER_COPIED = (".git", ".grader", "__pycache__", ".ipynb_checkpoints")
# never part of a submission's content, whatever the student committed or left around
IGNORED_DIRS = frozenset({
    *NEVER_COPIED, ".venv", "venv", "node_modules", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".idea", ".vscode",
})  # fmt: skip

_FLAGS = wglob.GLOBSTAR | wglob.BRACE | wglob.DOTGLOB


def glob_flags(case_sensitive: bool = False) -> int:
    """The wcmatch flags of every glob in a spec."""
    return _FLAGS if case_sensitive else _FLAGS | wglob.IGNORECASE


def matches(
    path: str,
    patterns: str | Iterable[str],
    case_sensitive: bool = False,
    exclude: str | Iterable[str] | None = None,
) -> bool:
    """Whether a relative POSIX path matches any of ``patterns`` and none of ``exclude``."""
    wanted = (patterns,) if isinstance(patterns, str) else tuple(patterns)
    unwanted = (exclude,) if isinstance(exclude, str) else tuple(exclude or ())
    return _matcher(wanted, unwanted, glob_flags(case_sensitive)).match(path)


@lru_cache(maxsize=256)
def _matcher(wanted: tuple[str, ...], unwanted: tuple[str, ...], flags: int) -> wglob.WcMatcher:
    """Globs compiled once per process (a check matches the same globs against every file)."""
    return wglob.compile(list(wanted), flags=flags, exclude=list(unwanted) or None)


def walk(root: str | Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(root)`` (top-down, links never followed into, unreadable folders skipped)
    without recursion: a submission may nest folders deeper than Python's recursion limit
    (1,100 levels end ``os.walk`` in a RecursionError). Prune by editing ``dirnames``."""
    pending = [os.fspath(root)]
    while pending:
        top = pending.pop()
        dirnames: list[str] = []
        filenames: list[str] = []
        try:
            with os.scandir(top) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_dir = False
                    (dirnames if is_dir else filenames).append(entry.name)
        except OSError:
            continue
        yield top, dirnames, filenames
        pending.extend(os.path.join(top, d) for d in reversed(dirnames))


def remove_tree(path: str | Path) -> None:
    """Remove a folder and everything in it, however deep (``shutil.rmtree`` recurses);
    links are removed, never followed. Errors are ignored, as ``rmtree(ignore_errors=True)``."""
    path = os.fspath(path)
    if os.path.islink(path) or not os.path.isdir(path):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    folders = []
    for dirpath, _dirnames, filenames in walk(path):
        folders.append(dirpath)
        for name in filenames:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(dirpath, name))
    for folder in reversed(folders):  # children before their parents
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def copy_tree(source: str | Path, dest: str | Path, skip: Iterable[str] = ()) -> None:
    """Copy a folder like ``shutil.copytree(symlinks=True)`` without recursion (into ``dest``,
    made if missing); folders and files named in ``skip`` are left out at any depth."""
    source, dest = os.fspath(source), os.fspath(dest)
    unwanted = frozenset(skip)
    os.makedirs(dest, exist_ok=True)
    for dirpath, dirnames, filenames in walk(source):
        dirnames[:] = [d for d in dirnames if d not in unwanted]
        target = os.path.join(dest, os.path.relpath(dirpath, source))
        for name in dirnames:
            os.mkdir(os.path.join(target, name))
        for name in filenames:
            if name in unwanted:
                continue
            src = os.path.join(dirpath, name)
            if os.path.islink(src):
                os.symlink(os.readlink(src), os.path.join(target, name))
            else:
                shutil.copy2(src, os.path.join(target, name))
        shutil.copystat(dirpath, target)


def walk_files(root: str | Path, ignored: Iterable[str] = IGNORED_DIRS) -> Iterator[str]:
    """Every file under ``root`` (links included, never followed into), as sorted relative
    POSIX paths; folders named in ``ignored`` are skipped at any depth. Iterative (with its
    own stack, unlike Python 3.11's os.walk), so a tree nested thousands of folders deep
    is walked, not a RecursionError."""
    skip = frozenset(ignored)
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(str(root), rel) if rel else str(root)) as entries:
                found = sorted((e.name, _is_dir(e), e.is_symlink()) for e in entries)
        except OSError:  # unreadable or vanished: as os.walk, skip it
            continue
        folders = []
        for name, is_dir, is_link in found:
            path = f"{rel}/{name}" if rel else name
            if not is_dir:
                yield path
            elif name not in skip and not is_link:  # a linked folder is never entered
                folders.append(path)
        stack.extend(reversed(folders))  # depth first, in name order, as os.walk


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def submission_files(root: str | Path) -> list[str]:
    """The files of a submission, sorted (see ``walk_files``)."""
    return sorted(walk_files(root))

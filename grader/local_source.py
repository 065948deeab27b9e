"""Repositories given as local paths (unpacked uploads, instructor copies): accepted only
when they hold their own history, and copied before git reads them.

Accepted layouts:

- a work tree with its ``.git`` folder inside it (an unpacked upload of a clone);
- a bare repository (``HEAD``, ``objects/``, ``refs/`` at the top).

Refused, with the reason: a ``.git`` that is a symbolic link, a ``.git`` file
(``gitdir: ../OTHER/.git``, a linked worktree or submodule) pointing outside the folder,
symbolic links inside the git directory (a ref or object file borrowed from elsewhere),
``objects/info/alternates`` (objects borrowed from another repository) and ``commondir``.
Any of them could make the folder graded as another student's repository.

The accepted git directory's refs and objects (regular files only: never its config, hooks
or index) are copied into a bare repository the grader owns (kept in sync beside the
mirror), and the mirror is fetched from that copy: nothing of the folder's own
configuration runs, and an upload owned by another user (git's "dubious ownership") needs
no global ``safe.directory``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from grader.gitrun import FetchError
from grader.tree import walk

COPIED = ("HEAD", "packed-refs", "refs", "objects")
MAX_COPY_MB = 8192


def _refuse(path: Path, why: str) -> FetchError:
    return FetchError(
        f"local repository {path} refused: {why}; a local repository must hold its own "
        "history (a folder with its .git inside, or a bare repository)"
    )


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def git_dir_of(path: str | Path) -> Path:
    """The git directory of the local repository at ``path``, after the checks above.
    Raises FetchError naming what was refused."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise FetchError(f"repository not found: {path} (no such folder)")
    dot = root / ".git"
    if dot.is_symlink():
        raise _refuse(root, f"its .git is a symbolic link (to {os.readlink(dot)})")
    if dot.is_file():
        text = dot.read_text(encoding="utf-8", errors="replace").strip()
        target = text.removeprefix("gitdir:").strip()
        resolved = (root / target).resolve()
        if not text.startswith("gitdir:") or not _inside(resolved, root):
            raise _refuse(root, f"its .git points to a git directory outside it ({target})")
        git_dir = resolved
    elif dot.is_dir():
        git_dir = dot
    elif (root / "HEAD").is_file() and (root / "objects").is_dir():
        git_dir = root
    else:
        raise FetchError(
            f"repository not found: {path} is not a git repository (an upload must include "
            "its .git folder)"
        )
    audit(git_dir, root)
    return git_dir


def audit(git_dir: Path, root: Path) -> None:
    """Refuse what would let git read another repository through this one."""
    for name in ("commondir", "objects/info/alternates", "objects/info/http-alternates"):
        if (git_dir / name).exists() or (git_dir / name).is_symlink():
            raise _refuse(root, f"it borrows from another repository ({name})")
    for name in COPIED:
        top = git_dir / name
        if top.is_symlink():
            raise _refuse(root, f"{name} in its git directory is a symbolic link")
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in walk(top):
            for entry in (*dirnames, *filenames):
                full = Path(dirpath, entry)
                if full.is_symlink():
                    rel = full.relative_to(git_dir).as_posix()
                    raise _refuse(root, f"{rel} in its git directory is a symbolic link")


def synced(git_dir: Path, stage: Path) -> Path:
    """``stage``: the grader's own bare copy of ``git_dir``'s refs and objects, brought in
    line with it (new and changed files copied, files gone from it removed). Kept between
    fetches next to the mirror, so a fetch copies only what is new."""
    (stage / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (stage / "objects").mkdir(exist_ok=True)
    config = stage / "config"
    if not config.is_file():
        config.write_text("[core]\n\trepositoryformatversion = 0\n\tbare = true\n")
    wanted: set[str] = set()
    budget = MAX_COPY_MB << 20
    for source in _files(git_dir):
        rel = source.relative_to(git_dir).as_posix()
        wanted.add(rel)
        info = source.stat()
        budget -= info.st_size
        if budget < 0:
            raise FetchError(f"local repository over {MAX_COPY_MB} MiB (its refs and objects)")
        dest = stage / rel
        try:
            known = dest.stat()
            current = (known.st_size, known.st_mtime_ns) == (info.st_size, info.st_mtime_ns)
        except OSError:
            current = False
        if not current:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)
    for stale in _files(stage):
        if stale.relative_to(stage).as_posix() not in wanted:
            stale.unlink()  # a branch deleted in the source: the fetch prunes it too
    return stage


def _files(git_dir: Path) -> Iterator[Path]:
    """The regular files of ``COPIED`` under a git directory (audit() refused links)."""
    for name in COPIED:
        top = git_dir / name
        if top.is_file() and not top.is_symlink():
            yield top
        elif top.is_dir() and not top.is_symlink():
            for dirpath, _dirnames, filenames in walk(top):
                for filename in filenames:
                    path = Path(dirpath, filename)
                    if path.is_file() and not path.is_symlink():
                        yield path

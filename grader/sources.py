"""The code of a submission: the files matching some globs, notebooks as their code cells.

Used by the similarity check across submissions; symlinks are never followed, folders that
are never part of a submission (``.git``, caches, virtual environments) are skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.ipynb import read_notebook
from grader.results import printable
from grader.tree import matches, walk_files

MAX_SOURCE_BYTES = 2_000_000
MAX_NOTEBOOK_BYTES = 50_000_000


@dataclass
class SourceFile:
    path: str  # relative, POSIX
    text: str
    language: str | None  # a pygments lexer name; None: compared as plain text


def notebook_code(text: str) -> str:
    """The code cells of a notebook as one Python text; IPython magics become comments."""
    nb = read_notebook(text)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = [
            f"# {ln}" if ln.lstrip().startswith(("%", "!")) else ln
            for ln in cell.source.splitlines()
        ]
        cells.append("\n".join(lines))
    return "\n\n".join(cells) + ("\n" if cells else "")


def language_of(path: str) -> str | None:
    from pygments import lexers
    from pygments.util import ClassNotFound

    if path.lower().endswith(".ipynb"):
        return "python"
    try:
        lexer = lexers.get_lexer_for_filename(path)
    except ClassNotFound:
        return None
    return None if lexer.name == "Text only" else lexer.aliases[0]


def collect_sources(
    root: Path, include: list[str], notes: list[str] | None = None, label: str = ""
) -> list[SourceFile]:
    """The files under ``root`` matching ``include`` (a single file: itself), as code text.

    Unreadable or oversized files are skipped with a note; symlinks are never followed.
    """
    notes = notes if notes is not None else []
    label = label or str(root)
    base, candidates = _matching(root, include)
    found = []
    for rel in candidates:
        path = base / rel  # the name as on disk; shown escaped when it is not UTF-8
        shown = printable(rel)
        if path.is_symlink() or not path.is_file():
            continue
        notebook = rel.lower().endswith(".ipynb")
        limit = MAX_NOTEBOOK_BYTES if notebook else MAX_SOURCE_BYTES
        if path.stat().st_size > limit:
            notes.append(f"{label}: {shown} skipped (over {limit // 1_000_000} MB)")
            continue
        try:
            text = path.read_text(encoding="utf-8")
            if notebook:
                text = notebook_code(text)
        except UnicodeDecodeError:
            notes.append(f"{label}: {shown} skipped (not UTF-8 text)")
            continue
        except Exception as exc:  # a malformed notebook is the student's problem, not ours
            notes.append(f"{label}: {shown} skipped (not a readable notebook: {exc})"[:300])
            continue
        found.append(SourceFile(printable(rel), text, language_of(rel)))
    return found


def _matching(root: Path, include: list[str]) -> tuple[Path, list[str]]:
    if root.is_file():
        return root.parent, [root.name]
    return root, [p for p in walk_files(root) if matches(p, include)]


def stamp(roots: Iterable[Path], include: list[str], salt: str = "") -> str:
    """A digest of the names, sizes and modification times of the matching files (and of
    ``salt``): it changes whenever what ``collect_sources`` would read may have changed."""
    digest = hashlib.sha256(salt.encode())
    for root in roots:
        digest.update(f"{root}\0".encode("utf-8", "surrogateescape"))
        try:
            base, files = _matching(root, include)
        except (OSError, RecursionError) as exc:  # a hostile tree: its own entry, no crash
            digest.update(f"unreadable {type(exc).__name__}\0".encode())
            continue
        for rel in files:
            try:
                info = (base / rel).lstat()
            except OSError:
                continue
            entry = f"{rel}\0{info.st_size}\0{info.st_mtime_ns}\0"
            digest.update(entry.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
